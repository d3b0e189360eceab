// BERT text tower (see bert.h). Reference: HF transformers models/bert/modeling_bert.py.
#include "models/bert.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <limits>
#include <string>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::models {
namespace {


// Validated before any submodule is built, so a bad config reports the field, not a torch error.
const BertConfig& checked(const BertConfig& config) {
  config.validate();
  return config;
}

// `what` must be [B, L] int64 with ids in [0, limit).
void check_ids(const at::Tensor& ids, const char* what, const char* limit_name, int64_t limit) {
  if (ids.dim() != 2) {
    throw core::Error(fmt::format("{}: expected 2 dims [batch, length], got {}", what, ids.dim()));
  }
  if (ids.scalar_type() != at::kLong) {
    throw core::Error(fmt::format("{}: expected dtype int64, got {}", what, c10::toString(ids.scalar_type())));
  }
  if (ids.numel() == 0) return;
  // An id past the table would otherwise surface as torch's "index out of range in self".
  // Costs one device sync per forward, small beside the model itself.
  auto [low, high] = at::aminmax(ids);
  int64_t min_id = low.item<int64_t>();
  int64_t max_id = high.item<int64_t>();
  if (min_id < 0 || max_id >= limit) {
    throw core::Error(fmt::format("{}: id {} out of range [0, {}) ({})", what, min_id < 0 ? min_id : max_id,
                                  limit, limit_name));
  }
}

}  // namespace

void BertConfig::validate() const {
  auto positive = [](const char* name, int64_t value) {
    if (value < 1) throw core::ConfigError(fmt::format("bert config: {}={} must be >= 1", name, value));
  };
  positive("vocab_size", vocab_size);
  positive("hidden", hidden);
  positive("layers", layers);
  positive("heads", heads);
  positive("intermediate", intermediate);
  positive("max_positions", max_positions);
  positive("type_vocab_size", type_vocab_size);
  if (hidden % heads != 0) {
    throw core::ConfigError(fmt::format("bert config: hidden={} must be divisible by heads={}", hidden, heads));
  }
  if (!(layer_norm_eps > 0.0)) {
    throw core::ConfigError(fmt::format("bert config: layer_norm_eps={} must be > 0", layer_norm_eps));
  }
  auto probability = [](const char* name, double value) {
    if (!(value >= 0.0 && value < 1.0)) {
      throw core::ConfigError(fmt::format("bert config: {}={} must be in [0, 1)", name, value));
    }
  };
  probability("hidden_dropout", hidden_dropout);
  probability("attention_dropout", attention_dropout);
}

at::Tensor additive_attention_mask(const at::Tensor& attention_mask, c10::ScalarType dtype) {
  if (attention_mask.dim() != 2) {
    throw core::Error(fmt::format("attention_mask: expected 2 dims [batch, length], got {}", attention_mask.dim()));
  }
  // HF get_extended_attention_mask: (1 - mask) * finfo(dtype).min.
  at::Tensor masked = attention_mask.eq(0).unsqueeze(1).unsqueeze(2);  // [B, 1, 1, L]
  double lowest = at::kHalf == dtype       ? -65504.0
                  : at::kBFloat16 == dtype ? -3.3895313892515355e38
                  : at::kDouble == dtype   ? std::numeric_limits<double>::lowest()
                                           : std::numeric_limits<float>::lowest();
  return torch::zeros(masked.sizes(), attention_mask.options().dtype(dtype)).masked_fill_(masked, lowest);
}

at::Tensor masked_mean(const at::Tensor& hidden, const at::Tensor& attention_mask) {
  // hidden [B, L, H], attention_mask [B, L] -> [B, H]
  if (hidden.dim() != 3) {
    throw core::Error(fmt::format("hidden: expected 3 dims [batch, length, width], got {}", hidden.dim()));
  }
  if (attention_mask.dim() != 2 || attention_mask.size(0) != hidden.size(0) ||
      attention_mask.size(1) != hidden.size(1)) {
    throw core::Error(fmt::format("attention_mask: expected shape [{}, {}] like hidden, got {}", hidden.size(0),
                                  hidden.size(1), core::shape_text(attention_mask.sizes())));
  }
  at::Tensor weights = attention_mask.ne(0).to(hidden.scalar_type()).unsqueeze(-1);  // [B, L, 1]
  // clamp as sentence-transformers does: an all-padding row gives 0 / 1e-9 = 0, not NaN.
  return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1e-9);
}

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& config)
    : word_embeddings(register_module("word_embeddings", torch::nn::Embedding(config.vocab_size, config.hidden))),
      position_embeddings(
          register_module("position_embeddings", torch::nn::Embedding(config.max_positions, config.hidden))),
      token_type_embeddings(
          register_module("token_type_embeddings", torch::nn::Embedding(config.type_vocab_size, config.hidden))),
      LayerNorm(register_module(
          "LayerNorm",
          torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden}).eps(config.layer_norm_eps)))),
      dropout(register_module("dropout", torch::nn::Dropout(config.hidden_dropout))) {}

