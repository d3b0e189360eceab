// Still-image training data for the generator and the attribute oracle: an image folder,
// SynthVid keyframes (with their attribute labels) or Fashion-MNIST, decoded once into memory.
//
// SynthVid: DIR/<split>/labels.jsonl names every clip; the clip's frames are decoded from
// DIR/<split>/video_clips/<video_id>/<clip_id> (frames_per_clip frames spread evenly over the
// clip, the middle one when 1) and resized to `resolution` when the video's size differs
// (write SynthVid with `synth --size 128` to keep the 4-pixel textures exact).
// Decoding runs on `jobs` threads into per-item slots, so the order (sorted paths, labels.jsonl
// order, IDX order) is the same for any thread count; an unreadable file or clip is logged as a
// warning, counted in `skipped` and left out, up to 1 % of the items.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/progress.h"
#include "generation/generator.h"

namespace hdv::train {

struct ImageSourceOptions {
  std::string kind = "auto";     // "folder", "synthvid", "fashion-mnist" or "auto" (from the path)
  std::filesystem::path path;    // image folder, SynthVid root, or the Fashion-MNIST IDX folder
  std::string split = "train";   // SynthVid split; Fashion-MNIST: "train" (60k) or "test" (10k)
  int64_t resolution = 128;      // images are resized (area) to resolution × resolution (a non-square
                                 // image is centre-cropped to a square first; enlarging is bilinear)
  int64_t frames_per_clip = 1;   // SynthVid: frames taken from each clip
  int64_t limit = 0;             // keep at most this many images (0 = all)
  int64_t jobs = 0;              // decoding threads (0 = hardware threads)
  std::filesystem::path labels;  // folder only: a JSONL labels file, one line per image:
                                 // {"image": "sub/a.png", "class": "dress", "colour": "red"} (the
                                 // path relative to the folder; every image needs a line)
};

struct LabelledImages {
  at::Tensor pixels;               // uint8 [N, 3, R, R]
  std::vector<core::Json> labels;  // per image: SynthVid labels line of its clip ({} elsewhere;
                                   // Fashion-MNIST: {"objects":[{"class": name}]})
  std::vector<std::string> sources;  // per image: "path" or "path#frame"
  int64_t skipped = 0;             // unreadable files / clips skipped (each logged)

  int64_t size() const { return pixels.defined() ? pixels.size(0) : 0; }
};

// Reads every image of the source. Throws core::IoError / FormatError naming the path when the
// source itself is missing or malformed (a malformed labels line names file:line), and
// core::Error when more than 1% of the images cannot be decoded.
LabelledImages load_images(const ImageSourceOptions& options, const core::ProgressCallback& progress = {});

// The attribute `name` of one image's labels: SynthVid / Fashion-MNIST `objects[0][name]` (the
// primary object), else the top-level key (a folder's labels file); "" when it has none.
std::string image_attribute(const core::Json& labels, const std::string& name);

// The label vocabulary of `names` over `images` (each attribute's values sorted, as the one-hot
// columns of a conditional generator) and every image's value indices. Throws core::Error naming
// the first image without one of the attributes, or an attribute with fewer than 2 values.
struct ImageLabelTable {
  std::vector<gen::LabelAttribute> vocabulary;
  std::vector<std::vector<int64_t>> choices;  // per image, one index per attribute
};
ImageLabelTable image_label_table(const LabelledImages& images, const std::vector<std::string>& names);

// float [B, 3, R, R] in [-1, 1] of the images at `indices`; hflip mirrors each with probability
// 0.5 using `generator`-free torch RNG (the global seed).
at::Tensor image_batch(const LabelledImages& images, const std::vector<int64_t>& indices, bool hflip = false);

}  // namespace hdv::train
