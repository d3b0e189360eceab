// The HD-VILA clip sampler: which frames of a clip the model sees, and at what resolution
// (docs/design.md §4 "Sampling").
//
// Reference: microsoft/XPretrain hd-vila/src/datasets/dataset_pretrain.py (load_video,
// process_img_array). A clip gives S segments of T frames, `sample_rate` source frames apart (the
// rate shrinks when the clip is short). The middle frame of a segment is the high-resolution (HR)
// keyframe; the T-1 others are low-resolution (LR) neighbours. Frames are resized to
// frame_height x frame_width, one crop is shared by every frame of the clip, the keyframe keeps the
// crop size and the neighbours are bicubic-downscaled by lr_factor. Unlike the released code,
// where the S middle frames are drawn anywhere in the clip, each segment here lives in its own
// 1/S part of the clip (so segments never overlap and always cover the clip in order), and the
// crop's corner lies on the LR pixel grid (a multiple of the LR down-scale factor), so a pattern of
// that period cannot alias into the LR neighbours.
//
// Resolution modes (what is decoded, as in HD-VILA's 720p/360p/180p pre-training):
//   720p  frames decoded at frame size; HR = the crop, LR = crop / lr_factor (bicubic);
//   360p  decoded at half size, cropped at half size; HR = bicubic x2 up-scale of the crop,
//         LR = crop / (lr_factor / 2);
//   180p  decoded at quarter size; with lr_factor 4 the LR frames are the native crop and HR is a
//         bicubic x4 up-scale.
// Output shapes do not depend on the mode.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "training/dataset.h"

namespace hdv::train {

struct ClipSamplerConfig {
  int segments = 2;                  // segments sampled per clip
  int frames = 7;                    // frames per segment (odd): the HR keyframe (middle) and frames-1 LR neighbours
  int sample_rate = 12;              // source frames between sampled frames (shrinks when the clip is short)
  std::string resolution = "720p";   // 720p | 360p | 180p: decode at full, half or quarter frame size
  int frame_height = 720;            // pixels: frames are resized to this before cropping (720p terms)
  int frame_width = 1280;            // pixels
  int crop_height = 640;             // pixels: the HR keyframe size; one crop shared by all frames of a clip
  int crop_width = 1024;             // pixels
  int lr_factor = 4;                 // LR neighbours are crop / lr_factor (bicubic)

  template <class V>
  void fields(V& v) {
    v("segments", segments);
    v("frames", frames);
    v("sample_rate", sample_rate);
    v("resolution", resolution);
    v("frame_height", frame_height);
    v("frame_width", frame_width);
    v("crop_height", crop_height);
    v("crop_width", crop_width);
    v("lr_factor", lr_factor);
  }
  // Throws core::ConfigError naming the field ("crop_height=650 must be divisible by lr_factor=4").
  void validate() const;

  // 1, 2 or 4: how much smaller than frame size the frames are decoded ("720p", "360p", "180p").
  int decode_scale() const;
  int lr_height() const { return crop_height / lr_factor; }
  int lr_width() const { return crop_width / lr_factor; }
};

struct ClipSample {
  at::Tensor keyframes;                // [S, 3, crop_height, crop_width] float in [-1, 1]
  at::Tensor neighbours;               // [S, T-1, 3, crop_height/lr_factor, crop_width/lr_factor] in [-1, 1]
  std::vector<int64_t> frame_indices;  // S*T source frame indices, segment by segment, in time order
};

// Frame indices of every segment: S*T indices into [first, last) of the source video (first <
// last), segment by segment. The clip is split into S equal parts; segment s takes a window of
// (T-1)*rate+1 frames inside part s — at an offset drawn from `seed` in training, centred in
// evaluation. When a part is shorter than the window, rate shrinks (down to 1); when it is shorter
// than T frames, the window is centred on the part and indices are clamped to it (frames repeat).
std::vector<int64_t> segment_frame_indices(int64_t first, int64_t last, const ClipSamplerConfig& config,
                                           uint64_t seed, bool train);

class ClipSampler {
 public:
  // Validates the config (core::ConfigError).
  explicit ClipSampler(ClipSamplerConfig config);

  // Decodes the clip's frames (one VideoReader::read_frames call) and builds its keyframes and
  // neighbours. train: random segment offsets and crop from `seed`; eval: centred (seed unused).
  // A missing, unreadable or too-short video throws core::IoError / core::FormatError naming the
  // file. Thread-safe: every call opens its own reader.
  ClipSample sample(const ClipRecord& clip, uint64_t seed, bool train) const;

  const ClipSamplerConfig& config() const { return config_; }

 private:
  ClipSamplerConfig config_;
};

std::vector<std::string> sampler_preset_names();

// The sampler geometry that goes with a VL model preset (models/presets.h):
//   hdvila-base   720p: frames 720x1280, crop 640x1024, sample_rate 12, 2 x 7 frames;
//   hdvila-small  frames 160x160, crop 128x128, sample_rate 2, 2 x 7 frames;
//   hdvila-tiny   frames 72x136, crop 64x128, sample_rate 1, 2 x 3 frames.
// Throws core::ConfigError for an unknown name, listing the known ones.
ClipSamplerConfig sampler_preset(const std::string& vl_preset);

}  // namespace hdv::train
