// hdvila-train sr-eval: scores text-guided super-resolution on held-out SynthVid frames
// (generation/sr_evaluation.h): PSNR against the original and the oracle's accuracy on the true
// texture (and colour, class) with the true attributes in the prompt, with no prompt, and bicubic.
//
//   hdvila-train sr-eval --data SYNTHVID [--split test] [--images 200] [--scale 4]
//                        [--generator G --vl-model V --oracle O] [--workers N] [--json OUT] [--sheet OUT.png]
#include <torch/torch.h>

#include <cstdio>

#include <fmt/format.h>

#include "core/assets.h"
#include "core/config.h"
#include "core/contact_sheet.h"
#include "core/device.h"
#include "core/error.h"
#include "core/image_io.h"
#include "core/log.h"
#include "core/progress.h"
#include "generation/pipeline.h"
#include "generation/workers.h"
#include "generation/sr_evaluation.h"
#include "training/command.h"
#include "training/pipeline_flags.h"
#include "training/image_dataset.h"

namespace hdv::train {

namespace {

// "a {texture} {colour} {class}" with the primary object's labels; an unknown placeholder is a
// usage error naming it.
std::string fill_prompt(const std::string& pattern, const core::Json& object, const std::string& source) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    const size_t open = pattern.find('{', i);
    if (open == std::string::npos) {
      out += pattern.substr(i);
      break;
    }
    const size_t close = pattern.find('}', open);
    if (close == std::string::npos) throw core::UsageError(fmt::format("--prompt: unclosed '{{' in \"{}\"", pattern));
    out += pattern.substr(i, open - i);
    const std::string key = pattern.substr(open + 1, close - open - 1);
    if (!object.contains(key) || !object[key].is_string()) {
      throw core::UsageError(fmt::format("--prompt: {{{}}} is not a label of {} (labels: class, colour, texture, size, motion)",
                                         key, source));
    }
    out += object[key].get<std::string>();
    i = close + 1;
  }
  return out;
}

}  // namespace

