// A torch::nn::Module's tensors as checkpoint entries, and back: shared by every model file kind
// (vl-model, generator, oracle, ...).
//
// Entries are the module's parameters, then its buffers, under their dotted module names. Loading
// checks names and shapes (one FormatError listing every mismatch, core::Checkpoint::check_tensors)
// and floating-vs-integer kinds, then copies the values in (float16/bfloat16 are converted).
#pragma once

#include <torch/nn/module.h>

#include <filesystem>

#include "core/checkpoint.h"

namespace hdv::models {

// Parameters, then buffers, by name, detached (what a checkpoint stores).
core::NamedTensors module_tensors(torch::nn::Module& module);

// Name and shape of every parameter and buffer of `module`, in registration order.
core::ExpectedShapes expected_shapes(torch::nn::Module& module);

// Checks `checkpoint` against `module` and copies every tensor in. `path` names the file in errors.
void load_module_tensors(const core::Checkpoint& checkpoint, torch::nn::Module& module,
                         const std::filesystem::path& path);

}  // namespace hdv::models
