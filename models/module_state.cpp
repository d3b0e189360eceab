// Module tensors <-> checkpoint entries (see module_state.h).
#include "models/module_state.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/shape_text.h"

namespace hdv::models {
namespace {

torch::OrderedDict<std::string, at::Tensor> state_of(torch::nn::Module& module) {
  torch::OrderedDict<std::string, at::Tensor> state;
  for (auto& item : module.named_parameters(/*recurse=*/true)) state.insert(item.key(), item.value());
  for (auto& item : module.named_buffers(/*recurse=*/true)) state.insert(item.key(), item.value());
  return state;
}

}  // namespace

core::NamedTensors module_tensors(torch::nn::Module& module) {
  core::NamedTensors tensors;
  for (const auto& item : state_of(module)) tensors.emplace_back(item.key(), item.value().detach());
  return tensors;
}

core::ExpectedShapes expected_shapes(torch::nn::Module& module) {
  core::ExpectedShapes shapes;
  for (const auto& item : state_of(module)) shapes.emplace_back(item.key(), item.value().sizes().vec());
  return shapes;
}

void load_module_tensors(const core::Checkpoint& checkpoint, torch::nn::Module& module,
                         const std::filesystem::path& path) {
  auto state = state_of(module);
  checkpoint.check_tensors(expected_shapes(module));
  // Shapes agree; a tensor whose kind (floating vs integer) differs is still the wrong file.
  std::vector<std::string> problems;
  for (const auto& item : state) {
    const core::TensorEntry& entry = checkpoint.file().entry(item.key());
    if (auto problem = core::conversion_problem(entry.dtype, item.value().scalar_type())) {
      problems.push_back(fmt::format("\"{}\" {}", item.key(), *problem));
    }
  }
  if (!problems.empty()) {
    throw core::FormatError(fmt::format("{}: {} tensor{} of the wrong type: {}", path.string(), problems.size(),
                                        problems.size() == 1 ? "" : "s", fmt::join(problems, "; ")));
  }
  torch::NoGradGuard no_grad;
  for (auto& item : state) item.value().copy_(checkpoint.tensor(item.key()));  // converts F16, BF16, F8, U16, ...
}

void copy_checkpoint_tensor(const core::Checkpoint& checkpoint, const std::string& name, at::Tensor target,
                            std::vector<std::string>& problems) {
  if (!checkpoint.file().contains(name)) {
    problems.push_back(name);
    return;
  }
  const core::TensorEntry& entry = checkpoint.file().entry(name);
  if (at::IntArrayRef(entry.shape) != target.sizes()) {
    problems.push_back(fmt::format("{} (shape {} in the checkpoint)", name, core::shape_text(entry.shape)));
    return;
  }
  if (auto problem = core::conversion_problem(entry.dtype, target.scalar_type())) {
    problems.push_back(fmt::format("{} ({} in the checkpoint)", name, *problem));
    return;
  }
  at::Tensor value = checkpoint.tensor(name);
  torch::NoGradGuard no_grad;
  target.copy_(value);
}

}  // namespace hdv::models
