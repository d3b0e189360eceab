// hdvila-train oracle: trains the attribute oracle (generation/oracle.h) on SynthVid keyframes and
// reports its held-out top-1 accuracy per attribute (docs/cli/hdvila-train.md "Attribute oracle").
//
//   hdvila-train oracle --data SYNTHVID_DIR --out oracle.safetensors [--split train] [--val-split val]
//                       [--resolution 64] [--epochs N] [--batch 64] [--lr 1e-3] [--frames-per-clip 4] ...
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "core/config.h"
#include "core/device.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "generation/oracle.h"
#include "training/command.h"
#include "training/image_dataset.h"
#include "training/oracle_trainer.h"

namespace hdv::train {
namespace {

namespace fs = std::filesystem;

struct OracleOptions {
  std::string data;
  std::string out;
  std::string split = "train";
  std::string val_split = "val";
  std::string json;
  std::string evaluate;
  int64_t frames_per_clip = 4;
  int64_t limit = 0;
  bool dry_run = false;
  gen::OracleConfig model;
  OracleTrainConfig train;
};

// The value lists of SynthVid's manifest (every value, in the vocabulary's order) when the data
// folder has one; else the values the training labels use.
std::vector<gen::OracleAttribute> oracle_attributes(const fs::path& data, const LabelledImages& train) {
  const fs::path manifest_path = data / "synthvid.json";
  if (!fs::exists(manifest_path)) return attribute_values(train, kOracleAttributes);
  const core::Json manifest = core::read_json_file(manifest_path);
  std::vector<gen::OracleAttribute> attributes;
  for (const std::string& name : kOracleAttributes) {
    if (!manifest.contains("attributes") || !manifest["attributes"].contains(name) ||
        !manifest["attributes"][name].is_array()) {
      throw core::FormatError(fmt::format("{}: field \"attributes.{}\": expected an array of values", manifest_path.string(), name));
    }
    gen::OracleAttribute attribute{name, {}};
    for (const core::Json& value : manifest["attributes"][name]) {
      if (!value.is_string()) {
        throw core::FormatError(fmt::format("{}: field \"attributes.{}\": expected strings, got {}", manifest_path.string(),
                                            name, core::describe_json_value(value)));
      }
      attribute.values.push_back(value.get<std::string>());
    }
    attributes.push_back(std::move(attribute));
  }
  return attributes;
}

LabelledImages load_split(const OracleOptions& options, const std::string& split, int threads) {
  ImageSourceOptions source;
  source.kind = "synthvid";
  source.path = options.data;
  source.split = split;
  source.resolution = options.model.resolution;
  source.frames_per_clip = options.frames_per_clip;
  source.limit = options.limit;
  source.jobs = threads;
  core::ConsoleProgress progress(fmt::format("decoding {} clips", split), "clips");
  LabelledImages images = load_images(source, progress.callback());
  progress.finish();
  return images;
}

// The held-out table: top-1 per attribute on all images and on one-object images, with chance.
void print_evaluation(const gen::OracleConfig& config, const OracleEvaluation& evaluation, const std::string& split) {
  std::printf("held-out accuracy on %s (%lld images, %lld with one object):\n", split.c_str(),
              static_cast<long long>(evaluation.images), static_cast<long long>(evaluation.one_object_images));
  std::printf("  %-10s %8s %11s %8s %7s\n", "attribute", "top-1", "one object", "chance", "values");
  for (const gen::OracleAttribute& a : config.attributes) {
    std::printf("  %-10s %7.1f%% %10.1f%% %7.1f%% %7zu\n", a.name.c_str(), 100 * evaluation.accuracy.at(a.name),
                100 * evaluation.one_object_accuracy.at(a.name), 100.0 / double(a.values.size()), a.values.size());
  }
  std::fflush(stdout);
}

}  // namespace

void add_oracle_command(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  auto options = std::make_shared<OracleOptions>();
  OracleOptions& o = *options;
  CLI::App* sub = app.add_subcommand("oracle", "Train the attribute oracle (class, colour, texture, size) on SynthVid keyframes");
  sub->add_option("--data", o.data, "SynthVid folder (written by `hdvila-train synth`)")->required();
  sub->add_option("--out", o.out, "Oracle checkpoint to write (kind \"oracle\"); required unless --evaluate");
  sub->add_option("--evaluate", o.evaluate, "Only evaluate this oracle checkpoint on --val-split (no training)");
  sub->add_option("--split", o.split, "Training split")->capture_default_str();
  sub->add_option("--val-split", o.val_split, "Held-out split for the accuracy table")->capture_default_str();
  sub->add_option("--resolution", o.model.resolution, "Oracle input resolution (images are resized to it)")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_option("--width", o.model.width, "Channels of the first conv stage (doubling per stage)")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_option("--convs-per-stage", o.model.convs_per_stage, "Conv + BatchNorm + ReLU layers per stage (1..4)")
      ->check(core::integer_in(1, 4))
      ->capture_default_str();
  sub->add_option("--epochs", o.train.epochs, "Passes over the training images")->check(core::positive_integer())->capture_default_str();
  sub->add_option("--batch", o.train.batch, "Images per optimiser step")->check(core::positive_integer())->capture_default_str();
  sub->add_option("--lr", o.train.lr, "Peak Adam learning rate (cosine decay to lr/10)")->check(core::positive_number())->capture_default_str();
  sub->add_option("--max-shift", o.train.max_shift, "Augmentation: random translation up to this many pixels")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  sub->add_option("--frames-per-clip", o.frames_per_clip, "Frames taken from each clip (spread evenly)")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_option("--seed", o.train.seed, "Seed of initialisation, shuffling and augmentation")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  sub->add_option("--limit", o.limit, "Images kept per split (0 = all)")->check(core::non_negative_integer())->capture_default_str();
  sub->add_option("--json", o.json, "Write the held-out accuracies to this JSON file");
  sub->add_flag("--dry-run", o.dry_run, "Print the resolved settings and exit");
  commands.push_back({sub, [options, &common] {
    OracleOptions& o = *options;
    const c10::Device device = core::apply_common_options(common);
    // Geometry checks that do not need the data (attributes come from it below).
    {
      gen::OracleConfig probe = o.model;
      probe.attributes = {{"probe", {"a", "b"}}};
      try {
        probe.validate();
      } catch (const core::ConfigError& e) {
        throw core::UsageError(fmt::format("--resolution/--width/--convs-per-stage: {}", e.what()));
      }
    }
    core::Json settings = {{"data", o.data}, {"out", o.out}, {"split", o.split}, {"val_split", o.val_split},
                           {"frames_per_clip", o.frames_per_clip}, {"limit", o.limit},
                           {"model", core::config_to_json(o.model)}, {"train", core::config_to_json(o.train)}};
    if (o.evaluate.empty() && o.out.empty()) throw core::UsageError("--out: required (or --evaluate CKPT)");
    if (o.dry_run) {
      std::printf("%s\n", settings.dump(2).c_str());
      return;
    }
    core::log_info("oracle settings: {}", settings.dump());
    if (!fs::is_directory(o.data)) {
      throw core::IoError(fmt::format("{}: no such folder (expected a SynthVid folder written by `hdvila-train synth`)", o.data));
    }
    const auto start = std::chrono::steady_clock::now();
    auto write_json = [&](const OracleEvaluation& evaluation, int64_t train_images, int64_t steps) {
      if (o.json.empty()) return;
      core::Json out = evaluation.to_json();
      out["checkpoint"] = o.evaluate.empty() ? o.out : o.evaluate;
      out["data"] = o.data;
      out["val_split"] = o.val_split;
      if (o.evaluate.empty()) {
        out["split"] = o.split;
        out["train_images"] = train_images;
        out["steps"] = steps;
      }
      out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      core::write_json_file(o.json, out);
    };

    if (!o.evaluate.empty()) {
      gen::AttributeOracle oracle = gen::load_oracle(o.evaluate);
      oracle->to(device);
      OracleOptions resolved = o;
      resolved.model.resolution = oracle->config().resolution;
      const LabelledImages val = load_split(resolved, o.val_split, common.threads);
      const OracleEvaluation evaluation = evaluate_oracle(*oracle, val, device);
      print_evaluation(oracle->config(), evaluation, o.val_split);
      write_json(evaluation, 0, 0);
      return;
    }

    const LabelledImages train = load_split(o, o.split, common.threads);
    const LabelledImages val = load_split(o, o.val_split, common.threads);
    gen::OracleConfig model = o.model;
    model.attributes = oracle_attributes(o.data, train);
    core::log_info("oracle: {} training and {} held-out images of {}x{}", train.size(), val.size(), model.resolution,
                   model.resolution);

    int64_t steps = 0;
    gen::AttributeOracle oracle = train_oracle(
        train, model, o.train, device,
        [](const OracleEpoch& e) {
          std::string accuracy;
          for (const auto& [name, value] : e.train_accuracy) accuracy += fmt::format("  {} {:5.1f}%", name, 100 * value);
          std::printf("epoch %3lld  step %6lld  loss %.4f  train acc%s  (%.0f s)\n", static_cast<long long>(e.epoch),
                      static_cast<long long>(e.steps), e.loss, accuracy.c_str(), e.seconds);
          std::fflush(stdout);
        },
        &steps);

    const OracleEvaluation evaluation = evaluate_oracle(*oracle, val, device);
    print_evaluation(oracle->config(), evaluation, o.val_split);
    oracle->mutable_config().accuracy = evaluation.to_json();
    oracle->mutable_config().accuracy["split"] = o.val_split;
    oracle->to(torch::kCPU);
    gen::save_oracle(o.out, *oracle, steps);
    core::log_info("oracle: wrote {} ({} steps, {:.0f} s)", o.out, steps,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    write_json(evaluation, train.size(), steps);
  }});
}

}  // namespace hdv::train
