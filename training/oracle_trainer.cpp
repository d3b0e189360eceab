// Training and evaluating the attribute oracle (see oracle_trainer.h).
#include "training/oracle_trainer.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <numbers>
#include <set>

#include "core/error.h"

namespace hdv::train {
namespace F = torch::nn::functional;
namespace {

// objects[0][name] of an image's labels, or a FormatError naming its source.
const std::string& primary_value(const LabelledImages& images, size_t i, const std::string& name) {
  const core::Json& labels = images.labels[i];
  const std::string& source = i < images.sources.size() ? images.sources[i] : fmt::format("image {}", i);
  if (!labels.is_object() || !labels.contains("objects") || !labels["objects"].is_array() || labels["objects"].empty()) {
    throw core::FormatError(fmt::format("{}: labels have no objects[0] (the oracle trains on labelled SynthVid frames)", source));
  }
  const core::Json& object = labels["objects"][0];
  if (!object.is_object() || !object.contains(name) || !object[name].is_string()) {
    throw core::FormatError(fmt::format("{}: labels field \"objects[0].{}\": expected a string", source, name));
  }
  return object[name].get_ref<const std::string&>();
}

// Shifts each image of x [B, 3, H, W] by its own random (dy, dx) in [-max_shift, max_shift],
// repeating the edge pixels.
at::Tensor random_translate(const at::Tensor& x, int64_t max_shift) {
  const int64_t h = x.size(2);
  const int64_t w = x.size(3);
  const int64_t m = max_shift;
  at::Tensor padded = F::pad(x, F::PadFuncOptions({m, m, m, m}).mode(torch::kReplicate));
  const at::Tensor offsets = torch::randint(0, 2 * m + 1, {x.size(0), 2}, torch::kLong);
  std::vector<at::Tensor> out;
  out.reserve(static_cast<size_t>(x.size(0)));
  for (int64_t b = 0; b < x.size(0); ++b) {
    const int64_t dy = offsets[b][0].item<int64_t>();
    const int64_t dx = offsets[b][1].item<int64_t>();
    out.push_back(padded[b].narrow(1, dy, h).narrow(2, dx, w));
  }
  return torch::stack(out);
}

}  // namespace

void OracleTrainConfig::validate() const {
  auto fail = [](const std::string& problem) { throw core::ConfigError("oracle training: " + problem); };
  if (epochs < 1) fail(fmt::format("epochs={} must be >= 1", epochs));
  if (batch < 1) fail(fmt::format("batch={} must be >= 1", batch));
  if (!(lr > 0)) fail(fmt::format("lr={} must be > 0", lr));
  if (max_shift < 0) fail(fmt::format("max_shift={} must be >= 0", max_shift));
  if (seed < 0) fail(fmt::format("seed={} must be >= 0", seed));
}

std::vector<gen::OracleAttribute> attribute_values(const LabelledImages& images, const std::vector<std::string>& names) {
  std::vector<gen::OracleAttribute> attributes;
  for (const std::string& name : names) {
    std::set<std::string> values;
    for (size_t i = 0; i < images.labels.size(); ++i) values.insert(primary_value(images, i, name));
    attributes.push_back({name, {values.begin(), values.end()}});
  }
  return attributes;
}

std::vector<at::Tensor> attribute_targets(const LabelledImages& images, const gen::OracleConfig& config) {
  std::vector<at::Tensor> targets;
  for (const gen::OracleAttribute& a : config.attributes) {
    std::map<std::string, int64_t> index;
    for (size_t v = 0; v < a.values.size(); ++v) index[a.values[v]] = static_cast<int64_t>(v);
    std::vector<int64_t> t;
    t.reserve(images.labels.size());
    for (size_t i = 0; i < images.labels.size(); ++i) {
      auto it = index.find(primary_value(images, i, a.name));
      t.push_back(it == index.end() ? -1 : it->second);
    }
    targets.push_back(torch::tensor(t, torch::kLong));
  }
  return targets;
}

gen::AttributeOracle train_oracle(const LabelledImages& images, const gen::OracleConfig& model,
                                  const OracleTrainConfig& config, c10::Device device,
                                  const OracleEpochCallback& on_epoch, int64_t* steps_out) {
  config.validate();
  if (images.size() == 0) throw core::Error("oracle training: no training images");
  if (static_cast<int64_t>(images.labels.size()) != images.size()) {
    throw core::Error(fmt::format("oracle training: {} images but {} label entries", images.size(), images.labels.size()));
  }
  torch::manual_seed(static_cast<uint64_t>(config.seed));
  gen::AttributeOracle oracle(model);
  oracle->to(device);
  oracle->train();
  const std::vector<at::Tensor> targets = attribute_targets(images, oracle->config());
  const std::vector<gen::OracleAttribute>& attributes = oracle->config().attributes;

  torch::optim::Adam optimiser(oracle->parameters(), torch::optim::AdamOptions(config.lr));
  const int64_t n = images.size();
  const int64_t steps_per_epoch = (n + config.batch - 1) / config.batch;
  const int64_t total_steps = steps_per_epoch * config.epochs;
  int64_t step = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t epoch = 1; epoch <= config.epochs; ++epoch) {
    const at::Tensor order = torch::randperm(n, torch::kLong);
    double loss_sum = 0;
    std::vector<int64_t> correct(attributes.size(), 0);
    for (int64_t first = 0; first < n; first += config.batch) {
      const at::Tensor index = order.narrow(0, first, std::min(config.batch, n - first));
      const std::vector<int64_t> indices(index.data_ptr<int64_t>(), index.data_ptr<int64_t>() + index.numel());
      at::Tensor x = image_batch(images, indices, config.hflip);
      if (config.max_shift > 0) x = random_translate(x, config.max_shift);
      x = x.to(device);
      // Cosine decay from lr to lr/10 over the run.
      const double progress = total_steps > 1 ? double(step) / double(total_steps - 1) : 1.0;
      const double lr = config.lr * (0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * progress)));
      for (auto& group : optimiser.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);

