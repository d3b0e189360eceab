// The attribute oracle (docs/design.md §7): a small supervised CNN that reads the primary object's
// attributes (SynthVid: class, colour, texture, size) from an image. It only *scores* edits and
// super-resolution results; nothing is ever trained or steered through it.
//
// Architecture: `stages` blocks of `convs_per_stage` × (conv 3×3 → BatchNorm → ReLU), then
// max-pool 2×2 (width doubling per stage from `width`); global average and global max pooling,
// concatenated (the max keeps a small object's features from being averaged away by the
// background); then one linear head per attribute. Input
// images of any size are first brought to `resolution` (area averaging when shrinking, as the
// training images were, bilinear when enlarging), so a 128×128 generator output is read the way
// the 64×64 training images were made from 128×128 SynthVid frames.
//
// The value list of each attribute lives in the config, so a checkpoint is self-describing and
// generation/ needs nothing from training/. Checkpoints are core checkpoints of kind "oracle":
// every parameter and buffer under its module name ("features.0.weight",
// "heads.colour.weight"), info.config = the OracleConfig (held-out accuracies included).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"

namespace hdv::gen {

constexpr const char* kOracleKind = "oracle";

// One attribute the oracle reads, with its values in logit order.
struct OracleAttribute {
  std::string name;                 // "colour" (a key of the labels' objects[0])
  std::vector<std::string> values;  // "red", "orange", ... (>= 2, distinct)

  template <class V>
  void fields(V& v) {
    v("name", name);
    v("values", values);
  }
};

struct OracleConfig {
  int64_t resolution = 64;  // input height = width after the internal resize, pixels (>= 2^stages)
  int64_t width = 16;       // channels of the first stage; stage k has width·2^k
  int64_t stages = 4;       // conv + pool stages (each halves the resolution)
  int64_t convs_per_stage = 1;  // conv + BatchNorm + ReLU layers per stage, before its pooling
  std::vector<OracleAttribute> attributes;  // heads, in this order (from the training data)
  core::Json accuracy = core::Json::object();  // held-out top-1 accuracies as training measured them ({} = not measured)

  template <class V>
  void fields(V& v) {
    v("resolution", resolution);
    v("width", width);
    v("stages", stages);
    v("convs_per_stage", convs_per_stage);
    v("attributes", attributes);
    v("accuracy", accuracy);
  }
  // Throws core::ConfigError naming the field ("oracle config: attributes[1].values has 1 entry").
  void validate() const;

  // The attributes' names, in head order.
  std::vector<std::string> attribute_names() const;
};

// What the oracle reads from one image.
struct OraclePrediction {
  std::map<std::string, std::string> values;  // attribute -> most probable value
  std::map<std::string, double> confidence;   // attribute -> its softmax probability, 0..1
};

class AttributeOracleImpl : public torch::nn::Module {
 public:
  explicit AttributeOracleImpl(const OracleConfig& config);

  // images: [B, 3, H, W] in [-1, 1], any H, W -> logits per attribute: name -> [B, values].
  std::map<std::string, at::Tensor> forward(const at::Tensor& images);
  // The most probable value of every attribute per image (no gradients; the module's current
  // train/eval mode is kept — call eval() first for BatchNorm's running statistics).
  std::vector<OraclePrediction> predict(const at::Tensor& images);

  const OracleConfig& config() const { return config_; }
  OracleConfig& mutable_config() { return config_; }  // e.g. to record accuracies before saving

  torch::nn::Sequential features{nullptr};  // "features.<i>": (conv, bn, relu) × convs_per_stage, pool per stage
  torch::nn::ModuleDict heads{nullptr};     // "heads.<attribute>": Linear(2·width·2^(stages-1), values)

 private:
  OracleConfig config_;
};
TORCH_MODULE(AttributeOracle);

// Writes an "oracle" checkpoint atomically (temp name, then rename). `step`: optimiser steps.
void save_oracle(const std::filesystem::path& path, AttributeOracleImpl& oracle, int64_t step = 0);

// Reads an "oracle" checkpoint: kind and format version checked, config validated (errors name
// the file), every tensor name and shape checked (one FormatError listing all mismatches);
// returns the oracle in eval mode on the CPU.
AttributeOracle load_oracle(const std::filesystem::path& path);

}  // namespace hdv::gen
