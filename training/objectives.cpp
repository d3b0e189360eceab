// Pre-training objectives (see objectives.h; docs/design.md §5).
#include "training/objectives.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::train {

void ContrastiveConfig::validate() const {
  if (mode != "clip" && mode != "cmcl") {
    throw core::ConfigError(fmt::format("contrastive.mode=\"{}\": expected \"clip\" or \"cmcl\"", mode));
  }
  if (!(temperature > 0) || temperature > 1) {
    throw core::ConfigError(fmt::format("contrastive.temperature={} must be in (0, 1]", temperature));
  }
  if (queue_size < 1) throw core::ConfigError(fmt::format("contrastive.queue_size={} must be >= 1", queue_size));
  if (!(momentum >= 0) || momentum >= 1) {
    throw core::ConfigError(fmt::format("contrastive.momentum={} must be in [0, 1)", momentum));
  }
  if (hard_negatives < 0 || hard_negatives > kMaxHardNegatives) {
    throw core::ConfigError(fmt::format("contrastive.hard_negatives={} must be in [0, {}]", hard_negatives, kMaxHardNegatives));
  }
  if (!std::isfinite(hard_negative_weight) || hard_negative_weight <= 0 || hard_negative_weight > 100) {
    throw core::ConfigError(fmt::format("contrastive.hard_negative_weight={} must be in (0, 100]", hard_negative_weight));
  }
  if (mode != "cmcl" && hard_negative_weight != 1.0) {
    throw core::ConfigError(fmt::format("contrastive.hard_negative_weight={} is only for mode \"cmcl\" (mode \"{}\" puts "
                                        "the swapped captions in the batch's softmax)", hard_negative_weight, mode));
  }
  if (mode != "cmcl" && batch_negatives) {
    throw core::ConfigError(fmt::format("contrastive.batch_negatives=true is only for mode \"cmcl\" (mode \"{}\" "
                                        "already contrasts every pair of the global batch)", mode));
  }
  if (mode == "cmcl" && learnable_temperature) {
    throw core::ConfigError("contrastive.learnable_temperature=true is only for mode \"clip\" (CMCL keeps τ fixed)");
  }
}

namespace {

void check_pair(const at::Tensor& a, const at::Tensor& b, const char* a_name, const char* b_name) {
  if (a.dim() != 2 || b.dim() != 2 || a.sizes() != b.sizes()) {
    throw core::Error(fmt::format("{} {} and {} {}: expected two [N, D] tensors of one shape", a_name,
                                  core::shape_text(a.sizes()), b_name, core::shape_text(b.sizes())));
  }
}

}  // namespace

at::Tensor hard_negative_similarities(const at::Tensor& video, const at::Tensor& hard_text, const at::Tensor& hard_valid) {
  if (video.dim() != 2 || hard_text.dim() != 3 || hard_text.size(0) != video.size(0) ||
      hard_text.size(2) != video.size(1)) {
    throw core::Error(fmt::format("hard negatives {} for video {}: expected [B, K, D] for [B, D]",
                                  core::shape_text(hard_text.sizes()), core::shape_text(video.sizes())));
  }
  if (!hard_valid.defined() || hard_valid.sizes() != hard_text.sizes().slice(0, 2)) {
    throw core::Error(fmt::format("hard-negative mask {}: expected [{}, {}]",
                                  hard_valid.defined() ? core::shape_text(hard_valid.sizes()) : "none", hard_text.size(0),
                                  hard_text.size(1)));
  }
  at::Tensor similarity = (hard_text.to(video.scalar_type()) * video.unsqueeze(1)).sum(-1);  // [B, K]
  return similarity.masked_fill(hard_valid.to(torch::kBool).logical_not(), -std::numeric_limits<double>::infinity());
}