      const std::map<std::string, at::Tensor> logits = oracle->forward(x);
      at::Tensor loss = torch::zeros({}, x.options());
      for (size_t a = 0; a < attributes.size(); ++a) {
        const at::Tensor target = targets[a].index_select(0, index).to(device);
        const at::Tensor& l = logits.at(attributes[a].name);
        loss = loss + F::cross_entropy(l, target, F::CrossEntropyFuncOptions().ignore_index(-1));
        correct[a] += l.argmax(1).eq(target).sum().item<int64_t>();
      }
      optimiser.zero_grad();
      loss.backward();
      optimiser.step();
      loss_sum += loss.item<double>();
      ++step;
    }
    if (on_epoch) {
      OracleEpoch report;
      report.epoch = epoch;
      report.steps = step;
      report.loss = loss_sum / double(steps_per_epoch);
      for (size_t a = 0; a < attributes.size(); ++a) report.train_accuracy[attributes[a].name] = double(correct[a]) / double(n);
      report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      on_epoch(report);
    }
  }
  if (steps_out != nullptr) *steps_out = step;
  oracle->eval();
  return oracle;
}

core::Json OracleEvaluation::to_json() const {
  core::Json all = core::Json::object();
  core::Json one = core::Json::object();
  for (const auto& [name, value] : accuracy) all[name] = value;
  for (const auto& [name, value] : one_object_accuracy) one[name] = value;
  return {{"all", all}, {"one_object", one}, {"images", images}, {"one_object_images", one_object_images}};
}

OracleEvaluation evaluate_oracle(gen::AttributeOracleImpl& oracle, const LabelledImages& images, c10::Device device,
                                 int64_t batch, const core::ProgressCallback& progress) {
  if (images.size() == 0) throw core::Error("oracle evaluation: no images");
  if (batch < 1) throw core::Error(fmt::format("oracle evaluation: batch={} must be >= 1", batch));
  torch::NoGradGuard no_grad;
  const bool was_training = oracle.is_training();
  oracle.eval();
  const std::vector<at::Tensor> targets = attribute_targets(images, oracle.config());
  const std::vector<gen::OracleAttribute>& attributes = oracle.config().attributes;
  const int64_t n = images.size();
  std::vector<uint8_t> one(static_cast<size_t>(n));
  for (size_t i = 0; i < one.size(); ++i) one[i] = images.labels[i]["objects"].size() == 1 ? 1 : 0;
  const at::Tensor one_object = torch::tensor(std::vector<int64_t>(one.begin(), one.end()), torch::kLong).to(torch::kBool);
  std::vector<int64_t> correct(attributes.size(), 0);
  std::vector<int64_t> correct_one(attributes.size(), 0);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < n; first += batch) {
    const int64_t count = std::min(batch, n - first);
    std::vector<int64_t> indices(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) indices[static_cast<size_t>(i)] = first + i;
    const std::map<std::string, at::Tensor> logits = oracle.forward(image_batch(images, indices).to(device));
    const at::Tensor single = one_object.narrow(0, first, count);
    for (size_t a = 0; a < attributes.size(); ++a) {
      const at::Tensor right = logits.at(attributes[a].name).argmax(1).cpu().eq(targets[a].narrow(0, first, count));
      correct[a] += right.sum().item<int64_t>();
      correct_one[a] += right.logical_and(single).sum().item<int64_t>();
    }
    if (progress) {
      progress(first + count, n, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  oracle.train(was_training);
  OracleEvaluation result;
  result.images = n;
  result.one_object_images = one_object.sum().item<int64_t>();
  for (size_t a = 0; a < attributes.size(); ++a) {
    result.accuracy[attributes[a].name] = double(correct[a]) / double(n);
    result.one_object_accuracy[attributes[a].name] =
        result.one_object_images > 0 ? double(correct_one[a]) / double(result.one_object_images) : 0.0;
  }
  return result;
}

}  // namespace hdv::train
