// Pre-training objectives (docs/design.md §5):
//   stage 1, CLIP/HD-VILA mode: symmetric InfoNCE 0.5·(CE(t→v) + CE(v→t)) over features
//            all-gathered across ranks, τ fixed (HD-VILA 0.05) or learnable (CLIP: logit scale
//            initialised at ln(1/0.07), clamped at ln 100);
//   stage 1, CMCL mode (WenLan/BriVL as released): momentum key encoders and two queues of keys;
//            video→text logits [q_v·k_t ‖ q_v·TextQueue]/τ, text→video [q_t·k_v ‖ q_t·VideoQueue]/τ,
//            loss CE(v→t) + CE(t→v), each averaged over the batch; with batch_negatives (ALBEF)
//            the other clips' keys of the global batch join each row's negatives as well;
//   hard negatives (NegCLIP, arXiv 2210.01936; both modes): each clip's own K captions with one
//            attribute swapped (hard_negatives.h) are appended to its video→text logits, so the
//            softmax's denominator holds them; the target stays the positive. Text→video is unchanged;
//   stage 2: BERT masking (15% of non-special tokens: 80% [MASK], 10% random, 10% kept) and the
//            MLM cross-entropy over masked positions.
// Losses that average over a rank's own samples are returned as per-sample values so the trainer
// can divide by the *global* batch and sum gradients across ranks, which makes N ranks step
// exactly like one process with the same global batch.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <utility>

namespace hdv::train {

struct ContrastiveConfig {
  std::string mode = "clip";           // "clip" (all-gathered InfoNCE) or "cmcl" (momentum queues)
  double temperature = 0.05;           // τ (HD-VILA 0.05, WenLan 0.07); the initial τ when learnable
  bool learnable_temperature = false;  // CLIP: learn the logit scale ln(1/τ), clamped at ln 100
  int64_t queue_size = 9600;           // CMCL: keys kept per modality (BriVL 9,600)
  double momentum = 0.99;              // CMCL: key encoders θ' ← m·θ' + (1 − m)·θ
  int64_t hard_negatives = 0;          // captions per clip with one attribute swapped, in its video→text
                                       // softmax (needs SynthVid labels; off for other data); 0 = off
  double hard_negative_weight = 1.0;   // CMCL: weight of the hard negatives' own cross-entropy
  bool batch_negatives = false;        // CMCL: the global batch's other keys are negatives too (ALBEF),
                                       // not only the queue (so grouped look-alikes meet in one step)

  template <class V>
  void fields(V& v) {
    v("mode", mode);
    v("temperature", temperature);
    v("learnable_temperature", learnable_temperature);
    v("queue_size", queue_size);
    v("momentum", momentum);
    v("hard_negatives", hard_negatives);
    v("hard_negative_weight", hard_negative_weight);
    v("batch_negatives", batch_negatives);
  }
  void validate() const;
};

// The most a learnable logit scale may reach (CLIP clamps ln(scale) at ln 100).
constexpr double kMaxLogitScale = 100.0;
// The most hard-negative captions per clip (each costs one more text-tower pass).
constexpr int64_t kMaxHardNegatives = 64;

// Hard negatives of each clip. video: [B, D]; hard_text: [B, K, D] embeddings of clip i's own K
// swapped captions; hard_valid: [B, K] bool, false for an empty slot (a clip whose caption offered
// fewer than K swaps) -> [B, K]: video i · hard_text[i][k], −inf in empty slots (so they add
// nothing to a softmax).
at::Tensor hard_negative_similarities(const at::Tensor& video, const at::Tensor& hard_text, const at::Tensor& hard_valid);

// A training diagnostic: how many clips rank their positive above every one of their hard
// negatives. positive: [B] similarity of each clip to its own caption; hard: [B, K] from
// hard_negative_similarities (−inf in empty slots) -> {clips whose positive beats every filled
// slot, clips with at least one filled slot}. Ties count as losses.
std::pair<int64_t, int64_t> hard_negative_wins(const at::Tensor& positive, const at::Tensor& hard);

// CLIP mode's video→text logits, scale·[video i · text j for j < N ‖ hard_negative_similarities]:
// [N, N + K] (K = 0 without hard negatives: hard_text undefined); the target of row i is column i.
// text, video: [N, D]; log_scale: scalar ln(1/τ), clamped at ln kMaxLogitScale.
at::Tensor clip_video_to_text_logits(const at::Tensor& text, const at::Tensor& video, const at::Tensor& log_scale,
                                     const at::Tensor& hard_text = {}, const at::Tensor& hard_valid = {});

// text, video: [N, D] unit-length embeddings of N matching pairs (row i of each is pair i);
// log_scale: scalar ln(1/τ) -> 0.5·(CE(t→v) + CE(v→t)), mean over the N pairs. The scale is
// clamped at kMaxLogitScale. With hard negatives (hard_text [N, K, D], hard_valid [N, K]), v→t
// uses clip_video_to_text_logits' [N, N + K] logits.
at::Tensor info_nce_loss(const at::Tensor& text, const at::Tensor& video, const at::Tensor& log_scale,
                         const at::Tensor& hard_text = {}, const at::Tensor& hard_valid = {});

// A ring buffer of the latest keys of one modality (MoCo/BriVL queue). Unlike BriVL, which
// asserts K % global batch == 0, any batch size works: keys wrap around the end, and a batch
// larger than K keeps its last K keys.
class FeatureQueue {
 public:
  FeatureQueue() = default;
  FeatureQueue(int64_t size, int64_t dim);

