// hdvila-train info: the parameter count of each component of a VL model and the total, for a
// preset (--preset), a config file (--config) or a checkpoint's stored config (--model).
#include <torch/torch.h>

#include <cstdio>

#include <fmt/format.h>

#include "core/checkpoint.h"
#include "core/error.h"
#include "models/presets.h"
#include "training/command.h"

namespace hdv::train {
namespace {

std::string millions(int64_t n) { return fmt::format("{:>10.3f} M", double(n) / 1e6); }

}  // namespace

void add_model_commands(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  struct Options {
    std::string preset, config, model;
  };
  auto options = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("info", "Print the parameter count of each component of a VL model");
  auto* preset = sub->add_option("--preset", options->preset, "hdvila-base, hdvila-small or hdvila-tiny");
  auto* config = sub->add_option("--config", options->config, "VL model config JSON (over the --preset's, if given)");
  auto* model = sub->add_option("--model", options->model, "VL model checkpoint (its stored config)");
  model->excludes(preset)->excludes(config);
  commands.push_back({sub, [options, &common] {
    core::apply_log_options(common);
    models::VLConfig config;
    std::string source;
    if (!options->model.empty()) {
      core::CheckpointInfo info = core::read_checkpoint_info(options->model);
      if (info.kind != "vl-model") {
        throw core::FormatError(fmt::format("{}: checkpoint kind is \"{}\", expected \"vl-model\"", options->model, info.kind));
      }
      core::config_from_json(info.config, config, options->model + " config");
      source = options->model;
    } else {
      if (options->preset.empty() && options->config.empty()) {
        throw core::UsageError("--preset / --config / --model: give one");
      }
      if (!options->preset.empty()) {
        try {
          config = models::vl_preset(options->preset);
        } catch (const core::ConfigError& e) {
          throw core::UsageError(fmt::format("--preset: {}", e.what()));
        }
        source = options->preset;
      }
      if (!options->config.empty()) {
        core::config_from_json(core::read_json_file(options->config), config, options->config);
        source += (source.empty() ? "" : " + ") + options->config;
      }
    }
    config.validate();
    torch::NoGradGuard no_grad;
    models::VLModel vl(config);
    std::string out = fmt::format("{}\n", source);
    int64_t total = 0, mlm = 0;
    for (const auto& [component, count] : models::component_parameter_counts(*vl)) {
      if (count == 0) continue;
      out += fmt::format("  {:<42}{}\n", component, millions(count));
      total += count;
      if (component == "MLM head") mlm = count;
    }
    out += fmt::format("  {:<42}{}\n", "total", millions(total));
    if (mlm > 0) out += fmt::format("  {:<42}{}\n", "total without the MLM head", millions(total - mlm));
    std::fputs(out.c_str(), stdout);
  }});
}

}  // namespace hdv::train
