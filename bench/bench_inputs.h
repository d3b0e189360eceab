// Inputs and weights shared by the hdvila-small benchmarks (bench_towers, bench_train_step):
// a batch of captions and clips of the preset's geometry, and noise on every model tensor so that
// constant-initialised ones (zero temporal_fc and time_embed, norms, BatchNorm statistics) count
// in the C++/Python equivalence checks.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "models/vl_model.h"

namespace hdv::bench {

constexpr int64_t kSegments = 2;    // segments per clip
constexpr int64_t kRealTokens = 20;  // tokens of the caption, [CLS] and [SEP] included

struct ModelInputs {
  at::Tensor input_ids;       // [B, L] int64
  at::Tensor attention_mask;  // [B, L] int64, 1 for the first kRealTokens positions
  at::Tensor keyframes;       // [B, S, 3, H, W] in [-1, 1]
  at::Tensor neighbours;      // [B, S, T-1, 3, H/4, W/4] in [-1, 1]
};

// Random captions ([CLS] ids [SEP], then [PAD]) and clips whose keyframe gives the config's token
// grid (64 px per grid cell: C5 at stride 32, max-pooled 2x2).
ModelInputs make_inputs(const models::VLConfig& config, int64_t batch);

// Adds N(0, 0.02) to every parameter and perturbs BatchNorm running statistics.
void perturb(models::VLModelImpl& model);

}  // namespace hdv::bench
