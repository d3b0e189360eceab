// Hybrid high-resolution video encoder (see video_encoder.h).
#include "models/video_encoder.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::models {
namespace {

// Throws core::Error "<name>: expected <what>, got [..]" unless `ok`.
void check(bool ok, const char* name, const std::string& expected, const at::Tensor& t) {
  if (!ok) throw core::Error(fmt::format("{}: expected {}, got {}", name, expected, core::shape_text(t.sizes())));
}

}  // namespace

void VideoEncoderConfig::validate() const {
  if (mode != "hybrid" && mode != "hr-only" && mode != "lr-only") {
    throw core::ConfigError(fmt::format("video mode=\"{}\" must be hybrid, hr-only or lr-only", mode));
  }
  backbone.validate();
  if (backbone.last_stage != 4) {
    throw core::ConfigError(fmt::format("video backbone.last_stage={} must be 4 (the HR path needs C5)", backbone.last_stage));
  }
  if (hidden <= 0 || heads <= 0 || hidden % heads != 0) {
    throw core::ConfigError(fmt::format("video hidden={} must be divisible by heads={}", hidden, heads));
  }
  if (depth < 0) throw core::ConfigError(fmt::format("video depth={} must be >= 0", depth));
  if (frames < 1 || frames % 2 == 0) {
    throw core::ConfigError(fmt::format("video frames={} must be odd (the keyframe is the middle frame)", frames));
  }
  if (lr_last_stage != 3 && lr_last_stage != 4) {
    throw core::ConfigError(fmt::format("video lr_last_stage={} must be 3 or 4", lr_last_stage));
  }
  if (time_embed_init != "zeros" && time_embed_init != "normal") {
    throw core::ConfigError(fmt::format("video time_embed_init=\"{}\" must be zeros or normal", time_embed_init));
  }
  if (hr_reference_resize != "bilinear" && hr_reference_resize != "nearest") {
    throw core::ConfigError(
        fmt::format("video hr_reference_resize=\"{}\" must be bilinear or nearest", hr_reference_resize));
  }
  if (grid_height <= 0 || grid_width <= 0) {
    throw core::ConfigError(fmt::format("video grid {}x{} must be positive", grid_height, grid_width));
  }
  if (drop_path < 0 || drop_path >= 1) throw core::ConfigError(fmt::format("video drop_path={} must be in [0, 1)", drop_path));
}

at::Tensor imagenet_normalize(const at::Tensor& images) {
  auto options = images.options();
  at::Tensor mean = torch::tensor({0.485, 0.456, 0.406}, options).view({1, 3, 1, 1});
  at::Tensor std = torch::tensor({0.229, 0.224, 0.225}, options).view({1, 3, 1, 1});
  return ((images + 1.0) * 0.5 - mean) / std;
}

VideoEncoderImpl::VideoEncoderImpl(const VideoEncoderConfig& config) : config_(config) {
  config_.validate();
  const int hidden = config_.hidden;
  const int c4 = config_.backbone.c4_channels(), c5 = config_.backbone.c5_channels();
  if (config_.uses_hr()) {
    hr_backbone = register_module("hr_backbone", ResNet(config_.backbone));
    hr_proj = register_module("hr_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(c5, hidden, 1).bias(false)));
  }
  if (config_.uses_lr()) {
    ResNetConfig low = config_.backbone;
    low.last_stage = config_.lr_last_stage;
    lr_backbone = register_module("lr_backbone", ResNet(low));
    grid_encoder_low = register_module("grid_encoder_low", torch::nn::Conv2d(torch::nn::Conv2dOptions(c4, hidden, 1)));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int i = 0; i < config_.depth; ++i) {
      SpaceTimeBlockConfig block;
      block.dim = hidden;
      block.heads = config_.heads;
      block.mlp_ratio = config_.mlp_ratio;
      block.drop_path = config_.depth > 1 ? config_.drop_path * i / (config_.depth - 1) : 0.0;
      blocks->push_back(SpaceTimeBlock(block, /*zero_init_temporal_fc=*/i > 0));
    }
    // Learned position embeddings, initialised like TimeSformer (truncated normal, std 0.02).
    pos_embed = register_parameter(
        "pos_embed", torch::randn({1, config_.grid_height * config_.grid_width, hidden}).clamp_(-2, 2) * 0.02);
    time_embed = register_parameter("time_embed", config_.time_embed_init == "normal"
                                                      ? torch::randn({1, config_.frames, hidden}).clamp_(-2, 2) * 0.02
                                                      : torch::zeros({1, config_.frames, hidden}));
  }
  if (config_.mode == "hybrid") {
    fuse = register_module("fuse", torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * hidden, hidden, 1)));
  }
}

