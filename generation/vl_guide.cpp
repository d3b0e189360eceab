// Text and image embeddings for steering (see vl_guide.h).
#include "generation/vl_guide.h"

#include <algorithm>

#include <torch/torch.h>

#include <fmt/format.h>

#include "core/shape_text.h"
#include "models/bert_import.h"

namespace hdv::gen {

void check_cancel(const std::atomic<bool>* flag) {
  if (flag != nullptr && flag->load(std::memory_order_relaxed)) throw Cancelled();
}

VLGuide::VLGuide(models::VLModel model, models::Tokenizer tokenizer, c10::Device device, VLGuideConfig config)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), device_(device), config_(std::move(config)) {
  if (config_.templates.empty()) throw core::ConfigError("vl guide: templates must not be empty");
  model_->to(device_);
  model_->eval();
  // The VL model is a fixed critic: its weights never train here.
  for (auto& p : model_->parameters()) p.set_requires_grad(false);
}

at::Tensor VLGuide::embed_text(const std::string& prompt) {
  if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) throw core::Error("prompt: empty text");
  const int max_length = static_cast<int>(model_->config().max_text_len);
  std::vector<int64_t> ids, mask;
  for (const std::string& pattern : config_.templates) {
    std::string text = pattern;
    const size_t at = text.find("{}");
    if (at != std::string::npos) text.replace(at, 2, prompt);
    models::Encoding encoding = tokenizer_.encode_for_model(text, max_length);
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
  if (config_.image_size > 0 && (x.size(2) != config_.image_size || x.size(3) != config_.image_size)) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{config_.image_size, config_.image_size})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  return model_->encode_image(x.clamp(-1, 1));
}

int64_t VLGuide::embed_dim() const { return model_->config().embed_dim; }

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

}  // namespace hdv::gen
