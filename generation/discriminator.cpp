// StyleGAN2 residual discriminator (see discriminator.h; NVlabs stylegan2-ada-pytorch
// training/networks.py and torch_utils/ops/conv2d_resample.py).
#include "generation/discriminator.h"

#include <torch/torch.h>

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "core/shape_text.h"
#include "generation/upfirdn.h"

namespace hdv::gen {

namespace F = torch::nn::functional;

namespace {

constexpr double kLeakySlope = 0.2;
const double kLeakyGain = std::sqrt(2.0);

bool is_power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

// upfirdn2d with up = 1 and the [1,3,3,1] kernel (generation/upfirdn.h).
// x: [B, C, H, W] -> [B, C, (H + pad0 + pad1 - 4) / down + 1, ...]
at::Tensor blur_down(const at::Tensor& x, int64_t pad0, int64_t pad1, int64_t down) {
  static const at::Tensor kernel = fir_kernel_1331();
  return upfirdn2d(x, kernel.to(x.options()), 1, down, pad0, pad1);
}

}  // namespace

void DiscriminatorConfig::validate() const {
  auto fail = [](const std::string& message) { throw core::ConfigError("discriminator config: " + message); };
  if (!is_power_of_two(resolution) || resolution < 8) {
    fail(fmt::format("resolution={} must be a power of two >= 8", resolution));
  }
  if (channel_base < 1) fail(fmt::format("channel_base={} must be >= 1", channel_base));
  if (channel_max < 1) fail(fmt::format("channel_max={} must be >= 1", channel_max));
  if (channel_base / resolution < 1) {
    fail(fmt::format("channel_base={} gives no channels at resolution {} (needs >= resolution)", channel_base,
                     resolution));
  }
  if (mbstd_group < 1) fail(fmt::format("mbstd_group={} must be >= 1", mbstd_group));
  if (mbstd_channels < 0) fail(fmt::format("mbstd_channels={} must be >= 0", mbstd_channels));
  if (mbstd_channels > 0 && channels_at(4) % mbstd_channels != 0) {
    fail(fmt::format("mbstd_channels={} must divide the {} channels at 4x4", mbstd_channels, channels_at(4)));
  }
  if (img_channels < 1) fail(fmt::format("img_channels={} must be >= 1", img_channels));
  if (c_dim < 0) fail(fmt::format("c_dim={} must be >= 0 (0 = unconditional)", c_dim));
  if (cmap_dim < 0) fail(fmt::format("cmap_dim={} must be >= 0 (0 = the channels at 4x4)", cmap_dim));
  if (c_dim > 0 && mapping_layers < 1) fail(fmt::format("mapping_layers={} must be >= 1", mapping_layers));
  if (!(conv_clamp >= 0)) fail(fmt::format("conv_clamp={} must be >= 0 (0 = none)", conv_clamp));
}

int64_t DiscriminatorConfig::channels_at(int64_t res) const { return std::min(channel_base / res, channel_max); }

DiscriminatorConfig discriminator_config_for(const GeneratorConfig& generator) {
  DiscriminatorConfig config;
  config.resolution = generator.resolution;
  config.channel_base = generator.channel_base;
  config.channel_max = generator.channel_max;
  config.img_channels = generator.img_channels;
  config.conv_clamp = generator.conv_clamp;
  config.c_dim = generator.c_dim();
  config.mapping_layers = generator.mapping_layers;
  return config;
}

DiscriminatorConvImpl::DiscriminatorConvImpl(int64_t in, int64_t out, int64_t kernel, bool bias, bool activate,
                                             bool down, double conv_clamp)
    : kernel(kernel),
      activate(activate),
      down(down),
      weight_gain(1.0 / std::sqrt(double(in * kernel * kernel))),
      conv_clamp(conv_clamp) {
  weight = register_parameter("weight", torch::randn({out, in, kernel, kernel}));
  if (bias) this->bias = register_parameter("bias", torch::zeros({out}));
}

at::Tensor DiscriminatorConvImpl::forward(const at::Tensor& x, double gain) {
  at::Tensor w = weight * weight_gain;
  at::Tensor y;
  if (!down) {
    y = F::conv2d(x, w, F::Conv2dFuncOptions().padding(kernel / 2));
  } else if (kernel == 1) {
    // conv2d_resample's 1×1 fast path: blur + down-sample (pad 1, 1), then the 1×1 conv.
    y = F::conv2d(blur_down(x, 1, 1, 2), w);
  } else {
    // Blur with the conv's own padding added (k/2 + 1 on each side for a 4-tap filter), then a
    // strided conv without padding: [B, C, H + 2k/2 + 2 - 3, ...] -> [B, out, H/2, W/2].
    y = F::conv2d(blur_down(x, kernel / 2 + 1, kernel / 2 + 1, 1), w, F::Conv2dFuncOptions().stride(2));
  }
  if (bias.defined()) y = y + bias.view({1, -1, 1, 1});
  if (activate) y = F::leaky_relu(y, F::LeakyReLUFuncOptions().negative_slope(kLeakySlope)) * kLeakyGain;
  if (gain != 1.0) y = y * gain;
  if (conv_clamp > 0) y = y.clamp(-conv_clamp * gain, conv_clamp * gain);
  return y;
}

DiscriminatorBlockImpl::DiscriminatorBlockImpl(int64_t in, int64_t tmp, int64_t out, int64_t resolution,
                                               int64_t img_channels, double conv_clamp)
    : resolution(resolution) {
  if (in == 0) {
    fromrgb = register_module("fromrgb", DiscriminatorConv(img_channels, tmp, 1, true, true, false, conv_clamp));
  }
  conv0 = register_module("conv0", DiscriminatorConv(tmp, tmp, 3, true, true, false, conv_clamp));
  conv1 = register_module("conv1", DiscriminatorConv(tmp, out, 3, true, true, true, conv_clamp));
  skip = register_module("skip", DiscriminatorConv(tmp, out, 1, false, false, true, conv_clamp));
}

at::Tensor DiscriminatorBlockImpl::forward(const at::Tensor& x_in, const at::Tensor& img) {
  at::Tensor x = x_in;
  if (fromrgb) {
    at::Tensor y = fromrgb->forward(img);  // [B, tmp, r, r]
    x = x.defined() ? x + y : y;
  }
  const double half = std::sqrt(0.5);
  at::Tensor y = skip->forward(x, half);  // [B, out, r/2, r/2]
  x = conv0->forward(x);                  // [B, tmp, r, r]
  x = conv1->forward(x, half);            // [B, out, r/2, r/2]
  return y + x;
}

at::Tensor minibatch_std(const at::Tensor& x, int64_t group, int64_t channels) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t g = std::min(group, n);
  if (n % g != 0) {
    throw core::Error(fmt::format("minibatch std: batch {} is not a multiple of the group size {} (mbstd_group)", n, g));
  }
  at::Tensor y = x.reshape({g, -1, channels, c / channels, h, w});  // [G, n, F, c, H, W]
  y = y - y.mean(0);                                                 // centre each group
  y = y.square().mean(0);                                            // [n, F, c, H, W] variance
  y = (y + 1e-8).sqrt();
  y = y.mean({2, 3, 4});                                             // [n, F]
  y = y.reshape({-1, channels, 1, 1}).repeat({g, 1, h, w});          // [N, F, H, W]
  return torch::cat({x, y}, 1);
}

