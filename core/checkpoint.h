// Checkpoints: a safetensors file whose __metadata__ carries what the tensors are.
//
// __metadata__ holds "format": "pt" (so Hugging Face tools read the file) and "hdvila": a JSON
// string {"kind", "format_version", "preset", "step", "config"}. Loading checks the kind and the
// format version, and check_tensors() compares every tensor name and shape with what a model
// expects, reporting all mismatches in one error rather than the first.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/safetensors.h"

namespace hdv::core {

// Bumped when the meaning of stored tensors or metadata changes incompatibly.
constexpr int kCheckpointFormatVersion = 1;

struct CheckpointInfo {
  std::string kind;     // what the tensors are: "vl-model", "generator", "oracle", "directions", ...
  std::string preset;   // preset the config started from ("hdvila-small"), empty for free configs
  Json config;          // the full resolved config of the model or run
  int format_version = kCheckpointFormatVersion;
  int64_t step = 0;     // training step at which the checkpoint was taken
};

using ExpectedShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

class Checkpoint {
 public:
  // Opens and validates the file, then checks kind (unless expected_kind is empty) and version.
  static Checkpoint load(const std::filesystem::path& path, std::string_view expected_kind);

  const CheckpointInfo& info() const { return info_; }
  const SafetensorsFile& file() const { return file_; }
  at::Tensor tensor(std::string_view name) const { return file_.tensor(name); }

  // Throws FormatError listing every missing tensor, unexpected tensor and shape mismatch.
  void check_tensors(const ExpectedShapes& expected) const;

 private:
  explicit Checkpoint(SafetensorsFile file) : file_(std::move(file)) {}
  SafetensorsFile file_;
  CheckpointInfo info_;
};

void save_checkpoint(const std::filesystem::path& path, const NamedTensors& tensors, const CheckpointInfo& info);

// Reads only the CheckpointInfo from a file's metadata (validates the file as a whole).
CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);

}  // namespace hdv::core
