// CLIP (Radford et al. 2021): an image tower and a text tower embedding into one joint space;
// the alternative to our VL model as the guide of generation (generation/vl_guide.h).
//
// Reference: OpenCLIP open_clip/model.py `CLIP` (encode_image, encode_text) with the ViT-B/32 and
// ViT-B/16 configs of open_clip/model_configs, OpenAI CLIP clip/model.py. The text tower: token +
// learned position embeddings, a causal Transformer, ln_final, the features at the end-of-text
// token (the highest id in each sequence: OpenCLIP's "argmax" pooling), text_projection. Tensor
// names are OpenCLIP's state-dict names ("token_embedding.weight", "visual.proj", "logit_scale"),
// so OpenCLIP weights load by name; Hugging Face CLIPModel names are mapped (models/clip_import.h).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "models/clip_transformer.h"
#include "models/clip_vision.h"

namespace hdv::models {

struct ClipTextConfig {
  int64_t context_length = 77;  // tokens per sequence, start and end tokens included
  int64_t vocab_size = 49408;   // BPE vocabulary (rows of token_embedding)
  int64_t width = 512;          // token width
  int64_t layers = 12;          // Transformer blocks
  int64_t heads = 8;            // attention heads; must divide width

  template <class V>
  void fields(V& v) {
    v("context_length", context_length);
    v("vocab_size", vocab_size);
    v("width", width);
    v("layers", layers);
    v("heads", heads);
  }

  // Throws core::ConfigError naming the field.
  void validate() const;
};

struct ClipConfig {
  int64_t embed_dim = 512;  // joint embedding width
  bool quick_gelu = false;  // x·σ(1.702x) in the MLPs (OpenAI's weights, "-quickgelu" configs) instead of erf GELU
  ClipVisionConfig vision;
  ClipTextConfig text;
  // Per-channel RGB mean and std of the pixels in [0, 1] the image tower expects (OpenAI's).
  std::vector<double> image_mean = {0.48145466, 0.4578275, 0.40821073};
  std::vector<double> image_std = {0.26862954, 0.26130258, 0.27577711};

  template <class V>
  void fields(V& v) {
    v("embed_dim", embed_dim);
    v("quick_gelu", quick_gelu);
    v("vision", vision);
    v("text", text);
    v("image_mean", image_mean);
    v("image_std", image_std);
  }

  // Throws core::ConfigError naming the field ("clip config: image_std has 2 values, expected 3").
  void validate() const;
};

// ViT-B/32 (open_clip "ViT-B-32"; quick_gelu for OpenAI's weights, "ViT-B-32-quickgelu") and ViT-B/16.
ClipConfig clip_vit_b32_config(bool quick_gelu = false);
ClipConfig clip_vit_b16_config(bool quick_gelu = false);

class ClipModelImpl : public torch::nn::Module {
 public:
  explicit ClipModelImpl(const ClipConfig& config);

  // pixels [B, 3, S, S] normalised with image_mean/image_std -> [B, embed_dim] (not unit length)
  at::Tensor encode_image(const at::Tensor& pixels);
  // images [B, 3, H, W] in [-1, 1] -> pixels for encode_image: resized (bilinear, differentiable)
  // to image_size, mapped to [0, 1], normalised with image_mean and image_std.
  at::Tensor preprocess(const at::Tensor& images) const;
  // token ids [B, context_length] int64 (ClipTokenizer::encode_for_model) -> [B, embed_dim] (not unit length)
  at::Tensor encode_text(const at::Tensor& ids);

  const ClipConfig& config() const { return config_; }

  ClipVisionTransformer visual;
  torch::nn::Embedding token_embedding;
  at::Tensor positional_embedding;  // [context_length, width]
  ClipTransformer transformer;
  torch::nn::LayerNorm ln_final;
  at::Tensor text_projection;       // [width, embed_dim]
  at::Tensor logit_scale;           // [] log of the contrastive temperature's inverse

 private:
  ClipConfig config_;
};
TORCH_MODULE(ClipModel);

}  // namespace hdv::models
