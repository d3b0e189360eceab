// The HD-VILA clip sampler (see clip_sampler.h; docs/design.md §4; microsoft/XPretrain
// hd-vila/src/datasets/dataset_pretrain.py load_video + process_img_array).
#include "training/clip_sampler.h"

#include <torch/torch.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/splitmix.h"
#include "core/video_io.h"

namespace hdv::train {
namespace {

// Crops are drawn from their own stream so that changing the segment layout keeps the crop.
constexpr uint64_t kCropStream = 0xC2B2AE3D27D4EB4FULL;

// x: [N, 3, h, w] -> [N, 3, height, width], bicubic (a = -0.75, half-pixel centres, no
// anti-aliasing: what cv2.resize INTER_CUBIC does in the released code), clamped to [-1, 1].
at::Tensor bicubic(const at::Tensor& x, int height, int width) {
  if (x.size(2) == height && x.size(3) == width) return x.contiguous();
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{height, width})
                               .mode(torch::kBicubic)
                               .align_corners(false))
      .clamp_(-1.0, 1.0);
}

void require_positive(const char* name, int value) {
  if (value < 1) throw core::ConfigError(fmt::format("clip sampler config: {}={} must be >= 1", name, value));
}

}  // namespace

int ClipSamplerConfig::decode_scale() const {
  if (resolution == "720p") return 1;
  if (resolution == "360p") return 2;
  if (resolution == "180p") return 4;
  throw core::ConfigError(
      fmt::format("clip sampler config: resolution=\"{}\": expected one of 720p, 360p, 180p", resolution));
}

void ClipSamplerConfig::validate() const {
  require_positive("segments", segments);
  require_positive("frames", frames);
  require_positive("sample_rate", sample_rate);
  require_positive("frame_height", frame_height);
  require_positive("frame_width", frame_width);
  require_positive("crop_height", crop_height);
  require_positive("crop_width", crop_width);
  require_positive("lr_factor", lr_factor);
  if (frames % 2 == 0) {
    throw core::ConfigError(fmt::format("clip sampler config: frames={} must be odd (the keyframe is the middle frame)", frames));
  }
  if (crop_height > frame_height || crop_width > frame_width) {
    throw core::ConfigError(fmt::format("clip sampler config: crop {}x{} (crop_height x crop_width) must fit in the frame {}x{}",
                                        crop_height, crop_width, frame_height, frame_width));
  }
  for (auto [name, value] : {std::pair{"crop_height", crop_height}, std::pair{"crop_width", crop_width}}) {
    if (value % lr_factor != 0) {
      throw core::ConfigError(fmt::format("clip sampler config: {}={} must be divisible by lr_factor={}", name, value, lr_factor));
    }
  }
  const int scale = decode_scale();
  for (auto [name, value] : {std::pair{"frame_height", frame_height}, std::pair{"frame_width", frame_width},
                             std::pair{"crop_height", crop_height}, std::pair{"crop_width", crop_width}}) {
    if (value % scale != 0) {
      throw core::ConfigError(fmt::format("clip sampler config: {}={} must be divisible by {} for resolution {}", name,
                                          value, scale, resolution));
    }
  }
}

std::vector<int64_t> segment_frame_indices(int64_t first, int64_t last, const ClipSamplerConfig& config, uint64_t seed,
                                           bool train) {
  if (last <= first) {
    throw core::Error(fmt::format("segment_frame_indices: frame range [{}, {}) holds no frame", first, last));
  }
  const int64_t length = last - first, segments = config.segments, frames = config.frames;
  core::SplitMix64 random(seed);
  std::vector<int64_t> indices;
  indices.reserve(static_cast<size_t>(segments * frames));
  for (int64_t s = 0; s < segments; ++s) {
    const int64_t part_begin = first + length * s / segments;
    const int64_t part_end = first + length * (s + 1) / segments;
    const int64_t part = part_end - part_begin;  // may be 0 when the clip has fewer frames than segments
    int64_t rate = config.sample_rate;
    if (frames > 1 && (frames - 1) * rate + 1 > part) rate = std::max<int64_t>(1, (part - 1) / (frames - 1));
    const int64_t window = (frames - 1) * rate + 1;
    int64_t offset;
    if (window <= part) {
      offset = train ? random.below(part - window + 1) : (part - window) / 2;
    } else {
      offset = -((window - part) / 2);  // shorter than T frames: centred, clamped below
    }
    const int64_t low = std::min(part_begin, last - 1), high = std::max(low, part_end - 1);
    for (int64_t t = 0; t < frames; ++t) {
      indices.push_back(std::clamp(part_begin + offset + t * rate, low, high));
    }
  }
  return indices;
}

