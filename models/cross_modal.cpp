// Cross-modal embeddings, MLM head and segment aggregation (see cross_modal.h).
#include "models/cross_modal.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include "core/error.h"

namespace hdv::models {

VisualEmbeddingsImpl::VisualEmbeddingsImpl(int64_t visual_width, int64_t hidden, int64_t max_grid,
                                           double layer_norm_eps, double dropout_p)
    : max_grid_(max_grid) {
  if (visual_width != hidden) projection = register_module("projection", torch::nn::Linear(visual_width, hidden));
  row_embeddings = register_module("row_embeddings", torch::nn::Embedding(max_grid, hidden));
  col_embeddings = register_module("col_embeddings", torch::nn::Embedding(max_grid, hidden));
  type_embeddings = register_module("type_embeddings", torch::nn::Embedding(1, hidden));
  LayerNorm = register_module("LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden}).eps(layer_norm_eps)));
  dropout = register_module("dropout", torch::nn::Dropout(dropout_p));
}

at::Tensor VisualEmbeddingsImpl::forward(const at::Tensor& tokens, int64_t height, int64_t width) {
  // tokens: [B, h*w, C]
  if (height > max_grid_ || width > max_grid_) {
    throw core::Error(fmt::format("visual tokens: a {}x{} grid exceeds the {} learned rows/columns", height, width, max_grid_));
  }
  if (tokens.dim() != 3 || tokens.size(1) != height * width) {
    throw core::Error(fmt::format("visual tokens: expected [B, {}, C] for a {}x{} grid, got {} dims", height * width,
                                  height, width, tokens.dim()));
  }
  at::Tensor x = projection ? projection->forward(tokens) : tokens;
  auto options = torch::TensorOptions().dtype(torch::kLong).device(tokens.device());
  at::Tensor rows = torch::arange(height, options).repeat_interleave(width);  // [h*w]
  at::Tensor cols = torch::arange(width, options).repeat({height});
  x = x + row_embeddings->forward(rows) + col_embeddings->forward(cols) +
      type_embeddings->forward(torch::zeros({1}, options));
  return dropout->forward(LayerNorm->forward(x));
}

MlmTransformImpl::MlmTransformImpl(int64_t hidden, double layer_norm_eps)
    : dense(register_module("dense", torch::nn::Linear(hidden, hidden))),
      LayerNorm(register_module("LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden}).eps(layer_norm_eps)))) {}

at::Tensor MlmTransformImpl::forward(const at::Tensor& x) { return LayerNorm->forward(torch::gelu(dense->forward(x))); }

MlmHeadImpl::MlmHeadImpl(const at::Tensor& word_embeddings, double layer_norm_eps) {
  const int64_t vocab = word_embeddings.size(0), hidden = word_embeddings.size(1);
  transform = register_module("transform", MlmTransform(hidden, layer_norm_eps));
  decoder = register_module("decoder", torch::nn::Linear(torch::nn::LinearOptions(hidden, vocab).bias(false)));
  bias = register_parameter("bias", torch::zeros({vocab}));
  torch::NoGradGuard no_grad;
  decoder->weight.copy_(word_embeddings);
}

at::Tensor MlmHeadImpl::forward(const at::Tensor& hidden) { return decoder->forward(transform->forward(hidden)) + bias; }

at::Tensor aggregate_segments(const at::Tensor& scores, const std::string& method) {
  if (method == "lse") return torch::logsumexp(scores, 1);
  if (method == "mean") return scores.mean(1);
  throw core::ConfigError(fmt::format("segment_aggregation=\"{}\" must be lse or mean", method));
}

}  // namespace hdv::models
