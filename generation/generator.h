// StyleGAN2 generator in plain LibTorch ops (docs/design.md §7): mapping network Z -> W, synthesis
// network with modulated + demodulated convolutions, per-layer noise, skip toRGB outputs and FIR
// [1,3,3,1] up-sampling, equalised learning rate, truncation around a tracked `w_avg`, style
// mixing, and the four latent spaces Z, W, W+ and StyleSpace S.
//
// Reference: Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"
// (config F, "skip" generator); NVlabs stylegan2-ada-pytorch `training/networks.py`, whose
// state-dict names we keep ("mapping.fc0.weight", "synthesis.b4.const",
// "synthesis.b8.conv0.affine.weight", "synthesis.b8.torgb.weight", "mapping.w_avg", ...), so a
// converted official checkpoint imports by name. StyleSpace: Wu et al. 2021 — the per-layer
// outputs of the affine maps, one vector per modulated convolution (toRGB included).
//
// Layer order (the order of ws and of styles): b4.conv1, b4.torgb, then for each resolution
// r = 8 .. R: b<r>.conv0 (up-sampling), b<r>.conv1, b<r>.torgb. conv0/conv1/torgb of one block use
// ws[2k-1], ws[2k], ws[2k+1] (NVlabs' block.num_conv + num_torgb accounting), so there are
// 2·log2(R) − 2 ws.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hdv::gen {

// One attribute of a conditional generator's labels: its name and its words, in the order of the
// one-hot columns ("colour": red, orange, ...). The label vector c concatenates one one-hot block
// per attribute (StyleGAN2-ADA's c, with several attributes).
struct LabelAttribute {
  std::string name;
  std::vector<std::string> values;

  template <class V>
  void fields(V& v) {
    v("name", name);
    v("values", values);
  }
};

// "class=t-shirt|dress; colour=red|blue" (or "none"), for messages.
std::string label_summary(const std::vector<LabelAttribute>& labels);

struct GeneratorConfig {
  int64_t resolution = 128;      // output height = width, in pixels (a power of two, >= 4)
  int64_t z_dim = 512;           // input latent width (Z)
  int64_t w_dim = 512;           // intermediate latent width (W) and style-affine input
  int64_t mapping_layers = 8;    // fully connected layers of the mapping network
  double mapping_lr_mul = 0.01;  // learning-rate multiplier of the mapping network
  int64_t channel_base = 32768;  // channels at resolution r: min(channel_base / r, channel_max)
  int64_t channel_max = 512;     // upper bound on channels per layer
  int64_t img_channels = 3;      // output channels (RGB)
  double w_avg_beta = 0.995;     // EMA decay of the tracked mean w, per training batch
  double conv_clamp = 256;       // clamp of conv outputs after bias + activation (0 = none)
  // Conditional generators (StyleGAN2-ADA): the label vocabulary; empty = unconditional. The
  // mapping network embeds c (c_dim() wide) to w_dim, normalises it and concatenates it with z.
  std::vector<LabelAttribute> labels;

  template <class V>
  void fields(V& v) {
    v("resolution", resolution);
    v("z_dim", z_dim);
    v("w_dim", w_dim);
    v("mapping_layers", mapping_layers);
    v("mapping_lr_mul", mapping_lr_mul);
    v("channel_base", channel_base);
    v("channel_max", channel_max);
    v("img_channels", img_channels);
    v("w_avg_beta", w_avg_beta);
    v("conv_clamp", conv_clamp);
    v("labels", labels);
  }
  // Throws core::ConfigError naming the field ("generator config: resolution=96 must be a power of two").
  void validate() const;

  int64_t log2_resolution() const;          // log2(resolution)
  int64_t num_ws() const;                   // 2·log2(resolution) − 2 (18 at 1024²)
  int64_t channels_at(int64_t res) const;   // min(channel_base / res, channel_max)
  int64_t c_dim() const;                    // width of the label vector c (0 = unconditional)
  bool conditional() const { return c_dim() > 0; }
};

