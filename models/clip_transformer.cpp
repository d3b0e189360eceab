// CLIP's pre-LayerNorm Transformer (see clip_transformer.h).
#include "models/clip_transformer.h"

#include <torch/torch.h>

#include <string>

namespace hdv::models {

ClipAttentionImpl::ClipAttentionImpl(int64_t width, int64_t heads)
    : out_proj(register_module("out_proj", torch::nn::Linear(width, width))), heads_(heads) {
  // torch.nn.MultiheadAttention's initialisation: xavier-uniform packed weights, zero biases.
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
  torch::nn::init::xavier_uniform_(in_proj_weight);
  torch::NoGradGuard no_grad;
  out_proj->bias.zero_();
}

at::Tensor ClipAttentionImpl::forward(const at::Tensor& x, bool causal) {
  // x: [B, L, W]
  const int64_t batch = x.size(0), length = x.size(1), width = x.size(2);
  const int64_t head_dim = width / heads_;
  std::vector<at::Tensor> qkv = torch::nn::functional::linear(x, in_proj_weight, in_proj_bias).chunk(3, -1);
  const auto heads_first = [&](const at::Tensor& t) { return t.view({batch, length, heads_, head_dim}).transpose(1, 2); };
  at::Tensor attended = at::scaled_dot_product_attention(heads_first(qkv[0]), heads_first(qkv[1]), heads_first(qkv[2]),
                                                         /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/causal);
  return out_proj(attended.transpose(1, 2).reshape({batch, length, width}));  // [B, L, W]
}

ClipMlpImpl::ClipMlpImpl(int64_t width, bool quick_gelu)
    : c_fc(register_module("c_fc", torch::nn::Linear(width, 4 * width))),
      c_proj(register_module("c_proj", torch::nn::Linear(4 * width, width))),
      quick_gelu_(quick_gelu) {}

at::Tensor ClipMlpImpl::forward(const at::Tensor& x) {
  // x: [B, L, W]
  at::Tensor h = c_fc(x);
  h = quick_gelu_ ? h * torch::sigmoid(1.702 * h) : torch::gelu(h);
  return c_proj(h);
}

ClipResidualBlockImpl::ClipResidualBlockImpl(int64_t width, int64_t heads, bool quick_gelu)
    : ln_1(register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5)))),
      attn(register_module("attn", ClipAttention(width, heads))),
      ln_2(register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5)))),
      mlp(register_module("mlp", ClipMlp(width, quick_gelu))) {}

at::Tensor ClipResidualBlockImpl::forward(const at::Tensor& x, bool causal) {
  // x: [B, L, W]
  at::Tensor h = x + attn(ln_1(x), causal);
  return h + mlp(ln_2(h));
}

ClipTransformerImpl::ClipTransformerImpl(int64_t width, int64_t layers, int64_t heads, bool quick_gelu)
    : resblocks(register_module("resblocks", torch::nn::ModuleList())) {
  for (int64_t i = 0; i < layers; ++i) resblocks->push_back(ClipResidualBlock(width, heads, quick_gelu));
}

at::Tensor ClipTransformerImpl::forward(const at::Tensor& x, bool causal) {
  // x: [B, L, W]
  at::Tensor h = x;
  for (const auto& block : *resblocks) h = block->as<ClipResidualBlockImpl>()->forward(h, causal);
  return h;
}

}  // namespace hdv::models
