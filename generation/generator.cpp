// StyleGAN2 generator (see generator.h).
#include "generation/generator.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "core/shape_text.h"
#include "generation/upfirdn.h"

namespace hdv::gen {
namespace {

const double kSqrt2 = std::sqrt(2.0);

bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// Leaky ReLU(0.2) with StyleGAN's gain √2, then an optional symmetric clamp.
at::Tensor lrelu_gain(const at::Tensor& x, double clamp) {
  at::Tensor y = torch::leaky_relu(x, 0.2) * kSqrt2;
  return clamp > 0 ? y.clamp(-clamp, clamp) : y;
}

void check_shape(const at::Tensor& t, const char* what, std::vector<int64_t> expected) {
  bool ok = t.defined() && t.dim() == static_cast<int64_t>(expected.size());
  for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || t.size(static_cast<int64_t>(i)) == expected[i];
  if (!ok) {
    std::vector<std::string> dims;
    for (int64_t e : expected) dims.push_back(e < 0 ? "*" : std::to_string(e));
    throw core::Error(fmt::format("{}: got shape {}, expected [{}]", what,
                                  t.defined() ? core::shape_text(t.sizes()) : "(undefined)", fmt::join(dims, ", ")));
  }
}

}  // namespace

std::string label_summary(const std::vector<LabelAttribute>& labels) {
  std::vector<std::string> parts;
  for (const auto& attribute : labels) parts.push_back(fmt::format("{}={}", attribute.name, fmt::join(attribute.values, "|")));
  return parts.empty() ? std::string("none") : fmt::format("{}", fmt::join(parts, "; "));
}

// ---- config -------------------------------------------------------------------------------

void GeneratorConfig::validate() const {
  auto fail = [](const std::string& what) { throw core::ConfigError("generator config: " + what); };
  if (!is_power_of_two(resolution) || resolution < 4) fail(fmt::format("resolution={} must be a power of two >= 4", resolution));
  if (z_dim < 1) fail(fmt::format("z_dim={} must be >= 1", z_dim));
  if (w_dim < 1) fail(fmt::format("w_dim={} must be >= 1", w_dim));
  if (mapping_layers < 1) fail(fmt::format("mapping_layers={} must be >= 1", mapping_layers));
  if (!(mapping_lr_mul > 0)) fail(fmt::format("mapping_lr_mul={} must be > 0", mapping_lr_mul));
  if (channel_max < 1) fail(fmt::format("channel_max={} must be >= 1", channel_max));
  if (channel_base < resolution) fail(fmt::format("channel_base={} must be >= resolution={} (at least one channel at the top)", channel_base, resolution));
  if (img_channels < 1) fail(fmt::format("img_channels={} must be >= 1", img_channels));
  if (!(w_avg_beta >= 0 && w_avg_beta < 1)) fail(fmt::format("w_avg_beta={} must be in [0, 1)", w_avg_beta));
  if (conv_clamp < 0) fail(fmt::format("conv_clamp={} must be >= 0 (0 = no clamp)", conv_clamp));
  std::set<std::string> names;
  for (size_t i = 0; i < labels.size(); ++i) {
    const LabelAttribute& attribute = labels[i];
    if (attribute.name.empty()) fail(fmt::format("labels[{}].name must not be empty", i));
    if (!names.insert(attribute.name).second) fail(fmt::format("labels[{}].name \"{}\" is repeated", i, attribute.name));
    if (attribute.values.size() < 2) {
      fail(fmt::format("labels[{}] (\"{}\") has {} values, expected at least 2", i, attribute.name, attribute.values.size()));
    }
    std::set<std::string> values;
    for (const auto& value : attribute.values) {
      if (value.empty() || !values.insert(value).second) {
        fail(fmt::format("labels[{}] (\"{}\"): value \"{}\" is empty or repeated", i, attribute.name, value));
      }
    }
  }
}

int64_t GeneratorConfig::c_dim() const {
  int64_t dim = 0;
  for (const auto& attribute : labels) dim += static_cast<int64_t>(attribute.values.size());
  return dim;
}

int64_t GeneratorConfig::log2_resolution() const {
  int64_t log2 = 0;
  while ((int64_t{1} << log2) < resolution) ++log2;
  return log2;
}

int64_t GeneratorConfig::num_ws() const { return 2 * log2_resolution() - 2; }

int64_t GeneratorConfig::channels_at(int64_t res) const { return std::min(channel_base / res, channel_max); }

std::vector<std::string> generator_preset_names() {
  return {"stylegan2-f-1024", "stylegan2-small-128", "stylegan2-small-64", "stylegan2-lite-64", "stylegan2-tiny"};
}

GeneratorConfig generator_preset(const std::string& name) {
  GeneratorConfig config;
  if (name == "stylegan2-f-1024") {
    config.resolution = 1024;  // config F: 512-wide latents, 8 mapping layers, 512 channels up to 64²
  } else if (name == "stylegan2-small-128" || name == "stylegan2-small-64") {
    // CPU-sized: 256-wide latents, channels 256 up to 16², then halving (32 at 128²).
    config.resolution = name == "stylegan2-small-128" ? 128 : 64;
    config.z_dim = 256;
    config.w_dim = 256;
    config.channel_base = 4096;
    config.channel_max = 256;
  } else if (name == "stylegan2-lite-64") {
    // The bundled default: a quarter of small-64's multiply-adds (128 channels up to 16², then
    // halving to 32 at 64²), so a 2-core machine sees enough images in an hour of training.
    config.resolution = 64;
    config.z_dim = 256;
    config.w_dim = 256;
    config.channel_base = 2048;
    config.channel_max = 128;
  } else if (name == "stylegan2-tiny") {
    config.resolution = 16;
    config.z_dim = 32;
    config.w_dim = 32;
    config.mapping_layers = 2;
    config.channel_base = 256;
    config.channel_max = 32;
  } else {
    throw core::ConfigError(fmt::format("unknown generator preset \"{}\" (known: {})", name,
                                        fmt::join(generator_preset_names(), ", ")));
  }
  return config;
}

// ---- layers -------------------------------------------------------------------------------

EqualLinearImpl::EqualLinearImpl(int64_t in, int64_t out, bool activate_, double lr_mul, double bias_init)
    : activate(activate_), weight_gain(lr_mul / std::sqrt(static_cast<double>(in))), bias_gain(lr_mul) {
  weight = register_parameter("weight", torch::randn({out, in}) / lr_mul);
  bias = register_parameter("bias", torch::full({out}, bias_init / lr_mul));
}

at::Tensor EqualLinearImpl::forward(const at::Tensor& x) {
  // x: [B, in] -> [B, out]
  at::Tensor y = torch::addmm(bias * bias_gain, x, (weight * weight_gain).t());
  return activate ? lrelu_gain(y, 0) : y;
}

MappingNetworkImpl::MappingNetworkImpl(const GeneratorConfig& config)
    : MappingNetworkImpl(config.z_dim, config.c_dim(), config.w_dim, config.mapping_layers, config.mapping_lr_mul,
                         config.w_avg_beta) {}

MappingNetworkImpl::MappingNetworkImpl(int64_t z_dim_, int64_t c_dim_, int64_t w_dim, int64_t layers, double lr_mul,
                                       double w_avg_beta_)
    : w_avg_beta(w_avg_beta_), z_dim(z_dim_), c_dim(c_dim_) {
  // NVlabs: the label embedding is as wide as w (embed_features = w_dim), at learning rate 1.
  if (c_dim > 0) embed = register_module("embed", EqualLinear(c_dim, w_dim, false));
  for (int64_t i = 0; i < layers; ++i) {
    const int64_t in = i == 0 ? z_dim + (c_dim > 0 ? w_dim : 0) : w_dim;
    fcs.push_back(register_module("fc" + std::to_string(i), EqualLinear(in, w_dim, true, lr_mul)));
  }
  if (w_avg_beta >= 0) w_avg = register_buffer("w_avg", torch::zeros({w_dim}));  // < 0: none (D's label mapping)
}

at::Tensor MappingNetworkImpl::forward(const at::Tensor& z, const at::Tensor& c, bool update_w_avg) {
  // z: [B, z_dim], c: [B, c_dim] -> w: [B, w_dim]
  auto normalise_2nd_moment = [](const at::Tensor& t) { return t * (t.square().mean(1, true) + 1e-8).rsqrt(); };
  at::Tensor x;
  if (z_dim > 0) x = normalise_2nd_moment(z);
  if (c_dim > 0) {
    at::Tensor y = normalise_2nd_moment(embed->forward(c.to(embed->weight.dtype())));
    x = x.defined() ? torch::cat({x, y}, 1) : y;
  }
  for (auto& fc : fcs) x = fc->forward(x);
  if (update_w_avg && w_avg.defined()) {
    torch::NoGradGuard no_grad;
    w_avg.copy_(x.detach().mean(0).lerp(w_avg, w_avg_beta));
  }
  return x;
}

ModulatedConvImpl::ModulatedConvImpl(int64_t in, int64_t out, int64_t kernel_, int64_t w_dim, int64_t resolution_,
                                     bool up_, bool torgb_, double conv_clamp_)
    : in_channels(in), out_channels(out), kernel(kernel_), resolution(resolution_), up(up_), torgb(torgb_),
      conv_clamp(conv_clamp_) {
  affine = register_module("affine", EqualLinear(w_dim, in, false, 1.0, 1.0));
  weight = register_parameter("weight", torch::randn({out, in, kernel, kernel}));
  bias = register_parameter("bias", torch::zeros({out}));
  if (!torgb) {
    noise_strength = register_parameter("noise_strength", torch::zeros({}));
    noise_const = register_buffer("noise_const", torch::randn({resolution, resolution}));
  }
}

at::Tensor ModulatedConvImpl::style(const at::Tensor& w) {
  // w: [B, w_dim] -> s: [B, in]
  at::Tensor s = affine->forward(w);
  // toRGB is not demodulated, so its equalised-lr gain lives in the style (NVlabs ToRGBLayer).
  if (torgb) s = s * (1.0 / std::sqrt(static_cast<double>(in_channels * kernel * kernel)));
  return s;
}

at::Tensor ModulatedConvImpl::forward(const at::Tensor& x, const at::Tensor& s, NoiseMode noise,
                                      const at::Tensor& noise_override) {
  // x: [B, in, r, r], s: [B, in] -> [B, out, resolution, resolution]
  const int64_t batch = x.size(0);
  check_shape(s, "modulated conv style", {batch, in_channels});
  // Modulate the activations instead of the weights (NVlabs' non-fused path): the same result,
  // one shared convolution for the whole batch.
  at::Tensor y = x * s.reshape({batch, in_channels, 1, 1});
  if (up) {
    // ×2 transposed convolution (weight as [in, out, k, k]), then the [1,3,3,1] blur with gain 4:
    // (2r+1) + 1 + 1 − 4 + 1 = 2r pixels.
    y = torch::conv_transpose2d(y, weight.transpose(0, 1), {}, 2, 0);
    static const at::Tensor kernel_1331 = fir_kernel_1331();
    y = upfirdn2d(y, kernel_1331, 1, 1, 1, 1, 4.0);
  } else {
    y = torch::conv2d(y, weight, {}, 1, kernel / 2);
  }
  if (!torgb) {
    // Demodulation: scale each output map so that the modulated weight has unit L2 norm per output.
    at::Tensor w = weight.unsqueeze(0) * s.reshape({batch, 1, in_channels, 1, 1});  // [B, out, in, k, k]
    at::Tensor dcoefs = (w.square().sum({2, 3, 4}) + 1e-8).rsqrt();                 // [B, out]
    y = y * dcoefs.reshape({batch, out_channels, 1, 1});
    at::Tensor n;
    if (noise_override.defined()) {
      n = noise_override;
    } else if (noise == NoiseMode::Random) {
      n = torch::randn({batch, 1, resolution, resolution}, y.options());
    } else if (noise == NoiseMode::Const) {
      n = noise_const.reshape({1, 1, resolution, resolution});
    }
    if (n.defined()) y = y + n * noise_strength;
    return lrelu_gain(y + bias.reshape({1, -1, 1, 1}), conv_clamp > 0 ? conv_clamp * kSqrt2 : 0);
  }
  y = y + bias.reshape({1, -1, 1, 1});
  return conv_clamp > 0 ? y.clamp(-conv_clamp, conv_clamp) : y;
}

SynthesisBlockImpl::SynthesisBlockImpl(int64_t in, int64_t out, int64_t w_dim, int64_t resolution_,
                                       int64_t img_channels, double conv_clamp)
    : resolution(resolution_) {
  if (resolution == 4) {
    constant = register_parameter("const", torch::randn({out, 4, 4}));
  } else {
    conv0 = register_module("conv0", ModulatedConv(in, out, 3, w_dim, resolution, true, false, conv_clamp));
  }
  conv1 = register_module("conv1", ModulatedConv(out, out, 3, w_dim, resolution, false, false, conv_clamp));
  torgb = register_module("torgb", ModulatedConv(out, img_channels, 1, w_dim, resolution, false, true, conv_clamp));
}

// ---- generator ----------------------------------------------------------------------------

GeneratorImpl::GeneratorImpl(const GeneratorConfig& config) : config_(config) {
  config_.validate();
  mapping = register_module("mapping", MappingNetwork(config_));
  synthesis = register_module("synthesis", std::make_shared<torch::nn::Module>("Synthesis"));
  int64_t ws_index = 0;
  for (int64_t log2 = 2; log2 <= config_.log2_resolution(); ++log2) {
    const int64_t res = int64_t{1} << log2;
    const int64_t in = res == 4 ? 0 : config_.channels_at(res / 2);
    const int64_t out = config_.channels_at(res);
    const std::string name = fmt::format("b{}", res);
    auto block = synthesis->register_module(
        name, SynthesisBlock(in, out, config_.w_dim, res, config_.img_channels, config_.conv_clamp));
    blocks.push_back(block);
    // NVlabs' ws accounting: conv0 and conv1 take the next two ws, toRGB shares the w that the
    // next block's conv0 takes.
    if (res != 4) {
      convs_.push_back(block->conv0);
      layers_.push_back({"synthesis." + name + ".conv0", res, in, ws_index++, false});
    }
    convs_.push_back(block->conv1);
    layers_.push_back({"synthesis." + name + ".conv1", res, out, ws_index++, false});
    convs_.push_back(block->torgb);
    layers_.push_back({"synthesis." + name + ".torgb", res, out, ws_index, true});
  }
}

at::Tensor GeneratorImpl::map(const at::Tensor& z, const at::Tensor& c, bool update_w_avg) {
  check_shape(z, "z", {-1, config_.z_dim});
  const int64_t c_dim = config_.c_dim();
  if (c_dim > 0) {
    if (!c.defined()) {
      throw core::Error(fmt::format("conditional generator: labels c [B, {}] are needed to map z (labels: {})", c_dim,
                                    label_summary(config_.labels)));
    }
    check_shape(c, "c (labels)", {z.size(0), c_dim});
  } else if (c.defined() && c.numel() > 0) {
    throw core::Error(fmt::format("unconditional generator: got labels c {}, expected none", core::shape_text(c.sizes())));
  }
  return mapping->forward(z, c_dim > 0 ? c : at::Tensor(), update_w_avg);
}

at::Tensor GeneratorImpl::broadcast(const at::Tensor& w) const {
  check_shape(w, "w", {-1, config_.w_dim});
  return w.unsqueeze(1).repeat({1, config_.num_ws(), 1});
}

at::Tensor GeneratorImpl::truncate(const at::Tensor& ws, double psi, int64_t cutoff) const {
  check_shape(ws, "ws", {-1, config_.num_ws(), config_.w_dim});
  if (psi == 1.0) return ws;
  at::Tensor avg = mapping->w_avg.reshape({1, 1, -1});
  at::Tensor truncated = avg + (ws - avg) * psi;
  if (cutoff < 0 || cutoff >= config_.num_ws()) return truncated;
  return torch::cat({truncated.slice(1, 0, cutoff), ws.slice(1, cutoff)}, 1);
}

at::Tensor GeneratorImpl::mix(const at::Tensor& ws_a, const at::Tensor& ws_b, int64_t crossover) {
  if (ws_a.sizes() != ws_b.sizes()) {
    throw core::Error(fmt::format("style mixing: ws shapes differ ({} vs {})", core::shape_text(ws_a.sizes()),
                                  core::shape_text(ws_b.sizes())));
  }
  const int64_t n = ws_a.size(1);
  crossover = std::clamp<int64_t>(crossover, 0, n);
  return torch::cat({ws_a.slice(1, 0, crossover), ws_b.slice(1, crossover)}, 1);
}

std::vector<at::Tensor> GeneratorImpl::styles(const at::Tensor& ws) {
  check_shape(ws, "ws", {-1, config_.num_ws(), config_.w_dim});
  std::vector<at::Tensor> result;
  result.reserve(convs_.size());
  for (size_t i = 0; i < convs_.size(); ++i) result.push_back(convs_[i]->style(ws.select(1, layers_[i].ws_index)));
  return result;
}

at::Tensor GeneratorImpl::synthesize(const at::Tensor& ws, NoiseMode noise) { return synthesize_from_styles(styles(ws), noise); }

at::Tensor GeneratorImpl::synthesize_from_styles(const std::vector<at::Tensor>& styles, NoiseMode noise,
                                                 const std::vector<at::Tensor>& noise_override) {
  if (styles.size() != convs_.size()) {
    throw core::Error(fmt::format("styles: got {} layers, expected {}", styles.size(), convs_.size()));
  }
  const size_t conv_layers = convs_.size() - blocks.size();  // every layer but the toRGBs
  if (!noise_override.empty() && noise_override.size() != conv_layers) {
    throw core::Error(fmt::format("noise: got {} tensors, expected {} (one per conv layer)", noise_override.size(), conv_layers));
  }
  for (size_t i = 0; i < styles.size(); ++i) check_shape(styles[i], layers_[i].name.c_str(), {-1, layers_[i].channels});
  const int64_t batch = styles.front().size(0);
  size_t layer = 0, noise_index = 0;
  auto run = [&](ModulatedConv& conv, const at::Tensor& x) {
    at::Tensor n;
    if (!conv->torgb && !noise_override.empty()) n = noise_override[noise_index++];
    return conv->forward(x, styles[layer++], noise, n);
  };
  // x: [B, C_r, r, r] features, img: [B, img_channels, r, r] skip image
  at::Tensor x, img;
  for (auto& block : blocks) {
    if (block->resolution == 4) {
      x = block->constant.unsqueeze(0).expand({batch, -1, -1, -1});
    } else {
      x = run(block->conv0, x);
    }
    x = run(block->conv1, x);
    static const at::Tensor kernel_1331 = fir_kernel_1331();
    at::Tensor y = run(block->torgb, x);
    img = img.defined() ? upsample2d(img, kernel_1331) + y : y;
  }
  return img;
}

at::Tensor GeneratorImpl::forward(const at::Tensor& z, double psi, NoiseMode noise, const at::Tensor& c) {
  return synthesize(truncate(broadcast(map(z, c)), psi), noise);
}

std::vector<at::Tensor> GeneratorImpl::noise_buffers() {
  std::vector<at::Tensor> buffers;
  for (auto& conv : convs_) {
    if (!conv->torgb) buffers.push_back(conv->noise_const);
  }
  return buffers;
}

}  // namespace hdv::gen
