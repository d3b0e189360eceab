// StyleGAN2 residual discriminator in plain LibTorch ops (docs/design.md §7): fromRGB at the top
// resolution, then one residual block per resolution R .. 8 (conv0 3×3, conv1 3×3 with ×2
// down-sampling after the [1,3,3,1] FIR blur, a 1×1 down-sampling skip without bias, the two
// branches summed with gain 1/√2), and the 4×4 epilogue: minibatch standard deviation, conv 3×3,
// fully connected, output logit. Equalised learning rate everywhere (weights ~ N(0, 1), scaled at
// run time by 1/√fan_in), leaky ReLU(0.2)·√2, conv outputs clamped at ±conv_clamp.
//
// Reference: Karras et al. 2020 (config F, "resnet" discriminator); NVlabs stylegan2-ada-pytorch
// `training/networks.py` (`Discriminator`, `DiscriminatorBlock` with architecture='resnet',
// `DiscriminatorEpilogue`, `MinibatchStdLayer`, `Conv2dLayer`) and `torch_utils/ops/
// conv2d_resample.py` (padding of the blurred, strided convolutions). State-dict names follow
// NVlabs: "b128.fromrgb.weight", "b128.conv0.weight", "b128.conv1.bias", "b128.skip.weight",
// "b4.conv.weight", "b4.fc.weight", "b4.out.weight" (NVlabs' constant "resample_filter" buffers
// are not stored).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "generation/generator.h"

namespace hdv::gen {

struct DiscriminatorConfig {
  int64_t resolution = 128;      // input height = width, in pixels (a power of two, >= 8)
  int64_t channel_base = 32768;  // channels at resolution r: min(channel_base / r, channel_max)
  int64_t channel_max = 512;     // upper bound on channels per layer
  int64_t mbstd_group = 4;       // minibatch-std group size (min(group, batch) is used)
  int64_t mbstd_channels = 1;    // feature maps the minibatch std adds (0 = no minibatch std)
  int64_t img_channels = 3;      // input channels (RGB)
  double conv_clamp = 256;       // clamp of conv outputs after bias + activation (0 = none)
  // Conditional (StyleGAN2-ADA projection discriminator): c_dim > 0 maps the labels c through a
  // MappingNetwork ("mapping": embed + mapping_layers fcs at lr 0.01) to cmap [B, cmap_dim]; the
  // epilogue's "out" gives cmap_dim features and the logit is (out · cmap) / √cmap_dim.
  int64_t c_dim = 0;             // label width (0 = unconditional)
  int64_t cmap_dim = 0;          // width of the label projection (0 = the channels at 4², NVlabs' default)
  int64_t mapping_layers = 8;    // fcs of the label mapping (NVlabs: 8)

  template <class V>
  void fields(V& v) {
    v("resolution", resolution);
    v("channel_base", channel_base);
    v("channel_max", channel_max);
    v("mbstd_group", mbstd_group);
    v("mbstd_channels", mbstd_channels);
    v("img_channels", img_channels);
    v("conv_clamp", conv_clamp);
    v("c_dim", c_dim);
    v("cmap_dim", cmap_dim);
    v("mapping_layers", mapping_layers);
  }
  // Throws core::ConfigError naming the field ("discriminator config: resolution=96 must be ...").
  void validate() const;

  int64_t channels_at(int64_t res) const;  // min(channel_base / res, channel_max)
};

// The discriminator that matches a generator: same resolution, channel_base, channel_max,
// image channels, conv_clamp and label width (c_dim); minibatch std with group 4 and 1 channel
// (NVlabs' defaults); a conditional one's label mapping has the generator's mapping depth.
DiscriminatorConfig discriminator_config_for(const GeneratorConfig& generator);

// Convolution with equalised learning rate (NVlabs `Conv2dLayer`): weight [out, in, k, k] ~ N(0, 1)
// scaled by 1/√(in·k²), optional bias, optional leaky ReLU(0.2)·√2, optional ×2 down-sampling
// (FIR blur then stride 2), output multiplied by `gain` and clamped at ±conv_clamp·gain.
struct DiscriminatorConvImpl : torch::nn::Module {
  DiscriminatorConvImpl(int64_t in, int64_t out, int64_t kernel, bool bias, bool activate, bool down,
                        double conv_clamp);
  // x: [B, in, H, W] -> [B, out, H/2 or H, W/2 or W]
  at::Tensor forward(const at::Tensor& x, double gain = 1.0);

  at::Tensor weight;  // [out, in, k, k]
  at::Tensor bias;    // [out] (undefined without bias)
  int64_t kernel;
  bool activate, down;
  double weight_gain, conv_clamp;
};
TORCH_MODULE(DiscriminatorConv);

// One resolution r of the residual discriminator ("b<r>"): [fromrgb (top block only)], conv0,
// conv1 (down), skip (down, no bias).
struct DiscriminatorBlockImpl : torch::nn::Module {
  DiscriminatorBlockImpl(int64_t in, int64_t tmp, int64_t out, int64_t resolution, int64_t img_channels,
                         double conv_clamp);
  // x: [B, tmp, r, r] (undefined for the top block), img: [B, C, r, r] (top block only)
  // -> [B, out, r/2, r/2]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& img);

  DiscriminatorConv fromrgb{nullptr}, conv0{nullptr}, conv1{nullptr}, skip{nullptr};
  int64_t resolution;
};
TORCH_MODULE(DiscriminatorBlock);

// Minibatch standard deviation (NVlabs `MinibatchStdLayer`): groups of G = min(group, B) images
// taken with stride B/G (image i is in group i mod B/G), the std over the group averaged over
// c = C/F channels and all pixels, appended as F constant feature maps. B must be a multiple of G.
// x: [B, C, H, W] -> [B, C + F, H, W]
at::Tensor minibatch_std(const at::Tensor& x, int64_t group, int64_t channels);

// The 4×4 head ("b4"): minibatch std, conv 3×3, fc (C·16 -> C, lrelu), out (C -> 1, or -> cmap_dim
// when conditional).
struct DiscriminatorEpilogueImpl : torch::nn::Module {
  DiscriminatorEpilogueImpl(int64_t channels, int64_t mbstd_group, int64_t mbstd_channels, double conv_clamp,
                            int64_t out_features = 1);
  // x: [B, C, 4, 4] -> [B, out_features]
  at::Tensor forward(const at::Tensor& x);

  DiscriminatorConv conv{nullptr};
  EqualLinear fc{nullptr}, out{nullptr};
  int64_t mbstd_group, mbstd_channels;
};
TORCH_MODULE(DiscriminatorEpilogue);

class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(const DiscriminatorConfig& config = {});

  // images: [B, C, R, R] (about [-1, 1]), c: [B, c_dim] labels (conditional only)
  // -> logits [B, 1] (real > 0 > fake after training)
  at::Tensor forward(const at::Tensor& images, const at::Tensor& c = {});

  const DiscriminatorConfig& config() const { return config_; }
  int64_t cmap_dim() const;  // 0 when unconditional

  std::vector<DiscriminatorBlock> blocks;  // b<R> first, b8 last
  DiscriminatorEpilogue epilogue{nullptr};  // "b4"
  MappingNetwork mapping{nullptr};          // "mapping" (conditional only)

 private:
  DiscriminatorConfig config_;
};
TORCH_MODULE(Discriminator);

}  // namespace hdv::gen
