// Hybrid video encoder: every intermediate shape of docs/design.md §4 on a tiny configuration, the
// variants, shape checks with errors naming the tensor, and the TimeSformer block's details.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "core/error.h"
#include "models/video_encoder.h"
#include "tests/core/test_support.h"

namespace hdv::models {
namespace {

using Shape = std::vector<int64_t>;

// A CPU-sized encoder: ResNet base width 8 (C4 128, C5 256 channels), 2 blocks of width 32.
VideoEncoderConfig tiny_config(const std::string& mode = "hybrid") {
  VideoEncoderConfig config;
  config.mode = mode;
  config.backbone.layers = {1, 1, 1, 1};
  config.backbone.base_width = 8;
  config.hidden = 32;
  config.depth = 2;
  config.heads = 4;
  config.grid_height = 2;
  config.grid_width = 4;
  return config;
}

// Keyframe 128 x 256 (HR), neighbours 32 x 64 (LR = 1/4), batch 2, T = 7.
struct Clip {
  at::Tensor keyframe = torch::rand({2, 3, 128, 256}) * 2 - 1;
  at::Tensor neighbours = torch::rand({2, 6, 3, 32, 64}) * 2 - 1;
};

TEST(VideoEncoder, HybridForwardHasEveryIntermediateShape) {
  torch::manual_seed(0);
  VideoEncoder encoder(tiny_config());
  encoder->eval();
  Clip clip;
  VideoEncoderTrace trace;
  VisualTokens out = encoder->forward(clip.keyframe, clip.neighbours, &trace);
  EXPECT_EQ(trace.hr_stem.sizes(), (Shape{2, 8, 32, 64}));    // stem: stride 4
  EXPECT_EQ(trace.hr_c2.sizes(), (Shape{2, 32, 32, 64}));     // layer1: stride 4
  EXPECT_EQ(trace.hr_c3.sizes(), (Shape{2, 64, 16, 32}));     // layer2: stride 8
  EXPECT_EQ(trace.hr_c5.sizes(), (Shape{2, 256, 4, 8}));      // C5: stride 32
  EXPECT_EQ(trace.hr_c4.sizes(), (Shape{2, 128, 8, 16}));     // C4: stride 16
  EXPECT_EQ(trace.hr_tokens.sizes(), (Shape{2, 32, 2, 4}));   // 1x1 conv, MaxPool 2x2, GELU
  EXPECT_EQ(trace.hr_reference.sizes(), (Shape{2, 32, 2, 4}));  // C4 resized to the grid
  EXPECT_EQ(trace.lr_c4.sizes(), (Shape{12, 128, 2, 4}));     // 6 neighbours per clip
  EXPECT_EQ(trace.sequence.sizes(), (Shape{2, 7, 32, 2, 4}));  // [LR x3, HR ref, LR x3]
  EXPECT_EQ(trace.temporal.sizes(), (Shape{2, 32, 2, 4}));     // middle time step
  EXPECT_EQ(out.tokens.sizes(), (Shape{2, 8, 32}));            // h*w visual tokens
  EXPECT_TRUE(torch::equal(trace.tokens.flatten(2).transpose(1, 2), out.tokens));  // the same tokens as a map
  EXPECT_EQ(out.height, 2);
  EXPECT_EQ(out.width, 4);
  EXPECT_TRUE(torch::isfinite(out.tokens).all().item<bool>());
  // The HR reference sits in the middle of the sequence.
  EXPECT_TRUE(torch::equal(trace.sequence.select(1, 3), trace.hr_reference));
}

// HD-VILA's released code resizes C4 with F.interpolate's default ("nearest"): every 4th row
// and column of the 8 x 16 C4 of this clip. "bilinear" (the default) averages neighbours instead.
TEST(VideoEncoder, NearestHrReferenceResizeTakesEveryFourthRowAndColumnOfC4) {
  torch::manual_seed(0);
  VideoEncoderConfig config = tiny_config();
  config.hr_reference_resize = "nearest";
  VideoEncoder encoder(config);
  encoder->eval();
  Clip clip;
  VideoEncoderTrace trace;
  encoder->forward(clip.keyframe, clip.neighbours, &trace);
  using torch::indexing::Slice;
  const at::Tensor every_fourth = trace.hr_c4.index({Slice(), Slice(), Slice(0, 8, 4), Slice(0, 16, 4)});
  EXPECT_TRUE(torch::allclose(trace.hr_reference, torch::gelu(encoder->grid_encoder_low->forward(every_fourth)), 0, 0));

  VideoEncoder bilinear(tiny_config());
  bilinear->eval();
  torch::NoGradGuard no_grad;
  for (auto& item : bilinear->named_parameters()) item.value().copy_(encoder->named_parameters()[item.key()]);
  VideoEncoderTrace smooth;
  bilinear->forward(clip.keyframe, clip.neighbours, &smooth);
  EXPECT_TRUE(torch::equal(smooth.hr_c4, trace.hr_c4));
  EXPECT_FALSE(torch::allclose(smooth.hr_reference, trace.hr_reference, 1e-3, 1e-3));

  config.hr_reference_resize = "area";
  HDV_EXPECT_THROW_MSG(VideoEncoder{config}, core::ConfigError,
                       "video hr_reference_resize=\"area\" must be bilinear or nearest");
}

// time_embed_init: zeros (TimeSformer's start) or a truncated normal of std 0.02, like pos_embed.
TEST(VideoEncoder, TimeEmbeddingStartsAtZerosOrATruncatedNormal) {
  torch::manual_seed(0);
  VideoEncoderConfig config = tiny_config();
  VideoEncoder zeros(config);
  EXPECT_TRUE(torch::equal(zeros->time_embed, torch::zeros_like(zeros->time_embed)));
  config.time_embed_init = "normal";
  VideoEncoder normal(config);
  EXPECT_EQ(normal->time_embed.sizes(), zeros->time_embed.sizes());
  EXPECT_LE(normal->time_embed.abs().max().item<double>(), 0.04 + 1e-7);  // clamped at 2 std
  EXPECT_NEAR(normal->time_embed.std().item<double>(), 0.02, 0.004);
  // The frames differ from one another from the start.
  EXPECT_GT((normal->time_embed.select(1, 0) - normal->time_embed.select(1, 2)).abs().sum().item<double>(), 0.0);
  config.time_embed_init = "uniform";
  HDV_EXPECT_THROW_MSG(VideoEncoder{config}, core::ConfigError, "video time_embed_init=\"uniform\" must be zeros or normal");
}

TEST(VideoEncoder, VariantsForAblation) {
  torch::manual_seed(0);
  Clip clip;
  VideoEncoder hr_only(tiny_config("hr-only"));
  VisualTokens hr = hr_only->forward(clip.keyframe, at::Tensor());
  EXPECT_EQ(hr.tokens.sizes(), (Shape{2, 8, 32}));
  EXPECT_FALSE(hr_only->lr_backbone);
  EXPECT_FALSE(hr_only->fuse);

  VideoEncoder lr_only(tiny_config("lr-only"));
  VideoEncoderTrace trace;
  VisualTokens lr = lr_only->forward(torch::rand({2, 3, 32, 64}), clip.neighbours, &trace);
  EXPECT_EQ(lr.tokens.sizes(), (Shape{2, 8, 32}));
  EXPECT_EQ(trace.lr_c4.sizes(), (Shape{14, 128, 2, 4}));  // all 7 frames at low resolution
  EXPECT_FALSE(lr_only->hr_backbone);

  // A full-size keyframe (what the clip sampler gives) is seen at the neighbours' size: the same
  // tokens as the keyframe bicubic-downscaled by the caller.
  lr_only->eval();
  at::Tensor small = torch::nn::functional::interpolate(clip.keyframe, torch::nn::functional::InterpolateFuncOptions()
                                                                           .size(std::vector<int64_t>{32, 64})
                                                                           .mode(torch::kBicubic)
                                                                           .align_corners(false))
                         .clamp(-1, 1);
  at::Tensor from_full = lr_only->forward(clip.keyframe, clip.neighbours).tokens;
  at::Tensor from_small = lr_only->forward(small, clip.neighbours).tokens;
  EXPECT_EQ(from_full.sizes(), (Shape{2, 8, 32}));
  EXPECT_LT((from_full - from_small).abs().max().item<float>(), 1e-6);
}

TEST(VideoEncoder, RejectsWrongFrameCountResolutionAndChannels) {
  VideoEncoder encoder(tiny_config());
  Clip clip;
  HDV_EXPECT_THROW_MSG(encoder->forward(clip.keyframe, torch::rand({2, 5, 3, 32, 64})), core::Error,
                       "neighbours: expected [2, 6, 3, h, w] (batch of the keyframe, frames - 1 = 6), got [2, 5, 3, 32, 64]");
  HDV_EXPECT_THROW_MSG(encoder->forward(clip.keyframe, torch::rand({2, 6, 3, 64, 128})), core::Error,
                       "neighbours: 64x128 frames give a 4x8 token grid but the keyframe gives 2x4; low-resolution "
                       "frames must be 1/4 of the keyframe's size");
  HDV_EXPECT_THROW_MSG(encoder->forward(torch::rand({2, 4, 128, 256}), clip.neighbours), core::Error,
                       "keyframe: expected [B, 3, H, W], got [2, 4, 128, 256]");
  HDV_EXPECT_THROW_MSG(encoder->forward(clip.keyframe, at::Tensor()), core::Error,
                       "neighbours: expected [B, 6, 3, h, w], got none");
  HDV_EXPECT_THROW_MSG(encoder->forward(torch::rand({1, 3, 32, 32}), torch::rand({1, 6, 3, 8, 8})), core::Error,
                       "keyframe: 32x32 pixels is too small for the HR path");
}

TEST(VideoEncoder, PositionEmbeddingFollowsTheGrid) {
  torch::manual_seed(0);
  VideoEncoder encoder(tiny_config());
  encoder->eval();
  // 256 x 256 keyframe -> 4 x 4 grid where the embedding was learned on 2 x 4: interpolated.
  VisualTokens out = encoder->forward(torch::rand({1, 3, 256, 256}), torch::rand({1, 6, 3, 64, 64}));
  EXPECT_EQ(out.height, 4);
  EXPECT_EQ(out.width, 4);
  EXPECT_EQ(out.tokens.sizes(), (Shape{1, 16, 32}));
}

TEST(VideoEncoder, ConfigErrorsNameTheField) {
  VideoEncoderConfig config = tiny_config();
  config.frames = 6;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "video frames=6 must be odd");
  config = tiny_config("stereo");
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "video mode=\"stereo\" must be hybrid, hr-only or lr-only");
  config = tiny_config();
  config.heads = 5;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "video hidden=32 must be divisible by heads=5");
}