at::Tensor clip_video_to_text_logits(const at::Tensor& text, const at::Tensor& video, const at::Tensor& log_scale,
                                     const at::Tensor& hard_text, const at::Tensor& hard_valid) {
  check_pair(text, video, "text", "video");
  at::Tensor scale = log_scale.clamp_max(std::log(kMaxLogitScale)).exp();
  at::Tensor logits = torch::matmul(video, text.t());  // [N, N], pair i on the diagonal
  if (hard_text.defined()) logits = torch::cat({logits, hard_negative_similarities(video, hard_text, hard_valid)}, 1);
  return scale * logits;
}

std::pair<int64_t, int64_t> hard_negative_wins(const at::Tensor& positive, const at::Tensor& hard) {
  if (positive.dim() != 1 || hard.dim() != 2 || hard.size(0) != positive.size(0)) {
    throw core::Error(fmt::format("hard-negative wins: positive {} and hard {}: expected [B] and [B, K]",
                                  core::shape_text(positive.sizes()), core::shape_text(hard.sizes())));
  }
  const at::Tensor filled = torch::isfinite(hard).any(1);                               // [B]
  const at::Tensor wins = positive.to(hard.scalar_type()).gt(std::get<0>(hard.max(1))) & filled;
  return {wins.sum().item<int64_t>(), filled.sum().item<int64_t>()};
}

at::Tensor info_nce_loss(const at::Tensor& text, const at::Tensor& video, const at::Tensor& log_scale,
                         const at::Tensor& hard_text, const at::Tensor& hard_valid) {
  check_pair(text, video, "text", "video");
  // text, video: [N, D]; logits [N, N], pair i on the diagonal.
  at::Tensor scale = log_scale.clamp_max(std::log(kMaxLogitScale)).exp();
  at::Tensor logits = scale * torch::matmul(text, video.t());
  at::Tensor target = torch::arange(text.size(0), torch::TensorOptions().dtype(torch::kLong).device(text.device()));
  at::Tensor video_to_text =
      hard_text.defined() ? clip_video_to_text_logits(text, video, log_scale, hard_text, hard_valid) : logits.t();
  return 0.5 * (torch::nn::functional::cross_entropy(logits, target) +
                torch::nn::functional::cross_entropy(video_to_text, target));
}

FeatureQueue::FeatureQueue(int64_t size, int64_t dim) : buffer_(torch::zeros({size, dim})), size_(size) {
  if (size < 1 || dim < 1) throw core::Error(fmt::format("feature queue {} x {}: both must be >= 1", size, dim));
}

void FeatureQueue::enqueue(const at::Tensor& keys) {
  if (keys.dim() != 2 || keys.size(1) != buffer_.size(1)) {
    throw core::Error(fmt::format("queue keys {}: expected [N, {}]", core::shape_text(keys.sizes()), buffer_.size(1)));
  }
  at::Tensor k = keys.detach().to(buffer_.device(), buffer_.scalar_type());
  if (k.size(0) > size_) k = k.narrow(0, k.size(0) - size_, size_);
  int64_t n = k.size(0), start = count_ % size_;
  int64_t first = std::min(n, size_ - start);
  buffer_.narrow(0, start, first).copy_(k.narrow(0, 0, first));
  if (n > first) buffer_.narrow(0, 0, n - first).copy_(k.narrow(0, first, n - first));
  count_ += keys.size(0);
}

at::Tensor FeatureQueue::keys() const { return buffer_.narrow(0, 0, std::min(count_, size_)); }

void FeatureQueue::restore(const at::Tensor& buffer, int64_t count) {
  if (buffer.sizes() != buffer_.sizes()) {
    throw core::FormatError(fmt::format("queue buffer {}: expected {}", core::shape_text(buffer.sizes()), core::shape_text(buffer_.sizes())));
  }
  if (count < 0) throw core::FormatError(fmt::format("queue count {}: expected >= 0", count));
  buffer_.copy_(buffer);
  count_ = count;
}

void FeatureQueue::to(const c10::Device& device) { buffer_ = buffer_.to(device); }