// Named geometries: "stylegan2-f-1024" (config F at 1024²), "stylegan2-small-128" and
// "stylegan2-small-64" (CPU-sized), "stylegan2-lite-64" (the bundled default, a quarter of
// small-64's work), "stylegan2-tiny" (tests).
std::vector<std::string> generator_preset_names();
GeneratorConfig generator_preset(const std::string& name);  // ConfigError listing known names

// What the synthesis network adds as per-layer noise.
enum class NoiseMode {
  Random,  // fresh N(0, 1) noise every call (training)
  Const,   // the stored noise_const buffers (deterministic; NVlabs noise_mode='const')
  None,    // no noise
};

// One modulated convolution of the synthesis network: one entry of StyleSpace.
struct StyleLayer {
  std::string name;        // "synthesis.b8.conv0"
  int64_t resolution = 0;  // output resolution of the layer
  int64_t channels = 0;    // width of its style vector (= its input channels)
  int64_t ws_index = 0;    // which of the ws drives it
  bool torgb = false;      // toRGB layers (StyleCLIP's global directions skip them)
};

// Per-layer, fully connected layer with equalised learning rate: weight ~ N(0, 1/lr_mul²) at
// init, scaled at run time by lr_mul/sqrt(in); bias scaled by lr_mul. Optional leaky ReLU(0.2)·√2.
struct EqualLinearImpl : torch::nn::Module {
  EqualLinearImpl(int64_t in, int64_t out, bool activate, double lr_mul = 1.0, double bias_init = 0.0);
  at::Tensor forward(const at::Tensor& x);  // x: [B, in] -> [B, out]
  at::Tensor weight, bias;
  bool activate;
  double weight_gain, bias_gain;
};
TORCH_MODULE(EqualLinear);

// Z -> W: pixel norm (normalise_2nd_moment), mapping_layers EqualLinear + lrelu at lr_mul; tracks
// w_avg (buffer "w_avg") while training. Conditional (c_dim > 0, NVlabs MappingNetwork): "embed"
// (c_dim -> embed_dim, lr 1, linear), normalised, concatenated after the normalised z, so fc0 takes
// z_dim + embed_dim. z_dim 0 (the discriminator's label mapping) maps c alone.
struct MappingNetworkImpl : torch::nn::Module {
  explicit MappingNetworkImpl(const GeneratorConfig& config);
  // w_avg_beta < 0: no w_avg buffer (NVlabs' discriminator label mapping).
  MappingNetworkImpl(int64_t z_dim, int64_t c_dim, int64_t w_dim, int64_t layers, double lr_mul, double w_avg_beta);
  // z: [B, z_dim] (undefined when z_dim is 0), c: [B, c_dim] (undefined when c_dim is 0)
  // -> w: [B, w_dim]. update_w_avg: move w_avg toward the batch mean (training).
  at::Tensor forward(const at::Tensor& z, const at::Tensor& c = {}, bool update_w_avg = false);
  EqualLinear embed{nullptr};    // "embed" (conditional only)
  std::vector<EqualLinear> fcs;  // "fc0" ... "fc<N-1>"
  at::Tensor w_avg;              // [w_dim]
  double w_avg_beta;
  int64_t z_dim, c_dim;
};
TORCH_MODULE(MappingNetwork);

// Modulated 3×3 (or 1×1 toRGB) convolution: affine(w) -> style s; weight·s, demodulated
// (not for toRGB); optional ×2 transposed-conv up-sampling followed by the [1,3,3,1] FIR blur;
// then noise (conv layers), bias, leaky ReLU·√2 and clamp (toRGB: bias only, linear).
struct ModulatedConvImpl : torch::nn::Module {
  ModulatedConvImpl(int64_t in, int64_t out, int64_t kernel, int64_t w_dim, int64_t resolution, bool up,
                    bool torgb, double conv_clamp);
  // w: [B, w_dim] -> style s: [B, in] (StyleSpace coordinates of this layer, toRGB gain included)
  at::Tensor style(const at::Tensor& w);
  // x: [B, in, r, r] (r = resolution/2 when up), s: [B, in] -> [B, out, resolution, resolution]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& s, NoiseMode noise, const at::Tensor& noise_override = {});