TEST(VideoEncoder, LrStageFourIsKeptOnlyWhenAsked) {
  VideoEncoderConfig config = tiny_config();
  VideoEncoder lean(config);
  config.lr_last_stage = 4;
  VideoEncoder full(config);
  auto count = [](torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.numel();
    return n;
  };
  int64_t layer4 = 0;
  for (const auto& item : full->hr_backbone->named_parameters()) {
    if (item.key().rfind("layer4.", 0) == 0) layer4 += item.value().numel();
  }
  EXPECT_GT(layer4, 0);
  EXPECT_EQ(count(*full) - count(*lean), layer4);
}

TEST(SpaceTimeBlock, TemporalFcStartsAtZeroAfterTheFirstBlock) {
  VideoEncoder encoder(tiny_config());
  auto first = encoder->blocks[0]->as<SpaceTimeBlock>();
  auto second = encoder->blocks[1]->as<SpaceTimeBlock>();
  EXPECT_GT(first->temporal_fc->weight.abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(second->temporal_fc->weight.abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(second->temporal_fc->bias.abs().sum().item<float>(), 0.0f);
  // Names follow TimeSformer's, so its weights map by name.
  auto params = encoder->named_parameters();
  for (const char* name : {"blocks.1.temporal_attn.qkv.weight", "blocks.1.temporal_fc.weight", "blocks.0.attn.proj.bias",
                           "blocks.0.mlp.fc2.weight", "blocks.0.norm1.weight", "pos_embed", "time_embed",
                           "grid_encoder_low.weight", "hr_proj.weight", "fuse.weight", "hr_backbone.layer4.0.conv2.weight",
                           "lr_backbone.layer3.0.downsample.0.weight"}) {
    EXPECT_NE(params.find(name), nullptr) << name;
  }
  EXPECT_EQ(params.find("hr_proj.bias"), nullptr);  // no bias, as the released model
}

TEST(SpaceTimeBlock, DividedAttentionMixesTimeOnlyThroughTemporalAttention) {
  torch::manual_seed(0);
  SpaceTimeBlockConfig config;
  config.dim = 16;
  config.heads = 2;
  SpaceTimeBlock block(config, /*zero_init_temporal_fc=*/true);
  block->eval();
  // With temporal_fc at zero, time steps are independent: changing step 0 leaves step 1 alone.
  at::Tensor x = torch::randn({1, 3, 5, 16});
  at::Tensor y = block->forward(x);
  at::Tensor x2 = x.clone();
  x2.select(1, 0).add_(1.0);
  at::Tensor y2 = block->forward(x2);
  EXPECT_TRUE(torch::allclose(y.select(1, 1), y2.select(1, 1), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(y.select(1, 0), y2.select(1, 0), 1e-3, 1e-3));
}

TEST(SpaceTimeBlock, DropPathIsIdentityInEvalAndStochasticInTraining) {
  at::Tensor x = torch::ones({1000, 4});
  EXPECT_TRUE(torch::equal(drop_path(x, 0.5, false), x));
  at::Tensor y = drop_path(x, 0.5, true);
  double kept = y.select(1, 0).gt(0).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(kept, 0.5, 0.08);
  EXPECT_NEAR(y.mean().item<double>(), 1.0, 0.15);  // survivors are scaled by 1/(1-p)
}

}  // namespace
}  // namespace hdv::models
