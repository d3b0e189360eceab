// hdvila-train convert IN --out OUT --dtype F16: a safetensors file or checkpoint with its
// floating-point tensors stored in another precision (the bundled models are stored in fp16;
// every loader converts back to fp32). Metadata, kind and config are kept, so the result loads
// wherever the input did.
#include <cctype>
#include <cstdio>

#include <fmt/format.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "training/command.h"

namespace hdv::train {

void add_convert_command(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  struct Options {
    std::string in;
    std::string out;
    std::string dtype = "F16";
  };
  auto options = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("convert", "Rewrite a safetensors file with its floating tensors in F16, BF16 or F32");
  sub->add_option("file", options->in, "The .safetensors file or checkpoint to convert")->required();
  sub->add_option("--out", options->out, "Output file (written atomically; not the input)")->required();
  sub->add_option("--dtype", options->dtype, "Storage dtype of floating tensors")
      ->capture_default_str()
      ->check(CLI::IsMember({"F16", "BF16", "F32"}, CLI::ignore_case));
  commands.push_back({sub, [options, &common] {
    core::apply_log_options(common);
    std::string name = options->dtype;
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const uint64_t bytes = core::cast_safetensors(options->in, options->out, *core::parse_dtype(name));
    std::fputs(fmt::format("{} -> {} ({}, {:.1f} MB of tensors)\n", options->in, options->out, name, bytes / 1e6).c_str(),
               stdout);
  }});
}

}  // namespace hdv::train
