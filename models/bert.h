// BERT: the text tower of the video-language model (docs/design.md §4).
//
// Reference: Hugging Face transformers `models/bert/modeling_bert.py` (`BertModel`, absolute
// positions, no cross-attention, no cache), itself following Devlin et al. 2019 §3 and Google's
// `modeling.py`. Post-LayerNorm blocks, exact (erf) GELU, attention mask added to the scores
// before the softmax. Submodules carry HF's names, so the state dict reads
// "embeddings.word_embeddings.weight", "encoder.layer.3.attention.self.query.weight",
// "pooler.dense.bias", ... and HF weights import by name (models/bert_import.h).
//
// The layer stack runs in sub-ranges: HD-VILA uses layers [0, k) as the text encoder and
// [k, N) as the single-stream cross-modal Transformer over [text tokens; visual tokens], so
// BertModel exposes embed(), run_layers(begin, end) and pool() besides the whole forward().
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace hdv::models {

struct BertConfig {
  int64_t vocab_size = 30522;       // WordPiece vocabulary entries (rows of word_embeddings)
  int64_t hidden = 768;             // width of every token vector
  int64_t layers = 12;              // Transformer blocks in the stack
  int64_t heads = 12;               // attention heads per block; must divide hidden
  int64_t intermediate = 3072;      // width of the feed-forward hidden layer
  int64_t max_positions = 512;      // longest sequence, in tokens (rows of position_embeddings)
  int64_t type_vocab_size = 2;      // segment ids (token_type_ids) the model knows
  double layer_norm_eps = 1e-12;    // added to the variance in every LayerNorm
  double hidden_dropout = 0.1;      // dropout probability on embeddings and block outputs
  double attention_dropout = 0.1;   // dropout probability on attention weights

  template <class V>
  void fields(V& v) {
    v("vocab_size", vocab_size);
    v("hidden", hidden);
    v("layers", layers);
    v("heads", heads);
    v("intermediate", intermediate);
    v("max_positions", max_positions);
    v("type_vocab_size", type_vocab_size);
    v("layer_norm_eps", layer_norm_eps);
    v("hidden_dropout", hidden_dropout);
    v("attention_dropout", attention_dropout);
  }

  // Throws core::ConfigError naming the field ("bert config: hidden=384 must be divisible by
  // heads=5").
  void validate() const;
};

// [B, L] attention mask (1 = real token, 0 = padding; any numeric or bool dtype) ->
// [B, 1, 1, L] additive bias in `dtype`: 0 where a key may be attended, the lowest finite value
// where not. Finite rather than -inf so a row with no real key gives a uniform softmax, not NaN.
at::Tensor additive_attention_mask(const at::Tensor& attention_mask, c10::ScalarType dtype);

// Mean of hidden [B, L, H] over the real tokens of attention_mask [B, L] -> [B, H]
// (sentence-transformers' mean pooling; a row without real tokens gives zeros).
at::Tensor masked_mean(const at::Tensor& hidden, const at::Tensor& attention_mask);

// Word + position + segment embeddings, LayerNorm, dropout.
class BertEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit BertEmbeddingsImpl(const BertConfig& config);
  // input_ids [B, L] int64, token_type_ids [B, L] int64 or undefined (all 0) -> [B, L, H]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids = {});

  torch::nn::Embedding word_embeddings;
  torch::nn::Embedding position_embeddings;
  torch::nn::Embedding token_type_embeddings;
  torch::nn::LayerNorm LayerNorm;  // NOLINT(readability-identifier-naming): HF's state-dict name
  torch::nn::Dropout dropout;
};
TORCH_MODULE(BertEmbeddings);

// Multi-head scaled dot-product self-attention (the projections; no output layer).
class BertSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit BertSelfAttentionImpl(const BertConfig& config);
  // hidden [B, L, H], additive_mask broadcastable to [B, heads, L, L] or undefined -> [B, L, H]
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);

  torch::nn::Linear query;
  torch::nn::Linear key;
  torch::nn::Linear value;

 private:
  int64_t heads_;
  double attention_dropout_;
};
TORCH_MODULE(BertSelfAttention);

// Output projection of attention, dropout, residual add, LayerNorm (post-LN).
class BertSelfOutputImpl : public torch::nn::Module {
 public:
  explicit BertSelfOutputImpl(const BertConfig& config);
  // attended [B, L, H], residual [B, L, H] -> [B, L, H]
  at::Tensor forward(const at::Tensor& attended, const at::Tensor& residual);

