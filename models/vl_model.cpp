// The video-language model (see vl_model.h).
#include "models/vl_model.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::models {
namespace {

}  // namespace

void VLConfig::validate() const {
  text.validate();
  video.validate();
  if (text_layers < 1 || text_layers > text.layers) {
    throw core::ConfigError(fmt::format("text_layers={} must be in 1..text.layers={}", text_layers, text.layers));
  }
  if (embed_dim <= 0) throw core::ConfigError(fmt::format("embed_dim={} must be > 0", embed_dim));
  if (max_text_len < 2 || max_text_len > text.max_positions) {
    throw core::ConfigError(fmt::format("max_text_len={} must be in 2..text.max_positions={}", max_text_len, text.max_positions));
  }
  if (segments < 1) throw core::ConfigError(fmt::format("segments={} must be >= 1", segments));
  if (max_grid < 1) throw core::ConfigError(fmt::format("max_grid={} must be >= 1", max_grid));
  if (segment_aggregation != "lse" && segment_aggregation != "mean") {
    throw core::ConfigError(fmt::format("segment_aggregation=\"{}\" must be lse or mean", segment_aggregation));
  }
  if ((mlm_head || vtm_head) && text_layers == text.layers) {
    throw core::ConfigError(fmt::format(
        "text_layers={} leaves no cross-modal layer (text.layers={}), but mlm_head or vtm_head needs one",
        text_layers, text.layers));
  }
}

VLModelImpl::VLModelImpl(const VLConfig& config) : config_(config) {
  config_.validate();
  const int64_t hidden = config_.text.hidden;
  bert = register_module("bert", BertModel(config_.text));
  video = register_module("video", VideoEncoder(config_.video));
  if (config_.text_layers < config_.text.layers) {
    visual_embeddings = register_module(
        "visual_embeddings", VisualEmbeddings(config_.video.hidden, hidden, config_.max_grid, config_.text.layer_norm_eps,
                                              config_.text.hidden_dropout));
  }
  text_proj = register_module("text_proj", torch::nn::Linear(hidden, config_.embed_dim));
  video_proj = register_module("video_proj", torch::nn::Linear(config_.video.hidden, config_.embed_dim));
  if (config_.mlm_head) {
    mlm = register_module("mlm", MlmHead(bert->embeddings->word_embeddings->weight, config_.text.layer_norm_eps));
  }
  if (config_.vtm_head) vtm = register_module("vtm", torch::nn::Linear(hidden, 2));
}

at::Tensor VLModelImpl::text_states(const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  at::Tensor hidden = bert->embed(input_ids);
  at::Tensor bias = additive_attention_mask(attention_mask, hidden.scalar_type());
  return bert->run_layers(hidden, bias, 0, config_.text_layers);
}

at::Tensor VLModelImpl::encode_text(const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  at::Tensor states = text_states(input_ids, attention_mask);                     // [B, L, H]
  at::Tensor pooled = torch::tanh(bert->pooler->dense->forward(masked_mean(states, attention_mask)));  // [B, H]
  return torch::nn::functional::normalize(text_proj->forward(pooled), torch::nn::functional::NormalizeFuncOptions().dim(-1));
}

VisualTokens VLModelImpl::encode_segments(const at::Tensor& keyframes, const at::Tensor& neighbours,
                                          VideoEncoderTrace* trace) {
  if (!keyframes.defined() || keyframes.dim() != 5 || keyframes.size(2) != 3) {
    throw core::Error(fmt::format("keyframes: expected [B, S, 3, H, W], got {}", keyframes.defined() ? core::shape_text(keyframes.sizes()) : "none"));
  }
  const int64_t b = keyframes.size(0), s = keyframes.size(1);
  if (neighbours.defined() && (neighbours.dim() != 6 || neighbours.size(0) != b || neighbours.size(1) != s)) {
    throw core::Error(fmt::format("neighbours: expected [{}, {}, T-1, 3, h, w] (batch and segments of the keyframes), got {}",
                                  b, s, core::shape_text(neighbours.sizes())));
  }
  return video->forward(keyframes.flatten(0, 1), neighbours.defined() ? neighbours.flatten(0, 1) : neighbours, trace);
}

at::Tensor VLModelImpl::encode_video(const at::Tensor& keyframes, const at::Tensor& neighbours,
                                     VideoEncoderTrace* trace) {
  VisualTokens visual = encode_segments(keyframes, neighbours, trace);  // tokens [B*S, N, C]
  const int64_t b = keyframes.size(0), s = keyframes.size(1);
  at::Tensor pooled = visual.tokens.mean(1).reshape({b, s, -1}).mean(1);  // space, then segments: [B, C]
  return torch::nn::functional::normalize(video_proj->forward(pooled), torch::nn::functional::NormalizeFuncOptions().dim(-1));
}

