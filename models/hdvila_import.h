// HD-VILA's released checkpoints (microsoft/XPretrain hd-vila: hdvila_stage2.pt, or a stage-1
// model_step_N.pt) imported into our VL model, by name.
//
// The official file is a flat state dict rooted at the HDVILA module: cnn. / cnn_low. (two
// ResNet-50s), grid_encoder*.0 (1x1 convs), timesformer. (the space-time blocks) and
// transformer. (BERT-large text + cross-modal layers, projections, MLM head). Each name maps onto
// ours by a prefix rule; no tensor is reshaped. Official tensors that the model never uses are
// dropped with their reason, our two conv biases the official convs lack are set to 0, and a
// stage-1 file (12 BERT layers, no cross-modal modules) leaves the cross-modal part as it was.
// Anything else — a name no rule knows, one of ours the file lacks, a shape or dtype that does not
// fit — is listed, all at once, and nothing is copied. docs/models.md has the table;
// docs/notes/hdvila-checkpoint-mapping.md the study behind it.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "models/vl_model.h"

namespace hdv::models {

// A tensor of our model as the import needs it: its shape and dtype.
struct ImportTarget {
  std::vector<int64_t> shape;
  c10::ScalarType dtype = c10::kFloat;
};
using ImportTargets = std::map<std::string, ImportTarget>;

// Every parameter and buffer of `model`, by name.
ImportTargets import_targets(VLModelImpl& model);

// What the official file holds, read from its names and shapes.
struct HdvilaFileGeometry {
  std::vector<int64_t> backbone_layers;  // blocks per stage of cnn.layer{1..4}
  int64_t base_width = 0;                // cnn.conv1.weight [base, in, 7, 7]
  int64_t in_channels = 0;
  int64_t vocab = 0, text_hidden = 0;    // word_embeddings [vocab, hidden]
  int64_t bert_layers = 0;               // transformer.bert.encoder.layer.{i}
  int64_t video_hidden = 0, depth = 0;   // timesformer.pos_embed [1, h*w, hidden], blocks.{i}
  int64_t grid_tokens = 0, frames = 0;   // pos_embed h*w, time_embed [1, T, hidden]
  bool lr_layer4 = false;                // cnn_low.layer4.* present
  int stage = 0;                         // 2 with cross-modal modules, else 1
};

HdvilaFileGeometry hdvila_file_geometry(const std::vector<core::TensorEntry>& entries);

// The import worked out from names, shapes and dtypes only (nothing read or copied).
struct HdvilaPlan {
  int stage = 0;                                             // 1 or 2
  std::vector<std::pair<std::string, std::string>> copies;   // official name -> our name
  std::vector<std::string> dropped;                          // "official name: why it has no counterpart"
  std::vector<std::string> zero_filled;                      // ours, absent from the file, exactly 0
  std::vector<std::string> not_in_file;                      // ours, absent from a stage-1 file (see HdvilaImport)
  std::vector<std::string> problems;                         // missing / unexpected / shape / dtype
};

// Maps `entries` (an official state dict's table) onto `targets` for `config`. Throws
// core::FormatError naming both geometries when the file's does not match the config's
// (a wrong --preset); mismatches of single tensors go to `problems`.
HdvilaPlan plan_hdvila_import(const std::vector<core::TensorEntry>& entries, const VLConfig& config,
                              const ImportTargets& targets, const std::string& file_name);

// What import_hdvila() did.
struct HdvilaImport {
  HdvilaPlan plan;
  std::vector<std::string> notes;  // stage-1 fill-ins, the decoder-bias alias check
};

// Imports the official state dict `safetensors` (from scripts/convert_hdvila_pt.py) into `model`.
// With a stage-1 file, `text_tower_preloaded` says the cross-modal layers already hold weights
// (from --bert: BERT-large's layers 12-23, HD-VILA's stage-2 start) and are kept; otherwise they
// start as copies of the last imported text layers. The MLM decoder takes the imported word
// embeddings and a zero bias; visual_embeddings keep their initialisation. Throws
// core::FormatError listing every problem, before anything is copied.
HdvilaImport import_hdvila(VLModelImpl& model, const std::filesystem::path& safetensors,
                           bool text_tower_preloaded = false);

}  // namespace hdv::models
