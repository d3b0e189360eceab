// CLIP's two towers (see clip_model.h).
#include "models/clip_model.h"

#include <torch/torch.h>

#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::models {

void ClipTextConfig::validate() const {
  const auto positive = [](const char* name, int64_t value) {
    if (value <= 0) throw core::ConfigError(fmt::format("clip text config: {}={} must be > 0", name, value));
  };
  positive("vocab_size", vocab_size);
  positive("width", width);
  positive("layers", layers);
  positive("heads", heads);
  if (context_length < 2) {
    throw core::ConfigError(fmt::format("clip text config: context_length={} must be >= 2", context_length));
  }
  if (width % heads != 0) {
    throw core::ConfigError(fmt::format("clip text config: width={} must be divisible by heads={}", width, heads));
  }
}

void ClipConfig::validate() const {
  if (embed_dim <= 0) throw core::ConfigError(fmt::format("clip config: embed_dim={} must be > 0", embed_dim));
  vision.validate();
  text.validate();
  for (const auto* field : {&image_mean, &image_std}) {
    const char* name = field == &image_mean ? "image_mean" : "image_std";
    if (field->size() != 3) {
      throw core::ConfigError(fmt::format("clip config: {} has {} values, expected 3 (R, G, B)", name, field->size()));
    }
  }
  for (double s : image_std) {
    if (!(s > 0)) throw core::ConfigError(fmt::format("clip config: image_std value {} must be > 0", s));
  }
}

ClipConfig clip_vit_b32_config(bool quick_gelu) {
  ClipConfig config;
  config.quick_gelu = quick_gelu;
  return config;
}

ClipConfig clip_vit_b16_config(bool quick_gelu) {
  ClipConfig config = clip_vit_b32_config(quick_gelu);
  config.vision.patch_size = 16;
  return config;
}

ClipModelImpl::ClipModelImpl(const ClipConfig& config)
    : visual(register_module("visual", ClipVisionTransformer(config.vision, config.embed_dim, config.quick_gelu))),
      token_embedding(register_module("token_embedding",
                                      torch::nn::Embedding(config.text.vocab_size, config.text.width))),
      transformer(register_module("transformer", ClipTransformer(config.text.width, config.text.layers,
                                                                 config.text.heads, config.quick_gelu))),
      ln_final(register_module("ln_final",
                               torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.text.width}).eps(1e-5)))),
      config_(config) {
  config.validate();
  // OpenCLIP's initialisation (CLIP.init_parameters, abridged).
  torch::NoGradGuard no_grad;
  token_embedding->weight.normal_(0, 0.02);
  positional_embedding = register_parameter("positional_embedding",
                                            torch::randn({config.text.context_length, config.text.width}) * 0.01);
  text_projection = register_parameter("text_projection", torch::randn({config.text.width, config.embed_dim}) /
                                                              std::sqrt(static_cast<double>(config.text.width)));
  logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1 / 0.07)));
}

at::Tensor ClipModelImpl::encode_image(const at::Tensor& pixels) { return visual(pixels); }

at::Tensor ClipModelImpl::preprocess(const at::Tensor& images) const {
  // images: [B, 3, H, W] in [-1, 1]
  if (images.dim() != 4 || images.size(1) != 3) {
    throw core::Error(fmt::format("clip images: {}, expected [B, 3, H, W]", core::shape_text(images.sizes())));
  }
  namespace F = torch::nn::functional;
  const int64_t size = config_.vision.image_size;
  at::Tensor x = images;
  if (x.size(2) != size || x.size(3) != size) {
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{size, size})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(false));
  }
  const auto options = x.options().requires_grad(false);
  const at::Tensor mean = torch::tensor(config_.image_mean, options.dtype(torch::kDouble)).to(options).view({1, 3, 1, 1});
  const at::Tensor std = torch::tensor(config_.image_std, options.dtype(torch::kDouble)).to(options).view({1, 3, 1, 1});
  return ((x + 1) * 0.5 - mean) / std;
}

at::Tensor ClipModelImpl::encode_text(const at::Tensor& ids) {
  // ids: [B, L], L = context_length
  if (ids.dim() != 2 || ids.size(1) != config_.text.context_length) {
    throw core::Error(fmt::format("clip text ids: {}, expected [B, {}]", core::shape_text(ids.sizes()),
                                  config_.text.context_length));
  }
  at::Tensor x = token_embedding(ids) + positional_embedding;  // [B, L, W]
  x = ln_final(transformer(x, /*causal=*/true));
  const at::Tensor eot = ids.argmax(-1);                        // [B]
  x = x.index({torch::arange(x.size(0), ids.options()), eot});  // [B, W]
  return torch::matmul(x, text_projection);                     // [B, embed_dim]
}

}  // namespace hdv::models
