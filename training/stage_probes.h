// Stage-wise linear probes on SynthVid (issue 24's diagnosis): where in the video tower does an
// attribute (texture, motion, ...) stop being readable? Each clip's features are taken at every
// stage of the tower, pooled to one vector per stage, and a linear classifier (multinomial
// logistic regression) is fitted per (stage, attribute) on one split and scored on another.
//
// Unlike the caption probes of attribute_probe.h, which ask whether the joint embedding agrees with
// the text tower, these ask only whether the information is there, linearly, at each stage; a
// stage that reads texture followed by one that does not locates the loss (input path or
// objective). Reference: the linear-evaluation protocol of SimCLR / CLIP (logistic regression on
// frozen features, L2 strength chosen on held-out data).
//
// Pooling (what each stage's vector is):
//   hr_stem, hr_layer1..4   the HR keyframe's ResNet maps, global average pooled (GAP);
//   hr_tokens               after hr_proj + max-pool + GELU, GAP;
//   lr_layer3               each low-resolution frame's C4, GAP, concatenated in time order (so a
//                           change across frames stays readable; averaging would remove it);
//   spacetime_in            the space-time Transformer's input sequence (T steps), GAP per step,
//                           concatenated in time order;
//   spacetime_out           its output (the middle step, what the model keeps), GAP;
//   visual_tokens           the tokens the tower returns (fused HR + temporal), mean over tokens:
//                           exactly the vector the model projects to its embedding;
//   embedding               the unit-length joint-space video embedding.
// Every stage is averaged over the clip's segments, as the model averages them.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/progress.h"
#include "training/clip_sampler.h"
#include "training/dataset.h"

namespace hdv::models {
class VLModelImpl;
class Tokenizer;
}  // namespace hdv::models

namespace hdv::train {

// The attributes the stage probes read: the one object's five, and the scene's background.
inline constexpr std::array<std::string_view, 6> kStageProbeAttributes = {"class", "size",  "colour",
                                                                          "texture", "motion", "background"};

// keyframes: [B, S, 3, H, W], neighbours: [B, S, T-1, 3, h, w] (undefined for "hr-only") ->
// (stage name, [B, D_stage] float32) for every stage the model's video mode runs, in forward
// order (see the list above). The model runs its normal forward; nothing about it changes.
std::vector<std::pair<std::string, at::Tensor>> video_stage_features(models::VLModelImpl& model,
                                                                     const at::Tensor& keyframes,
                                                                     const at::Tensor& neighbours);

struct LinearProbeConfig {
  std::vector<double> l2 = {1e-4, 1e-3, 1e-2, 1e-1, 1.0};  // L2 strengths λ tried: loss = CE + λ/2·‖W‖²
  double holdout = 0.2;                               // share of the fit clips that picks the L2 strength
  int iterations = 100;                               // L-BFGS iterations per fit
};

struct LinearProbeResult {
  double accuracy = 0;  // percent of test rows classified right
  double l2 = 0;        // the strength chosen on the hold-out
};

// Multinomial logistic regression on standardised features (fit rows' mean and std): fit_x [N, D],
// fit_y [N] int64 in [0, classes); the L2 strength with the best hold-out accuracy (the last
// `holdout` share of the fit rows; ties go to the stronger) is refitted on all fit rows and scored
// on test_x [M, D], test_y [M]. Deterministic for given inputs.
LinearProbeResult linear_probe(const at::Tensor& fit_x, const at::Tensor& fit_y, const at::Tensor& test_x,
                               const at::Tensor& test_y, int64_t classes, const LinearProbeConfig& config = {});

struct StageProbeScore {
  std::string stage;
  std::string attribute;
  double accuracy = 0;  // percent
  double chance = 0;    // percent: 100 / values
  double l2 = 0;        // L2 strength chosen
  int64_t dims = 0;     // feature width of the stage
};

struct StageProbeReport {
  std::vector<std::string> stages;        // forward order
  std::vector<StageProbeScore> scores;    // stage-major, attributes in kStageProbeAttributes order
  int64_t fit_clips = 0, test_clips = 0;  // one-object clips encoded
  double seconds = 0;

  core::Json to_json() const;
};

struct StageProbeOptions {
  int64_t batch_size = 16;
  int workers = 2;
  c10::Device device{c10::kCPU};
  LinearProbeConfig probe;
  core::ProgressCallback progress;  // (clips encoded, total of both splits, seconds)
};

// One-object clips of `fit` and `test` (SynthVid labels) are encoded with evaluation sampling
// (centred segments and crop); a probe per stage and attribute is fitted on fit's and scored on
// test's. Throws core::Error when either split has no labelled one-object clip.
StageProbeReport stage_probes(models::VLModelImpl& model, const models::Tokenizer& tokenizer, const Dataset& fit,
                              const Dataset& test, const ClipSampler& sampler, const StageProbeOptions& options);

// The end-to-end check of the input path: can the video tower *learn* the attributes when it is
// asked for them directly? A linear head per kStageProbeAttributes attribute reads the unit-length
// video embedding (divided by `temperature`, the contrastive loss's scale); the video tower
// (encoder and projection; the text tower is not touched) and the heads train on the sum of the
// heads' cross-entropies over the one-object clips of `fit`, with training sampling (random
// segments and crop), for `steps` AdamW steps. Run before stage_probes, the probes then say which
// attributes the input path carries when an objective asks for them, and where: if texture is
// readable after this, its absence after contrastive training is the objective's doing.
struct SupervisedTowerOptions {
  int64_t steps = 0;
  double lr = 1e-4;           // the tower's; the heads take 10x
  double temperature = 0.07;  // the embedding is divided by it before the heads
  int64_t batch_size = 16;
  int workers = 2;
  uint64_t seed = 0;
  int64_t log_every = 25;
  c10::Device device{c10::kCPU};
};

// One log tick: mean loss and training accuracy (percent) of each attribute's head over the tick.
struct SupervisedTowerTick {
  int64_t step = 0;
  double loss = 0;
  std::vector<std::pair<std::string, double>> accuracy;  // kStageProbeAttributes order
  double clips_per_second = 0;
};

// Trains `model`'s video tower in place (see SupervisedTowerOptions); `on_tick` is called every
// log_every steps and at the last. Throws core::Error when `fit` has no labelled one-object clip,
// core::ConfigError for steps < 1 or lr <= 0.
std::vector<SupervisedTowerTick> supervise_video_tower(models::VLModelImpl& model, const models::Tokenizer& tokenizer,
                                                       const Dataset& fit, const ClipSampler& sampler,
                                                       const SupervisedTowerOptions& options,
                                                       const std::function<void(const SupervisedTowerTick&)>& on_tick);

}  // namespace hdv::train
