// The steering signal of generation: text prompts and images in one joint space (docs/design.md §7,
// StyleCLIP), from either our video-language model or a CLIP (models/clip_model.h).
//
// A prompt's embedding is averaged over a few sentence templates and renormalised (StyleCLIP
// averages 79 templates). For the VL model they are caption-like, because it learned from
// captions, and an image's embedding is the video encoder on a static clip (the image as keyframe,
// its ×4 bicubic down-scale as every neighbour; models/vl_model.h). For CLIP they are StyleCLIP's
// photo templates, and an image is resized (bilinear) to CLIP's input size and normalised with its
// mean and std. Image embeddings are computed with gradients so that latent optimisation and
// super-resolution can descend through them. load_vl_guide() picks the model by the checkpoint's
// kind ("vl-model" or "clip"), so every generation mode and the studio take either.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/clip_model.h"
#include "models/clip_tokenizer.h"
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

// The VL model's caption-like prompt templates (VLGuideConfig's default).
std::vector<std::string> vl_prompt_templates();
// CLIP's: StyleCLIP-style photo templates.
std::vector<std::string> clip_prompt_templates();

struct VLGuideConfig {
  // "{}" is replaced by the prompt; the embedding is the renormalised mean over templates. Left at
  // this default, a CLIP guide uses clip_prompt_templates() instead.
  std::vector<std::string> templates = vl_prompt_templates();
  int64_t image_size = 0;  // VL model: images are resized (bilinear) to this square size first; 0 = as
                           // given. CLIP always resizes to its own input size (vision.image_size).
};

class VLGuide {
 public:
  VLGuide(models::VLModel model, models::Tokenizer tokenizer, c10::Device device, VLGuideConfig config = {});
  VLGuide(models::ClipModel model, models::ClipTokenizer tokenizer, c10::Device device, VLGuideConfig config = {});

  // Unit-length [D] embedding of `prompt` (no gradients). Throws core::Error for an empty prompt.
  at::Tensor embed_text(const std::string& prompt);
  // images [B, 3, H, W] in [-1, 1] -> unit-length [B, D], differentiable with respect to images.
  at::Tensor embed_images(const at::Tensor& images);

  int64_t embed_dim() const;
  c10::Device device() const { return device_; }
  bool is_clip() const { return !model_; }
  // The checkpoint kind of the model: "vl-model" or "clip".
  const char* kind() const;
  const VLGuideConfig& config() const { return config_; }

 private:
  models::VLModel model_{nullptr};           // set for a VL model guide
  std::optional<models::Tokenizer> tokenizer_;
  models::ClipModel clip_{nullptr};          // set for a CLIP guide
  std::optional<models::ClipTokenizer> clip_tokenizer_;
  c10::Device device_;
  VLGuideConfig config_;
};

// The guide of the checkpoint at `path`, chosen by its kind: "vl-model" (tokenized with `vocab`, or
// when empty with vocab_for_model(path, python)) or "clip" (self-contained). Throws core::FormatError
// naming the file and its kind for any other checkpoint.
VLGuide load_vl_guide(const std::filesystem::path& path, const std::filesystem::path& vocab, const std::string& python,
                      c10::Device device, VLGuideConfig config = {});

// The tokenizer vocabulary for a VL model file: vocab.txt beside it if present, else the one of
// all-MiniLM-L6-v2 from the venv (found with `python`). Throws core::IoError naming both places.
std::filesystem::path vocab_for_model(const std::filesystem::path& vl_model, const std::string& python);

}  // namespace hdv::gen
