// hdvila-train inspect FILE: what a safetensors file or checkpoint holds — kind, preset, step and
// config of an hdvila checkpoint, then every tensor's dtype and shape and the totals.
#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/checkpoint.h"
#include "core/safetensors.h"
#include "training/command.h"

namespace hdv::train {

void add_inspect_command(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  struct Options {
    std::string path;
    bool config = false;
  };
  auto options = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("inspect", "List the tensors and metadata of a safetensors file or checkpoint");
  sub->add_option("file", options->path, "A .safetensors file")->required();
  sub->add_flag("--config", options->config, "Also print the checkpoint's full config JSON");
  commands.push_back({sub, [options, &common] {
    core::apply_log_options(common);
    core::SafetensorsFile file = core::SafetensorsFile::open(options->path);
    std::string out;
    if (file.metadata().count("hdvila") != 0) {
      core::CheckpointInfo info = core::read_checkpoint_info(options->path);
      out += fmt::format("checkpoint: kind {}, preset {}, step {}, format version {}\n", info.kind,
                         info.preset.empty() ? "(none)" : info.preset, info.step, info.format_version);
      if (options->config) out += info.config.dump(2) + "\n";
    }
    for (const auto& [key, value] : file.metadata()) {
      if (key != "hdvila") out += fmt::format("metadata: {} = {}\n", key, value);
    }
    int64_t total_elements = 0;
    uint64_t total_bytes = 0;
    for (const core::TensorEntry& e : file.entries()) {
      int64_t numel = 1;
      for (int64_t d : e.shape) numel *= d;
      total_elements += numel;
      total_bytes += e.end - e.begin;
      out += fmt::format("{}\t{}\t[{}]\n", e.name, core::dtype_name(e.dtype), fmt::join(e.shape, ", "));
    }
    out += fmt::format("{} tensors, {} elements, {} bytes\n", file.entries().size(), total_elements, total_bytes);
    std::fputs(out.c_str(), stdout);
  }});
}

}  // namespace hdv::train
