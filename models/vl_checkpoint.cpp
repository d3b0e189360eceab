// VL model checkpoints and tower imports (see vl_checkpoint.h).
#include "models/vl_checkpoint.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/module_state.h"

namespace hdv::models {
namespace {

namespace fs = std::filesystem;

// The blocks per stage, stem width and input channels a torchvision-style ResNet state dict
// describes (read from "conv1.weight" and the "layer<s>.<b>." names).
struct FileResNetGeometry {
  std::vector<int> layers = {0, 0, 0, 0};
  int base_width = 0;
  int in_channels = 0;
};

FileResNetGeometry resnet_geometry(const core::SafetensorsFile& file) {
  FileResNetGeometry geometry;
  if (file.contains("conv1.weight")) {
    const std::vector<int64_t>& shape = file.entry("conv1.weight").shape;
    if (shape.size() == 4) {
      geometry.base_width = static_cast<int>(shape[0]);
      geometry.in_channels = static_cast<int>(shape[1]);
    }
  }
  for (const core::TensorEntry& entry : file.entries()) {
    const std::string& name = entry.name;  // "layer3.5.conv2.weight"
    if (name.size() < 8 || name.compare(0, 5, "layer") != 0 || name[6] != '.' || name[5] < '1' || name[5] > '4') continue;
    const size_t dot = name.find('.', 7);
    const std::string block = name.substr(7, dot == std::string::npos ? std::string::npos : dot - 7);
    if (block.empty() || !std::all_of(block.begin(), block.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    int& count = geometry.layers[static_cast<size_t>(name[5] - '1')];
    count = std::max(count, std::stoi(block) + 1);
  }
  return geometry;
}

}  // namespace

void save_vl_model(const fs::path& path, VLModelImpl& model, const std::string& preset, int64_t step) {
  const core::NamedTensors tensors = module_tensors(model);
  core::CheckpointInfo info;
  info.kind = kVLModelKind;
  info.preset = preset;
  info.config = core::config_to_json(model.config());
  info.step = step;
  core::save_checkpoint(path, tensors, info);
}

VLModel load_vl_model(const fs::path& path) {
  const core::Checkpoint checkpoint = core::Checkpoint::load(path, kVLModelKind);
  VLModel model(checkpoint_config<VLConfig>(checkpoint, path));
  load_module_tensors(checkpoint, *model, path);
  model->eval();
  return model;
}

HfBertImport import_text_tower(VLModelImpl& model, const fs::path& path) {
  const fs::path weights = hf_bert_weights_file(path);
  return import_text_tower(model, weights.parent_path() / "config.json", weights);
}

HfBertImport import_text_tower(VLModelImpl& model, const fs::path& config_json, const fs::path& weights) {
  HfBertImport result = load_hf_bert_into(model.bert, config_json, weights);
  if (model.mlm) {
    torch::NoGradGuard no_grad;
    model.mlm->decoder->weight.copy_(model.bert->embeddings->word_embeddings->weight);
  }
  return result;
}

ResNetImport import_video_backbones(VLModelImpl& model, const fs::path& safetensors) {
  const ResNetConfig& backbone = model.config().video.backbone;
  {
    const FileResNetGeometry file = resnet_geometry(core::SafetensorsFile::open(safetensors));
    if (file.base_width != backbone.base_width || file.in_channels != backbone.in_channels ||
        file.layers != backbone.layers) {
      throw core::FormatError(fmt::format(
          "{}: a ResNet with blocks [{}], stem width {} and {} input channels does not fit the video tower's "
          "backbone (video.backbone: layers [{}], base_width {}, in_channels {}); torchvision's resnet50 fits the "
          "hdvila-base preset",
          safetensors.string(), fmt::join(file.layers, ", "), file.base_width, file.in_channels,
          fmt::join(backbone.layers, ", "), backbone.base_width, backbone.in_channels));
    }
  }
  ResNetImport result;
  VideoEncoderImpl& video = *model.video;
  if (video.hr_backbone) {
    load_torchvision_resnet(video.hr_backbone, safetensors, /*ignore_fc=*/true);
    result.hr_tensors = static_cast<int64_t>(module_tensors(*video.hr_backbone).size());
  }
  if (video.lr_backbone) {
    load_torchvision_resnet(video.lr_backbone, safetensors, /*ignore_fc=*/true);
    result.lr_tensors = static_cast<int64_t>(module_tensors(*video.lr_backbone).size());
  }
  return result;
}

}  // namespace hdv::models