  // keys: [N, D] -> stored (detached) in order, overwriting the oldest.
  void enqueue(const at::Tensor& keys);
  // The keys held so far [min(count, K), D] (all K once the queue has filled).
  at::Tensor keys() const;
  int64_t size() const { return size_; }
  int64_t count() const { return count_; }  // keys enqueued since creation (not capped at K)

  // For checkpoints: the buffer [K, D] and the count; restore() checks the shapes.
  at::Tensor buffer() const { return buffer_; }
  void restore(const at::Tensor& buffer, int64_t count);
  void to(const c10::Device& device);

 private:
  at::Tensor buffer_;  // [K, D]
  int64_t size_ = 0;
  int64_t count_ = 0;
};

// The keys of the whole global batch (all ranks, rank order) for CMCL's batch negatives: [N, D]
// each; this rank's B rows start at first_row. Undefined tensors: no batch negatives.
struct BatchKeys {
  at::Tensor video, text;
  int64_t first_row = 0;
};

// CMCL's video→text logits, [q_v·k_t ‖ q_v·TextQueue] / τ: [B, 1 + Q']; the target of every row
// is column 0. q_video, k_text: [B, D]; text_queue: [Q', D]. With batch keys ([N, D]):
// [q_v·k_t ‖ q_v·BatchKeys ‖ q_v·TextQueue] / τ: [B, 1 + N + Q'], row i's own key in the batch
// block (column 1 + first_row + i) at −∞, since it is the positive already.
at::Tensor cmcl_video_to_text_logits(const at::Tensor& q_video, const at::Tensor& k_text, const at::Tensor& text_queue,
                                     double temperature, const at::Tensor& batch_text = {}, int64_t first_row = 0);

// CMCL's hard-negative logits, a softmax of their own: [q_v·q_t ‖ hard_negative_similarities] / τ:
// [B, 1 + K], the target column 0. The clip's caption and its swapped captions all come from the
// query text encoder: beside the momentum key of the queue row, query-encoded swaps could be told
// apart by their encoder instead of by what they say. q_video, q_text: [B, D].
at::Tensor cmcl_hard_negative_logits(const at::Tensor& q_video, const at::Tensor& q_text, double temperature,
                                     const at::Tensor& hard_text, const at::Tensor& hard_valid);

// q_video, q_text: [B, D] queries (with gradients); k_video, k_text: [B, D] keys of the same
// pairs from the momentum encoders; video_queue, text_queue: [K', D] earlier keys (K' may be 0).
// -> per-sample losses [B]: CE(v→t) + CE(t→v) of each pair. With hard negatives (hard_text
// [B, K, D] from the query text encoder, hard_valid [B, K]) each pair adds the cross-entropy of
// cmcl_hard_negative_logits (0 for a clip without any filled slot), times hard_weight. With batch keys, both
// directions take the other clips' keys of the global batch as negatives as well
// (cmcl_video_to_text_logits; text→video alike with the video keys).
at::Tensor cmcl_losses(const at::Tensor& q_video, const at::Tensor& q_text, const at::Tensor& k_video,
                       const at::Tensor& k_text, const at::Tensor& video_queue, const at::Tensor& text_queue,
                       double temperature, const at::Tensor& hard_text = {}, const at::Tensor& hard_valid = {},
                       const BatchKeys& batch = {}, double hard_weight = 1.0);

// key ← m·key + (1 − m)·query for every parameter; buffers (BatchNorm statistics) are copied.
// Both modules must have the same structure (a key encoder is a clone of its query encoder).
void momentum_update(torch::nn::Module& key, const torch::nn::Module& query, double momentum);

// Token ids the masking needs.
struct MaskingTokens {
  int64_t cls = 0, sep = 0, pad = 0, mask = 0;
  int64_t vocab_size = 0;
};

struct MaskedTokens {
  at::Tensor input_ids;  // [B, L] with masked positions replaced
  at::Tensor labels;     // [B, L] original id at masked positions, -100 elsewhere
};

// BERT masking of input_ids [B, L] (attention_mask [B, L] marks real tokens): each non-special
// real token is chosen with `probability`; a chosen token becomes [MASK] (80%), a random
// non-special id (10%) or stays (10%). Deterministic for a given generator state.
MaskedTokens mask_tokens(const at::Tensor& input_ids, const at::Tensor& attention_mask, const MaskingTokens& tokens,
                         double probability, at::Generator generator);

// logits: [B, L, V], labels: [B, L] (-100 = ignore) -> summed cross-entropy over the labelled
// positions (a scalar); divide by the global count of labelled positions for the mean.
at::Tensor mlm_loss_sum(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace hdv::train
