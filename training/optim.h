// Optimisation for pre-training (docs/design.md §5, HD-VILA's settings): AdamW β = (0.9, 0.98), weight
// decay 1e-3 except on biases and normalisation weights, 10% linear warm-up then linear (or cosine)
// decay, grad-norm clipping at 5. Parameter groups: decayed / not decayed, and the video tower
// (which may start from scratch) at its own learning rate.
//
// The optimiser state is saved and restored by parameter name, so a resumed run steps exactly like
// one that never stopped.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"

namespace hdv::train {

struct OptimConfig {
  double lr = 5e-5;                 // peak learning rate of the text and cross-modal parameters
  double video_lr = 0;              // peak learning rate of the video tower (0 = lr)
  double beta1 = 0.9;               // AdamW β1
  double beta2 = 0.98;              // AdamW β2
  double eps = 1e-8;                // AdamW ε
  double weight_decay = 1e-3;       // decoupled weight decay (not on biases and norm weights)
  double warmup = 0.1;              // fraction of the steps with a linear warm-up from 0
  std::string schedule = "linear";  // decay after warm-up: "linear", "cosine" or "constant"
  double grad_clip = 5.0;           // max global gradient norm (0 = off)
  int64_t accumulation = 1;         // micro-batches per optimiser step
  int64_t max_nonfinite = 5;        // consecutive non-finite steps that abort the run

  template <class V>
  void fields(V& v) {
    v("lr", lr);
    v("video_lr", video_lr);
    v("beta1", beta1);
    v("beta2", beta2);
    v("eps", eps);
    v("weight_decay", weight_decay);
    v("warmup", warmup);
    v("schedule", schedule);
    v("grad_clip", grad_clip);
    v("accumulation", accumulation);
    v("max_nonfinite", max_nonfinite);
  }
  void validate() const;
};

// Multiplier of the peak learning rate at `step` (0-based) of `total` steps: warm-up
// (step + 1) / warmup_steps, then the decay to 0 at `total`.
double lr_multiplier(int64_t step, int64_t total, double warmup, const std::string& schedule);

// Which group a named parameter belongs to: no weight decay for biases, LayerNorm/BatchNorm
// weights and scalar parameters; the video-tower rate for names starting with "video.".
bool decays(const std::string& name, const at::Tensor& parameter);
bool is_video_parameter(const std::string& name);

class Optimizer {
 public:
  // Named trainable parameters (requires_grad); names key the saved state.
  Optimizer(std::vector<std::pair<std::string, at::Tensor>> parameters, const OptimConfig& config, int64_t total_steps);
  ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Sets every group's learning rate for `step` and applies one AdamW update.
  void step(int64_t step);
  void zero_grad();
  // Clips the global gradient norm to config.grad_clip (when > 0) and returns the norm before.
  double clip_gradients();
  // Learning rate of the main group at `step` (for logs).
  double lr_at(int64_t step) const;

  // State as named tensors: "optim.<name>.exp_avg", ".exp_avg_sq", ".step"; restore() checks that
  // every parameter's state is present with the right shape (or absent for all: a fresh start).
  core::NamedTensors state() const;
  void restore(const core::SafetensorsFile& file);

  const std::vector<std::pair<std::string, at::Tensor>>& parameters() const { return parameters_; }
  // The same parameters without their names.
  const std::vector<at::Tensor>& tensors() const { return tensors_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::pair<std::string, at::Tensor>> parameters_;
  std::vector<at::Tensor> tensors_;
  OptimConfig config_;
  int64_t total_steps_;
};

}  // namespace hdv::train