namespace {

// [q·positive ‖ q·batch ‖ q·queue] / τ: [B, 1 + N + K'], the positive in column 0; the batch block
// (absent when batch is undefined) with row i's own key, column first_row + i, at −∞.
at::Tensor queue_logits(const at::Tensor& q, const at::Tensor& positive, const at::Tensor& queue, double temperature,
                        const at::Tensor& batch = {}, int64_t first_row = 0) {
  std::vector<at::Tensor> parts = {(q * positive).sum(1, true)};  // [B, 1]
  if (batch.defined()) {
    const int64_t b = q.size(0);
    if (batch.dim() != 2 || batch.size(1) != q.size(1) || first_row < 0 || first_row + b > batch.size(0)) {
      throw core::Error(fmt::format("batch keys {} for queries {} from row {}: expected [N, D] holding rows {}..{}",
                                    core::shape_text(batch.sizes()), core::shape_text(q.sizes()), first_row, first_row,
                                    first_row + b - 1));
    }
    at::Tensor own = torch::arange(b, torch::TensorOptions().dtype(torch::kLong).device(q.device())) + first_row;
    at::Tensor same = torch::zeros({b, batch.size(0)}, torch::TensorOptions().dtype(torch::kBool).device(q.device()));
    same.scatter_(1, own.unsqueeze(1), true);
    parts.push_back(torch::matmul(q, batch.to(q.scalar_type()).t()).masked_fill(same, -std::numeric_limits<double>::infinity()));
  }
  if (queue.size(0) > 0) parts.push_back(torch::matmul(q, queue.to(q.scalar_type()).t()));
  return torch::cat(parts, 1) / temperature;
}

}  // namespace

at::Tensor cmcl_video_to_text_logits(const at::Tensor& q_video, const at::Tensor& k_text, const at::Tensor& text_queue,
                                     double temperature, const at::Tensor& batch_text, int64_t first_row) {
  check_pair(q_video, k_text, "video queries", "text keys");
  return queue_logits(q_video, k_text, text_queue, temperature, batch_text, first_row);
}

at::Tensor cmcl_hard_negative_logits(const at::Tensor& q_video, const at::Tensor& q_text, double temperature,
                                     const at::Tensor& hard_text, const at::Tensor& hard_valid) {
  check_pair(q_video, q_text, "video queries", "text queries");
  at::Tensor positive = (q_video * q_text).sum(1, true);  // [B, 1]
  return torch::cat({positive, hard_negative_similarities(q_video, hard_text, hard_valid)}, 1) / temperature;
}

at::Tensor cmcl_losses(const at::Tensor& q_video, const at::Tensor& q_text, const at::Tensor& k_video,
                       const at::Tensor& k_text, const at::Tensor& video_queue, const at::Tensor& text_queue,
                       double temperature, const at::Tensor& hard_text, const at::Tensor& hard_valid,
                       const BatchKeys& batch, double hard_weight) {
  check_pair(q_video, q_text, "video queries", "text queries");
  check_pair(k_video, k_text, "video keys", "text keys");
  if (batch.video.defined() != batch.text.defined()) {
    throw core::Error("CMCL batch keys: give both the video and the text keys of the batch, or neither");
  }
  check_pair(q_video, k_video, "video queries", "video keys");
  // The positive of each query is the other modality's key of the same pair (column 0); the
  // negatives are the other modality's queue (and the batch's other keys). Hard negatives compete
  // in a softmax of their own.
  at::Tensor target = torch::zeros({q_video.size(0)}, torch::TensorOptions().dtype(torch::kLong).device(q_video.device()));
  namespace F = torch::nn::functional;
  auto none = F::CrossEntropyFuncOptions().reduction(torch::kNone);
  at::Tensor v2t = F::cross_entropy(
      cmcl_video_to_text_logits(q_video, k_text, text_queue, temperature, batch.text, batch.first_row), target, none);
  at::Tensor t2v = F::cross_entropy(
      queue_logits(q_text, k_video, video_queue, temperature, batch.video, batch.first_row), target, none);
  if (!hard_text.defined()) return v2t + t2v;
  at::Tensor hard = F::cross_entropy(cmcl_hard_negative_logits(q_video, q_text, temperature, hard_text, hard_valid),
                                     target, none);
  return v2t + t2v + hard_weight * hard;
}

