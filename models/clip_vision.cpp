// CLIP's Vision Transformer image tower (see clip_vision.h).
#include "models/clip_vision.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::models {

void ClipVisionConfig::validate() const {
  const auto positive = [](const char* name, int64_t value) {
    if (value <= 0) throw core::ConfigError(fmt::format("clip vision config: {}={} must be > 0", name, value));
  };
  positive("image_size", image_size);
  positive("patch_size", patch_size);
  positive("width", width);
  positive("layers", layers);
  positive("heads", heads);
  if (image_size % patch_size != 0) {
    throw core::ConfigError(fmt::format("clip vision config: image_size={} must be a multiple of patch_size={}",
                                        image_size, patch_size));
  }
  if (width % heads != 0) {
    throw core::ConfigError(fmt::format("clip vision config: width={} must be divisible by heads={}", width, heads));
  }
}

ClipVisionTransformerImpl::ClipVisionTransformerImpl(const ClipVisionConfig& config, int64_t embed_dim, bool quick_gelu)
    : conv1(register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, config.width, config.patch_size)
                                                           .stride(config.patch_size)
                                                           .bias(false)))),
      ln_pre(register_module("ln_pre", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.width}).eps(1e-5)))),
      transformer(register_module("transformer",
                                  ClipTransformer(config.width, config.layers, config.heads, quick_gelu))),
      ln_post(register_module("ln_post", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.width}).eps(1e-5)))),
      config_(config) {
  config.validate();
  // OpenCLIP's initialisation: width^-0.5 normal embeddings and projection.
  const double scale = 1.0 / std::sqrt(static_cast<double>(config.width));
  const int64_t grid = config.image_size / config.patch_size;
  class_embedding = register_parameter("class_embedding", torch::randn({config.width}) * scale);
  positional_embedding =
      register_parameter("positional_embedding", torch::randn({grid * grid + 1, config.width}) * scale);
  proj = register_parameter("proj", torch::randn({config.width, embed_dim}) * scale);
}

at::Tensor ClipVisionTransformerImpl::forward(const at::Tensor& pixels) {
  // pixels: [B, 3, S, S]
  if (pixels.dim() != 4 || pixels.size(1) != 3 || pixels.size(2) != config_.image_size ||
      pixels.size(3) != config_.image_size) {
    throw core::Error(fmt::format("clip image tower: pixels {}, expected [B, 3, {}, {}]", core::shape_text(pixels.sizes()),
                                  config_.image_size, config_.image_size));
  }
  at::Tensor x = conv1(pixels);                      // [B, W, g, g]
  x = x.flatten(2).transpose(1, 2);                  // [B, g², W]
  at::Tensor cls = class_embedding.view({1, 1, -1}).expand({x.size(0), 1, x.size(2)});
  x = torch::cat({cls, x}, 1) + positional_embedding;  // [B, g² + 1, W]
  x = transformer(ln_pre(x), /*causal=*/false);
  return torch::matmul(ln_post(x.select(1, 0)), proj);  // [B, embed_dim]
}

}  // namespace hdv::models
