// HD-VILA's hybrid high-resolution video encoder (docs/design.md §4; microsoft/XPretrain hd-vila).
//
// One segment = a high-resolution keyframe plus T-1 low-resolution neighbours (T = 7).
//   HR path:      ResNet-50 on the keyframe -> C5 -> 1x1 conv to `hidden` (no bias) -> MaxPool 2x2
//                 -> GELU: the HR tokens, h x w (10 x 16 for a 640 x 1024 keyframe).
//   HR reference: the keyframe's C4, bilinearly resized to h x w -> grid_encoder_low (1x1 conv +
//                 GELU, shared with the LR path).
//   LR path:      a second ResNet-50 through stage 3 on each neighbour (160 x 256) -> C4 (h x w)
//                 -> grid_encoder_low.
//   Hybrid Transformer: the sequence [LR x3, HR reference, LR x3] of h*w tokens per step, with
//                 learned spatial and temporal position embeddings (the spatial one interpolated
//                 to the grid in use), through `depth` divided space-time blocks; the middle time
//                 step is kept.
//   Fuse:         concat [HR tokens, Transformer output] -> 1x1 conv -> GELU: h*w visual tokens.
// Ablation variants: "hr-only" (the HR tokens alone) and "lr-only" (all T frames at low
// resolution through the LR path and the Transformer).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <string>

#include "models/resnet.h"
#include "models/timesformer.h"

namespace hdv::models {

struct VideoEncoderConfig {
  std::string mode = "hybrid";  // "hybrid", "hr-only" or "lr-only"
  ResNetConfig backbone;        // HR path (last_stage 4); the LR path uses it through stage 3
  int hidden = 1024;            // width of visual tokens and of the Transformer
  int depth = 4;                // divided space-time blocks
  int heads = 16;               // attention heads of each block
  double mlp_ratio = 4.0;       // MLP width / hidden
  double drop_path = 0.1;       // stochastic depth of the last block (0 for the first, linear)
  int frames = 7;               // frames per segment T: the keyframe and T-1 neighbours (odd)
  int grid_height = 10;         // token grid the spatial position embedding is learned on
  int grid_width = 16;
  // Stage 4 of the LR ResNet is never run. 3 leaves it out; 4 keeps its (unused) weights, as the
  // released HD-VILA model does: its 0.46 B parameters count two full ResNet-50s.
  int lr_last_stage = 3;
  // How the keyframe's C4 is resized to the token grid for the HR reference: "bilinear"
  // (hdvila's own models) or "nearest" (every 4th row and column, as HD-VILA's released code
  // does with F.interpolate's default; set by `hdvila-train import --hdvila`).
  std::string hr_reference_resize = "bilinear";
  // How the temporal position embedding starts: "zeros" (TimeSformer, HD-VILA) or "normal" (a
  // truncated normal, std 0.02, like the spatial one). At zeros every frame looks alike to the
  // temporal attention until the embedding has learned to differ, so "before" and "after" (the
  // direction of a motion) are not told apart at first; only the start differs, not the model.
  std::string time_embed_init = "zeros";

  template <class V>
  void fields(V& v) {
    v("mode", mode);
    v("backbone", backbone);
    v("hidden", hidden);
    v("depth", depth);
    v("heads", heads);
    v("mlp_ratio", mlp_ratio);
    v("drop_path", drop_path);
    v("frames", frames);
    v("grid_height", grid_height);
    v("grid_width", grid_width);
    v("lr_last_stage", lr_last_stage);
    v("hr_reference_resize", hr_reference_resize);
    v("time_embed_init", time_embed_init);
  }
  void validate() const;
  bool uses_hr() const { return mode != "lr-only"; }
  bool uses_lr() const { return mode != "hr-only"; }
};

// Intermediate tensors of one forward, for tests, inspection and stage-wise probes (filled when
// passed; those of a path the mode does not run stay undefined).
struct VideoEncoderTrace {
  at::Tensor hr_stem;       // [B, base, H/4, W/4]        keyframe after the ResNet stem
  at::Tensor hr_c2;         // [B, 4*base, H/4, W/4]      keyframe after layer1
  at::Tensor hr_c3;         // [B, 8*base, H/8, W/8]      keyframe after layer2
  at::Tensor hr_c4;         // [B, 16*base, H/16, W/16]   keyframe C4
  at::Tensor hr_c5;         // [B, 32*base, H/32, W/32]   keyframe C5
  at::Tensor hr_tokens;     // [B, hidden, H/64, W/64]    after hr_proj, MaxPool 2x2, GELU
  at::Tensor hr_reference;  // [B, hidden, h, w]          C4 resized to the token grid, encoded
  at::Tensor lr_c4;         // [B*(T-1), 16*base, h, w]   neighbours' C4
  at::Tensor sequence;      // [B, T, hidden, h, w]       the Transformer's input
  at::Tensor temporal;      // [B, hidden, h, w]          its middle time step
  at::Tensor tokens;        // [B, hidden, h, w]          the visual tokens forward() returns, as a map
};

struct VisualTokens {
  at::Tensor tokens;  // [B, height * width, hidden], row-major over the grid
  int64_t height = 0;
  int64_t width = 0;
};

class VideoEncoderImpl : public torch::nn::Module {
 public:
  explicit VideoEncoderImpl(const VideoEncoderConfig& config = {});

  // Pixels in [-1, 1] (our image/video loaders' range; normalised for the ResNets inside).
  // keyframe:   [B, 3, H, W]         the middle frame (HR size; LR size in "lr-only")
  // neighbours: [B, T-1, 3, h, w]    the other frames in time order at LR size (H/4 x W/4 in
  //                                  "hybrid"); undefined in "hr-only"
  VisualTokens forward(const at::Tensor& keyframe, const at::Tensor& neighbours, VideoEncoderTrace* trace = nullptr);

  const VideoEncoderConfig& config() const { return config_; }

  ResNet hr_backbone{nullptr};
  ResNet lr_backbone{nullptr};
  torch::nn::Conv2d hr_proj{nullptr};           // C5 -> hidden, 1x1, no bias
  torch::nn::Conv2d grid_encoder_low{nullptr};  // C4 -> hidden, 1x1 (HR reference and LR frames)
  torch::nn::ModuleList blocks{nullptr};        // SpaceTimeBlock x depth
  at::Tensor pos_embed;                         // [1, grid_height * grid_width, hidden]
  at::Tensor time_embed;                        // [1, frames, hidden]
  torch::nn::Conv2d fuse{nullptr};              // 2*hidden -> hidden, 1x1

 private:
  // C4 maps [N, C, h, w] -> [N, hidden, h, w] through the shared grid encoder.
  at::Tensor encode_low(const at::Tensor& c4);
  // frames: [B, T, hidden, h, w] -> middle step after the Transformer: [B, hidden, h, w]
  at::Tensor temporal(const at::Tensor& frames);

  VideoEncoderConfig config_;
};
TORCH_MODULE(VideoEncoder);

// [-1, 1] RGB -> ImageNet-normalised input of torchvision ResNets.
at::Tensor imagenet_normalize(const at::Tensor& images);

}  // namespace hdv::models