void momentum_update(torch::nn::Module& key, const torch::nn::Module& query, double momentum) {
  torch::NoGradGuard no_grad;
  auto key_params = key.parameters(), query_params = query.parameters();
  auto key_buffers = key.buffers(), query_buffers = query.buffers();
  if (key_params.size() != query_params.size() || key_buffers.size() != query_buffers.size()) {
    throw core::Error(fmt::format("momentum update: key encoder has {} parameters and {} buffers, query encoder {} and {}",
                                  key_params.size(), key_buffers.size(), query_params.size(), query_buffers.size()));
  }
  for (size_t i = 0; i < key_params.size(); ++i) key_params[i].mul_(momentum).add_(query_params[i], 1.0 - momentum);
  for (size_t i = 0; i < key_buffers.size(); ++i) key_buffers[i].copy_(query_buffers[i]);
}

MaskedTokens mask_tokens(const at::Tensor& input_ids, const at::Tensor& attention_mask, const MaskingTokens& tokens,
                         double probability, at::Generator generator) {
  if (input_ids.dim() != 2 || attention_mask.sizes() != input_ids.sizes()) {
    throw core::Error(fmt::format("mask_tokens: input_ids {} and attention_mask {}: expected two [B, L] tensors",
                                  core::shape_text(input_ids.sizes()), core::shape_text(attention_mask.sizes())));
  }
  auto options = torch::TensorOptions().device(input_ids.device());
  at::Tensor special = input_ids.eq(tokens.cls) | input_ids.eq(tokens.sep) | input_ids.eq(tokens.pad);
  at::Tensor candidate = attention_mask.to(torch::kBool) & ~special;
  at::Tensor draw = torch::rand(input_ids.sizes(), generator, options.dtype(torch::kFloat64));
  at::Tensor chosen = candidate & draw.lt(probability);
  at::Tensor action = torch::rand(input_ids.sizes(), generator, options.dtype(torch::kFloat64));
  // Random replacements avoid the first ids ([PAD], [unused*], [UNK], [CLS], [SEP], [MASK] sit
  // below 1000 in BERT vocabularies) by drawing over the whole vocabulary but rejecting specials.
  at::Tensor random_ids = torch::randint(tokens.vocab_size, input_ids.sizes(), generator, options.dtype(torch::kLong));
  at::Tensor random_special = random_ids.eq(tokens.cls) | random_ids.eq(tokens.sep) | random_ids.eq(tokens.pad) |
                              random_ids.eq(tokens.mask);
  random_ids = torch::where(random_special, torch::full_like(random_ids, tokens.mask), random_ids);

  MaskedTokens out;
  out.labels = torch::where(chosen, input_ids, torch::full_like(input_ids, -100));
  out.input_ids = input_ids.clone();
  out.input_ids.masked_fill_(chosen & action.lt(0.8), tokens.mask);
  at::Tensor randomise = chosen & action.ge(0.8) & action.lt(0.9);
  out.input_ids = torch::where(randomise, random_ids, out.input_ids);
  return out;
}

at::Tensor mlm_loss_sum(const at::Tensor& logits, const at::Tensor& labels) {
  if (logits.dim() != 3 || labels.dim() != 2 || logits.size(0) != labels.size(0) || logits.size(1) != labels.size(1)) {
    throw core::Error(fmt::format("mlm loss: logits {} and labels {}: expected [B, L, V] and [B, L]",
                                  core::shape_text(logits.sizes()), core::shape_text(labels.sizes())));
  }
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits.flatten(0, 1).to(torch::kFloat32), labels.flatten(),
                          F::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum));
}

}  // namespace hdv::train
