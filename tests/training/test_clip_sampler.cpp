// Tests for training/clip_sampler.h: segment frame indices (training offsets inside each part,
// centred evaluation, short clips), the config checks and presets, and real decoding of small
// videos written by the test: which frames were sampled (each frame's grey level encodes its
// index), output shapes in every resolution mode, one crop shared by all frames, determinism.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "core/video_io.h"
#include "tests/core/test_support.h"
#include "training/clip_sampler.h"

namespace hdv::train {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using Indices = std::vector<int64_t>;

constexpr int kFrames = 40;
constexpr double kFps = 24;
constexpr int kWidth = 64, kHeight = 48;

// Frame i is uniform grey at level 16 + 6 i (of 255): lossy coding moves a level by 1-2, and any
// crop or resize of a uniform frame keeps its level.
at::Tensor grey_frame(int64_t index) {
  return torch::full({3, kHeight, kWidth}, (16.0 + 6.0 * double(index)) / 127.5 - 1.0);
}

int64_t decoded_index(const at::Tensor& frame) {
  const double level = (frame.mean().item<double>() + 1.0) * 127.5;
  return std::lround((level - 16.0) / 6.0);
}

void write_grey_video(const fs::path& path) {
  core::VideoWriter writer(path, kFps, kWidth, kHeight);
  for (int i = 0; i < kFrames; ++i) writer.write(grey_frame(i));
  writer.close();
}

// A static, smooth texture (the same every frame), so a crop's position can be found again.
void write_texture_video(const fs::path& path) {
  at::Tensor y = torch::arange(kHeight, torch::kFloat32).view({1, kHeight, 1});
  at::Tensor x = torch::arange(kWidth, torch::kFloat32).view({1, 1, kWidth});
  at::Tensor r = torch::sin(x * 0.21 + y * 0.07) * torch::cos(y * 0.17 - x * 0.05);
  at::Tensor g = torch::sin(y * 0.23 + 1.0) * torch::cos(x * 0.13);
  at::Tensor b = torch::cos(x * 0.09 + y * 0.11);
  at::Tensor frame = (torch::cat({r, g, b}, 0) * 0.8).contiguous();
  core::VideoWriter writer(path, kFps, kWidth, kHeight);
  for (int i = 0; i < 8; ++i) writer.write(frame);
  writer.close();
}

ClipRecord clip_of(const fs::path& video, std::optional<core::TimeSpan> span = std::nullopt) {
  ClipRecord clip;
  clip.clip_id = "c";
  clip.video_id = "v";
  clip.video = video;
  clip.span = span;
  clip.texts = {"a clip"};
  return clip;
}

// 2 segments x 3 frames, the test video's own size, a 32x48 crop, LR 8x12.
ClipSamplerConfig small_config(const std::string& resolution = "720p") {
  ClipSamplerConfig config;
  config.segments = 2;
  config.frames = 3;
  config.sample_rate = 4;
  config.resolution = resolution;
  config.frame_height = kHeight;
  config.frame_width = kWidth;
  config.crop_height = 32;
  config.crop_width = 48;
  config.lr_factor = 4;
  return config;
}

ClipSamplerConfig index_config(int segments, int frames, int rate) {
  ClipSamplerConfig config;
  config.segments = segments;
  config.frames = frames;
  config.sample_rate = rate;
  return config;
}

TEST(ClipSampler, EvalSegmentsAreCentredInTheirParts) {
  // 200 frames, 2 parts of 100; window (7-1)*12+1 = 73 -> offset (100-73)/2 = 13.
  EXPECT_EQ(segment_frame_indices(0, 200, index_config(2, 7, 12), 0, false),
            (Indices{13, 25, 37, 49, 61, 73, 85, 113, 125, 137, 149, 161, 173, 185}));
  EXPECT_EQ(segment_frame_indices(100, 300, index_config(2, 7, 12), 99, false),
            (Indices{113, 125, 137, 149, 161, 173, 185, 213, 225, 237, 249, 261, 273, 285}));
}

TEST(ClipSampler, TrainSegmentsStayInsideTheirPartsAtRandomOffsets) {
  const ClipSamplerConfig config = index_config(2, 7, 12);
  std::set<int64_t> offsets[2];
  for (uint64_t seed = 0; seed < 64; ++seed) {
    Indices indices = segment_frame_indices(50, 250, config, seed, true);
    ASSERT_EQ(indices.size(), 14u);
    EXPECT_EQ(indices, segment_frame_indices(50, 250, config, seed, true)) << "seed " << seed;
    for (int s = 0; s < 2; ++s) {
      const int64_t part_begin = 50 + 100 * s, part_end = part_begin + 100;
      for (int t = 0; t < 7; ++t) {
        const int64_t index = indices[s * 7 + t];
        EXPECT_GE(index, part_begin);
        EXPECT_LT(index, part_end);
        if (t > 0) {
          EXPECT_EQ(index - indices[s * 7 + t - 1], 12);  // the full rate: the part is long enough
        }
      }
      offsets[s].insert(indices[s * 7] - part_begin);
    }
  }
  // Offsets range over [0, 100 - 73] = 28 values; 64 seeds reach many of them, per segment.
  EXPECT_GT(offsets[0].size(), 15u);
  EXPECT_GT(offsets[1].size(), 15u);
  EXPECT_LE(*offsets[0].rbegin(), 27);
  EXPECT_NE(segment_frame_indices(50, 250, config, 1, true), segment_frame_indices(50, 250, config, 2, true));
}

TEST(ClipSampler, ShortClipsShrinkTheRate) {
  // Parts of 20 frames: rate 12 needs 73, so the rate becomes (20-1)/(7-1) = 3 (window 19).
  EXPECT_EQ(segment_frame_indices(0, 40, index_config(2, 7, 12), 0, false),
            (Indices{0, 3, 6, 9, 12, 15, 18, 20, 23, 26, 29, 32, 35, 38}));
  for (uint64_t seed = 0; seed < 16; ++seed) {
    Indices indices = segment_frame_indices(0, 40, index_config(2, 7, 12), seed, true);
    EXPECT_LE(indices[0], 1);  // offset 0 or 1
    EXPECT_EQ(indices[6] - indices[0], 18);
  }
}

TEST(ClipSampler, VeryShortClipsRepeatFrames) {
  // Parts of 5 frames, shorter than 7 even at rate 1: centred and clamped to the part.
  EXPECT_EQ(segment_frame_indices(10, 20, index_config(2, 7, 12), 0, true),
            (Indices{10, 10, 11, 12, 13, 14, 14, 15, 15, 16, 17, 18, 19, 19}));
  // One frame for two segments: every index is that frame.
  EXPECT_EQ(segment_frame_indices(10, 11, index_config(2, 3, 4), 0, false), (Indices{10, 10, 10, 10, 10, 10}));
  HDV_EXPECT_THROW_MSG(segment_frame_indices(5, 5, index_config(2, 3, 4), 0, false), core::Error,
                       "segment_frame_indices: frame range [5, 5) holds no frame");
}

TEST(ClipSampler, ConfigErrorsNameTheField) {
  auto error = [](auto change) {
    ClipSamplerConfig config;
    change(config);
    return test::error_text<core::ConfigError>([&] { config.validate(); });
  };
  EXPECT_EQ(error([](auto& c) { c.frames = 6; }), "clip sampler config: frames=6 must be odd (the keyframe is the middle frame)");
  EXPECT_EQ(error([](auto& c) { c.segments = 0; }), "clip sampler config: segments=0 must be >= 1");
  EXPECT_EQ(error([](auto& c) { c.crop_height = 650; }), "clip sampler config: crop_height=650 must be divisible by lr_factor=4");
  EXPECT_EQ(error([](auto& c) { c.crop_width = 2048; }),
            "clip sampler config: crop 640x2048 (crop_height x crop_width) must fit in the frame 720x1280");
  EXPECT_EQ(error([](auto& c) { c.resolution = "4k"; }), "clip sampler config: resolution=\"4k\": expected one of 720p, 360p, 180p");
  EXPECT_EQ(error([](auto& c) {
              c.resolution = "180p";
              c.frame_height = 722;
            }),
            "clip sampler config: frame_height=722 must be divisible by 4 for resolution 180p");
}

TEST(ClipSampler, PresetsMatchTheModelPresets) {
  ClipSamplerConfig base = sampler_preset("hdvila-base");
  EXPECT_EQ(base.frame_height, 720);
  EXPECT_EQ(base.frame_width, 1280);
  EXPECT_EQ(base.crop_height, 640);
  EXPECT_EQ(base.crop_width, 1024);
  EXPECT_EQ(base.lr_height(), 160);
  EXPECT_EQ(base.lr_width(), 256);
  EXPECT_EQ(base.sample_rate, 12);
  EXPECT_EQ(base.frames, 7);
  EXPECT_EQ(base.segments, 2);
  ClipSamplerConfig small = sampler_preset("hdvila-small");
  EXPECT_EQ(std::vector<int>({small.frame_height, small.frame_width, small.crop_height, small.crop_width, small.sample_rate,
                              small.frames, small.segments}),
            std::vector<int>({160, 160, 128, 128, 2, 7, 2}));
  ClipSamplerConfig tiny = sampler_preset("hdvila-tiny");
  EXPECT_EQ(std::vector<int>({tiny.frame_height, tiny.frame_width, tiny.crop_height, tiny.crop_width, tiny.sample_rate,
                              tiny.frames, tiny.segments}),
            std::vector<int>({72, 136, 64, 128, 1, 3, 2}));
  EXPECT_EQ(test::error_text<core::ConfigError>([] { sampler_preset("hdvila-huge"); }),
            "unknown sampler preset \"hdvila-huge\" (known: hdvila-base, hdvila-small, hdvila-tiny)");
}

TEST(ClipSampler, DecodesTheIndexedFramesKeyframeInTheMiddle) {
  TempDir dir;
  write_grey_video(dir / "grey.mp4");
  ClipSampler sampler(small_config());
  ClipRecord clip = clip_of(dir / "grey.mp4");
  for (bool train : {false, true}) {
    ClipSample sample = sampler.sample(clip, 7, train);
    EXPECT_EQ(sample.frame_indices, segment_frame_indices(0, kFrames, sampler.config(), 7, train));
    for (int s = 0; s < 2; ++s) {
      EXPECT_EQ(decoded_index(sample.keyframes[s]), sample.frame_indices[s * 3 + 1]) << "segment " << s;
      EXPECT_EQ(decoded_index(sample.neighbours[s][0]), sample.frame_indices[s * 3 + 0]) << "segment " << s;
      EXPECT_EQ(decoded_index(sample.neighbours[s][1]), sample.frame_indices[s * 3 + 2]) << "segment " << s;
    }
  }
  // Eval: parts of 20 frames, window 9 at rate 4, offset 5.
  EXPECT_EQ(sampler.sample(clip, 0, false).frame_indices, (Indices{5, 9, 13, 25, 29, 33}));
}

TEST(ClipSampler, SpanSelectsTheFramesOfTheClip) {
  TempDir dir;
  write_grey_video(dir / "grey.mp4");
  ClipSampler sampler(small_config());
  // 00:00:00.500-00:00:01.250 at 24 fps = frames [12, 30): parts [12, 21) and [21, 30), window 9.
  ClipRecord clip = clip_of(dir / "grey.mp4", core::parse_time_span("00:00:00.500-00:00:01.250"));
  ClipSample sample = sampler.sample(clip, 0, false);
  EXPECT_EQ(sample.frame_indices, (Indices{12, 16, 20, 21, 25, 29}));
  EXPECT_EQ(decoded_index(sample.keyframes[0]), 16);
  EXPECT_EQ(decoded_index(sample.keyframes[1]), 25);
}

TEST(ClipSampler, ShapesAreTheSameInEveryResolutionMode) {
  TempDir dir;
  write_grey_video(dir / "grey.mp4");
  ClipRecord clip = clip_of(dir / "grey.mp4");
  for (const char* resolution : {"720p", "360p", "180p"}) {
    ClipSampler sampler(small_config(resolution));
    ClipSample sample = sampler.sample(clip, 3, true);
    EXPECT_EQ(sample.keyframes.sizes(), (std::vector<int64_t>{2, 3, 32, 48})) << resolution;
    EXPECT_EQ(sample.neighbours.sizes(), (std::vector<int64_t>{2, 2, 3, 8, 12})) << resolution;
    EXPECT_EQ(sample.keyframes.scalar_type(), torch::kFloat32);
    EXPECT_GE(sample.keyframes.min().item<float>(), -1.0f);
    EXPECT_LE(sample.keyframes.max().item<float>(), 1.0f);
    EXPECT_EQ(decoded_index(sample.keyframes[1]), sample.frame_indices[4]) << resolution;
  }
  // Frames larger than the video are enlarged first (bicubic): a 96x128 frame, 64x96 crop.
  ClipSamplerConfig large = small_config();
  large.frame_height = 96;
  large.frame_width = 128;
  large.crop_height = 64;
  large.crop_width = 96;
  ClipSample sample = ClipSampler(large).sample(clip, 3, true);
  EXPECT_EQ(sample.keyframes.sizes(), (std::vector<int64_t>{2, 3, 64, 96}));
  EXPECT_EQ(sample.neighbours.sizes(), (std::vector<int64_t>{2, 2, 3, 16, 24}));
}

// Mean absolute difference between `crop` and every same-size window of `frame`: the best offset.
std::pair<int64_t, int64_t> locate_crop(const at::Tensor& frame, const at::Tensor& crop, double* best_error) {
  const int64_t h = crop.size(1), w = crop.size(2);
  double best = 1e9;
  std::pair<int64_t, int64_t> where{-1, -1};
  for (int64_t y = 0; y + h <= frame.size(1); ++y) {
    for (int64_t x = 0; x + w <= frame.size(2); ++x) {
      double error = (frame.narrow(1, y, h).narrow(2, x, w) - crop).abs().mean().item<double>();
      if (error < best) {
        best = error;
        where = {y, x};
      }
    }
  }
  *best_error = best;
  return where;
}

TEST(ClipSampler, OneCropIsSharedByEveryFrameOfTheClip) {
  TempDir dir;
  write_texture_video(dir / "texture.mp4");
  ClipSampler sampler(small_config());
  ClipRecord clip = clip_of(dir / "texture.mp4");
  core::VideoReader reader(dir / "texture.mp4");
  std::set<std::pair<int64_t, int64_t>> seen;
  for (uint64_t seed : {1, 2, 3, 4, 5, 6}) {
    ClipSample sample = sampler.sample(clip, seed, true);
    at::Tensor full = reader.read_frames({sample.frame_indices[1]})[0];
    double error = 0;
    auto offset = locate_crop(full, sample.keyframes[0], &error);
    EXPECT_LT(error, 1e-6) << "the 720p keyframe is an exact crop of its frame";
    EXPECT_EQ(offset.first % 4, 0) << "the crop's corner lies on the LR grid (lr_factor 4)";
    EXPECT_EQ(offset.second % 4, 0) << "the crop's corner lies on the LR grid (lr_factor 4)";
    seen.insert(offset);
    // The other segment's keyframe (another frame of the static video) has the same crop, and
    // every neighbour is that crop down-scaled.
    at::Tensor other_full = reader.read_frames({sample.frame_indices[4]})[0];
    EXPECT_LT((sample.keyframes[1] - other_full.narrow(1, offset.first, 32).narrow(2, offset.second, 48)).abs().max().item<float>(),
              1e-6);
    at::Tensor lr = torch::nn::functional::interpolate(
                        sample.keyframes, torch::nn::functional::InterpolateFuncOptions()
                                              .size(std::vector<int64_t>{8, 12})
                                              .mode(torch::kBicubic)
                                              .align_corners(false))
                        .clamp(-1, 1);
    for (int s = 0; s < 2; ++s) {
      for (int t = 0; t < 2; ++t) {
        EXPECT_LT((sample.neighbours[s][t] - lr[s]).abs().mean().item<float>(), 0.02) << "segment " << s << " frame " << t;
      }
    }
  }
  EXPECT_GE(seen.size(), 3u) << "different seeds, different crops";

  // Evaluation: the centre crop, (48-32)/2 = 8 rows and (64-48)/2 = 8 columns in.
  ClipSample centred = sampler.sample(clip, 1, false);
  double error = 0;
  at::Tensor full = reader.read_frames({centred.frame_indices[1]})[0];
  EXPECT_EQ(locate_crop(full, centred.keyframes[0], &error), (std::pair<int64_t, int64_t>{8, 8}));
}

TEST(ClipSampler, SameSeedSameSample) {
  TempDir dir;
  write_texture_video(dir / "texture.mp4");
  ClipSampler sampler(small_config("360p"));
  ClipRecord clip = clip_of(dir / "texture.mp4");
  ClipSample a = sampler.sample(clip, 42, true), b = sampler.sample(clip, 42, true), c = sampler.sample(clip, 43, true);
  EXPECT_TRUE(torch::equal(a.keyframes, b.keyframes));
  EXPECT_TRUE(torch::equal(a.neighbours, b.neighbours));
  EXPECT_EQ(a.frame_indices, b.frame_indices);
  EXPECT_FALSE(torch::equal(a.keyframes, c.keyframes));
}

TEST(ClipSampler, BadVideosNameTheFile) {
  TempDir dir;
  ClipSampler sampler(small_config());
  ClipRecord missing = clip_of(dir / "missing.mp4");
  EXPECT_EQ(test::error_text<core::IoError>([&] { sampler.sample(missing, 0, true); }),
            (dir / "missing.mp4").string() + ": no such file");
  test::write_bytes(dir / "garbage.mp4", std::string(4096, '\x5a'));
  ClipRecord garbage = clip_of(dir / "garbage.mp4");
  HDV_EXPECT_THROW_MSG(sampler.sample(garbage, 0, true), core::FormatError, (dir / "garbage.mp4").string() + ": ");
  // A span past the end of the video.
  write_grey_video(dir / "grey.mp4");
  ClipRecord late = clip_of(dir / "grey.mp4", core::parse_time_span("00:00:05.000-00:00:06.000"));
  EXPECT_EQ(test::error_text<core::FormatError>([&] { sampler.sample(late, 0, true); }),
            (dir / "grey.mp4").string() + ": span 00:00:05.000-00:00:06.000 starts after the end of the video (00:00:01.667)");
}

}  // namespace
}  // namespace hdv::train