at::Tensor BertEmbeddingsImpl::forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  // input_ids [B, L] -> [B, L, H]
  at::Tensor positions = torch::arange(input_ids.size(1), input_ids.options());  // [L]
  at::Tensor x = word_embeddings(input_ids) + position_embeddings(positions);
  // No segment ids means segment 0 everywhere, as HF's zero token_type_ids buffer does.
  x = token_type_ids.defined() ? x + token_type_embeddings(token_type_ids) : x + token_type_embeddings->weight[0];
  return dropout(LayerNorm(x));
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& config)
    : query(register_module("query", torch::nn::Linear(config.hidden, config.hidden))),
      key(register_module("key", torch::nn::Linear(config.hidden, config.hidden))),
      value(register_module("value", torch::nn::Linear(config.hidden, config.hidden))),
      heads_(config.heads),
      attention_dropout_(config.attention_dropout) {}

at::Tensor BertSelfAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  // hidden [B, L, H] -> [B, L, H]
  const int64_t batch = hidden.size(0), length = hidden.size(1), width = hidden.size(2);
  auto split_heads = [&](const at::Tensor& x) {  // [B, L, H] -> [B, heads, L, H / heads]
    return x.view({batch, length, heads_, width / heads_}).transpose(1, 2);
  };
  // softmax(q k^T / sqrt(d) + mask) v, with dropout on the weights while training; the fused
  // kernel computes what HF's eager path does, in less memory.
  at::Tensor attended = at::scaled_dot_product_attention(
      split_heads(query(hidden)), split_heads(key(hidden)), split_heads(value(hidden)),
      additive_mask.defined() ? std::optional<at::Tensor>(additive_mask) : std::nullopt,
      is_training() ? attention_dropout_ : 0.0);
  return attended.transpose(1, 2).reshape({batch, length, width});
}

BertSelfOutputImpl::BertSelfOutputImpl(const BertConfig& config)
    : dense(register_module("dense", torch::nn::Linear(config.hidden, config.hidden))),
      LayerNorm(register_module(
          "LayerNorm",
          torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden}).eps(config.layer_norm_eps)))),
      dropout(register_module("dropout", torch::nn::Dropout(config.hidden_dropout))) {}

at::Tensor BertSelfOutputImpl::forward(const at::Tensor& attended, const at::Tensor& residual) {
  // attended [B, L, H], residual [B, L, H] -> [B, L, H]
  return LayerNorm(dropout(dense(attended)) + residual);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& config)
    : self(register_module("self", BertSelfAttention(config))),
      output(register_module("output", BertSelfOutput(config))) {}

at::Tensor BertAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  // hidden [B, L, H] -> [B, L, H]
  return output(self(hidden, additive_mask), hidden);
}

BertIntermediateImpl::BertIntermediateImpl(const BertConfig& config)
    : dense(register_module("dense", torch::nn::Linear(config.hidden, config.intermediate))) {}

at::Tensor BertIntermediateImpl::forward(const at::Tensor& hidden) {
  // hidden [B, L, H] -> [B, L, intermediate]
  return torch::gelu(dense(hidden), "none");  // exact erf GELU: HF's hidden_act "gelu"
}

BertOutputImpl::BertOutputImpl(const BertConfig& config)
    : dense(register_module("dense", torch::nn::Linear(config.intermediate, config.hidden))),
      LayerNorm(register_module(
          "LayerNorm",
          torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden}).eps(config.layer_norm_eps)))),
      dropout(register_module("dropout", torch::nn::Dropout(config.hidden_dropout))) {}

at::Tensor BertOutputImpl::forward(const at::Tensor& widened, const at::Tensor& residual) {
  // widened [B, L, intermediate], residual [B, L, H] -> [B, L, H]
  return LayerNorm(dropout(dense(widened)) + residual);
}

BertLayerImpl::BertLayerImpl(const BertConfig& config)
    : attention(register_module("attention", BertAttention(config))),
      intermediate(register_module("intermediate", BertIntermediate(config))),
      output(register_module("output", BertOutput(config))) {}

at::Tensor BertLayerImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  // hidden [B, L, H] -> [B, L, H]
  at::Tensor attended = attention(hidden, additive_mask);
  return output(intermediate(attended), attended);
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& config) : layer(register_module("layer", torch::nn::ModuleList())) {
  for (int64_t i = 0; i < config.layers; ++i) layer->push_back(BertLayer(config));
}