  torch::nn::Linear dense;
  torch::nn::LayerNorm LayerNorm;  // NOLINT(readability-identifier-naming): HF's state-dict name
  torch::nn::Dropout dropout;
};
TORCH_MODULE(BertSelfOutput);

// Self-attention sub-block: "attention.self" then "attention.output".
class BertAttentionImpl : public torch::nn::Module {
 public:
  explicit BertAttentionImpl(const BertConfig& config);
  // hidden [B, L, H], additive_mask broadcastable to [B, heads, L, L] or undefined -> [B, L, H]
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);

  BertSelfAttention self;  // HF calls the attention proper "self"
  BertSelfOutput output;
};
TORCH_MODULE(BertAttention);

// First half of the feed-forward sub-block: widen, then GELU.
class BertIntermediateImpl : public torch::nn::Module {
 public:
  explicit BertIntermediateImpl(const BertConfig& config);
  // hidden [B, L, H] -> [B, L, intermediate]
  at::Tensor forward(const at::Tensor& hidden);

  torch::nn::Linear dense;
};
TORCH_MODULE(BertIntermediate);

// Second half of the feed-forward sub-block: narrow, dropout, residual add, LayerNorm.
class BertOutputImpl : public torch::nn::Module {
 public:
  explicit BertOutputImpl(const BertConfig& config);
  // widened [B, L, intermediate], residual [B, L, H] -> [B, L, H]
  at::Tensor forward(const at::Tensor& widened, const at::Tensor& residual);

  torch::nn::Linear dense;
  torch::nn::LayerNorm LayerNorm;  // NOLINT(readability-identifier-naming): HF's state-dict name
  torch::nn::Dropout dropout;
};
TORCH_MODULE(BertOutput);

// One Transformer block: attention, then feed-forward, each with residual + post-LayerNorm.
class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const BertConfig& config);
  // hidden [B, L, H], additive_mask broadcastable to [B, heads, L, L] or undefined -> [B, L, H]
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);

  BertAttention attention;
  BertIntermediate intermediate;
  BertOutput output;
};
TORCH_MODULE(BertLayer);

// The stack of blocks, as "encoder.layer.<i>".
class BertEncoderImpl : public torch::nn::Module {
 public:
  explicit BertEncoderImpl(const BertConfig& config);
  // hidden [B, L, H] through layers [begin, end) -> [B, L, H]
  at::Tensor forward(at::Tensor hidden, const at::Tensor& additive_mask, int64_t begin, int64_t end);

  torch::nn::ModuleList layer;
};
TORCH_MODULE(BertEncoder);

// The [CLS] vector through dense + tanh (BERT's next-sentence-prediction pooler).
class BertPoolerImpl : public torch::nn::Module {
 public:
  explicit BertPoolerImpl(const BertConfig& config);
  // hidden [B, L, H] -> [B, H] (position 0 only)
  at::Tensor forward(const at::Tensor& hidden);

  torch::nn::Linear dense;
};
TORCH_MODULE(BertPooler);

class BertModelImpl : public torch::nn::Module {
 public:
  // Validates the config (core::ConfigError). Weights are randomly initialised (LibTorch's
  // defaults, not HF's truncated normal); import trained ones with models/bert_import.h.
  explicit BertModelImpl(BertConfig config = {});

  // input_ids [B, L] int64; attention_mask [B, L] (1 real / 0 padding) or undefined (all real);
  // token_type_ids [B, L] int64 or undefined (all 0) -> last hidden state [B, L, H].
  // Inputs are checked; errors name the tensor ("input_ids: length 600 exceeds max_positions 512").
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask = {},
                     const at::Tensor& token_type_ids = {});

  // input_ids [B, L], token_type_ids [B, L] or undefined -> embeddings [B, L, H] (checked).
  at::Tensor embed(const at::Tensor& input_ids, const at::Tensor& token_type_ids = {});

  // hidden [B, L, H] through layers [begin, end), 0 <= begin <= end <= layers -> [B, L, H].
  // additive_mask: from additive_attention_mask() ([B, 1, 1, L]), or any [B or 1, 1 or heads,
  // L or 1, L] bias, or undefined (attend everywhere).
  at::Tensor run_layers(const at::Tensor& hidden, const at::Tensor& additive_mask, int64_t begin,
                        int64_t end);

  // hidden [B, L, H] -> pooled [CLS] [B, H].
  at::Tensor pool(const at::Tensor& hidden);

  const BertConfig& config() const { return config_; }

  BertEmbeddings embeddings;
  BertEncoder encoder;
  BertPooler pooler;

 private:
  BertConfig config_;
};
TORCH_MODULE(BertModel);

}  // namespace hdv::models
