// VL model weights on disk: our "vl-model" checkpoints, and pretrained towers imported into a
// model (HF BERT into the text tower, torchvision ResNet-50 into the video tower's backbones).
//
// A checkpoint is a core checkpoint (core/checkpoint.h) of kind "vl-model": every parameter and
// buffer (BatchNorm running statistics, num_batches_tracked) under its module name
// ("bert.encoder.layer.3.attention.self.query.weight", "video.hr_backbone.bn1.running_var"), with
// the model's full VLConfig as info.config, so a checkpoint rebuilds its own model.
// References: docs/design.md §4 (towers, HF/torchvision names) and §9 (validated safetensors, kinds).
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/checkpoint.h"
#include "models/bert_import.h"
#include "models/module_state.h"
#include "models/vl_model.h"

namespace hdv::models {

constexpr const char* kVLModelKind = "vl-model";

// Writes `model` as a "vl-model" checkpoint (atomically: temp name, then rename). `preset` names
// the preset its config started from ("" for none); `step` the training step.
void save_vl_model(const std::filesystem::path& path, VLModelImpl& model, const std::string& preset,
                   int64_t step = 0);

// Reads a "vl-model" checkpoint: checks kind and format version, builds the model from the stored
// config (core::ConfigError naming the file for a bad one), checks every tensor name and shape
// against the model (one core::FormatError listing every mismatch), copies the values in
// (float16/bfloat16 are converted to the parameters' dtype) and returns the model in eval mode
// on the CPU.
VLModel load_vl_model(const std::filesystem::path& path);

// Imports an HF BERT (a folder with config.json and model.safetensors, or a .safetensors file
// with config.json beside it) into model.bert with load_hf_bert_into(): its N layers become the
// first N, and the remaining (cross-modal) layers start as copies of the last imported ones. The
// MLM decoder, which HD-VILA clones from the word embeddings, is set to the imported embeddings.
HfBertImport import_text_tower(VLModelImpl& model, const std::filesystem::path& path);
// The same with config.json and the weights named separately (weights converted from a .bin).
HfBertImport import_text_tower(VLModelImpl& model, const std::filesystem::path& config_json,
                               const std::filesystem::path& weights);

// What import_video_backbones() did: tensors copied into each backbone (0 for one the mode lacks).
struct ResNetImport {
  int64_t hr_tensors = 0;  // video.hr_backbone: the whole network
  int64_t lr_tensors = 0;  // video.lr_backbone: through layer3 when lr_last_stage = 3
};

// Copies a torchvision ResNet state dict (safetensors; `resnet50().state_dict()`) into
// video.hr_backbone and video.lr_backbone with load_torchvision_resnet(); fc.* is ignored, and
// layer4 too for a stage-3 LR backbone. A file whose stem width, input channels or blocks per
// stage differ from video.backbone is rejected first with one core::FormatError naming both
// geometries (hdvila-base is the preset torchvision's resnet50 fits).
ResNetImport import_video_backbones(VLModelImpl& model, const std::filesystem::path& safetensors);

}  // namespace hdv::models
