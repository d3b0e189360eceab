// Inversion: finding the latent of a given image (StyleGAN2 §5 projector, NVlabs `projector.py`;
// docs/design.md §7). We have no VGG/LPIPS weights offline, so the distance is pixel MSE plus
// (1 − cos) of our VL image embeddings. Adam (0.9, 0.999), lr 0.1 with 5% ramp-up and 25%
// ramp-down, latent noise 0.05·σ_w decaying over the first 75%, one W broadcast to every layer
// (W+ optional), noise buffers optimised under the multi-scale autocorrelation regulariser (1e5).
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "core/progress.h"
#include "generation/generator.h"
#include "generation/vl_guide.h"

namespace hdv::gen {

struct InvertConfig {
  int64_t steps = 1000;             // NVlabs' default
  double lr = 0.1;
  double initial_noise_factor = 0.05;
  double noise_ramp = 0.75;
  double noise_regularize = 1e5;
  double pixel_weight = 1.0;        // weight of the pixel MSE (images in [-1, 1])
  double vl_weight = 0.1;           // weight of 1 − cos(E(G(w)), E(target)); 0 without a VL model
  bool w_plus = false;              // optimise one w per layer instead of one broadcast w
  int64_t w_avg_samples = 10000;    // samples behind w_avg and σ_w
  int64_t seed = 0;
  void validate() const;
};

struct InvertResult {
  at::Tensor ws;       // [1, num_ws, w_dim]
  at::Tensor image;    // [1, C, R, R] reconstruction
  std::vector<at::Tensor> noise;  // the optimised noise maps (conv layers)
  double mse = 0;      // pixel MSE of the reconstruction, images in [-1, 1]
  double psnr = 0;     // dB, peak-to-peak 2
};

// target: [C, R, R] or [1, C, R, R] in [-1, 1], resized to the generator's resolution when it
// differs. `guide` may be null (pixel loss only).
InvertResult invert(GeneratorImpl& generator, VLGuide* guide, const at::Tensor& target, const InvertConfig& config,
                    const core::ProgressCallback& progress = {}, const std::atomic<bool>* cancel = nullptr);

// Resizes an image [C, H, W] or [1, C, H, W] to size × size (area when shrinking, bicubic when
// growing) -> [1, C, size, size].
at::Tensor fit_image(const at::Tensor& image, int64_t size);

// PSNR in dB of images in [-1, 1] (peak-to-peak 2).
double psnr(const at::Tensor& a, const at::Tensor& b);

}  // namespace hdv::gen
