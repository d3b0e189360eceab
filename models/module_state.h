// A torch::nn::Module's tensors as checkpoint entries, and back: shared by every model file kind
// (vl-model, generator, oracle, ...).
//
// Entries are the module's parameters, then its buffers, under their dotted module names. Loading
// checks names and shapes (one FormatError listing every mismatch, core::Checkpoint::check_tensors)
// and floating-vs-integer kinds, then copies the values in (float16/bfloat16 are converted).
#pragma once

#include <torch/nn/module.h>

#include <filesystem>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/config.h"
#include "core/error.h"

namespace hdv::models {

// Parameters, then buffers, by name, detached (what a checkpoint stores).
core::NamedTensors module_tensors(torch::nn::Module& module);

// Name and shape of every parameter and buffer of `module`, in registration order.
core::ExpectedShapes expected_shapes(torch::nn::Module& module);

// Checks `checkpoint` against `module` and copies every tensor in. `path` names the file in errors.
void load_module_tensors(const core::Checkpoint& checkpoint, torch::nn::Module& module,
                         const std::filesystem::path& path);

// Copies the checkpoint's tensor `name` into `target`; when it is absent or has another shape, appends
// that to `problems` instead, so a resume can report every mismatch at once.
void copy_checkpoint_tensor(const core::Checkpoint& checkpoint, const std::string& name, at::Tensor target,
                            std::vector<std::string>& problems);

// The model config stored in a checkpoint (info.config), read strictly and validated; errors name
// "<path> config".
template <core::ConfigStruct T>
T checkpoint_config(const core::Checkpoint& checkpoint, const std::filesystem::path& path) {
  const std::string source = path.string() + " config";
  T config;
  core::config_from_json(checkpoint.info().config, config, source);
  try {
    config.validate();
  } catch (const core::ConfigError& e) {
    throw core::ConfigError(fmt::format("{}: {}", source, e.what()));
  }
  return config;
}

}  // namespace hdv::models
