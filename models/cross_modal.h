// HD-VILA's cross-modal pieces around the upper BERT layers (docs/design.md §4):
//   VisualEmbeddings: visual tokens + learned row and column embeddings (100 each) + a type
//                     embedding, LayerNorm, dropout — so the single-stream Transformer can tell
//                     where a visual token sits and that it is not text;
//   MlmHead:          BERT's masked-language-model head (HF names: cls.predictions.*), the decoder
//                     initialised from the word embeddings;
//   segment aggregation of per-segment scores by log-sum-exp (as released) or mean.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace hdv::models {

class VisualEmbeddingsImpl : public torch::nn::Module {
 public:
  // visual_width: width of the video encoder's tokens; hidden: the Transformer's width (a linear
  // projection bridges them when they differ); max_grid: rows/columns with a learned embedding.
  VisualEmbeddingsImpl(int64_t visual_width, int64_t hidden, int64_t max_grid, double layer_norm_eps, double dropout);
  // tokens: [B, h*w, visual_width] on an h x w grid -> [B, h*w, hidden]
  at::Tensor forward(const at::Tensor& tokens, int64_t height, int64_t width);

  torch::nn::Linear projection{nullptr};  // only when visual_width != hidden
  torch::nn::Embedding row_embeddings{nullptr};
  torch::nn::Embedding col_embeddings{nullptr};
  torch::nn::Embedding type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // NOLINT(readability-identifier-naming): BERT's name
  torch::nn::Dropout dropout{nullptr};

 private:
  int64_t max_grid_;
};
TORCH_MODULE(VisualEmbeddings);

// BERT's prediction head: dense -> GELU -> LayerNorm -> decoder (+ bias) over the vocabulary.
class MlmTransformImpl : public torch::nn::Module {
 public:
  MlmTransformImpl(int64_t hidden, double layer_norm_eps);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // NOLINT(readability-identifier-naming): HF's name
};
TORCH_MODULE(MlmTransform);

class MlmHeadImpl : public torch::nn::Module {
 public:
  // word_embeddings: [vocab, hidden]; the decoder starts as a copy (cloned, not tied).
  MlmHeadImpl(const at::Tensor& word_embeddings, double layer_norm_eps);
  // hidden: [..., H] -> logits [..., vocab]
  at::Tensor forward(const at::Tensor& hidden);
  MlmTransform transform{nullptr};
  torch::nn::Linear decoder{nullptr};
  at::Tensor bias;
};
TORCH_MODULE(MlmHead);

// scores: [B, S, ...] per-segment scores -> [B, ...]: "lse" = log-sum-exp over segments (a soft
// max: the segment that best explains the text dominates), "mean" = average. Throws ConfigError
// for another name.
at::Tensor aggregate_segments(const at::Tensor& scores, const std::string& method);

}  // namespace hdv::models
