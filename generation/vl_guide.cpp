// Text and image embeddings for steering (see vl_guide.h).
#include "generation/vl_guide.h"

#include <algorithm>

#include <torch/torch.h>

#include <fmt/format.h>

#include "core/checkpoint.h"
#include "core/log.h"
#include "core/shape_text.h"
#include "models/bert_import.h"
#include "models/clip_checkpoint.h"
#include "models/vl_checkpoint.h"

namespace hdv::gen {

void check_cancel(const std::atomic<bool>* flag) {
  if (flag != nullptr && flag->load(std::memory_order_relaxed)) throw Cancelled();
}

std::vector<std::string> vl_prompt_templates() {
  return {"{}", "{}.", "a video of {}.", "you can see {}.", "there is {}."};
}

std::vector<std::string> clip_prompt_templates() {
  return {"a photo of {}.", "a photo of a {}.", "a good photo of {}.", "a close-up photo of {}.", "a picture of {}.",
          "{}."};
}

VLGuide::VLGuide(models::VLModel model, models::Tokenizer tokenizer, c10::Device device, VLGuideConfig config)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), device_(device), config_(std::move(config)) {
  if (config_.templates.empty()) throw core::ConfigError("vl guide: templates must not be empty");
  model_->to(device_);
  model_->eval();
  // The VL model is a fixed critic: its weights never train here.
  for (auto& p : model_->parameters()) p.set_requires_grad(false);
}

VLGuide::VLGuide(models::ClipModel model, models::ClipTokenizer tokenizer, c10::Device device, VLGuideConfig config)
    : clip_(std::move(model)), clip_tokenizer_(std::move(tokenizer)), device_(device), config_(std::move(config)) {
  if (config_.templates.empty()) throw core::ConfigError("vl guide: templates must not be empty");
  if (config_.templates == vl_prompt_templates()) config_.templates = clip_prompt_templates();
  clip_->to(device_);
  clip_->eval();
  for (auto& p : clip_->parameters()) p.set_requires_grad(false);
}

const char* VLGuide::kind() const { return is_clip() ? models::kClipKind : models::kVLModelKind; }

at::Tensor VLGuide::embed_text(const std::string& prompt) {
  if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) throw core::Error("prompt: empty text");
  if (is_clip()) {
    const int64_t context = clip_->config().text.context_length;
    std::vector<int64_t> ids;
    for (const std::string& pattern : config_.templates) {
      std::string text = pattern;
      const size_t at = text.find("{}");
      if (at != std::string::npos) text.replace(at, 2, prompt);
      const std::vector<int64_t> row = clip_tokenizer_->encode_for_model(text, context);
      ids.insert(ids.end(), row.begin(), row.end());
    }
    const int64_t n = static_cast<int64_t>(config_.templates.size());
    torch::NoGradGuard no_grad;
    at::Tensor embeddings = clip_->encode_text(torch::tensor(ids, torch::kLong).reshape({n, context}).to(device_));
    embeddings = embeddings / embeddings.norm(2, -1, true).clamp_min(1e-12);  // [n, D], unit rows
    at::Tensor mean = embeddings.mean(0);
    return mean / mean.norm().clamp_min(1e-12);
  }
  const int max_length = static_cast<int>(model_->config().max_text_len);
  std::vector<int64_t> ids, mask;
  for (const std::string& pattern : config_.templates) {
    std::string text = pattern;
    const size_t at = text.find("{}");
    if (at != std::string::npos) text.replace(at, 2, prompt);
    models::Encoding encoding = tokenizer_->encode_for_model(text, max_length);
    ids.insert(ids.end(), encoding.input_ids.begin(), encoding.input_ids.end());
    mask.insert(mask.end(), encoding.attention_mask.begin(), encoding.attention_mask.end());
  }
  const int64_t n = static_cast<int64_t>(config_.templates.size());
  torch::NoGradGuard no_grad;
  at::Tensor input_ids = torch::tensor(ids, torch::kLong).reshape({n, max_length}).to(device_);
  at::Tensor attention = torch::tensor(mask, torch::kLong).reshape({n, max_length}).to(device_);
  at::Tensor embeddings = model_->encode_text(input_ids, attention);  // [n, D], unit rows
  at::Tensor mean = embeddings.mean(0);
  return mean / mean.norm().clamp_min(1e-12);
}

at::Tensor VLGuide::embed_images(const at::Tensor& images) {
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3) {
    throw core::Error(fmt::format("images: expected [B, 3, H, W], got {}",
                                  images.defined() ? core::shape_text(images.sizes()) : "none"));
  }
  at::Tensor x = images.to(device_);
  if (is_clip()) {
    at::Tensor embeddings = clip_->encode_image(clip_->preprocess(x.clamp(-1, 1)));  // [B, D]
    return embeddings / embeddings.norm(2, -1, true).clamp_min(1e-12);
  }
  if (config_.image_size > 0 && (x.size(2) != config_.image_size || x.size(3) != config_.image_size)) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{config_.image_size, config_.image_size})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  return model_->encode_image(x.clamp(-1, 1));
}

int64_t VLGuide::embed_dim() const { return is_clip() ? clip_->config().embed_dim : model_->config().embed_dim; }

int64_t default_vl_image_size(int64_t generator_resolution) { return std::max<int64_t>(generator_resolution, 128); }

std::filesystem::path vocab_for_model(const std::filesystem::path& vl_model, const std::string& python) {
  const std::filesystem::path beside = vl_model.parent_path() / "vocab.txt";
  std::error_code ec;
  if (std::filesystem::exists(beside, ec)) return beside;
  std::filesystem::path from_venv;
  try {
    from_venv = models::minilm_model_dir(python) / "vocab.txt";
  } catch (const core::Error& e) {
    throw core::IoError(fmt::format("{}: no vocab.txt beside the VL model, and the venv's all-MiniLM-L6-v2 "
                                    "vocabulary is not available either ({}); pass --vocab FILE",
                                    beside.string(), e.what()));
  }
  if (!std::filesystem::exists(from_venv, ec)) {
    throw core::IoError(fmt::format("{}: not found, nor {}; pass --vocab FILE", beside.string(), from_venv.string()));
  }
  return from_venv;
}

VLGuide load_vl_guide(const std::filesystem::path& path, const std::filesystem::path& vocab, const std::string& python,
                      c10::Device device, VLGuideConfig config) {
  const std::string kind = core::read_checkpoint_info(path).kind;
  if (kind == models::kClipKind) {
    models::LoadedClip clip = models::load_clip_model(path);
    return VLGuide(clip.model, std::move(clip.tokenizer), device, std::move(config));
  }
  if (kind == models::kVLModelKind) {
    const std::filesystem::path vocabulary = vocab.empty() ? vocab_for_model(path, python) : vocab;
    core::log_debug("VL model {} (vocabulary {})", path.string(), vocabulary.string());
    return VLGuide(models::load_vl_model(path), models::Tokenizer(vocabulary), device, std::move(config));
  }
  throw core::FormatError(fmt::format("{}: a \"{}\" checkpoint; the guide takes a \"{}\" (hdvila-train pretrain) or a "
                                      "\"{}\" checkpoint (hdvila-train import --clip)",
                                      path.string(), kind, models::kVLModelKind, models::kClipKind));
}

}  // namespace hdv::gen
