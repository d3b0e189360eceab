// Generator checkpoints (see generator_checkpoint.h).
#include "generation/generator_checkpoint.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include "core/config.h"
#include "core/error.h"
#include "models/module_state.h"

namespace hdv::gen {

core::ExpectedShapes generator_expected_shapes(GeneratorImpl& generator) { return models::expected_shapes(generator); }

core::NamedTensors generator_tensors(GeneratorImpl& generator) { return models::module_tensors(generator); }

void save_generator(const std::filesystem::path& path, GeneratorImpl& generator, const std::string& preset,
                    int64_t step) {
  core::CheckpointInfo info;
  info.kind = kGeneratorKind;
  info.preset = preset;
  info.config = core::config_to_json(generator.config());
  info.step = step;
  core::NamedTensors tensors = generator_tensors(generator);
  for (auto& [name, tensor] : tensors) tensor = tensor.to(torch::kCPU);
  core::save_checkpoint(path, tensors, info);
}

Generator load_generator(const std::filesystem::path& path) {
  const core::Checkpoint checkpoint = core::Checkpoint::load(path, kGeneratorKind);
  Generator generator(models::checkpoint_config<GeneratorConfig>(checkpoint, path));
  models::load_module_tensors(checkpoint, *generator, path);
  generator->eval();
  return generator;
}

}  // namespace hdv::gen
