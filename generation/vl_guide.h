// The video-language model as the steering signal of generation: text prompts and images in the
// one joint space (DESIGN.md §7, StyleCLIP with our VL embedding in place of CLIP).
//
// A prompt's embedding is averaged over a few sentence templates and renormalised (StyleCLIP
// averages 79 templates; ours are caption-like, because the VL model learned from captions). An
// image's embedding is the video encoder on a static clip (the image as keyframe, its ×4 bicubic
// down-scale as every neighbour; models/vl_model.h), computed with gradients so that latent
// optimisation and super-resolution can descend through it.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/tokenizer.h"
#include "models/vl_model.h"

namespace hdv::gen {

// Thrown by long operations when their cancel flag is set; the pipeline reports "cancelled".
class Cancelled : public core::Error {
 public:
  Cancelled() : core::Error("cancelled") {}
};

// Throws Cancelled when `flag` is set (a null flag never cancels).
void check_cancel(const std::atomic<bool>* flag);

// The size generator images are resized to for the VL model when none is given: the generator's
// resolution, at least hdvila-small's pre-training keyframe crop (128 px), so a 64-px generator's
// images reach the image tower at the scale it learned from.
int64_t default_vl_image_size(int64_t generator_resolution);

struct VLGuideConfig {
  // "{}" is replaced by the prompt; the embedding is the renormalised mean over templates.
  std::vector<std::string> templates = {"{}", "{}.", "a video of {}.", "you can see {}.", "there is {}."};
  int64_t image_size = 0;  // images are resized (bilinear) to this square size first; 0 = as given
};

class VLGuide {
 public:
  VLGuide(models::VLModel model, models::Tokenizer tokenizer, c10::Device device, VLGuideConfig config = {});

  // Unit-length [D] embedding of `prompt` (no gradients). Throws core::Error for an empty prompt.
  at::Tensor embed_text(const std::string& prompt);
  // images [B, 3, H, W] in [-1, 1] -> unit-length [B, D], differentiable with respect to images.
  at::Tensor embed_images(const at::Tensor& images);

  int64_t embed_dim() const;
  c10::Device device() const { return device_; }
  models::VLModel& model() { return model_; }

 private:
  models::VLModel model_;
  models::Tokenizer tokenizer_;
  c10::Device device_;
  VLGuideConfig config_;
};

// The tokenizer vocabulary for a VL model file: vocab.txt beside it if present, else the one of
// all-MiniLM-L6-v2 from the venv (found with `python`). Throws core::IoError naming both places.
std::filesystem::path vocab_for_model(const std::filesystem::path& vl_model, const std::string& python);

}  // namespace hdv::gen
