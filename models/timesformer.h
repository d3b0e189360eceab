// TimeSformer's divided space-time attention block, as HD-VILA's hybrid Transformer uses it.
//
// Reference: Bertasius et al., "Is Space-Time Attention All You Need for Video Understanding?"
// (facebookresearch/TimeSformer, timesformer/models/vit.py, Block with attention_type
// 'divided_space_time'), configured per docs/design.md §4: pre-LayerNorm (eps 1e-6), qkv bias, no CLS
// token, temporal attention -> temporal_fc -> spatial attention -> MLP (ratio 4), drop-path.
// Submodule names follow TimeSformer's so its weights map by name.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace hdv::models {

struct SpaceTimeBlockConfig {
  int dim = 1024;              // token width
  int heads = 16;              // attention heads; must divide dim
  double mlp_ratio = 4.0;      // MLP hidden width = mlp_ratio * dim
  bool qkv_bias = true;        // bias on the fused query/key/value projection
  double drop_path = 0.0;      // stochastic-depth probability of this block's residual branches
  double layer_norm_eps = 1e-6;
  void validate() const;
};

// Multi-head self-attention over the middle axis of [N, L, C] (qkv fused, as timm's Attention).
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int dim, int heads, bool qkv_bias);
  // x: [N, L, C] -> [N, L, C]
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};

 private:
  int heads_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int dim, int hidden);
  // x: [..., C] -> [..., C]
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(Mlp);

class SpaceTimeBlockImpl : public torch::nn::Module {
 public:
  // zero_init_temporal_fc: TimeSformer zero-initialises temporal_fc in every block but the first,
  // so a model starts as a per-frame image Transformer.
  SpaceTimeBlockImpl(const SpaceTimeBlockConfig& config, bool zero_init_temporal_fc);
  // x: [B, T, S, C] (T time steps of S = h*w spatial tokens) -> [B, T, S, C]
  at::Tensor forward(const at::Tensor& x);

  torch::nn::LayerNorm temporal_norm1{nullptr};
  Attention temporal_attn{nullptr};
  torch::nn::Linear temporal_fc{nullptr};
  torch::nn::LayerNorm norm1{nullptr};
  Attention attn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};

 private:
  SpaceTimeBlockConfig config_;
};
TORCH_MODULE(SpaceTimeBlock);

// Stochastic depth: drops the whole residual branch per sample with probability p in training,
// scaling the survivors by 1/(1-p); the identity in eval mode.
at::Tensor drop_path(const at::Tensor& x, double p, bool training);

}  // namespace hdv::models
