// ResNet backbone returning C4/C5 and the torchvision state-dict importer (see resnet.h).
//
// Reference: torchvision/models/resnet.py — `Bottleneck` (expansion 4, stride on conv2 as in
// v1.5), `ResNet._make_layer` (downsample = 1x1 conv + BN on a stage's first block when the
// stride or the channel count changes), `ResNet.__init__` (weight init), `ResNet._forward_impl`.
#include "models/resnet.h"

#include <torch/torch.h>

#include <map>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/shape_text.h"
#include "core/safetensors.h"

namespace hdv::models {
namespace {

constexpr int kExpansion = 4;  // a Bottleneck's output is 4x its inner width

torch::nn::Conv2d make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  auto conv = torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
  // torchvision's init (not LibTorch's kaiming_uniform with a=sqrt(5)): what a model trained
  // from scratch here should start from, so results compare with torchvision training runs.
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
  return conv;
}

// BatchNorm2d with torchvision's defaults spelled out (they equal LibTorch's): eps 1e-5,
// momentum 0.1, affine, running stats tracked; weight 1, bias 0.
torch::nn::BatchNorm2d make_bn(int64_t channels) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(1e-5).momentum(0.1));
}

// torchvision `Bottleneck` with groups = 1, dilation = 1, base_width = 64.
class BottleneckImpl : public torch::nn::Module {
 public:
  BottleneckImpl(int64_t in_channels, int64_t width, int64_t stride)
      : conv1(register_module("conv1", make_conv(in_channels, width, 1, 1, 0))),
        bn1(register_module("bn1", make_bn(width))),
        conv2(register_module("conv2", make_conv(width, width, 3, stride, 1))),
        bn2(register_module("bn2", make_bn(width))),
        conv3(register_module("conv3", make_conv(width, width * kExpansion, 1, 1, 0))),
        bn3(register_module("bn3", make_bn(width * kExpansion))),
        relu(register_module("relu", torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)))) {
    // The identity path must match the residual's shape; torchvision's test, verbatim.
    if (stride != 1 || in_channels != width * kExpansion) {
      downsample = register_module(
          "downsample",
          torch::nn::Sequential(make_conv(in_channels, width * kExpansion, 1, stride, 0), make_bn(width * kExpansion)));
    }
  }

  // x: [B, in_channels, H, W] -> [B, 4 * width, H / stride, W / stride]
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor out = relu(bn1(conv1(x)));
    out = relu(bn2(conv2(out)));
    out = bn3(conv3(out));
    at::Tensor identity = downsample ? downsample->forward(x) : x;
    return relu(out + identity);
  }

  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  torch::nn::Conv2d conv2;
  torch::nn::BatchNorm2d bn2;
  torch::nn::Conv2d conv3;
  torch::nn::BatchNorm2d bn3;
  torch::nn::ReLU relu;
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

// Stage `stage` (1..4) of `config`: its first block changes resolution (except layer1, which
// follows the max-pool) and width; the rest keep them. Children are named "0", "1", ... as
// torchvision's nn.Sequential.
torch::nn::Sequential make_stage(const ResNetConfig& config, int stage) {
  const int64_t width = int64_t{config.base_width} << (stage - 1);
  const int64_t in_channels = stage == 1 ? config.base_width : width / 2 * kExpansion;
  const int64_t stride = stage == 1 ? 1 : 2;
  torch::nn::Sequential blocks;
  blocks->push_back(Bottleneck(in_channels, width, stride));
  for (int i = 1; i < config.layers[stage - 1]; ++i) blocks->push_back(Bottleneck(width * kExpansion, width, 1));
  return blocks;
}

const ResNetConfig& validated(const ResNetConfig& config) {
  config.validate();
  return config;
}


bool starts_with(const std::string& name, std::string_view prefix) { return name.rfind(prefix, 0) == 0; }

}  // namespace

void ResNetConfig::validate() const {
  auto fail = [](const std::string& what) { throw core::ConfigError("resnet config: " + what); };
  if (layers.size() != 4) {
    fail(fmt::format("layers has {} entries, expected 4 (blocks in layer1..layer4)", layers.size()));
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i] < 1) fail(fmt::format("layers[{}]={} must be >= 1", i, layers[i]));
  }
  if (base_width < 1) fail(fmt::format("base_width={} must be >= 1", base_width));
  // 32x the base width must fit an int: C5's channel count.
  if (base_width > (1 << 20)) fail(fmt::format("base_width={} must be <= {}", base_width, 1 << 20));
  if (in_channels < 1) fail(fmt::format("in_channels={} must be >= 1", in_channels));
  if (last_stage != 3 && last_stage != 4) {
    fail(fmt::format("last_stage={} must be 3 (stop after layer3, C4 only) or 4 (C4 and C5)", last_stage));
  }
}

