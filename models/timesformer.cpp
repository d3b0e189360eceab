// Divided space-time attention (see timesformer.h).
#include "models/timesformer.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include "core/error.h"

namespace hdv::models {

void SpaceTimeBlockConfig::validate() const {
  if (dim <= 0) throw core::ConfigError(fmt::format("dim={} must be > 0", dim));
  if (heads <= 0 || dim % heads != 0) {
    throw core::ConfigError(fmt::format("dim={} must be divisible by heads={}", dim, heads));
  }
  if (mlp_ratio <= 0) throw core::ConfigError(fmt::format("mlp_ratio={} must be > 0", mlp_ratio));
  if (drop_path < 0 || drop_path >= 1) throw core::ConfigError(fmt::format("drop_path={} must be in [0, 1)", drop_path));
}

at::Tensor drop_path(const at::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  at::Tensor keep = torch::empty(shape, x.options()).bernoulli_(1.0 - p);
  return x * keep / (1.0 - p);
}

AttentionImpl::AttentionImpl(int dim, int heads, bool qkv_bias)
    : qkv(register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(qkv_bias)))),
      proj(register_module("proj", torch::nn::Linear(dim, dim))),
      heads_(heads) {}

at::Tensor AttentionImpl::forward(const at::Tensor& x) {
  // x: [N, L, C]
  const int64_t n = x.size(0), l = x.size(1), c = x.size(2);
  at::Tensor qkv_heads = qkv->forward(x).reshape({n, l, 3, heads_, c / heads_}).permute({2, 0, 3, 1, 4});
  // q, k, v: [N, heads, L, C/heads]
  at::Tensor out = at::scaled_dot_product_attention(qkv_heads[0], qkv_heads[1], qkv_heads[2]);
  return proj->forward(out.transpose(1, 2).reshape({n, l, c}));
}

MlpImpl::MlpImpl(int dim, int hidden)
    : fc1(register_module("fc1", torch::nn::Linear(dim, hidden))),
      fc2(register_module("fc2", torch::nn::Linear(hidden, dim))) {}

at::Tensor MlpImpl::forward(const at::Tensor& x) { return fc2->forward(torch::gelu(fc1->forward(x))); }

SpaceTimeBlockImpl::SpaceTimeBlockImpl(const SpaceTimeBlockConfig& config, bool zero_init_temporal_fc)
    : config_(config) {
  config_.validate();
  auto norm = [&] {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.dim}).eps(config.layer_norm_eps));
  };
  temporal_norm1 = register_module("temporal_norm1", norm());
  temporal_attn = register_module("temporal_attn", Attention(config.dim, config.heads, config.qkv_bias));
  temporal_fc = register_module("temporal_fc", torch::nn::Linear(config.dim, config.dim));
  norm1 = register_module("norm1", norm());
  attn = register_module("attn", Attention(config.dim, config.heads, config.qkv_bias));
  norm2 = register_module("norm2", norm());
  mlp = register_module("mlp", Mlp(config.dim, static_cast<int>(config.dim * config.mlp_ratio)));
  if (zero_init_temporal_fc) {
    torch::NoGradGuard no_grad;
    temporal_fc->weight.zero_();
    temporal_fc->bias.zero_();
  }
}

at::Tensor SpaceTimeBlockImpl::forward(const at::Tensor& x) {
  // x: [B, T, S, C]
  const int64_t b = x.size(0), t = x.size(1), s = x.size(2), c = x.size(3);
  const double p = config_.drop_path;
  // Temporal attention: each spatial position attends over time. xt: [B*S, T, C]
  at::Tensor xt = x.permute({0, 2, 1, 3}).reshape({b * s, t, c});
  at::Tensor temporal = drop_path(temporal_attn->forward(temporal_norm1->forward(xt)), p, is_training());
  temporal = temporal_fc->forward(temporal.reshape({b, s, t, c}).permute({0, 2, 1, 3}));
  at::Tensor y = x + temporal;  // [B, T, S, C]
  // Spatial attention: each time step attends over space. ys: [B*T, S, C]
  at::Tensor ys = y.reshape({b * t, s, c});
  at::Tensor spatial = drop_path(attn->forward(norm1->forward(ys)), p, is_training()).reshape({b, t, s, c});
  y = y + spatial;
  return y + drop_path(mlp->forward(norm2->forward(y)), p, is_training());
}

}  // namespace hdv::models
