// StyleGAN2 generators trained elsewhere, as hdvila generators.
//
// The pickles people have (stylegan2-ada-pytorch network pickles, rosinality/stylegan2-pytorch
// checkpoints) are read by scripts/convert_stylegan_pkl.py under the venv's Python with an
// allow-list unpickler (nothing from the file runs; docs/design.md §9). It writes the generator's
// tensors under their names in the file, plus metadata "stylegan_source" (layout, class name,
// NVlabs init_kwargs). This file maps that onto GeneratorConfig + the generator's NVlabs-named
// tensors:
//   nvlabs      names are ours already; the resample_filter buffers (the fixed [1,3,3,1] FIR) must
//               be the standard filter and are dropped; the geometry (z_dim, w_dim, c_dim,
//               mapping layers, resolution, channels) comes from the shapes and is cross-checked
//               with init_kwargs; lr multiplier and conv_clamp come from init_kwargs;
//               architecture must be "skip" (StyleGAN2's generator), StyleGAN3 is refused.
//   rosinality  style.N -> mapping.fc(N-1), input.input -> synthesis.b4.const, conv1 / to_rgb1 /
//               convs.N / to_rgbs.N / noises.noise_N -> synthesis.b<res>.{conv0,conv1,torgb};
//               latent_avg -> mapping.w_avg, or the mean of 10,000 mapped z when absent;
//               no conv clamp (rosinality has none).
// A conditional NVlabs generator (c_dim > 0) gets one label attribute "class" with values
// "0" ... "c_dim-1" (NVlabs' one-hot class index).
// Every missing, unexpected or misshapen tensor is listed in one core::FormatError naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "generation/generator.h"

namespace hdv::gen {

struct StyleganImport {
  Generator generator{nullptr};
  std::string layout;               // "nvlabs" or "rosinality"
  int64_t tensors = 0;              // tensors loaded from the file
  std::vector<std::string> notes;   // what was derived rather than read (w_avg, clamp, ...)
};

// `raw`: the safetensors file convert_stylegan_pkl.py wrote; `original`: the user's file, named in
// errors. Returns the generator in eval mode on the CPU.
StyleganImport import_stylegan(const std::filesystem::path& raw, const std::filesystem::path& original);

}  // namespace hdv::gen
