// Fuzz target: checkpoint metadata (core/checkpoint.h).
//
// The input is the text of __metadata__["hdvila"] (the JSON string that says what a checkpoint
// holds). The target wraps it in a valid safetensors file with one tensor and loads it through
// Checkpoint::load and read_checkpoint_info, the entry points every model loader uses.
// A load that succeeds must have read format version 1 exactly (what this build supports).
#include <ATen/ATen.h>

#include "core/checkpoint.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

std::string checkpoint_bytes(std::string_view metadata) {
  using hdv::core::Json;
  Json header = Json::object();
  header["__metadata__"] = {{"format", "pt"}, {"hdvila", std::string(metadata)}};
  header["w"] = {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}};
  std::string text = header.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((uint64_t(text.size()) >> (8 * i)) & 0xff);
  bytes += text;
  bytes.append(8, '\0');  // w = [0.0, 0.0]
  return bytes;
}

}  // namespace

HDV_FUZZ_TARGET(checkpoint) {
  using namespace hdv;
  const std::string_view metadata(reinterpret_cast<const char*>(data), size);
  const std::filesystem::path path = fuzz::write_input("checkpoint.safetensors", checkpoint_bytes(metadata));
  const std::string source = path.string();
  fuzz::expect_clean(
      [&] {
        const core::Checkpoint checkpoint = core::Checkpoint::load(path, "");
        if (checkpoint.info().format_version != 1) fuzz::finding("loaded a format version other than 1", metadata);
        const core::Json parsed = core::Json::parse(checkpoint.file().metadata().at("hdvila"));
        if (parsed.at("format_version") != 1) {
          fuzz::finding("accepted format_version " + parsed.at("format_version").dump() + " as 1", metadata);
        }
        checkpoint.check_tensors({{"w", {2}}});
      },
      [&](const core::Error& e) { fuzz::check_names_input(e, source); });
  fuzz::expect_clean([&] { core::read_checkpoint_info(path); },
                     [&](const core::Error& e) { fuzz::check_names_input(e, source); });
  return 0;
}
