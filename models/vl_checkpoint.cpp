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

namespace hdv::models {
namespace {

namespace fs = std::filesystem;

// Parameters, then buffers, by module name: what a checkpoint stores.
torch::OrderedDict<std::string, at::Tensor> state_of(torch::nn::Module& module) {
  torch::OrderedDict<std::string, at::Tensor> state;
  for (auto& item : module.named_parameters(/*recurse=*/true)) state.insert(item.key(), item.value());
  for (auto& item : module.named_buffers(/*recurse=*/true)) state.insert(item.key(), item.value());
  return state;
}

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

core::ExpectedShapes expected_shapes(torch::nn::Module& module) {
  core::ExpectedShapes shapes;
  for (const auto& item : state_of(module)) {
    shapes.emplace_back(item.key(), item.value().sizes().vec());
  }
  return shapes;
}

void save_vl_model(const fs::path& path, VLModelImpl& model, const std::string& preset, int64_t step) {
  core::NamedTensors tensors;
  for (const auto& item : state_of(model)) tensors.emplace_back(item.key(), item.value().detach());
  core::CheckpointInfo info;
  info.kind = kVLModelKind;
  info.preset = preset;
  info.config = core::config_to_json(model.config());
  info.step = step;
  core::save_checkpoint(path, tensors, info);
}

VLModel load_vl_model(const fs::path& path) {
  const core::Checkpoint checkpoint = core::Checkpoint::load(path, kVLModelKind);
  const std::string source = path.string() + " config";
  VLConfig config;
  core::config_from_json(checkpoint.info().config, config, source);
  try {
    config.validate();
  } catch (const core::ConfigError& e) {
    throw core::ConfigError(fmt::format("{}: {}", source, e.what()));
  }
  VLModel model(config);
  auto state = state_of(*model);
  checkpoint.check_tensors(expected_shapes(*model));

  // Shapes agree; a tensor whose kind (floating vs integer) differs is still the wrong file.
  std::vector<std::string> problems;
  for (const auto& item : state) {
    const core::TensorEntry& entry = checkpoint.file().entry(item.key());
    if (c10::isFloatingType(core::to_scalar_type(entry.dtype)) != item.value().is_floating_point()) {
      problems.push_back(fmt::format("\"{}\" has dtype {}, expected {}", item.key(), core::dtype_name(entry.dtype),
                                     c10::toString(item.value().scalar_type())));
    }
  }
  if (!problems.empty()) {
    throw core::FormatError(fmt::format("{}: {} tensor{} of the wrong type: {}", path.string(), problems.size(),
                                        problems.size() == 1 ? "" : "s", fmt::join(problems, "; ")));
  }
  torch::NoGradGuard no_grad;
  for (auto& item : state) item.value().copy_(checkpoint.tensor(item.key()));  // converts fp16/bf16
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
    result.hr_tensors = static_cast<int64_t>(state_of(*video.hr_backbone).size());
  }
  if (video.lr_backbone) {
    load_torchvision_resnet(video.lr_backbone, safetensors, /*ignore_fc=*/true);
    result.lr_tensors = static_cast<int64_t>(state_of(*video.lr_backbone).size());
  }
  return result;
}

}  // namespace hdv::models