void add_sr_eval_command(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  struct Options {
    PipelineFlags models;
    std::string data, split = "test", json, sheet;
    std::string prompt = "a {texture} {colour} {class}";
    int64_t images = 200, sheet_rows = 8;
    int workers = 1;
    gen::SREvaluationConfig config;
  };
  auto options = std::make_shared<Options>();
  gen::SREvaluationConfig& c = options->config;
  CLI::App* sub = app.add_subcommand(
      "sr-eval", "Score text-guided super-resolution on held-out SynthVid frames (PSNR, oracle texture accuracy; prompt vs none vs bicubic)");
  sub->add_option("--data", options->data, "SynthVid folder (hdvila-train synth)")->required();
  sub->add_option("--split", options->split, "Split to take the frames from")->capture_default_str();
  sub->add_option("--images", options->images, "Images to score (one-object scenes, in labels.jsonl order)")
      ->check(core::positive_integer())->capture_default_str();
  sub->add_option("--scale", c.scale, "Down-scaling factor: the input is resolution/scale pixels wide")
      ->check(CLI::IsMember({4, 8, 16}))->capture_default_str();
  sub->add_option("--prompt", options->prompt, "Prompt pattern filled from each frame's labels ({class} {colour} {texture} {size} {motion})")
      ->capture_default_str();
  sub->add_option("--steps", c.sr.steps, "Search steps per candidate")->check(core::positive_integer())->capture_default_str();
  sub->add_option("--candidates", c.sr.candidates, "Hypotheses per image (the best is scored)")->check(core::positive_integer())->capture_default_str();
  sub->add_option("--text-weight", c.sr.text_weight, "Weight of the VL text term")->check(core::non_negative_number())->capture_default_str();
  sub->add_option("--seed", c.sr.seed, "First search seed (image i uses seed + i, with and without the prompt)")
      ->check(core::non_negative_integer())->capture_default_str();
  sub->add_option("--generator", options->models.generator, "Generator checkpoint (default: the bundled model)");
  sub->add_option("--vl-model", options->models.vl_model, "VL model checkpoint (default: the bundled model)");
  sub->add_option("--oracle", options->models.oracle, "Attribute oracle checkpoint (default: the bundled model)");
  sub->add_option("--vocab", options->models.vocab, "WordPiece vocab.txt (default: beside the VL model, else the venv's MiniLM)");
  sub->add_option("--python", options->models.python, "The venv's Python, to locate the default vocabulary")->capture_default_str();
  sub->add_option("--workers", options->workers,
                  "Images scored side by side, each worker on its own copy of the models and threads/N CPU threads")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_option("--json", options->json, "Write the table and every image's scores as JSON");
  sub->add_option("--sheet", options->sheet, "Write a picture grid PNG: input, bicubic, no prompt, prompt, original per row");
  sub->add_option("--sheet-rows", options->sheet_rows, "Rows of the --sheet grid")->check(core::positive_integer())->capture_default_str();
  commands.push_back({sub, [options, &common] {
    core::apply_log_options(common);
    const c10::Device device = core::apply_common_options(common);
    gen::SREvaluationConfig& config = options->config;
    config.validate();
    // The prompt pattern is checked before any model or frame is read.
    fill_prompt(options->prompt, core::Json{{"class", ""}, {"colour", ""}, {"texture", ""}, {"size", ""}, {"motion", ""}}, "SynthVid");
    std::vector<gen::Pipeline> pipelines = gen::load_pipelines(options->models.options(device), options->workers);
    gen::Pipeline& pipeline = pipelines.front();
    const int64_t resolution = pipeline.generator().config().resolution;

    ImageSourceOptions source;
    source.kind = "synthvid";
    source.path = options->data;
    source.split = options->split;
    source.resolution = resolution;
    core::ConsoleProgress reading("reading frames", "clips");
    const LabelledImages frames = load_images(source, reading.callback());
    reading.finish();
    std::vector<gen::SRCase> cases;
    for (int64_t i = 0; i < frames.size() && int64_t(cases.size()) < options->images; ++i) {
      const core::Json& labels = frames.labels[size_t(i)];
      if (!labels.contains("objects") || labels["objects"].size() != 1) continue;
      const core::Json& object = labels["objects"][0];
      gen::SRCase item;
      item.source = frames.sources[size_t(i)];
      item.image = frames.pixels[i].to(torch::kFloat).div(127.5).sub(1.0);
      item.prompt = fill_prompt(options->prompt, object, item.source);
      for (const std::string& a : config.attributes) {
        if (!object.contains(a) || !object[a].is_string()) {
          throw core::FormatError(fmt::format("{}: labels field \"objects[0].{}\": expected a string", item.source, a));
        }
        item.truth[a] = object[a].get<std::string>();
      }
      cases.push_back(std::move(item));
    }
    if (cases.empty()) throw core::Error(fmt::format("{} split {}: no one-object frames to score", options->data, options->split));
    if (int64_t(cases.size()) < options->images) {
      core::log_warning("{} split {}: only {} one-object frames (asked for {})", options->data, options->split, cases.size(),
                        options->images);
    }
    if (!options->sheet.empty()) config.keep_images = options->sheet_rows;
    core::log_info("sr-eval: {} image(s) at {} px, x{} ({} px inputs), {} steps x {} candidates, prompt \"{}\"", cases.size(),
                   resolution, config.scale, resolution / config.scale, config.sr.steps, config.sr.candidates, options->prompt);
    if (options->workers > 1) {
      core::log_info("{} workers, {} CPU thread(s) each", options->workers, gen::threads_per_worker(options->workers));
    }
    core::ConsoleProgress progress("super-resolving", "images");
    const gen::SREvaluation result = gen::evaluate_super_resolution(pipelines, cases, config, progress.callback());
    progress.finish();

    std::printf("%-10s %7s %9s", "method", "images", "PSNR dB");
    for (const std::string& a : config.attributes) std::printf(" %10s", (a + " %").c_str());
    std::printf("\n");
    for (const gen::SRMethodScore& m : result.methods) {
      std::printf("%-10s %7lld %9.2f", m.method.c_str(), static_cast<long long>(m.images), m.mean_psnr);
      for (const std::string& a : config.attributes) std::printf(" %10.1f", 100.0 * m.accuracy(a));
      std::printf("\n");
    }
    std::printf("%-10s %7zu %9s", "original", result.images.size(), "-");
    for (const std::string& a : config.attributes) {
      std::printf(" %10.1f", 100.0 * double(result.original_hits.at(a)) / double(result.images.size()));
    }
    std::printf("\n");
    if (!options->json.empty()) core::write_json_file(options->json, result.to_json(config));
    if (!options->sheet.empty()) {
      core::save_png(options->sheet, core::contact_sheet(result.pictures, std::max<int64_t>(resolution, 128)));
      core::log_info("picture grid {} (per row: input, bicubic, no prompt, prompt, original)", options->sheet);
    }
  }});
}

}  // namespace hdv::train