at::Tensor BertEncoderImpl::forward(at::Tensor hidden, const at::Tensor& additive_mask, int64_t begin, int64_t end) {
  // hidden [B, L, H] -> [B, L, H]
  for (int64_t i = begin; i < end; ++i) hidden = layer->ptr<BertLayerImpl>(i)->forward(hidden, additive_mask);
  return hidden;
}

BertPoolerImpl::BertPoolerImpl(const BertConfig& config)
    : dense(register_module("dense", torch::nn::Linear(config.hidden, config.hidden))) {}

at::Tensor BertPoolerImpl::forward(const at::Tensor& hidden) {
  // hidden [B, L, H] -> [B, H]
  return torch::tanh(dense(hidden.select(1, 0)));
}

BertModelImpl::BertModelImpl(BertConfig config)
    : embeddings(register_module("embeddings", BertEmbeddings(checked(config)))),
      encoder(register_module("encoder", BertEncoder(config))),
      pooler(register_module("pooler", BertPooler(config))),
      config_(config) {}

at::Tensor BertModelImpl::embed(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  // input_ids [B, L] -> [B, L, H]
  check_ids(input_ids, "input_ids", "vocab_size", config_.vocab_size);
  if (input_ids.size(1) > config_.max_positions) {
    throw core::Error(fmt::format("input_ids: length {} exceeds max_positions {}", input_ids.size(1),
                                  config_.max_positions));
  }
  if (token_type_ids.defined()) {
    if (!token_type_ids.sizes().equals(input_ids.sizes())) {
      throw core::Error(fmt::format("token_type_ids: expected shape {} like input_ids, got {}",
                                    core::shape_text(input_ids.sizes()), core::shape_text(token_type_ids.sizes())));
    }
    check_ids(token_type_ids, "token_type_ids", "type_vocab_size", config_.type_vocab_size);
  }
  return embeddings(input_ids, token_type_ids);
}

at::Tensor BertModelImpl::run_layers(const at::Tensor& hidden, const at::Tensor& additive_mask, int64_t begin,
                                     int64_t end) {
  // hidden [B, L, H] -> [B, L, H]
  if (begin < 0 || begin > end || end > config_.layers) {
    throw core::Error(
        fmt::format("run_layers: range [{}, {}) is not inside the {} layers", begin, end, config_.layers));
  }
  if (hidden.dim() != 3 || hidden.size(2) != config_.hidden) {
    throw core::Error(fmt::format("hidden: expected shape [batch, length, {}], got {}", config_.hidden,
                                  core::shape_text(hidden.sizes())));
  }
  if (additive_mask.defined()) {
    const int64_t batch = hidden.size(0), length = hidden.size(1);
    bool ok = additive_mask.dim() == 4 && (additive_mask.size(0) == 1 || additive_mask.size(0) == batch) &&
              (additive_mask.size(1) == 1 || additive_mask.size(1) == config_.heads) &&
              (additive_mask.size(2) == 1 || additive_mask.size(2) == length) && additive_mask.size(3) == length;
    if (!ok) {
      throw core::Error(fmt::format("additive_mask: expected shape [{} or 1, {} or 1, {} or 1, {}], got {}", batch,
                                    config_.heads, length, length, core::shape_text(additive_mask.sizes())));
    }
  }
  return encoder(hidden, additive_mask, begin, end);
}

at::Tensor BertModelImpl::pool(const at::Tensor& hidden) {
  // hidden [B, L, H] -> [B, H]
  if (hidden.dim() != 3 || hidden.size(1) < 1 || hidden.size(2) != config_.hidden) {
    throw core::Error(fmt::format("hidden: expected shape [batch, length >= 1, {}], got {}", config_.hidden,
                                  core::shape_text(hidden.sizes())));
  }
  return pooler(hidden);
}

at::Tensor BertModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                  const at::Tensor& token_type_ids) {
  // input_ids [B, L] -> [B, L, H]
  at::Tensor hidden = embed(input_ids, token_type_ids);
  at::Tensor mask;
  if (attention_mask.defined()) {
    if (!attention_mask.sizes().equals(input_ids.sizes())) {
      throw core::Error(fmt::format("attention_mask: expected shape {} like input_ids, got {}",
                                    core::shape_text(input_ids.sizes()), core::shape_text(attention_mask.sizes())));
    }
    mask = additive_attention_mask(attention_mask, hidden.scalar_type());
  }
  return run_layers(hidden, mask, 0, config_.layers);
}

}  // namespace hdv::models
