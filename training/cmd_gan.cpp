// GAN subcommands of hdvila-train (docs/design.md §7, docs/cli/hdvila-train.md "GAN training"):
//   gan --data PATH --out RUN ...         StyleGAN2 training (training/gan_trainer.h), resumable
//   gan-fd --generator G --vl-model V ... VL-FD of a generator against real images (NOT Inception
//                                          FID; training/frechet.h)
//   gan-eval --generator G --oracle O     mode coverage (the oracle's histogram of what samples show)
//                                          and, for a conditional generator, how often each requested
//                                          label is read
//
// Settings come from the defaults (GanConfig), then --config run.json, then flags.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>

#include <fmt/format.h>

#include "core/config.h"
#include "core/device.h"
#include "core/error.h"
#include "core/log.h"
#include "generation/generator.h"
#include "generation/generator_checkpoint.h"
#include "generation/labels.h"
#include "generation/oracle.h"
#include "models/vl_checkpoint.h"
#include "models/vl_model.h"
#include "training/command.h"
#include "training/gan_trainer.h"
#include "training/image_dataset.h"

namespace hdv::train {
namespace {

namespace fs = std::filesystem;

std::string preset_list() {
  std::string list;
  for (const auto& name : gen::generator_preset_names()) list += (list.empty() ? "" : ", ") + name;
  return list;
}

void add_image_source_options(CLI::App* sub, ImageSourceOptions& data) {
  sub->add_option("--data", data.path, "Image folder, SynthVid root or Fashion-MNIST IDX folder")->required();
  sub->add_option("--data-kind", data.kind, "auto, folder, synthvid or fashion-mnist")
      ->check(CLI::IsMember({"auto", "folder", "synthvid", "fashion-mnist"}))
      ->capture_default_str();
  sub->add_option("--split", data.split, "SynthVid split; Fashion-MNIST train or test")->capture_default_str();
  sub->add_option("--limit", data.limit, "Use at most this many images (0 = all)")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  sub->add_option("--frames-per-clip", data.frames_per_clip, "SynthVid: frames taken from each clip")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_option("--labels", data.labels,
                  "Image folder: a JSONL labels file, one line per image: {\"image\": \"a.png\", \"colour\": \"red\"}");
}

struct GanOptions {
  GanRun run;
  GanConfig flags;
  std::string config_file;
  double kimg = 0;
  bool dry_run = false;
  CLI::Option* kimg_option = nullptr;
  std::vector<std::pair<CLI::Option*, std::function<void(GanConfig&)>>> overrides;
};

void add_gan(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  auto options = std::make_shared<GanOptions>();
  CLI::App* sub = app.add_subcommand("gan", "Train a StyleGAN2 generator (and discriminator) on still images");
  add_image_source_options(sub, options->run.data);
  sub->add_option("--out", options->run.out,
                  "Run folder: config.json, metrics.jsonl, samples/, checkpoints/, generator.safetensors")
      ->required();
  sub->add_option("--config", options->config_file, "Run settings JSON (keys of config.json's \"run\"), over the defaults");
  sub->add_option("--resume", options->run.resume, "Continue a run: auto (newest checkpoint in --out) or a checkpoint file");
  sub->add_option("--vl-model", options->run.vl_model, "vl-model checkpoint for VL-FD (with --fd-every)");
  sub->add_flag("--dry-run", options->dry_run, "Print the resolved settings and exit");

  GanConfig& f = options->flags;
  auto field = [&](const char* name, auto& target, const char* help, std::function<void(GanConfig&)> apply) {
    CLI::Option* option = sub->add_option(name, target, help)->capture_default_str();
    options->overrides.emplace_back(option, std::move(apply));
    return option;
  };
  static const std::string preset_help = "Generator geometry: " + preset_list();
  field("--preset", f.preset, preset_help.c_str(), [&f](GanConfig& c) { c.preset = f.preset; });
  field("--resolution", f.resolution, "Image size in pixels, a power of two (0 = the preset's)",
        [&f](GanConfig& c) { c.resolution = f.resolution; })
      ->check(core::non_negative_integer());
  field("--batch", f.batch, "Images per minibatch (a multiple of 4)", [&f](GanConfig& c) { c.batch = f.batch; })
      ->check(core::positive_integer());
  field("--steps", f.steps, "Minibatches to train", [&f](GanConfig& c) { c.steps = f.steps; })
      ->check(core::positive_integer());
  options->kimg_option =
      sub->add_option("--kimg", options->kimg, "Train on this many thousand real images (sets --steps)")
          ->check(core::positive_number());
  field("--seed", f.seed, "Seed of initialisation, latents, noise and data order", [&f](GanConfig& c) { c.seed = f.seed; })
      ->check(core::non_negative_integer());
  field("--lr", f.lr, "Adam learning rate of G and D (before the lazy-regularisation correction)",
        [&f](GanConfig& c) { c.lr = f.lr; })
      ->check(core::positive_number());
  field("--r1-gamma", f.r1_gamma, "R1 weight γ (< 0: 0.0002·R²/batch, StyleGAN2-ADA's heuristic; 0 = off)",
        [&f](GanConfig& c) { c.r1_gamma = f.r1_gamma; });
  field("--r1-interval", f.r1_interval, "D steps between lazy R1 steps", [&f](GanConfig& c) { c.r1_interval = f.r1_interval; })
      ->check(core::positive_integer());
  field("--pl-weight", f.pl_weight, "Path-length regularisation weight (StyleGAN2: 2; 0 = off)",
        [&f](GanConfig& c) { c.pl_weight = f.pl_weight; });
  field("--style-mixing", f.style_mixing, "Style-mixing probability", [&f](GanConfig& c) { c.style_mixing = f.style_mixing; });
  field("--ema-kimg", f.ema_kimg, "G_ema half-life in thousands of images (< 0: batch·10/32)",
        [&f](GanConfig& c) { c.ema_kimg = f.ema_kimg; });
  field("--ema-rampup", f.ema_rampup, "G_ema half-life at most images_seen·rampup (0 = off)",
        [&f](GanConfig& c) { c.ema_rampup = f.ema_rampup; });
  sub->add_flag("--mirror", f.mirror, "Mirror real images horizontally with probability 0.5");
  options->overrides.emplace_back(sub->get_option("--mirror"), [&f](GanConfig& c) { c.mirror = f.mirror; });
  field("--log-every", f.log_every, "Steps per log line and metrics.jsonl record",
        [&f](GanConfig& c) { c.log_every = f.log_every; })
      ->check(core::positive_integer());
  field("--sample-every", f.sample_every, "Steps between samples/step-N.png grids",
        [&f](GanConfig& c) { c.sample_every = f.sample_every; })
      ->check(core::positive_integer());
  field("--sample-count", f.sample_count, "Images per sample grid", [&f](GanConfig& c) { c.sample_count = f.sample_count; })
      ->check(core::positive_integer());
  field("--checkpoint-every", f.checkpoint_every, "Steps between checkpoints",
        [&f](GanConfig& c) { c.checkpoint_every = f.checkpoint_every; })
      ->check(core::positive_integer());
  field("--keep", f.keep_checkpoints, "Newest checkpoints kept", [&f](GanConfig& c) { c.keep_checkpoints = f.keep_checkpoints; })
      ->check(core::positive_integer());
  field("--fd-every", f.fd_every, "Steps between VL-FD measurements (0 = off; needs --vl-model)",
        [&f](GanConfig& c) { c.fd_every = f.fd_every; })
      ->check(core::non_negative_integer());
  field("--fd-samples", f.fd_samples, "Real and generated images per VL-FD measurement",
        [&f](GanConfig& c) { c.fd_samples = f.fd_samples; })
      ->check(core::positive_integer());
  field("--max-minutes", f.max_minutes, "Stop cleanly after this many minutes (0 = no limit)",
        [&f](GanConfig& c) { c.max_minutes = f.max_minutes; });
  field("--precision", f.precision, "fp32, or bf16: G's synthesis and D under bf16 autocast (weights and losses fp32)",
        [&f](GanConfig& c) { c.precision = f.precision; })
      ->check(CLI::IsMember({"fp32", "bf16"}));
  field("--init-generator", f.init_generator,
        "Start G and G_ema from this generator file (same preset and resolution) instead of random weights",
        [&f](GanConfig& c) { c.init_generator = f.init_generator; });
  field("--condition", f.labels,
        "Conditional StyleGAN2-ADA on these label attributes, comma-separated (SynthVid: class,colour,texture; "
        "a folder: keys of its --labels file); none = unconditional",
        [&f](GanConfig& c) { c.labels = f.labels; })
      ->delimiter(',');
  field("--mapping-layers", f.mapping_layers, "Mapping-network depth of G and of D's label mapping (0 = the preset's)",
        [&f](GanConfig& c) { c.mapping_layers = f.mapping_layers; })
      ->check(core::non_negative_integer());
  field("--guide-classifier", f.guide_classifier,
        "Conditional runs: a frozen attribute classifier (hdvila-train oracle, trained apart from the one that "
        "evaluates the generator) whose cross-entropy on G's images against the requested labels joins G's loss",
        [&f](GanConfig& c) { c.guide_classifier = f.guide_classifier; });
  field("--guide-weight", f.guide_weight, "Weight of the guide classifier's cross-entropy",
        [&f](GanConfig& c) { c.guide_weight = f.guide_weight; })
      ->check(core::positive_number());
  field("--d-warmup", f.d_warmup, "First steps that train only D (G frozen); for a fresh D beside --init-generator",
        [&f](GanConfig& c) { c.d_warmup = f.d_warmup; })
      ->check(core::non_negative_integer());

  commands.push_back({sub, [options, &common] {
    core::apply_common_options(common);
    GanRun& run = options->run;
    if (!options->config_file.empty()) core::load_config_file(options->config_file, run.config);
    for (auto& [option, apply] : options->overrides) {
      if (option->count() > 0) apply(run.config);
    }
    if (options->kimg_option->count() > 0) {
      run.config.validate();  // first: --kimg divides by the batch
      run.config.steps = std::max<int64_t>(1, int64_t(std::ceil(options->kimg * 1000.0 / double(run.config.batch))));
    }
    run.config.resolve();
    run.config.validate();
    run.device = common.device;
    if (options->dry_run) {
      std::printf("%s\n", core::config_to_json(run.config).dump(2).c_str());
      return;
    }
    train_gan(run);
  }});
}

// --generator: a generator file, or a gan run folder (its generator.safetensors).
fs::path generator_file(const std::string& argument) {
  fs::path path = argument;
  if (fs::is_directory(path)) path /= "generator.safetensors";
  return path;
}

struct FdOptions {
  std::string generator;
  std::string vl_model;
  ImageSourceOptions data;
  int64_t samples = 1000;
  int64_t size = 128;
  int64_t seed = 0;
  std::string json;
};

void add_gan_fd(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  auto options = std::make_shared<FdOptions>();
  CLI::App* sub = app.add_subcommand(
      "gan-fd", "VL-FD of a generator: Fréchet distance on VL-model image features (not Inception FID)");
  sub->add_option("--generator", options->generator, "generator checkpoint, or a gan run folder (its generator.safetensors)")
      ->required();
  sub->add_option("--vl-model", options->vl_model, "vl-model checkpoint whose image embeddings are compared")->required();
  add_image_source_options(sub, options->data);
  sub->add_option("--samples", options->samples, "Real images (at most) and generated images compared")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_option("--size", options->size, "Images are resized to this before the VL model")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_option("--seed", options->seed, "Seed of the generated latents")->check(core::non_negative_integer())->capture_default_str();
  sub->add_option("--json", options->json, "Write the result to this JSON file");
  commands.push_back({sub, [options, &common] {
    const c10::Device device = core::apply_common_options(common);
    const fs::path path = generator_file(options->generator);
    gen::Generator generator = gen::load_generator(path);
    generator->to(device);
    models::VLModel vl_model = models::load_vl_model(options->vl_model);
    vl_model->to(device);
    ImageSourceOptions data = options->data;
    data.resolution = generator->config().resolution;
    if (data.limit == 0 || data.limit > options->samples) data.limit = options->samples;
    LabelledImages images = load_images(data);
    if (images.size() < 2) throw core::Error(fmt::format("--data {}: fewer than 2 images", data.path.string()));
    std::vector<int64_t> indices(size_t(images.size()));
    for (int64_t i = 0; i < images.size(); ++i) indices[size_t(i)] = i;
    at::Tensor real = image_batch(images, indices, false);
    const double fd = generator_vl_fd(*generator, *vl_model, real, options->samples, uint64_t(options->seed), options->size);
    std::printf("VL-FD %.6f (%lld real, %lld generated images at %lld px; VL features, not Inception FID)\n", fd,
                static_cast<long long>(real.size(0)), static_cast<long long>(options->samples),
                static_cast<long long>(options->size));
    if (!options->json.empty()) {
      core::write_json_file(options->json, core::Json{{"vl_fd", fd},
                                                      {"generator", path.string()},
                                                      {"vl_model", options->vl_model},
                                                      {"data", options->data.path.string()},
                                                      {"real_images", real.size(0)},
                                                      {"generated_images", options->samples},
                                                      {"size", options->size},
                                                      {"seed", options->seed}});
    }
  }});
}

struct EvalOptions {
  std::string generator;
  std::string oracle;
  int64_t samples = 2000;
  double psi = 1.0;
  int64_t seed = 0;
  int64_t batch = 50;
  std::string json;
};

// What gan-eval measures: per oracle attribute, the share of samples read as each value, and (for
// the attributes a conditional generator was asked for) the share read as requested, overall and
// per requested value.
core::Json evaluate_generator_labels(gen::GeneratorImpl& generator, gen::AttributeOracleImpl& oracle,
                                     const EvalOptions& options) {
  torch::NoGradGuard no_grad;
  const auto& vocabulary = generator.config().labels;
  const auto device = generator.parameters().front().device();
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(uint64_t(options.seed));
  at::Tensor z = torch::randn({options.samples, generator.config().z_dim}, rng, torch::kFloat);
  // Requested labels: each attribute uniform, drawn after the latents.
  at::Tensor c = vocabulary.empty() ? at::Tensor() : gen::random_labels(vocabulary, options.samples, rng);
  const std::vector<gen::LabelChoice> requested =
      vocabulary.empty() ? std::vector<gen::LabelChoice>{} : gen::decode_labels(vocabulary, c);
  std::vector<gen::OraclePrediction> read;
  for (int64_t i = 0; i < options.samples; i += options.batch) {
    const int64_t n = std::min(options.batch, options.samples - i);
    at::Tensor ws = generator.broadcast(
        generator.map(z.narrow(0, i, n).to(device), c.defined() ? c.narrow(0, i, n).to(device) : at::Tensor()));
    at::Tensor images = generator.synthesize(generator.truncate(ws, options.psi)).to(torch::kCPU, torch::kFloat);
    if (images.size(1) == 1) images = images.expand({-1, 3, -1, -1});
    for (auto& p : oracle.predict(images)) read.push_back(std::move(p));
    if ((i / options.batch) % 10 == 0) core::log_info("gan-eval: {} of {} samples", i + n, options.samples);
  }
  core::Json result{{"samples", options.samples}, {"psi", options.psi}, {"seed", options.seed},
                    {"conditional", !vocabulary.empty()}, {"labels", gen::label_summary(vocabulary)}};
  core::Json histogram = core::Json::object(), accuracy = core::Json::object();
  for (const auto& attribute : oracle.config().attributes) {
    core::Json shares = core::Json::object();
    for (const auto& value : attribute.values) {
      int64_t count = 0;
      for (const auto& p : read) count += p.values.at(attribute.name) == value;
      shares[value] = double(count) / double(options.samples);
    }
    histogram[attribute.name] = shares;
  }
  for (size_t a = 0; a < vocabulary.size(); ++a) {
    const auto& attribute = vocabulary[a];
    const auto& heads = oracle.config().attributes;
    const bool read_by_oracle =
        std::any_of(heads.begin(), heads.end(), [&](const gen::OracleAttribute& h) { return h.name == attribute.name; });
    if (!read_by_oracle) continue;
    int64_t hits = 0;
    core::Json per_value = core::Json::object();
    for (size_t k = 0; k < attribute.values.size(); ++k) {
      int64_t asked = 0, hit = 0;
      for (size_t i = 0; i < read.size(); ++i) {
        if (requested[i][a] != int64_t(k)) continue;
        ++asked;
        hit += read[i].values.at(attribute.name) == attribute.values[k];
      }
      hits += hit;
      per_value[attribute.values[k]] = asked > 0 ? double(hit) / double(asked) : 0.0;
    }
    accuracy[attribute.name] = {{"overall", double(hits) / double(options.samples)}, {"per_value", per_value}};
  }
  result["histogram"] = histogram;
  result["requested_read"] = accuracy;
  return result;
}

void add_gan_eval(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* sub = app.add_subcommand(
      "gan-eval", "Mode coverage of a generator and, when conditional, how often the oracle reads the requested labels");
  sub->add_option("--generator", options->generator, "generator checkpoint, or a gan run folder (its generator.safetensors)")
      ->required();
  sub->add_option("--oracle", options->oracle, "attribute-oracle checkpoint that reads the samples")->required();
  sub->add_option("--samples", options->samples, "Samples drawn")->check(core::integer_in(1, 1000000))->capture_default_str();
  sub->add_option("--psi", options->psi, "Truncation ψ (1 = none)")->check(core::number_in(0.0, 1.0))->capture_default_str();
  sub->add_option("--seed", options->seed, "Seed of the latents and the requested labels")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  sub->add_option("--batch", options->batch, "Samples per forward pass")->check(core::integer_in(1, 4096))->capture_default_str();
  sub->add_option("--json", options->json, "Write the result to this JSON file");
  commands.push_back({sub, [options, &common] {
    const c10::Device device = core::apply_common_options(common);
    const fs::path path = generator_file(options->generator);
    gen::Generator generator = gen::load_generator(path);
    generator->to(device);
    gen::AttributeOracle oracle = gen::load_oracle(options->oracle);
    oracle->to(device);
    oracle->eval();
    const auto start = std::chrono::steady_clock::now();
    core::Json result = evaluate_generator_labels(*generator, *oracle, *options);
    result["generator"] = path.string();
    result["oracle"] = options->oracle;
    result["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%lld samples of %s (psi %g, %s)\n", static_cast<long long>(options->samples), path.string().c_str(),
                options->psi, result["conditional"].get<bool>() ? "labels uniform per attribute" : "unconditional");
    for (auto it = result["histogram"].begin(); it != result["histogram"].end(); ++it) {
      std::string line;
      for (auto v = it->begin(); v != it->end(); ++v) line += fmt::format(" {} {:.1f}%", v.key(), 100 * v->get<double>());
      std::printf("  read %-8s%s\n", it.key().c_str(), line.c_str());
    }
    for (auto it = result["requested_read"].begin(); it != result["requested_read"].end(); ++it) {
      std::string line;
      for (auto v = (*it)["per_value"].begin(); v != (*it)["per_value"].end(); ++v) {
        line += fmt::format(" {} {:.1f}%", v.key(), 100 * v->get<double>());
      }
      std::printf("  asked %-7s read as asked %.1f%% |%s\n", it.key().c_str(), 100 * (*it)["overall"].get<double>(),
                  line.c_str());
    }
    if (!options->json.empty()) core::write_json_file(options->json, result);
  }});
}

}  // namespace

void add_gan_commands(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  add_gan(app, common, commands);
  add_gan_fd(app, common, commands);
  add_gan_eval(app, common, commands);
}

}  // namespace hdv::train
