// The attribute oracle and its checkpoints (see oracle.h).
#include "generation/oracle.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/shape_text.h"
#include "models/module_state.h"

namespace hdv::gen {
namespace fs = std::filesystem;
namespace F = torch::nn::functional;

void OracleConfig::validate() const {
  auto fail = [](const std::string& problem) { throw core::ConfigError("oracle config: " + problem); };
  if (stages < 1 || stages > 8) fail(fmt::format("stages={} must be in 1..8", stages));
  if (width < 1 || width > 1024) fail(fmt::format("width={} must be in 1..1024", width));
  if (convs_per_stage < 1 || convs_per_stage > 4) fail(fmt::format("convs_per_stage={} must be in 1..4", convs_per_stage));
  if (resolution < (int64_t{1} << stages) || resolution > 4096) {
    fail(fmt::format("resolution={} must be in {}..4096 (each of the {} stages halves it)", resolution,
                     int64_t{1} << stages, stages));
  }
  if (attributes.empty()) fail("attributes is empty (the oracle needs at least one head)");
  std::set<std::string> names;
  for (size_t i = 0; i < attributes.size(); ++i) {
    const OracleAttribute& a = attributes[i];
    if (a.name.empty() || a.name.find('.') != std::string::npos) {
      fail(fmt::format("attributes[{}].name=\"{}\" must be non-empty without '.'", i, a.name));
    }
    if (!names.insert(a.name).second) fail(fmt::format("attributes[{}].name=\"{}\" repeats an earlier attribute", i, a.name));
    if (a.values.size() < 2) {
      fail(fmt::format("attributes[{}].values has {} entr{}, expected at least 2", i, a.values.size(),
                       a.values.size() == 1 ? "y" : "ies"));
    }
    std::set<std::string> values(a.values.begin(), a.values.end());
    if (values.size() != a.values.size()) fail(fmt::format("attributes[{}].values has repeated entries", i));
  }
  if (!accuracy.is_object()) fail("accuracy must be an object (attribute -> accuracy)");
}

std::vector<std::string> OracleConfig::attribute_names() const {
  std::vector<std::string> names;
  for (const OracleAttribute& a : attributes) names.push_back(a.name);
  return names;
}

AttributeOracleImpl::AttributeOracleImpl(const OracleConfig& config) : config_(config) {
  config_.validate();
  torch::nn::Sequential stack;
  int64_t in = 3;
  int64_t out = config_.width;
  for (int64_t s = 0; s < config_.stages; ++s) {
    for (int64_t c = 0; c < config_.convs_per_stage; ++c) {
      stack->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(c == 0 ? in : out, out, 3).padding(1).bias(false)));
      stack->push_back(torch::nn::BatchNorm2d(out));
      stack->push_back(torch::nn::ReLU());
    }
    stack->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
    in = out;
    out *= 2;
  }
  features = register_module("features", stack);
  torch::nn::ModuleDict dict;
  for (const OracleAttribute& a : config_.attributes) {
    dict->update({{a.name, std::make_shared<torch::nn::LinearImpl>(2 * in, static_cast<int64_t>(a.values.size()))}});
  }
  heads = register_module("heads", dict);
}

std::map<std::string, at::Tensor> AttributeOracleImpl::forward(const at::Tensor& images) {
  // images: [B, 3, H, W] -> x: [B, 3, R, R] -> features [B, C, R/2^S, R/2^S] -> pooled [B, 2C]
  if (images.dim() != 4 || images.size(1) != 3) {
    throw core::Error(fmt::format("oracle input: got shape {}, expected [B, 3, H, W]", core::shape_text(images.sizes())));
  }
  at::Tensor x = images.to(torch::kFloat);
  const int64_t r = config_.resolution;
  if (x.size(2) != r || x.size(3) != r) {
    auto options = F::InterpolateFuncOptions().size(std::vector<int64_t>{r, r});
    const bool shrink = x.size(2) >= r && x.size(3) >= r;
    x = shrink ? F::interpolate(x, options.mode(torch::kArea))
               : F::interpolate(x, options.mode(torch::kBilinear).align_corners(false));
  }
  const at::Tensor map = features->forward(x);
  const at::Tensor pooled = torch::cat({map.mean({2, 3}), map.amax({2, 3})}, 1);
  std::map<std::string, at::Tensor> logits;
  for (const auto& item : heads->items()) {
    logits[item.first] = item.second->as<torch::nn::Linear>()->forward(pooled);  // [B, values]
  }
  return logits;
}

std::vector<OraclePrediction> AttributeOracleImpl::predict(const at::Tensor& images) {
  torch::NoGradGuard no_grad;
  const std::map<std::string, at::Tensor> logits = forward(images);
  std::vector<OraclePrediction> predictions(static_cast<size_t>(images.size(0)));
  for (const OracleAttribute& a : config_.attributes) {
    const at::Tensor probabilities = logits.at(a.name).softmax(1).to(torch::kCPU, torch::kDouble);
    const auto [best, index] = probabilities.max(1);
    for (size_t b = 0; b < predictions.size(); ++b) {
      const int64_t i = index[static_cast<int64_t>(b)].item<int64_t>();
      predictions[b].values[a.name] = a.values[static_cast<size_t>(i)];
      predictions[b].confidence[a.name] = best[static_cast<int64_t>(b)].item<double>();
    }
  }
  return predictions;
}

void save_oracle(const fs::path& path, AttributeOracleImpl& oracle, int64_t step) {
  core::CheckpointInfo info;
  info.kind = kOracleKind;
  info.config = core::config_to_json(oracle.config());
  info.step = step;
  core::save_checkpoint(path, models::module_tensors(oracle), info);
}

AttributeOracle load_oracle(const fs::path& path) {
  const core::Checkpoint checkpoint = core::Checkpoint::load(path, kOracleKind);
  AttributeOracle oracle(models::checkpoint_config<OracleConfig>(checkpoint, path));
  models::load_module_tensors(checkpoint, *oracle, path);
  oracle->eval();
  return oracle;
}

}  // namespace hdv::gen
