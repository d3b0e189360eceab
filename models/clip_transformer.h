// The pre-LayerNorm Transformer that both CLIP towers stack (image and text).
//
// Reference: OpenCLIP open_clip/transformer.py `ResidualAttentionBlock` and `Transformer`
// (itself OpenAI CLIP's clip/model.py): x + attn(ln_1(x)), then x + mlp(ln_2(x)), the MLP
// c_fc -> GELU (or QuickGELU, x·σ(1.702x), for OpenAI's weights) -> c_proj, 4× wide. Attention
// keeps torch.nn.MultiheadAttention's parameter names (attn.in_proj_weight, attn.in_proj_bias,
// attn.out_proj), so OpenCLIP state dicts import by name: "transformer.resblocks.3.attn.in_proj_weight".
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace hdv::models {

// Multi-head self-attention with one packed q/k/v projection (torch.nn.MultiheadAttention).
class ClipAttentionImpl : public torch::nn::Module {
 public:
  ClipAttentionImpl(int64_t width, int64_t heads);
  // x [B, L, W] -> [B, L, W]; causal: token i attends to tokens <= i only (the text tower)
  at::Tensor forward(const at::Tensor& x, bool causal);

  at::Tensor in_proj_weight;  // [3W, W]: q, k, v stacked
  at::Tensor in_proj_bias;    // [3W]
  torch::nn::Linear out_proj;

 private:
  int64_t heads_;
};
TORCH_MODULE(ClipAttention);

// The feed-forward half: c_fc (W -> 4W), GELU or QuickGELU, c_proj (4W -> W).
class ClipMlpImpl : public torch::nn::Module {
 public:
  ClipMlpImpl(int64_t width, bool quick_gelu);
  // x [B, L, W] -> [B, L, W]
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear c_fc;
  torch::nn::Linear c_proj;

 private:
  bool quick_gelu_;
};
TORCH_MODULE(ClipMlp);

class ClipResidualBlockImpl : public torch::nn::Module {
 public:
  ClipResidualBlockImpl(int64_t width, int64_t heads, bool quick_gelu);
  // x [B, L, W] -> [B, L, W]
  at::Tensor forward(const at::Tensor& x, bool causal);

  torch::nn::LayerNorm ln_1;
  ClipAttention attn;
  torch::nn::LayerNorm ln_2;
  ClipMlp mlp;
};
TORCH_MODULE(ClipResidualBlock);

class ClipTransformerImpl : public torch::nn::Module {
 public:
  ClipTransformerImpl(int64_t width, int64_t layers, int64_t heads, bool quick_gelu);
  // x [B, L, W] -> [B, L, W]
  at::Tensor forward(const at::Tensor& x, bool causal);

  torch::nn::ModuleList resblocks;
};
TORCH_MODULE(ClipTransformer);

}  // namespace hdv::models
