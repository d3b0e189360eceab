// hdvila-train edit-eval: scores text-guided edits with the attribute oracle
// (generation/edit_evaluation.h): the colour or texture edit accuracy and class preservation of
// global-direction or latent-optimisation edits over N generated images, per target value.
//
//   hdvila-train edit-eval --generator G --vl-model V --oracle O [--directions D] [--attribute colour]
//                          [--method directions|optimise] [--images 200] [--workers N] [--json OUT]
#include <cstdio>
#include <tuple>

#include <fmt/format.h>

#include "core/assets.h"
#include "core/config.h"
#include "core/device.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "generation/edit_evaluation.h"
#include "generation/edit_optimise.h"
#include "generation/pipeline.h"
#include "generation/workers.h"
#include "training/command.h"
#include "training/pipeline_flags.h"

namespace hdv::train {

void add_edit_eval_command(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  struct Options {
    PipelineFlags models;
    std::string json;
    std::string layers = "0:";
    int workers = 1;
    gen::EditEvaluationConfig config;
  };
  auto options = std::make_shared<Options>();
  gen::EditEvaluationConfig& c = options->config;
  CLI::App* sub = app.add_subcommand("edit-eval", "Score text-guided edits with the attribute oracle (target value read, class kept)");
  sub->add_option("--generator", options->models.generator, "Generator checkpoint")->required();
  sub->add_option("--vl-model", options->models.vl_model, "VL model checkpoint")->required();
  sub->add_option("--oracle", options->models.oracle, "Attribute oracle checkpoint")->required();
  sub->add_option("--directions", options->models.directions, "Direction table (default: directions.safetensors beside the generator)");
  sub->add_option("--vocab", options->models.vocab, "WordPiece vocab.txt (default: beside the VL model, else the venv's MiniLM)");
  sub->add_option("--python", options->models.python, "The venv's Python, to locate the default vocabulary")->capture_default_str();
  sub->add_option("--attribute", c.attribute, "Oracle attribute the edits target (colour, texture, ...)")->capture_default_str();
  sub->add_option("--values", c.values, "Target values (default: every value the oracle reads)")->delimiter(',');
  sub->add_option("--method", c.method, "directions or optimise")->check(CLI::IsMember({"directions", "optimise"}))->capture_default_str();
  sub->add_option("--images", c.images, "Generated sources per target value")->check(core::positive_integer())->capture_default_str();
  sub->add_option("--seed", c.seed, "First source seed")->check(core::non_negative_integer())->capture_default_str();
  sub->add_option("--psi", c.psi, "Truncation of the sources")->check(core::number_in(0.0, 1.0))->capture_default_str();
  sub->add_option("--strength", c.strength, "directions: alpha")->capture_default_str();
  sub->add_option("--beta", c.beta, "directions: beta")->check(core::number_in(0.0, 0.999))->capture_default_str();
  sub->add_option("--ridge", options->models.ridge, "directions: ridge of the whitened relevance (>= 0; 0 whitens fully)")
      ->check(core::non_negative_number())
      ->capture_default_str();
  sub->add_flag("--plain-relevance", options->models.plain_relevance,
                "directions: StyleCLIP's plain relevance instead of the whitened one");
  sub->add_option("--steps", c.optimise.steps, "optimise: Adam steps")->check(core::positive_integer())->capture_default_str();
  sub->add_option("--lr", c.optimise.lr, "optimise: peak learning rate")->check(core::positive_number())->capture_default_str();
  sub->add_option("--layers", options->layers, "optimise: the W+ layers that move, BEGIN:END (END empty = through the last)")
      ->capture_default_str();
  sub->add_option("--pixel-lambda", c.optimise.pixel_lambda, "optimise: weight of the pixel MSE to the source image")
      ->check(core::non_negative_number())
      ->capture_default_str();
  sub->add_option("--direction-lambda", c.optimise.direction_lambda,
                  "optimise: weight of the directional term (image step along the neutral -> prompt text step)")
      ->check(core::non_negative_number())
      ->capture_default_str();
  sub->add_option("--views", c.optimise.views, "optimise: shifted/mirrored views the similarity is averaged over")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_option("--workers", options->workers,
                  "Edits scored side by side, each worker on its own copy of the models and threads/N CPU threads")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_option("--json", options->json, "Write the table as JSON");
  commands.push_back({sub, [options, &common] {
    core::apply_log_options(common);
    gen::EditOptimiseConfig& optimise = options->config.optimise;
    std::tie(optimise.layer_begin, optimise.layer_end) = gen::parse_layer_range(options->layers, "--layers");
    std::vector<gen::Pipeline> pipelines =
        gen::load_pipelines(options->models.options(core::apply_common_options(common)), options->workers);
    gen::Pipeline& pipeline = pipelines.front();
    if (options->config.method == "directions" && !pipeline.has_directions()) {
      throw core::IoError(fmt::format("{}: no direction table (compute it with `hdvila-train directions`, or pass "
                                      "--directions FILE, or use --method optimise)",
                                      pipeline.directions_path().string()));
    }
    options->config.validate();
    core::log_info("edit-eval: attribute {}, method {}, {} source(s) per target value, seed {}", options->config.attribute,
                   options->config.method, options->config.images, options->config.seed);
    const std::string relevance =
        options->models.plain_relevance ? "plain" : fmt::format("whitened, ridge {}", options->models.ridge);
    if (options->config.method == "directions") core::log_info("edit-eval: relevance {}", relevance);
    if (options->workers > 1) {
      core::log_info("{} workers, {} CPU thread(s) each", options->workers, gen::threads_per_worker(options->workers));
    }
    core::ConsoleProgress progress("scoring edits", "edits");
    const gen::EditEvaluation result = gen::evaluate_edits(pipelines, options->config, progress.callback());
    progress.finish();
    std::printf("%-12s %7s %8s %9s %11s %9s\n", "target", "edits", "skipped", "target %", "class kept %", "channels");
    auto print = [](const gen::EditScore& s) {
      std::printf("%-12s %7lld %8lld %9.1f %11.1f %9.1f\n", s.value.c_str(), static_cast<long long>(s.edits),
                  static_cast<long long>(s.skipped), 100.0 * s.target_rate(), 100.0 * s.class_rate(), s.mean_channels);
    };
    for (const gen::EditScore& s : result.per_value) print(s);
    print(result.total);
    if (!options->json.empty()) {
      core::Json json = result.to_json(options->config);
      if (options->config.method == "directions") json["relevance"] = relevance;
      core::write_json_file(options->json, json);
    }
  }});
}

}  // namespace hdv::train
