// Generator weights on disk: core checkpoints (core/checkpoint.h) of kind "generator".
//
// Tensors are the generator's parameters and buffers under their module names (NVlabs names:
// "mapping.fc0.weight", "mapping.w_avg", "synthesis.b8.conv0.noise_const", ...); info.config is
// the full GeneratorConfig, so a file rebuilds its own generator. For inference the file holds
// the EMA generator (G_ema) of a GAN run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/checkpoint.h"
#include "generation/generator.h"

namespace hdv::gen {

constexpr const char* kGeneratorKind = "generator";

// Name and shape of every parameter and buffer, in registration order.
core::ExpectedShapes generator_expected_shapes(GeneratorImpl& generator);
// Parameters then buffers of `module`, by name (what the checkpoint stores).
core::NamedTensors generator_tensors(GeneratorImpl& generator);

// Writes a "generator" checkpoint atomically. `preset`: the preset the config started from.
void save_generator(const std::filesystem::path& path, GeneratorImpl& generator, const std::string& preset,
                    int64_t step = 0);

// Reads a "generator" checkpoint: kind and version checked, config validated (errors name the
// file), every tensor name and shape checked (one FormatError listing all mismatches); returns
// the generator in eval mode on the CPU.
Generator load_generator(const std::filesystem::path& path);

}  // namespace hdv::gen
