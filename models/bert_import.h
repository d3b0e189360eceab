// Importing Hugging Face BERT-family weights into models::BertModel, and the sentence embedding
// of sentence-transformers models such as all-MiniLM-L6-v2.
//
// Reference: HF transformers `models/bert/configuration_bert.py` (config.json keys),
// `modeling_bert.py` / `modeling_utils.py` (state-dict names, the "bert." base-model prefix, the
// legacy "LayerNorm.gamma/beta" renaming), and sentence-transformers `models/Pooling.py` +
// `models/Normalize.py` (mean over real tokens, then L2).
//
// Weights come from safetensors only: a `pytorch_model.bin` is a pickle, which C++ never
// unpickles; convert_bin_with_python() has the venv's Python rewrite it as safetensors
// (scripts/convert_bin_to_safetensors.py) once.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>
#include <vector>

#include "models/bert.h"
#include "models/tokenizer.h"

namespace hdv::models {

// Reads an HF config.json into a validated BertConfig (hidden_size, num_hidden_layers,
// num_attention_heads, intermediate_size, vocab_size, max_position_embeddings, type_vocab_size,
// layer_norm_eps, hidden_dropout_prob, attention_probs_dropout_prob; other keys are ignored).
// Throws core::ConfigError naming the file and key for a missing or mistyped geometry key, a
// hidden_act other than "gelu" (the exact GELU BertModel implements), a position_embedding_type
// other than "absolute", or a model_type other than "bert"; core::IoError if unreadable.
BertConfig read_hf_bert_config(const std::filesystem::path& config_json);

// Copies the tensors of an HF safetensors file into `model` (its config must describe them).
// Names are mapped as HF does: an optional "bert." prefix is dropped, legacy
// "LayerNorm.gamma"/"LayerNorm.beta" become ".weight"/".bias", the position_ids/token_type_ids
// buffers and task heads ("cls.", "classifier.", "qa_outputs.") are skipped. Values are cast to
// the model's dtype and device. Throws core::FormatError naming the file and listing every
// missing, unexpected, duplicate, non-floating and shape-mismatched tensor; the model is left
// untouched then.
void load_hf_bert_weights(BertModel& model, const std::filesystem::path& safetensors_path);

// Builds a BertModel from `path`: a folder with config.json and model.safetensors, or a
// .safetensors file with config.json beside it. A folder holding only pytorch_model.bin gets an
// error saying how to convert it. The model is returned in eval mode on the CPU.
BertModel load_hf_bert(const std::filesystem::path& path);

// scripts/convert_bin_to_safetensors.py of the source tree or installation the binary belongs
// to (found through core::assets_dir(): <assets>/../scripts/).
std::filesystem::path default_convert_script();

// Converts an HF `pytorch_model.bin` to safetensors by running
//   <python> <script> --in <bin_path> --out <out_safetensors>
// (torch.load(weights_only=True), then safetensors save_file, written to a temporary name and
// renamed). `python` is the interpreter of a virtual environment with torch and safetensors.
// Throws core::IoError when the input or script is missing, core::Error with Python's output
// when it fails.
void convert_bin_with_python(const std::filesystem::path& bin_path, const std::filesystem::path& out_safetensors,
                             const std::string& python,
                             const std::filesystem::path& script = default_convert_script());

// Sentence embeddings [N, H] (float32, on the model's device), as sentence-transformers
// all-MiniLM-L6-v2 computes them: each text tokenized to [CLS] pieces [SEP] (truncated to the
// tokenizer's config().max_length; that model used 256), the last hidden state averaged over the
// real tokens, then L2-normalised. Runs without gradients and in eval mode (the model's mode is
// restored afterwards); texts are processed in batches of `batch_size`.
at::Tensor sentence_embedding(BertModel& model, const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                              int64_t batch_size = 32);

}  // namespace hdv::models