at::Tensor VideoEncoderImpl::encode_low(const at::Tensor& c4) {
  return torch::gelu(grid_encoder_low->forward(c4));
}

at::Tensor VideoEncoderImpl::temporal(const at::Tensor& frames) {
  // frames: [B, T, C, h, w]
  const int64_t b = frames.size(0), t = frames.size(1), c = frames.size(2), h = frames.size(3), w = frames.size(4);
  at::Tensor x = frames.permute({0, 1, 3, 4, 2}).reshape({b, t, h * w, c});  // [B, T, S, C]
  at::Tensor pos = pos_embed;
  if (h != config_.grid_height || w != config_.grid_width) {
    // The spatial embedding is a grid: resize it like an image (TimeSformer does the same).
    pos = pos.reshape({1, config_.grid_height, config_.grid_width, c}).permute({0, 3, 1, 2});
    pos = torch::nn::functional::interpolate(
        pos, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
    pos = pos.permute({0, 2, 3, 1}).reshape({1, h * w, c});
  }
  x = x + pos.unsqueeze(1) + time_embed.unsqueeze(2);
  for (const auto& block : *blocks) x = block->as<SpaceTimeBlock>()->forward(x);
  // Keep the middle step (the keyframe's): [B, S, C] -> [B, C, h, w]
  return x.select(1, t / 2).reshape({b, h, w, c}).permute({0, 3, 1, 2});
}

VisualTokens VideoEncoderImpl::forward(const at::Tensor& keyframe, const at::Tensor& neighbours,
                                       VideoEncoderTrace* trace) {
  VideoEncoderTrace ignored;
  VideoEncoderTrace& t = trace != nullptr ? *trace : ignored;
  const int64_t expected_neighbours = config_.frames - 1;
  check(keyframe.defined() && keyframe.dim() == 4 && keyframe.size(1) == 3, "keyframe", "[B, 3, H, W]", keyframe);
  const int64_t b = keyframe.size(0);
  if (config_.uses_lr() && expected_neighbours > 0) {
    if (!neighbours.defined()) throw core::Error(fmt::format("neighbours: expected [B, {}, 3, h, w], got none", expected_neighbours));
    check(neighbours.dim() == 5 && neighbours.size(0) == b && neighbours.size(1) == expected_neighbours &&
              neighbours.size(2) == 3,
          "neighbours", fmt::format("[{}, {}, 3, h, w] (batch of the keyframe, frames - 1 = {})", b, expected_neighbours,
                                    expected_neighbours),
          neighbours);
  }

  at::Tensor hr_tokens;  // [B, hidden, h, w]
  at::Tensor hr_reference;
  if (config_.uses_hr()) {
    // C5 (stride 32) must keep at least 2x2 cells for the 2x2 max-pool.
    if (keyframe.size(2) < 64 || keyframe.size(3) < 64) {
      throw core::Error(fmt::format("keyframe: {}x{} pixels is too small for the HR path (at least 64x64)",
                                    keyframe.size(2), keyframe.size(3)));
    }
    ResNetFeatures features = hr_backbone->forward(imagenet_normalize(keyframe));
    hr_tokens = torch::gelu(torch::max_pool2d(hr_proj->forward(features.c5), 2));
    t.hr_stem = features.stem;
    t.hr_c2 = features.c2;
    t.hr_c3 = features.c3;
    t.hr_c4 = features.c4;
    t.hr_c5 = features.c5;
    t.hr_tokens = hr_tokens;
    if (config_.mode == "hr-only") {
      t.tokens = hr_tokens;
      const int64_t h = hr_tokens.size(2), w = hr_tokens.size(3);
      return {hr_tokens.flatten(2).transpose(1, 2), h, w};
    }
    namespace F = torch::nn::functional;
    F::InterpolateFuncOptions resize =
        F::InterpolateFuncOptions().size(std::vector<int64_t>{hr_tokens.size(2), hr_tokens.size(3)});
    if (config_.hr_reference_resize == "nearest") {
      resize.mode(torch::kNearest);
    } else {
      resize.mode(torch::kBilinear).align_corners(false);
    }
    at::Tensor c4 = F::interpolate(features.c4, resize);
    hr_reference = encode_low(c4);
    t.hr_reference = hr_reference;
  }

  // Low-resolution frames through the LR ResNet: [B*(T-1), 3, h', w'] -> [B, T-1, hidden, h, w].
  // lr-only sees the keyframe at the neighbours' size too: a full-size keyframe (the clip sampler
  // gives one) is bicubic-downscaled to it, as the sampler makes the neighbours.
  at::Tensor low_keyframe = keyframe;
  if (config_.mode == "lr-only" && expected_neighbours > 0 &&
      (keyframe.size(2) != neighbours.size(3) || keyframe.size(3) != neighbours.size(4))) {
    namespace F = torch::nn::functional;
    low_keyframe = F::interpolate(keyframe, F::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{neighbours.size(3), neighbours.size(4)})
                                                .mode(torch::kBicubic)
                                                .align_corners(false))
                       .clamp(-1, 1);
  }
  at::Tensor low_frames = config_.mode == "lr-only"
                              ? (expected_neighbours > 0 ? torch::cat({neighbours.narrow(1, 0, expected_neighbours / 2),
                                                                       low_keyframe.unsqueeze(1),
                                                                       neighbours.narrow(1, expected_neighbours / 2,
                                                                                         expected_neighbours / 2)},
                                                                      1)
                                                         : keyframe.unsqueeze(1))
                              : neighbours;
  at::Tensor sequence;  // [B, T, hidden, h, w]
  if (low_frames.defined() && low_frames.size(1) > 0) {
    const int64_t n = low_frames.size(1);
    at::Tensor c4 = lr_backbone->forward(imagenet_normalize(low_frames.flatten(0, 1))).c4;
    t.lr_c4 = c4;
    at::Tensor low = encode_low(c4);
    low = low.reshape({b, n, low.size(1), low.size(2), low.size(3)});
    if (config_.mode == "hybrid") {
      if (low.size(3) != hr_reference.size(2) || low.size(4) != hr_reference.size(3)) {
        throw core::Error(fmt::format(
            "neighbours: {}x{} frames give a {}x{} token grid but the keyframe gives {}x{}; low-resolution frames "
            "must be 1/4 of the keyframe's size",
            low_frames.size(3), low_frames.size(4), low.size(3), low.size(4), hr_reference.size(2),
            hr_reference.size(3)));
      }
      const int64_t half = n / 2;
      sequence = torch::cat({low.narrow(1, 0, half), hr_reference.unsqueeze(1), low.narrow(1, half, n - half)}, 1);
    } else {
      sequence = low;
    }
  } else {
    sequence = hr_reference.unsqueeze(1);  // frames = 1: the Transformer sees the keyframe alone
  }
  t.sequence = sequence;
  at::Tensor temporal_out = temporal(sequence);
  t.temporal = temporal_out;
  at::Tensor tokens = config_.mode == "hybrid" ? torch::gelu(fuse->forward(torch::cat({hr_tokens, temporal_out}, 1)))
                                               : temporal_out;
  t.tokens = tokens;
  const int64_t h = tokens.size(2), w = tokens.size(3);
  return {tokens.flatten(2).transpose(1, 2), h, w};
}

}  // namespace hdv::models