ClipSampler::ClipSampler(ClipSamplerConfig config) : config_(std::move(config)) { config_.validate(); }

ClipSample ClipSampler::sample(const ClipRecord& clip, uint64_t seed, bool train) const {
  const ClipSamplerConfig& c = config_;
  core::VideoReader reader(clip.video);
  int64_t first = 0, last = reader.info().frame_count;
  if (clip.span) std::tie(first, last) = reader.frame_range(*clip.span);

  ClipSample sample;
  sample.frame_indices = segment_frame_indices(first, last, c, seed, train);

  // Decode every frame of every segment at once, resized to the (scaled) frame size: area
  // averaging when shrinking, bicubic when a small source video is enlarged.
  const int scale = c.decode_scale();
  const core::FrameSize size{c.frame_width / scale, c.frame_height / scale};
  const bool shrinking = reader.info().width >= size.width && reader.info().height >= size.height;
  at::Tensor frames = reader.read_frames(sample.frame_indices, &size,
                                         shrinking ? core::Interpolation::Area : core::Interpolation::Bicubic);

  // One crop for the whole clip (random in training, centred in evaluation), its corner on a
  // multiple of the LR down-scale factor. Unlike the released code, which crops at any offset:
  // off the LR pixel grid, a pattern of period lr_factor aliases into the LR frames, so fine
  // detail would be legible without the HR branch (docs/training.md, the texture leak).
  const int crop_h = c.crop_height / scale, crop_w = c.crop_width / scale;
  const int64_t align = std::max(1, c.lr_factor / scale);
  core::SplitMix64 random(seed ^ kCropStream);
  const int64_t slack_h = (size.height - crop_h) / align, slack_w = (size.width - crop_w) / align;
  const int64_t top = align * (train ? random.below(slack_h + 1) : slack_h / 2);
  const int64_t left = align * (train ? random.below(slack_w + 1) : slack_w / 2);
  const int64_t segments = c.segments, per_segment = c.frames, middle = per_segment / 2;
  at::Tensor crops = frames.narrow(2, top, crop_h).narrow(3, left, crop_w).reshape({segments, per_segment, 3, crop_h, crop_w});

  // crops: [S, T, 3, h, w] -> keyframes [S, 3, H, W], neighbours [S, T-1, 3, H/f, W/f]
  sample.keyframes = bicubic(crops.select(1, middle), c.crop_height, c.crop_width);
  const int lr_h = c.lr_height(), lr_w = c.lr_width();
  if (per_segment == 1) {
    sample.neighbours = torch::empty({segments, 0, 3, lr_h, lr_w});
  } else {
    at::Tensor others = torch::cat({crops.narrow(1, 0, middle), crops.narrow(1, middle + 1, per_segment - middle - 1)}, 1);
    sample.neighbours = bicubic(others.reshape({segments * (per_segment - 1), 3, crop_h, crop_w}), lr_h, lr_w)
                            .view({segments, per_segment - 1, 3, lr_h, lr_w});
  }
  return sample;
}

std::vector<std::string> sampler_preset_names() { return {"hdvila-base", "hdvila-small", "hdvila-tiny"}; }

ClipSamplerConfig sampler_preset(const std::string& vl_preset) {
  ClipSamplerConfig config;  // the defaults are hdvila-base's
  if (vl_preset == "hdvila-small") {
    config.frame_height = 160;  // SynthVid's frame size: no resampling before the crop
    config.frame_width = 160;
    config.crop_height = 128;
    config.crop_width = 128;
    config.sample_rate = 2;
    config.frames = 7;
    config.segments = 2;
  } else if (vl_preset == "hdvila-tiny") {
    config.frame_height = 72;
    config.frame_width = 136;
    config.crop_height = 64;
    config.crop_width = 128;
    config.sample_rate = 1;
    config.frames = 3;
    config.segments = 2;
  } else if (vl_preset != "hdvila-base") {
    throw core::ConfigError(fmt::format("unknown sampler preset \"{}\" (known: {})", vl_preset,
                                        fmt::join(sampler_preset_names(), ", ")));
  }
  config.validate();
  return config;
}

}  // namespace hdv::train
