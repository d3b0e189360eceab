// Imports CLIP weights saved by other projects into our ClipModel: an OpenCLIP state dict
// (open_clip `CLIP.state_dict()`, e.g. open_clip_model.safetensors; OpenAI's weights as OpenCLIP
// loads them) or a Hugging Face transformers `CLIPModel` (model.safetensors).
//
// The architecture is read from the tensor shapes (patch size and width from the patch embedding,
// image size from the number of positions, layers by counting blocks, embed_dim from the
// projections); attention heads are width / 64, as in every OpenAI and OpenCLIP ViT config, unless
// a Hugging Face config.json beside the weights says otherwise. The activation is not in the
// weights: OpenAI-trained weights need QuickGELU (`quick_gelu`), OpenCLIP-trained ones GELU; a
// Hugging Face config.json's hidden_act decides for an HF file. Name mapping is strict: every
// model tensor must come from the file and every file tensor must be used (position_ids buffers
// and OpenCLIP's attn_mask are the only ones skipped); all mismatches are reported at once.
// References: open_clip/model.py `CLIP`, transformers models/clip/modeling_clip.py
// (`CLIPModel`, whose q/k/v projections are stacked into attn.in_proj_weight here).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "models/clip_model.h"

namespace hdv::models {

struct ClipImport {
  ClipModel model{nullptr};
  std::string layout;     // "OpenCLIP" or "Hugging Face CLIPModel"
  std::string arch;       // "ViT-B/32", "ViT-B/16" or "ViT-<W>/<P> (custom)"
  int64_t tensors = 0;    // tensors read from the file
  int64_t skipped = 0;    // buffers skipped (position_ids, attn_mask)
};

// Reads `safetensors` (either layout), builds the model its shapes describe and copies every
// tensor in. Throws core::FormatError naming the file and every missing, unused or misshapen
// tensor; core::IoError when it cannot be read.
ClipImport import_clip_weights(const std::filesystem::path& safetensors, bool quick_gelu);

}  // namespace hdv::models
