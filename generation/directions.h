// Global directions in StyleSpace: StyleCLIP's text-driven edits that run in milliseconds
// (Patashnik et al. 2021 §6; docs/design.md §7), with our VL embedding in place of CLIP.
//
// Once per generator: S statistics (mean, σ per style channel) from many W samples (ψ 0.7), then
// the relevance of every conv-layer channel (toRGB skipped): for each of `images` fixed samples
// set the channel to mean ± sigma·σ, render both, embed both with the VL model, take the unit
// difference; average over the images and renormalise -> a [channels × D] table. Then any
// (neutral, target) prompt pair is an edit: Δt = normalise(E(target) − E(neutral));
// relevance = table·Δt; channels with |relevance| < β are zeroed, the rest divided by the
// largest |relevance| and multiplied by their σ; s' = s + α·Δs.
//
// Whitened relevance (our addition; docs/generation.md): most channels move the VL image
// embedding along the same few directions (on the bundled table the first principal direction of
// the rows holds 32% of their energy), so whatever component Δt has along them selects hundreds
// of channels, most of them background, for any prompt. whiten_directions() measures the
// relevance after whitening by the rows' second moment Σ = RᵀR/n:
// relevance_c = cos(W·r_c, W·Δt) with W = (Σ + ridge·mean_eig(Σ)·I)^(-1/2). A large ridge gives
// StyleCLIP's plain cosine back; 0 whitens fully.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <vector>

#include "core/config.h"
#include "core/progress.h"
#include "generation/generator.h"
#include "generation/vl_guide.h"

namespace hdv::gen {

struct DirectionsConfig {
  int64_t images = 100;          // samples each channel is measured on (StyleCLIP: 100)
  double sigma = 5.0;            // channel set to mean ± sigma·σ
  double psi = 0.7;              // truncation of the samples and of the statistics
  int64_t stats_samples = 2000;  // W samples behind the S mean/σ
  int64_t batch = 16;            // images rendered per forward pass
  int64_t seed = 0;              // seeds the samples

  template <class V>
  void fields(V& v) {
    v("images", images);
    v("sigma", sigma);
    v("psi", psi);
    v("stats_samples", stats_samples);
    v("batch", batch);
    v("seed", seed);
  }
  void validate() const;
};

struct DirectionTable {
  DirectionsConfig config;
  std::vector<at::Tensor> mean;   // per style layer [channels]
  std::vector<at::Tensor> std;    // per style layer [channels]
  at::Tensor relevance;           // [total channels, D]; toRGB rows stay zero
  std::vector<int64_t> offsets;   // first row of each style layer
  int64_t completed_layers = 0;   // layers measured so far (a partial table resumes from here)
  int64_t completed_channels = 0; // and the first channels of the next layer (a 1024-px layer takes hours)
  core::Json generator_config;    // the generator it belongs to (checked on use)
  // Set by whiten_directions (derived, never saved): W [D, D] and the rows W·r_c made unit [rows, D]
  // (unmeasured rows stay zero). Undefined = StyleCLIP's plain relevance.
  at::Tensor whitening;
  at::Tensor whitened_relevance;

  bool complete(size_t num_layers) const { return completed_layers >= static_cast<int64_t>(num_layers); }
};

// Computes (or, given a partial table, continues) the table. `save_partial` is called after every
// layer, within a layer whenever `save_every_seconds` (> 0) have passed since the last save, and
// when `cancel` stops the run (the state after the last finished round of channel chunks, then
// Cancelled is thrown), so a long run can be resumed; `progress` counts measured channels.
DirectionTable compute_directions(GeneratorImpl& generator, VLGuide& guide, const DirectionsConfig& config,
                                  DirectionTable resume = {},
                                  const std::function<void(const DirectionTable&)>& save_partial = {},
                                  const core::ProgressCallback& progress = {},
                                  const std::atomic<bool>* cancel = nullptr, double save_every_seconds = 0);
// One worker's copy of the models (generation/workers.h).
struct DirectionsWorker {
  GeneratorImpl* generator;
  VLGuide* guide;
};
// The same with the channels of each layer shared out over several workers, each with its own
// copy of the generator and VL model (all of the same files); the table is the same as with one
// worker on the same CPU threads per worker. `progress` is called under a lock.
DirectionTable compute_directions(std::span<const DirectionsWorker> workers, const DirectionsConfig& config,
                                  DirectionTable resume = {},
                                  const std::function<void(const DirectionTable&)>& save_partial = {},
                                  const core::ProgressCallback& progress = {},
                                  const std::atomic<bool>* cancel = nullptr, double save_every_seconds = 0);

constexpr const char* kDirectionsKind = "directions";
void save_directions(const std::filesystem::path& path, const DirectionTable& table);
// Validates kind, shapes and that it belongs to a generator of `generator`'s config (errors name the file).
DirectionTable load_directions(const std::filesystem::path& path, const GeneratorImpl& generator);

struct GlobalEdit {
  std::vector<at::Tensor> styles;  // the edited styles
  int64_t channels = 0;            // channels the edit touches
};

// Makes edits of `table` use the whitened relevance with this ridge (>= 0, in units of Σ's mean
// eigenvalue; ConfigError otherwise). The table must be complete.
inline constexpr double kDefaultWhiteningRidge = 1.0;
void whiten_directions(DirectionTable& table, double ridge = kDefaultWhiteningRidge);

// Δt = normalise(target − neutral) for unit text embeddings [D].
at::Tensor text_direction(const at::Tensor& target, const at::Tensor& neutral);

// The edit of `styles` (each [B, C]) along Δt with strength alpha and threshold beta (on the
// whitened relevance when the table has been whitened).
GlobalEdit edit_with_directions(const DirectionTable& table, const std::vector<at::Tensor>& styles,
                                const at::Tensor& delta_t, double alpha, double beta);

}  // namespace hdv::gen
