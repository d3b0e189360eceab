// The video-language model: HD-VILA's hybrid video encoder, a BERT text encoder and the
// single-stream cross-modal Transformer, with both embeddings in one joint space (docs/design.md §4).
//
//   text:  BERT layers [0, text_layers) -> masked mean-pool -> pooler (dense + tanh) -> text_proj
//          -> L2-normalise.
//   video: per segment, VideoEncoder -> h*w visual tokens; mean over tokens and segments ->
//          video_proj -> L2-normalise.
//   cross-modal (pre-training stage 2): BERT layers [text_layers, layers) over
//          [text states; VisualEmbeddings(visual tokens)] per segment; MLM logits on the text
//          positions (and an optional video-text matching score), aggregated over segments.
// A still image is encoded as a static clip: the image is the keyframe and, down-scaled 4x
// (bicubic), every neighbour.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <utility>
#include <vector>

#include "models/bert.h"
#include "models/cross_modal.h"
#include "models/video_encoder.h"

namespace hdv::models {

struct VLConfig {
  BertConfig text;                          // every BERT layer: text encoder, then cross-modal
  int64_t text_layers = 12;                 // layers [0, text_layers) encode text alone
  VideoEncoderConfig video;                 // the hybrid video encoder
  int64_t embed_dim = 1024;                 // width of the joint embedding space
  int64_t max_text_len = 50;                // tokens per caption, [CLS] and [SEP] included
  int64_t segments = 2;                     // segments sampled per clip
  int64_t max_grid = 100;                   // rows/columns of the learned visual position embeddings
  std::string segment_aggregation = "lse";  // "lse" (log-sum-exp, as released) or "mean"
  bool mlm_head = true;                     // masked-language-model head (pre-training stage 2)
  bool vtm_head = false;                    // optional video-text matching head

  template <class V>
  void fields(V& v) {
    v("text", text);
    v("text_layers", text_layers);
    v("video", video);
    v("embed_dim", embed_dim);
    v("max_text_len", max_text_len);
    v("segments", segments);
    v("max_grid", max_grid);
    v("segment_aggregation", segment_aggregation);
    v("mlm_head", mlm_head);
    v("vtm_head", vtm_head);
  }
  void validate() const;
};

struct PretrainOutput {
  at::Tensor mlm_logits;  // [B, L, vocab], aggregated over segments (undefined without the head)
  at::Tensor vtm_logits;  // [B, 2] (undefined without the head)
};

class VLModelImpl : public torch::nn::Module {
 public:
  explicit VLModelImpl(const VLConfig& config = {});

  // input_ids, attention_mask: [B, L] -> text states after the text layers [B, L, H]
  at::Tensor text_states(const at::Tensor& input_ids, const at::Tensor& attention_mask);
  // input_ids, attention_mask: [B, L] -> unit-length text embeddings [B, embed_dim]
  at::Tensor encode_text(const at::Tensor& input_ids, const at::Tensor& attention_mask);
  // keyframes: [B, S, 3, H, W], neighbours: [B, S, T-1, 3, h, w] (undefined for "hr-only")
  // -> visual tokens of every segment: tokens [B*S, h*w, C]. `trace` (optional) receives the
  // video tower's intermediates, segments flattened into the batch ([B*S, ...]).
  VisualTokens encode_segments(const at::Tensor& keyframes, const at::Tensor& neighbours,
                               VideoEncoderTrace* trace = nullptr);
  // -> unit-length video embeddings [B, embed_dim]
  at::Tensor encode_video(const at::Tensor& keyframes, const at::Tensor& neighbours, VideoEncoderTrace* trace = nullptr);
  // images: [B, 3, H, W] in [-1, 1] -> unit-length embeddings [B, embed_dim] (a static clip)
  at::Tensor encode_image(const at::Tensor& images);
  // The stage-2 forward: text (possibly masked) with its clip -> MLM / VTM logits.
  PretrainOutput forward(const at::Tensor& input_ids, const at::Tensor& attention_mask, const at::Tensor& keyframes,
                         const at::Tensor& neighbours);

  const VLConfig& config() const { return config_; }

  BertModel bert{nullptr};
  VideoEncoder video{nullptr};
  VisualEmbeddings visual_embeddings{nullptr};
  torch::nn::Linear text_proj{nullptr};
  torch::nn::Linear video_proj{nullptr};
  MlmHead mlm{nullptr};
  torch::nn::Linear vtm{nullptr};

 private:
  // images [B, 3, H, W] -> (keyframes [B, 1, 3, H, W], neighbours [B, 1, T-1, 3, H/4, W/4])
  std::pair<at::Tensor, at::Tensor> static_clip(const at::Tensor& images) const;

  VLConfig config_;
};
TORCH_MODULE(VLModel);

// Parameter count per component ("text encoder", "cross-modal", "video: HR ResNet", ...), in
// order, for `hdvila-train info`.
std::vector<std::pair<std::string, int64_t>> component_parameter_counts(VLModelImpl& model);

}  // namespace hdv::models
