// CLIP weights on disk: our "clip" checkpoints, self-contained (the BPE merges travel inside).
//
// A "clip" checkpoint is a core checkpoint (core/checkpoint.h) whose tensors are the model's under
// OpenCLIP's state-dict names ("visual.conv1.weight", "token_embedding.weight", ...), plus
// "tokenizer.bpe_merges": the tokenizer's merges file as uint8 UTF-8 text, so that generation
// needs nothing but this one file. info.config is the full ClipConfig. Written by
// `hdvila-train import --clip` (models/clip_import.h). References: docs/design.md §9.
#pragma once

#include <filesystem>
#include <string>

#include "models/clip_model.h"
#include "models/clip_tokenizer.h"

namespace hdv::models {

constexpr const char* kClipKind = "clip";
constexpr const char* kClipMergesTensor = "tokenizer.bpe_merges";

// Writes `model` and `tokenizer` as a "clip" checkpoint (atomically). `preset` names where the
// weights came from ("openclip-ViT-B-32", ...).
void save_clip_model(const std::filesystem::path& path, ClipModelImpl& model, const ClipTokenizer& tokenizer,
                     const std::string& preset = "");

struct LoadedClip {
  ClipModel model;
  ClipTokenizer tokenizer;
};

// Reads a "clip" checkpoint: checks kind and format version, builds the model from the stored
// config (core::ConfigError naming the file), checks every tensor name and shape (one
// core::FormatError listing every mismatch, the merges tensor included), copies the values in and
// returns the model in eval mode on the CPU with its tokenizer.
LoadedClip load_clip_model(const std::filesystem::path& path);

}  // namespace hdv::models