DiscriminatorEpilogueImpl::DiscriminatorEpilogueImpl(int64_t channels, int64_t mbstd_group, int64_t mbstd_channels,
                                                     double conv_clamp, int64_t out_features)
    : mbstd_group(mbstd_group), mbstd_channels(mbstd_channels) {
  conv = register_module("conv", DiscriminatorConv(channels + mbstd_channels, channels, 3, true, true, false, conv_clamp));
  fc = register_module("fc", EqualLinear(channels * 16, channels, /*activate=*/true));
  out = register_module("out", EqualLinear(channels, out_features, /*activate=*/false));
}

at::Tensor DiscriminatorEpilogueImpl::forward(const at::Tensor& x_in) {
  at::Tensor x = mbstd_channels > 0 ? minibatch_std(x_in, mbstd_group, mbstd_channels) : x_in;  // [B, C+F, 4, 4]
  x = conv->forward(x);                  // [B, C, 4, 4]
  x = fc->forward(x.flatten(1));         // [B, C]
  return out->forward(x);                // [B, 1]
}

DiscriminatorImpl::DiscriminatorImpl(const DiscriminatorConfig& config) : config_(config) {
  config_.validate();
  for (int64_t res = config_.resolution; res >= 8; res /= 2) {
    const int64_t in = res < config_.resolution ? config_.channels_at(res) : 0;
    auto block = DiscriminatorBlock(in, config_.channels_at(res), config_.channels_at(res / 2), res,
                                    config_.img_channels, config_.conv_clamp);
    blocks.push_back(register_module(fmt::format("b{}", res), block));
  }
  const int64_t cmap = cmap_dim();
  epilogue = register_module("b4", DiscriminatorEpilogue(config_.channels_at(4), config_.mbstd_group,
                                                         config_.mbstd_channels, config_.conv_clamp, cmap > 0 ? cmap : 1));
  if (cmap > 0) {
    mapping = register_module("mapping", MappingNetwork(0, config_.c_dim, cmap, config_.mapping_layers, 0.01, -1.0));
  }
}

int64_t DiscriminatorImpl::cmap_dim() const {
  if (config_.c_dim == 0) return 0;
  return config_.cmap_dim > 0 ? config_.cmap_dim : config_.channels_at(4);
}

at::Tensor DiscriminatorImpl::forward(const at::Tensor& images, const at::Tensor& c) {
  const int64_t r = config_.resolution;
  if (!images.defined() || images.dim() != 4 || images.size(1) != config_.img_channels || images.size(2) != r ||
      images.size(3) != r) {
    throw core::Error(fmt::format("discriminator: images {}, expected [B, {}, {}, {}]",
                                  images.defined() ? core::shape_text(images.sizes()) : "undefined",
                                  config_.img_channels, r, r));
  }
  at::Tensor x;
  const int64_t cmap = cmap_dim();
  if (cmap > 0 && (!c.defined() || c.dim() != 2 || c.size(0) != images.size(0) || c.size(1) != config_.c_dim)) {
    throw core::Error(fmt::format("discriminator: labels c {}, expected [{}, {}]",
                                  c.defined() ? core::shape_text(c.sizes()) : "undefined", images.size(0), config_.c_dim));
  }
  for (auto& block : blocks) x = block->forward(x, block->fromrgb ? images : at::Tensor());  // [B, C_r/2, r/2, r/2]
  x = epilogue->forward(x);  // [B, 1] or [B, cmap]
  if (cmap == 0) return x;
  // Projection (NVlabs DiscriminatorEpilogue): the features' inner product with the label map.
  at::Tensor cmap_features = mapping->forward(at::Tensor(), c.to(x.dtype()));  // [B, cmap]
  return (x * cmap_features.to(x.dtype())).sum(1, true) * (1.0 / std::sqrt(double(cmap)));
}

}  // namespace hdv::gen
