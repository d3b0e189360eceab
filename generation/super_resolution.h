// Text-guided super-resolution with a generator prior (PULSE, Menon et al. 2020; docs/design.md §7):
// search the generator's latent space for images whose down-scaled version matches the
// low-resolution input, while a VL term pulls the details the input cannot decide toward the
// prompt.
//
// Latent: num_ws × w_dim Gaussian vectors mapped through lrelu(v·σ_fit + μ_fit) (μ, σ fitted to
// the mapping network's pre-activation outputs, PULSE's "gaussian fit"), kept on the sphere of
// radius √w_dim (projected gradient). Loss: 100·MSE(down(G), LR) + 0.05·GEOCROSS (mean geodesic
// distance between the layers' latents) + text_weight·(1 − cos(E_img(G), E_txt)). Adam, lr 0.4,
// 100 steps. Several hypotheses from different seeds, ranked by the same loss without the
// prior. Each output is made consistent with the input: out = G + up(LR − down(G)), so that
// down(out) = LR (back-projection).
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "core/progress.h"
#include "generation/generator.h"
#include "generation/vl_guide.h"

namespace hdv::gen {

struct SRConfig {
  int64_t steps = 100;        // Adam steps per candidate (PULSE: 100)
  double lr = 0.4;            // PULSE's learning rate
  int64_t candidates = 4;     // hypotheses, each from its own seed
  double l2_weight = 100.0;   // weight of the down-scaled MSE
  double geocross_weight = 0.05;
  double text_weight = 1.0;   // weight of the VL text term (used only with a prompt)
  bool consistency = true;    // back-project so the output down-scales to the input exactly
  int64_t fit_samples = 10000;  // mapping samples behind μ_fit, σ_fit
  int64_t seed = 0;
  void validate() const;
};

struct SRCandidate {
  at::Tensor image;         // [1, C, R, R]
  double lr_mse = 0;        // MSE(down(G), LR) before back-projection
  double text_similarity = 0;  // cos(E_img, E_txt) (0 without a prompt)
  double score = 0;         // ranking loss (lower is better)
  int64_t seed = 0;
};

struct SRResult {
  std::vector<SRCandidate> candidates;  // best first
  at::Tensor bicubic;                   // [1, C, R, R] the bicubic up-scale baseline
};

// Area down-scaling by `factor` (what the matching term and the test inputs use): [B, C, H, W] -> [B, C, H/f, W/f].
at::Tensor downscale(const at::Tensor& images, int64_t factor);
// Bicubic up-scaling to size × size.
at::Tensor bicubic_upscale(const at::Tensor& images, int64_t size);

// low: [C, h, w] or [1, C, h, w] in [-1, 1] with h = w = resolution / scale; `text` a unit [D]
// prompt embedding or undefined; `guide` may be null when there is no text.
SRResult super_resolve(GeneratorImpl& generator, VLGuide* guide, const at::Tensor& low, int64_t scale,
                       const at::Tensor& text, const SRConfig& config, const core::ProgressCallback& progress = {},
                       const std::atomic<bool>* cancel = nullptr);

}  // namespace hdv::gen
