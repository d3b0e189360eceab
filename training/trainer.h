// `hdvila-train pretrain`: the pre-training loop of docs/design.md §5 (nanoGPT's train.py and
// StyleGAN3's training_loop.py are the shape of it).
//
//   stage "contrastive": CLIP/HD-VILA InfoNCE over all-gathered features, or WenLan CMCL with
//                        momentum encoders and queues; optionally with hard negatives on SynthVid
//                        (swapped-attribute captions in the softmax, grouped batches);
//   stage "mlm":         masked language modelling on the cross-modal layers with every stage-1
//                        weight frozen (optionally video-text matching).
// Every rank runs the same loop; gradients are summed across ranks (each loss is normalised by the
// global batch), so N ranks take exactly the steps one process would with the same global batch.
// Rank 0 logs one line per tick, appends metrics.jsonl and writes checkpoints that hold
// everything a resumed run needs (model, key encoders, optimiser, queues, RNG, data position).
//
// Run folder:  config.json  metrics.jsonl  model.safetensors (the VL model, kind "vl-model")
//              checkpoints/step-NNNNNNNN.safetensors (kind "vl-pretrain-state", last K kept)
#pragma once

#include "training/run_folder.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config.h"
#include "training/clip_sampler.h"
#include "training/dataset.h"
#include "training/distributed.h"
#include "training/loader.h"
#include "training/objectives.h"
#include "training/optim.h"

namespace hdv::train {

constexpr const char* kPretrainStateKind = "vl-pretrain-state";

struct PretrainConfig {
  std::string preset = "hdvila-small";  // VL model geometry (models/presets.h)
  std::string init;                     // vl-model checkpoint whose matching tensors start the model
  std::string stage = "contrastive";    // "contrastive" (stage 1) or "mlm" (stage 2)
  std::string video_mode;               // override of the video tower's mode: hybrid, lr-only, hr-only
  int64_t steps = 1000;                 // optimiser steps
  int64_t seed = 0;                     // data order, sampling, initialisation, masking
  std::string batch_norm = "batch";     // "batch" (per-rank statistics) or "frozen" (running ones)
  double mask_probability = 0.15;       // stage 2: share of tokens masked
  bool video_text_matching = false;     // stage 2: add the VTM loss (needs vtm_head)
  std::string text_field = "text";      // caption field of clip_text.jsonl
  ContrastiveConfig contrastive;
  OptimConfig optim;
  ClipSamplerConfig sampler;            // defaults to the preset's (sampler_preset)
  LoaderConfig loader;                  // batch_size = clips per rank per micro-batch
  int64_t log_every = 10;               // steps per log line / metrics.jsonl record
  int64_t checkpoint_every = 500;       // steps between checkpoints (and one at the end)
  int64_t keep_checkpoints = 3;         // newest checkpoints kept
  bool keep_models = false;             // also keep each kept checkpoint's model as models/step-N.safetensors
  double max_minutes = 0;               // stop cleanly (checkpoint + model) after this long; 0 = off

  template <class V>
  void fields(V& v) {
    v("preset", preset);
    v("init", init);
    v("stage", stage);
    v("video_mode", video_mode);
    v("steps", steps);
    v("seed", seed);
    v("batch_norm", batch_norm);
    v("mask_probability", mask_probability);
    v("video_text_matching", video_text_matching);
    v("text_field", text_field);
    v("contrastive", contrastive);
    v("optim", optim);
    v("sampler", sampler);
    v("loader", loader);
    v("log_every", log_every);
    v("checkpoint_every", checkpoint_every);
    v("keep_checkpoints", keep_checkpoints);
    v("keep_models", keep_models);
    v("max_minutes", max_minutes);
  }
  void validate() const;
};

// Defaults for a preset: the sampler geometry of sampler_preset(preset) and, for the CPU-sized
// presets, learning rates that train from scratch in minutes rather than days.
PretrainConfig pretrain_defaults(const std::string& preset);

struct PretrainRun {
  PretrainConfig config;
  DataSpec data;                    // training clips
  std::filesystem::path out;        // run folder
  std::string resume;               // "" (fresh; the folder must not hold checkpoints), "auto" or a file
  std::filesystem::path vocab;      // WordPiece vocabulary of the text tower
  std::string device = "auto";      // auto | cpu | cuda[:N] (cuda:LOCAL_RANK under torchrun)
  // The command-line flags that asked for label-based features ("--hard-negatives 4"): with a
  // dataset without SynthVid labels they are a usage error; the same settings from the defaults or
  // --config are turned off with one log line instead.
  std::vector<std::string> label_flags;
  DistributedOptions distributed;
};

struct PretrainResult {
  int64_t step = 0;                 // steps done in total (including those before a resume)
  double seconds = 0;               // wall time of this invocation
  double last_loss = 0;             // loss of the last step
  bool stopped_early = false;       // max_minutes reached
  std::filesystem::path model;      // run/model.safetensors
};

PretrainResult pretrain(const PretrainRun& run);


}  // namespace hdv::train