std::pair<at::Tensor, at::Tensor> VLModelImpl::static_clip(const at::Tensor& images) const {
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3) {
    throw core::Error(fmt::format("images: expected [B, 3, H, W], got {}", images.defined() ? core::shape_text(images.sizes()) : "none"));
  }
  const int64_t t = config_.video.frames;
  namespace F = torch::nn::functional;
  at::Tensor low = F::interpolate(images, F::InterpolateFuncOptions()
                                              .size(std::vector<int64_t>{std::max<int64_t>(1, images.size(2) / 4),
                                                                         std::max<int64_t>(1, images.size(3) / 4)})
                                              .mode(torch::kBicubic)
                                              .align_corners(false))
                       .clamp(-1, 1);
  at::Tensor keyframe = config_.video.mode == "lr-only" ? low : images;
  at::Tensor neighbours;
  if (config_.video.uses_lr() && t > 1) neighbours = low.unsqueeze(1).expand({-1, t - 1, -1, -1, -1}).unsqueeze(1);
  return {keyframe.unsqueeze(1), neighbours};
}

at::Tensor VLModelImpl::encode_image(const at::Tensor& images) {
  auto [keyframes, neighbours] = static_clip(images);
  return encode_video(keyframes, neighbours);
}

PretrainOutput VLModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                    const at::Tensor& keyframes, const at::Tensor& neighbours) {
  if (!visual_embeddings) throw core::Error("this model has no cross-modal layers (text_layers == text.layers)");
  at::Tensor text = text_states(input_ids, attention_mask);  // [B, L, H]
  VisualTokens visual = encode_segments(keyframes, neighbours);
  const int64_t b = text.size(0), l = text.size(1), s = keyframes.size(1);
  at::Tensor vis = visual_embeddings->forward(visual.tokens, visual.height, visual.width);  // [B*S, N, H]
  const int64_t n = vis.size(1);
  // Every segment sees the same text: [B*S, L + N, H], text first.
  at::Tensor joint = torch::cat({text.repeat_interleave(s, 0), vis}, 1);
  at::Tensor mask = torch::cat({attention_mask.to(torch::kLong).repeat_interleave(s, 0),
                                torch::ones({b * s, n}, attention_mask.options().dtype(torch::kLong))},
                               1);
  at::Tensor out = bert->run_layers(joint, additive_attention_mask(mask, joint.scalar_type()), config_.text_layers,
                                    config_.text.layers);
  PretrainOutput result;
  if (mlm) {
    at::Tensor logits = mlm->forward(out.narrow(1, 0, l));  // [B*S, L, V]
    result.mlm_logits = aggregate_segments(logits.reshape({b, s, l, -1}), config_.segment_aggregation);
  }
  if (vtm) {
    at::Tensor scores = vtm->forward(out.select(1, 0));  // [CLS]: [B*S, 2]
    result.vtm_logits = aggregate_segments(scores.reshape({b, s, 2}), config_.segment_aggregation);
  }
  return result;
}

std::vector<std::pair<std::string, int64_t>> component_parameter_counts(VLModelImpl& model) {
  const int64_t text_layers = model.config().text_layers;
  auto layer_of = [](const std::string& name) -> int64_t {  // "bert.encoder.layer.7.x" -> 7
    const std::string prefix = "bert.encoder.layer.";
    if (name.rfind(prefix, 0) != 0) return -1;
    return std::stoll(name.substr(prefix.size(), name.find('.', prefix.size()) - prefix.size()));
  };
  auto starts = [](const std::string& name, const char* prefix) { return name.rfind(prefix, 0) == 0; };
  std::vector<std::pair<std::string, int64_t>> counts = {
      {"text encoder (embeddings, layers, pooler)", 0}, {"cross-modal Transformer", 0}, {"video: HR ResNet", 0},
      {"video: LR ResNet", 0},   {"video: projections", 0},  {"video: space-time Transformer", 0},
      {"joint-space projections", 0}, {"MLM head", 0}, {"video-text matching head", 0}};
  for (const auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    const int64_t n = item.value().numel();
    size_t slot;
    int64_t layer = layer_of(name);
    if (layer >= 0) slot = layer < text_layers ? 0 : 1;
    else if (starts(name, "bert.")) slot = 0;
    else if (starts(name, "visual_embeddings.")) slot = 1;
    else if (starts(name, "video.hr_backbone.")) slot = 2;
    else if (starts(name, "video.lr_backbone.")) slot = 3;
    else if (starts(name, "video.hr_proj.") || starts(name, "video.grid_encoder_low.") || starts(name, "video.fuse.")) slot = 4;
    else if (starts(name, "video.")) slot = 5;
    else if (starts(name, "text_proj.") || starts(name, "video_proj.")) slot = 6;
    else if (starts(name, "mlm.")) slot = 7;
    else slot = 8;
    counts[slot].second += n;
  }
  return counts;
}

}  // namespace hdv::models
