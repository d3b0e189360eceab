// Training and evaluating the attribute oracle (generation/oracle.h) on labelled still images
// (training/image_dataset.h: SynthVid keyframes with their labels.jsonl line).
//
// Targets are the values of the primary object (objects[0]) of each image's labels. The loop is
// plain supervised learning: Adam, a cosine learning-rate decay to 10 % over the run, the sum of
// one cross-entropy per attribute, and light augmentation that keeps every label true — a random
// horizontal mirror (class, colour, texture and size are mirror-invariant; the motion, which
// mirroring would flip, is not an oracle attribute) and a random translation of up to
// `max_shift` pixels (edge pixels repeated; objects stay inside the frame in SynthVid).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "core/config.h"
#include "core/progress.h"
#include "generation/oracle.h"
#include "training/image_dataset.h"

namespace hdv::train {

// The attributes the oracle reads by default: those of SynthVid objects that a still image shows.
inline const std::vector<std::string> kOracleAttributes = {"class", "colour", "texture", "size"};

struct OracleTrainConfig {
  int64_t epochs = 5;     // passes over the training images
  int64_t batch = 64;     // images per optimiser step
  double lr = 2e-3;       // peak Adam learning rate (cosine decay to lr/10 by the last step)
  int64_t max_shift = 4;  // augmentation: random translation of up to this many pixels (0 = off)
  bool hflip = true;      // augmentation: random horizontal mirror
  int64_t seed = 0;       // initialisation, shuffling and augmentation

  template <class V>
  void fields(V& v) {
    v("epochs", epochs);
    v("batch", batch);
    v("lr", lr);
    v("max_shift", max_shift);
    v("hflip", hflip);
    v("seed", seed);
  }
  // Throws core::ConfigError naming the field ("oracle training: batch=0 must be >= 1").
  void validate() const;
};

// One line of training progress: the epoch just finished.
struct OracleEpoch {
  int64_t epoch = 0;  // 1-based
  int64_t steps = 0;  // optimiser steps so far
  double loss = 0;    // mean summed cross-entropy over the epoch's steps
  std::map<std::string, double> train_accuracy;  // attribute -> share of training images right, 0..1
  double seconds = 0;  // since training started
};
using OracleEpochCallback = std::function<void(const OracleEpoch&)>;

// The value lists of `names` as the labels of `images` use them: every distinct value of
// objects[0][name], sorted. Throws core::FormatError naming the image's source when an image has
// no objects[0][name] string.
std::vector<gen::OracleAttribute> attribute_values(const LabelledImages& images, const std::vector<std::string>& names);

// Per attribute (in `config.attributes` order) the index of each image's value: int64 [N];
// -1 for a value the config does not list. Throws core::FormatError naming the image's source
// when the labels lack the attribute.
std::vector<at::Tensor> attribute_targets(const LabelledImages& images, const gen::OracleConfig& config);

// Trains a new oracle of geometry `model` (its attributes must be set) on `images`; `step`
// receives the optimiser steps taken. Deterministic for a seed and thread count.
gen::AttributeOracle train_oracle(const LabelledImages& images, const gen::OracleConfig& model,
                                  const OracleTrainConfig& config, c10::Device device,
                                  const OracleEpochCallback& on_epoch = {}, int64_t* steps = nullptr);

// Held-out accuracy. SynthVid's primary object differs from a second one only by being drawn on
// top, and the two are placed apart, so on two-object images the primary is mostly a guess; the
// one-object figures are what the oracle can be held to.
struct OracleEvaluation {
  std::map<std::string, double> accuracy;             // attribute -> top-1 accuracy on all images, 0..1
  std::map<std::string, double> one_object_accuracy;  // the same on images whose labels list one object
  int64_t images = 0;
  int64_t one_object_images = 0;

  core::Json to_json() const;  // {"all": {...}, "one_object": {...}, "images": N, "one_object_images": M}
};

// Top-1 accuracy per attribute on `images` in eval mode; `progress` counts images.
OracleEvaluation evaluate_oracle(gen::AttributeOracleImpl& oracle, const LabelledImages& images, c10::Device device,
                                 int64_t batch = 128, const core::ProgressCallback& progress = {});

}  // namespace hdv::train
