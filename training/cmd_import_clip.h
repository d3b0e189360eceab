// hdvila-train import --clip: a "clip" checkpoint from OpenCLIP or Hugging Face CLIP weights.
//
// The weights (models/clip_import.h) and the BPE merges (models/clip_tokenizer.h) are written into
// one self-contained checkpoint (models/clip_checkpoint.h) that `hdvila-generate --vl-model` and the
// studio take in place of a VL model. The merges come from --clip-bpe FILE (a merges.txt, or
// OpenCLIP's bpe_simple_vocab_16e6.txt.gz), else a merges.txt / bpe_simple_vocab_16e6.txt[.gz]
// beside the weights, else the file shipped in the venv's open_clip_torch package; .gz files and
// the package's file are read by scripts/clip_bpe_merges.py through the venv's Python, as are
// pickled weights (.bin / .pt / .pth state dicts, by scripts/convert_bin_to_safetensors.py).
#pragma once

#include <filesystem>
#include <string>

namespace hdv::train {

struct ClipImportRequest {
  std::filesystem::path weights;  // .safetensors (or a pickled state dict), or a folder holding one
  std::filesystem::path bpe;      // merges file; "" = beside the weights, else open_clip's
  bool quick_gelu = false;        // OpenAI-trained weights (OpenCLIP's "-quickgelu" configs)
  std::filesystem::path out;      // the "clip" checkpoint to write
  std::string python;             // the venv's interpreter
};

// Imports and writes the checkpoint; returns the report printed by the command.
std::string import_clip(const ClipImportRequest& request);

}  // namespace hdv::train
