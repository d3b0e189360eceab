// ResNet backbone (Bottleneck, "v1.5": stride on the 3x3 conv) returning the C4 and C5 feature
// maps that HD-VILA's hybrid video encoder consumes.
//
// Reference: torchvision/models/resnet.py (`ResNet`, `Bottleneck`, `resnet50`); HD-VILA hybrid
// video encoder (docs/design.md §4): the HR path runs the full network on the keyframe and uses C4
// (after layer3, stride 16) and C5 (after layer4, stride 32); the LR path runs a second copy
// through layer3 only (`last_stage = 3`), so layer4 is never built and needs no weights.
// Module and parameter names equal torchvision's state-dict keys ("layer3.0.downsample.1.
// running_var"), so torchvision weights load by name; the classifier (avgpool, fc) is left out.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/pimpl.h>

#include <filesystem>
#include <vector>

namespace hdv::models {

struct ResNetConfig {
  std::vector<int> layers = {3, 4, 6, 3};  // Bottleneck blocks in layer1..layer4 (resnet50)
  int base_width = 64;   // channels of the stem; layer i's blocks are base_width * 2^(i-1) wide
                         // inside and 4x that at their output (64 -> 256/512/1024/2048)
  int in_channels = 3;   // channels of the input images (RGB)
  int last_stage = 4;    // last stage built and run: 4 gives C4 and C5, 3 stops after layer3 (C4)

  template <class V>
  void fields(V& v) {
    v("layers", layers);
    v("base_width", base_width);
    v("in_channels", in_channels);
    v("last_stage", last_stage);
  }
  // Throws core::ConfigError naming the field ("resnet config: last_stage=5 must be 3 or 4").
  void validate() const;

  // Channels of C4 (layer3 output) and C5 (layer4 output): 1024 and 2048 for resnet50.
  int c4_channels() const { return base_width * 16; }
  int c5_channels() const { return base_width * 32; }
};

// What forward() returns. All are [B, C, H', W'] maps of the same dtype/device as the input. The
// earlier maps are the intermediates forward() computes anyway (kept for stage-wise probes).
struct ResNetFeatures {
  at::Tensor stem;  // after the stem's max-pool: [B, base_width, ceil(H/4), ceil(W/4)]
  at::Tensor c2;    // after layer1: [B, 4 * base_width, ceil(H/4), ceil(W/4)]
  at::Tensor c3;    // after layer2: [B, 8 * base_width, ceil(H/8), ceil(W/8)]
  at::Tensor c4;  // after layer3: [B, 16 * base_width, ceil(H/16), ceil(W/16)]
  at::Tensor c5;  // after layer4: [B, 32 * base_width, ceil(H/32), ceil(W/32)]; undefined when
                  // last_stage = 3
};

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ResNetConfig& config = {});

  // images: [B, in_channels, H, W] (normalised as the weights expect; torchvision: ImageNet
  // mean/std). Throws core::Error naming "images" on a wrong rank or channel count.
  ResNetFeatures forward(const at::Tensor& images);

  const ResNetConfig& config() const { return config_; }

  // Stem.
  torch::nn::Conv2d conv1;  // 7x7, stride 2, no bias
  torch::nn::BatchNorm2d bn1;
  torch::nn::ReLU relu;
  torch::nn::MaxPool2d maxpool;  // 3x3, stride 2, padding 1
  // Stages of Bottleneck blocks ("layer2.0.conv2.weight"); layer4 is empty (nullptr) when
  // last_stage = 3.
  torch::nn::Sequential layer1, layer2, layer3, layer4;

 private:
  ResNetConfig config_;
};
TORCH_MODULE(ResNet);

// Copies a torchvision ResNet state dict (safetensors; e.g. `resnet50().state_dict()` saved with
// safetensors.torch.save_file) into `model`: every parameter and BatchNorm buffer (running_mean,
// running_var, num_batches_tracked) by its torchvision name, converting dtype and moving to the
// model's device. `ignore_fc` skips the classifier's fc.* tensors, which our backbone lacks.
// Throws core::FormatError naming the file and listing every missing, unexpected, wrongly shaped
// or wrongly typed tensor; core::IoError / FormatError when the file itself is unreadable.
void load_torchvision_resnet(ResNet& model, const std::filesystem::path& safetensors, bool ignore_fc);

}  // namespace hdv::models
