// `hdvila-train gan`: StyleGAN2 training (docs/design.md §7), the loop of NVlabs stylegan2-ada-pytorch
// `training/training_loop.py` without ADA, on one process.
//
// Each step (one minibatch) runs the phases in NVlabs' order, each with its own fresh latents:
//   Gmain  non-saturating logistic loss through D (D frozen), plus, with a guide classifier,
//          guide_weight · its cross-entropy against the requested labels; one G Adam step;
//   Greg   every pl_interval steps when pl_weight > 0: path-length penalty on batch/pl_batch_shrink
//          images, scaled by pl_interval, one G Adam step;
//   Dmain  logistic loss on G's images (no G graph) and on a real batch, one D Adam step;
//   Dreg   every r1_interval steps when r1_gamma > 0: R1 · γ/2 on the same real batch, scaled by
//          r1_interval, one D Adam step;
// then G_ema ← lerp(G, G_ema, β) with β = 0.5^(batch / (ema_kimg·1000)) (half-life ema_kimg
// thousand images; ramped up over the first images as NVlabs' ema_rampup). Adam β = (0, 0.99),
// ε 1e-8; a lazily regularised network's lr and betas are corrected by c = I/(I+1) (StyleGAN2
// Appendix B). Style mixing with probability 0.9: a second latent takes over the ws from a
// random crossover. Gradients are cleaned with nan_to_num before each Adam step (as NVlabs).
//
// All randomness (latents, noise, mixing, mirroring) comes from LibTorch's default CPU generator
// whose state goes into every checkpoint; data order is a seeded permutation per epoch derived
// from the step. A resumed CPU run therefore computes the same losses as one that never stopped.
//
// Run folder:  config.json  metrics.jsonl  samples/step-NNNNNNNN.png (fixed z, from G_ema; -raw.png:
//              the raw G on the same latents)
//              checkpoints/step-NNNNNNNN.safetensors (kind "gan-train-state", last K kept)
//              generator.safetensors (kind "generator": G_ema, rewritten at every checkpoint)
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/config.h"
#include "training/image_dataset.h"

namespace hdv::gen {
class GeneratorImpl;
}
namespace hdv::models {
class VLModelImpl;
}

namespace hdv::train {

constexpr const char* kGanStateKind = "gan-train-state";

struct GanConfig {
  std::string preset = "stylegan2-small-128";  // generator geometry (generation/generator.h presets)
  int64_t resolution = 0;        // pixels; 0 = the preset's (other powers of two rescale the net)
  int64_t batch = 8;             // images per minibatch (a multiple of 4, the minibatch-std group)
  int64_t steps = 10000;         // minibatches (each: one G and one D Adam step, + lazy regularisation)
  int64_t seed = 0;              // initialisation, latents, noise, data order, mirroring
  double lr = 0.0025;            // Adam learning rate of G and D (before the lazy correction)
  double beta1 = 0.0;            // Adam β1 (before the lazy correction)
  double beta2 = 0.99;           // Adam β2 (before the lazy correction)
  double eps = 1e-8;             // Adam ε
  double r1_gamma = -1;          // R1 weight γ; < 0 = StyleGAN2-ADA's heuristic 0.0002·R²/batch
  int64_t r1_interval = 16;      // D steps between R1 steps (lazy regularisation)
  double pl_weight = 0;          // path-length weight (StyleGAN2: 2); 0 = off (no G lazy correction)
  int64_t pl_interval = 4;       // G steps between path-length steps
  double pl_decay = 0.01;        // EMA rate of the path-length target
  int64_t pl_batch_shrink = 2;   // the path-length batch is batch / pl_batch_shrink
  double style_mixing = 0.9;     // probability of style mixing per G run
  double ema_kimg = -1;          // G_ema half-life in thousands of images; < 0 = batch·10/32 (ADA "auto")
  double ema_rampup = 0.05;      // G_ema half-life at most images_seen·rampup (0 = no ramp-up)
  bool mirror = false;           // mirror real images horizontally with probability 0.5
  int64_t log_every = 10;        // steps per log line and metrics.jsonl record
  int64_t sample_every = 500;    // steps between samples/step-N.png grids (and one at the end)
  int64_t sample_count = 16;     // images per sample grid (fixed latents, from G_ema)
  int64_t checkpoint_every = 500;  // steps between checkpoints (and one at the end)
  int64_t keep_checkpoints = 3;  // newest checkpoints kept
  int64_t fd_every = 0;          // steps between VL-FD measurements (0 = off; needs the VL model)
  int64_t fd_samples = 256;      // generated and real images per VL-FD measurement
  int64_t fd_image_size = 128;   // images are resized to this before the VL model
  double max_minutes = 0;        // stop cleanly (checkpoint + generator) after this long; 0 = off
  std::string precision = "fp32";  // fp32, or bf16: G's synthesis and D run under bf16 autocast
                                   // (mapping, weights, optimiser state and losses stay fp32)
  std::string init_generator;    // generator file G and G_ema start from (fine-tuning); "" = random
  int64_t d_warmup = 0;          // first steps that train only D (G and G_ema frozen), so a fresh D
                                 // catches up with an --init-generator G before G follows it
  std::vector<std::string> labels;  // conditional StyleGAN2-ADA on these label attributes of the data
                                    // (SynthVid: "class", "colour", "texture" of the primary object;
                                    // a folder: its labels file's keys); empty = unconditional
  int64_t mapping_layers = 0;    // mapping-network depth of G (and of D's label mapping); 0 = the preset's
  std::string guide_classifier;  // conditional only: a frozen attribute classifier ("oracle" kind, trained
                                 // apart from whatever evaluates the generator) whose cross-entropy on
                                 // G's images against the requested labels joins Gmain; "" = off
  double guide_weight = 1.0;     // weight of that cross-entropy (summed over the attributes it reads)

