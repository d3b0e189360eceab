// CLIP's image tower: a Vision Transformer (ViT-B/32, ViT-B/16, and smaller ones for tests).
//
// Reference: OpenCLIP open_clip/transformer.py `VisionTransformer` with its CLIP defaults
// (learnable positions, class-token pooling, ln_pre, no patch dropout), OpenAI CLIP clip/model.py
// `VisionTransformer`; Dosovitskiy et al. 2021 §3.1. The image is cut into patch_size² patches by
// conv1 (no bias), a class token is prepended, positions added, ln_pre, the Transformer, ln_post
// on the class token, then the projection `proj` to the joint space. Parameter names are
// OpenCLIP's under "visual.": "visual.conv1.weight", "visual.transformer.resblocks.0.ln_1.bias".
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "models/clip_transformer.h"

namespace hdv::models {

struct ClipVisionConfig {
  int64_t image_size = 224;  // input side, pixels (square)
  int64_t patch_size = 32;   // patch side, pixels: 32 for ViT-B/32, 16 for ViT-B/16
  int64_t width = 768;       // token width
  int64_t layers = 12;       // Transformer blocks
  int64_t heads = 12;        // attention heads (OpenCLIP: width / 64); must divide width

  template <class V>
  void fields(V& v) {
    v("image_size", image_size);
    v("patch_size", patch_size);
    v("width", width);
    v("layers", layers);
    v("heads", heads);
  }

  // Throws core::ConfigError naming the field ("clip vision config: image_size=100 must be a
  // multiple of patch_size=32").
  void validate() const;
};

class ClipVisionTransformerImpl : public torch::nn::Module {
 public:
  ClipVisionTransformerImpl(const ClipVisionConfig& config, int64_t embed_dim, bool quick_gelu);
  // pixels [B, 3, S, S], S = image_size, already normalised with CLIP's mean and std -> [B, embed_dim]
  // (not unit length). Throws core::Error naming the expected shape.
  at::Tensor forward(const at::Tensor& pixels);

  const ClipVisionConfig& config() const { return config_; }

  torch::nn::Conv2d conv1;
  at::Tensor class_embedding;      // [width]
  at::Tensor positional_embedding; // [(S / patch)² + 1, width]
  torch::nn::LayerNorm ln_pre;
  ClipTransformer transformer;
  torch::nn::LayerNorm ln_post;
  at::Tensor proj;                 // [width, embed_dim]

 private:
  ClipVisionConfig config_;
};
TORCH_MODULE(ClipVisionTransformer);

}  // namespace hdv::models