ResNetImpl::ResNetImpl(const ResNetConfig& config)
    : conv1(register_module("conv1", make_conv(validated(config).in_channels, config.base_width, 7, 2, 3))),
      bn1(register_module("bn1", make_bn(config.base_width))),
      relu(register_module("relu", torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)))),
      maxpool(register_module("maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)))),
      layer1(register_module("layer1", make_stage(config, 1))),
      layer2(register_module("layer2", make_stage(config, 2))),
      layer3(register_module("layer3", make_stage(config, 3))),
      // Not built at all for the LR path: no weights to allocate, initialise or import.
      layer4(config.last_stage >= 4 ? register_module("layer4", make_stage(config, 4)) : torch::nn::Sequential(nullptr)),
      config_(config) {}

// images: [B, in_channels, H, W] -> c4 [B, 16 * base, H/16, W/16], c5 [B, 32 * base, H/32, W/32]
ResNetFeatures ResNetImpl::forward(const at::Tensor& images) {
  if (images.dim() != 4) {
    throw core::Error(
        fmt::format("images: expected 4 dims [B, {}, H, W], got {}", config_.in_channels, images.dim()));
  }
  if (images.size(1) != config_.in_channels) {
    throw core::Error(fmt::format("images: dim 1 got {}, expected {}", images.size(1), config_.in_channels));
  }
  if (!images.is_floating_point()) {
    throw core::Error(
        fmt::format("images: expected a floating-point tensor, got {}", c10::toString(images.scalar_type())));
  }
  ResNetFeatures features;
  features.stem = maxpool(relu(bn1(conv1(images))));  // [B, base, H/4, W/4]
  features.c2 = layer1->forward(features.stem);       // [B, 4 * base, H/4, W/4]
  features.c3 = layer2->forward(features.c2);         // [B, 8 * base, H/8, W/8]
  features.c4 = layer3->forward(features.c3);
  if (layer4) features.c5 = layer4->forward(features.c4);
  return features;
}

void load_torchvision_resnet(ResNet& model, const std::filesystem::path& safetensors, bool ignore_fc) {
  const core::SafetensorsFile file = core::SafetensorsFile::open(safetensors);

  std::map<std::string, at::Tensor> expected;
  for (const auto& item : model->named_parameters()) expected.emplace(item.key(), item.value());
  for (const auto& item : model->named_buffers()) expected.emplace(item.key(), item.value());

  // Checked in full before anything is copied: a rejected file leaves the model untouched.
  std::vector<std::string> problems;
  for (const auto& [name, target] : expected) {
    if (!file.contains(name)) {
      problems.push_back(fmt::format("missing \"{}\" {}", name, core::shape_text(target.sizes())));
      continue;
    }
    const core::TensorEntry& entry = file.entry(name);
    if (at::IntArrayRef(entry.shape) != target.sizes()) {
      problems.push_back(
          fmt::format("\"{}\" has shape {}, expected {}", name, core::shape_text(entry.shape), core::shape_text(target.sizes())));
    }
    // Half/bfloat16/8-bit float weights convert fine; an integer tensor where weights belong is a wrong file.
    if (auto problem = core::conversion_problem(entry.dtype, target.scalar_type())) {
      problems.push_back(fmt::format("\"{}\" {}", name, *problem));
    }
  }
  bool unexpected_fc = false;
  for (const core::TensorEntry& entry : file.entries()) {
    if (expected.count(entry.name) != 0) continue;
    if (ignore_fc && starts_with(entry.name, "fc.")) continue;
    // A stage-3-only backbone (HD-VILA's LR path) takes its weights from a full ResNet-50 file:
    // layer4 is deliberately absent from the model, so its tensors are skipped, not reported.
    if (model->config().last_stage < 4 && starts_with(entry.name, "layer4.")) continue;
    unexpected_fc = unexpected_fc || starts_with(entry.name, "fc.");
    problems.push_back(fmt::format("unexpected \"{}\" {}", entry.name, core::shape_text(entry.shape)));
  }
  if (!problems.empty()) {
    throw core::FormatError(fmt::format(
        "{}: {} tensor mismatch{} with the torchvision ResNet (layers [{}], base_width {}, last_stage {}): {}{}",
        safetensors.string(), problems.size(), problems.size() == 1 ? "" : "es", fmt::join(model->config().layers, ", "),
        model->config().base_width, model->config().last_stage, fmt::join(problems, "; "),
        unexpected_fc ? " (the fc.* classifier is not part of the backbone: load with ignore_fc)" : ""));
  }

  torch::NoGradGuard no_grad;
  for (auto& [name, target] : expected) target.copy_(file.tensor(name));
}

}  // namespace hdv::models