  template <class V>
  void fields(V& v) {
    v("preset", preset);
    v("resolution", resolution);
    v("batch", batch);
    v("steps", steps);
    v("seed", seed);
    v("lr", lr);
    v("beta1", beta1);
    v("beta2", beta2);
    v("eps", eps);
    v("r1_gamma", r1_gamma);
    v("r1_interval", r1_interval);
    v("pl_weight", pl_weight);
    v("pl_interval", pl_interval);
    v("pl_decay", pl_decay);
    v("pl_batch_shrink", pl_batch_shrink);
    v("style_mixing", style_mixing);
    v("ema_kimg", ema_kimg);
    v("ema_rampup", ema_rampup);
    v("mirror", mirror);
    v("log_every", log_every);
    v("sample_every", sample_every);
    v("sample_count", sample_count);
    v("checkpoint_every", checkpoint_every);
    v("keep_checkpoints", keep_checkpoints);
    v("fd_every", fd_every);
    v("fd_samples", fd_samples);
    v("fd_image_size", fd_image_size);
    v("max_minutes", max_minutes);
    v("precision", precision);
    v("init_generator", init_generator);
    v("d_warmup", d_warmup);
    v("labels", labels);
    v("mapping_layers", mapping_layers);
    v("guide_classifier", guide_classifier);
    v("guide_weight", guide_weight);
  }
  // Throws core::ConfigError naming the field.
  void validate() const;
  // Replaces the "auto" values (resolution 0, r1_gamma < 0, ema_kimg < 0) by what they stand for.
  void resolve();
};

struct GanRun {
  GanConfig config;
  ImageSourceOptions data;           // training images (resolution is set from the generator)
  const LabelledImages* images = nullptr;  // in-memory images instead of `data` (tests)
  std::filesystem::path out;         // run folder
  std::string resume;                // "" (fresh; the folder must not hold checkpoints), "auto" or a file
  std::filesystem::path vl_model;    // vl-model checkpoint for VL-FD (needed when fd_every > 0)
  std::string device = "auto";       // auto | cpu | cuda[:N]
};

struct GanResult {
  int64_t step = 0;             // steps done in total (including those before a resume)
  double seconds = 0;           // wall time of this invocation
  double images_per_second = 0; // real images per second over this invocation's steps
  double loss_g = 0, loss_d = 0;  // losses of the last step
  double vl_fd = -1;            // last VL-FD measured (-1 = none)
  bool stopped_early = false;   // max_minutes reached
  std::filesystem::path generator;  // run/generator.safetensors
};

GanResult train_gan(const GanRun& run);


// `count` images from `generator` with latents drawn from a CPU generator seeded with `seed`
// (never the global RNG), psi 1, const noise, in batches on the generator's device. A conditional
// generator takes `labels` ([count, c_dim]) or, when undefined, labels drawn uniformly per attribute
// from the same CPU generator after the latents.
// -> float [count, C, R, R] on the CPU
at::Tensor sample_generator(gen::GeneratorImpl& generator, int64_t count, uint64_t seed, int64_t batch = 16,
                            const at::Tensor& labels = {});

// images [N, C, H, W] -> one grid image [C, rows·H, columns·W] (row-major, empty cells black).
at::Tensor image_grid(const at::Tensor& images, int64_t columns);

// VL-FD (training/frechet.h) between `real` (float [N, 3, H, W] in [-1, 1]) and `count` images of
// `generator` (latents seeded with `seed`), both through `vl_model` at `size` × `size`.
double generator_vl_fd(gen::GeneratorImpl& generator, models::VLModelImpl& vl_model, const at::Tensor& real,
                       int64_t count, uint64_t seed, int64_t size);

}  // namespace hdv::train