  EqualLinear affine{nullptr};
  at::Tensor weight;          // [out, in, k, k]
  at::Tensor bias;            // [out]
  at::Tensor noise_strength;  // [] (conv layers only)
  at::Tensor noise_const;     // [resolution, resolution] buffer (conv layers only)
  int64_t in_channels, out_channels, kernel, resolution;
  bool up, torgb;
  double conv_clamp;
};
TORCH_MODULE(ModulatedConv);

// One resolution of the synthesis network: b4 holds "const" + conv1 + torgb; b8.. hold
// conv0 (up) + conv1 + torgb and add their RGB to the up-sampled skip image.
struct SynthesisBlockImpl : torch::nn::Module {
  SynthesisBlockImpl(int64_t in, int64_t out, int64_t w_dim, int64_t resolution, int64_t img_channels,
                     double conv_clamp);
  at::Tensor constant;  // "const" [out, 4, 4] (b4 only)
  ModulatedConv conv0{nullptr}, conv1{nullptr}, torgb{nullptr};
  int64_t resolution;
};
TORCH_MODULE(SynthesisBlock);

class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const GeneratorConfig& config = {});

  // z: [B, z_dim] (+ labels c: [B, c_dim] when conditional) -> image [B, C, R, R] (about [-1, 1])
  // with truncation psi (1 = none).
  at::Tensor forward(const at::Tensor& z, double psi = 1.0, NoiseMode noise = NoiseMode::Const, const at::Tensor& c = {});

  // Z (and c) -> W: [B, w_dim]. A conditional generator needs c ([B, c_dim], one one-hot block per
  // label attribute; generation/labels.h makes them): without it this throws naming c_dim.
  at::Tensor map(const at::Tensor& z, const at::Tensor& c = {}, bool update_w_avg = false);
  // W -> W+: [B, w_dim] -> [B, num_ws, w_dim].
  at::Tensor broadcast(const at::Tensor& w) const;
  // lerp(w_avg, ws, psi) on the first `cutoff` ws (all when cutoff < 0); ws: [B, num_ws, w_dim].
  at::Tensor truncate(const at::Tensor& ws, double psi, int64_t cutoff = -1) const;
  // Style mixing: ws_a for layers [0, crossover), ws_b from crossover on. [B, num_ws, w_dim] each.
  static at::Tensor mix(const at::Tensor& ws_a, const at::Tensor& ws_b, int64_t crossover);

  // W+ -> S: one [B, channels] tensor per StyleLayer, in style_layers() order.
  std::vector<at::Tensor> styles(const at::Tensor& ws);
  // W+ -> image [B, C, R, R].
  at::Tensor synthesize(const at::Tensor& ws, NoiseMode noise = NoiseMode::Const);
  // S -> image. `noise` (optional) holds one [B or 1, 1, r, r] tensor per conv layer (not toRGB),
  // in style_layers() order, replacing the noise mode's (the projector optimises these).
  at::Tensor synthesize_from_styles(const std::vector<at::Tensor>& styles, NoiseMode noise = NoiseMode::Const,
                                    const std::vector<at::Tensor>& noise_override = {});

  // Every modulated convolution, in ws/styles order.
  const std::vector<StyleLayer>& style_layers() const { return layers_; }
  // The noise_const buffers of the conv layers, in style_layers() order (toRGB skipped).
  std::vector<at::Tensor> noise_buffers();

  const GeneratorConfig& config() const { return config_; }
  at::Tensor w_avg() const { return mapping->w_avg; }

  MappingNetwork mapping{nullptr};
  std::shared_ptr<torch::nn::Module> synthesis;  // holds the blocks as "b4", "b8", ...
  std::vector<SynthesisBlock> blocks;            // b4 first

 private:
  std::vector<ModulatedConv> convs_;  // every modulated conv in style_layers() order
  std::vector<StyleLayer> layers_;
  GeneratorConfig config_;
};
TORCH_MODULE(Generator);

}  // namespace hdv::gen
