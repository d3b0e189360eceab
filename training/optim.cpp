// AdamW with parameter groups, warm-up + decay, clipping, named state (see optim.h).
#include "training/optim.h"

#include <torch/torch.h>

#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::train {

void OptimConfig::validate() const {
  auto positive = [](double value, const char* name) {
    if (!(value > 0)) throw core::ConfigError(fmt::format("optim.{}={} must be > 0", name, value));
  };
  positive(lr, "lr");
  if (!(video_lr >= 0)) throw core::ConfigError(fmt::format("optim.video_lr={} must be >= 0 (0 = lr)", video_lr));
  if (!(beta1 >= 0 && beta1 < 1)) throw core::ConfigError(fmt::format("optim.beta1={} must be in [0, 1)", beta1));
  if (!(beta2 >= 0 && beta2 < 1)) throw core::ConfigError(fmt::format("optim.beta2={} must be in [0, 1)", beta2));
  positive(eps, "eps");
  if (!(weight_decay >= 0)) throw core::ConfigError(fmt::format("optim.weight_decay={} must be >= 0", weight_decay));
  if (!(warmup >= 0 && warmup < 1)) throw core::ConfigError(fmt::format("optim.warmup={} must be in [0, 1)", warmup));
  if (schedule != "linear" && schedule != "cosine" && schedule != "constant") {
    throw core::ConfigError(fmt::format("optim.schedule=\"{}\": expected linear, cosine or constant", schedule));
  }
  if (!(grad_clip >= 0)) throw core::ConfigError(fmt::format("optim.grad_clip={} must be >= 0 (0 = off)", grad_clip));
  if (accumulation < 1) throw core::ConfigError(fmt::format("optim.accumulation={} must be >= 1", accumulation));
  if (max_nonfinite < 1) throw core::ConfigError(fmt::format("optim.max_nonfinite={} must be >= 1", max_nonfinite));
}

double lr_multiplier(int64_t step, int64_t total, double warmup, const std::string& schedule) {
  total = std::max<int64_t>(total, 1);
  const auto warmup_steps = static_cast<int64_t>(std::floor(warmup * double(total)));
  if (step < warmup_steps) return double(step + 1) / double(warmup_steps);
  if (schedule == "constant") return 1.0;
  double progress = double(step - warmup_steps) / double(std::max<int64_t>(total - warmup_steps, 1));
  progress = std::clamp(progress, 0.0, 1.0);
  if (schedule == "cosine") return 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return 1.0 - progress;
}

bool decays(const std::string& /*name*/, const at::Tensor& parameter) {
  return parameter.dim() > 1;  // not biases, LayerNorm/BatchNorm weights or scalars
}

bool is_video_parameter(const std::string& name) { return name.rfind("video.", 0) == 0; }

// One AdamW state per parameter; updates go through ATen's fused AdamW kernel (one vectorised
// pass per group over every tensor, the kernel behind torch.optim.AdamW(fused=True)), the same
// algorithm as torch::optim::AdamW.
struct ParamState {
  at::Tensor exp_avg, exp_avg_sq;
  at::Tensor step;  // float scalar, as the fused kernel expects
};

struct Group {
  std::vector<size_t> members;  // indices into parameters_
  double peak_lr = 0;
  double weight_decay = 0;
};

struct Optimizer::Impl {
  std::vector<Group> groups;
  std::vector<ParamState> states;  // per parameter, undefined until its first update
};

Optimizer::Optimizer(std::vector<std::pair<std::string, at::Tensor>> parameters, const OptimConfig& config,
                     int64_t total_steps)
    : impl_(std::make_unique<Impl>()), parameters_(std::move(parameters)), config_(config), total_steps_(total_steps) {
  config_.validate();
  if (parameters_.empty()) throw core::Error("optimiser: no trainable parameters");
  for (const auto& [name, p] : parameters_) tensors_.push_back(p);
  const double video_lr = config_.video_lr > 0 ? config_.video_lr : config_.lr;
  // Groups: (video?, decay?) -> four at most; empty ones are left out.
  for (bool video : {false, true}) {
    for (bool decay : {true, false}) {
      Group group;
      for (size_t i = 0; i < parameters_.size(); ++i) {
        const auto& [name, p] = parameters_[i];
        if (is_video_parameter(name) == video && decays(name, p) == decay) group.members.push_back(i);
      }
      if (group.members.empty()) continue;
      group.peak_lr = video ? video_lr : config_.lr;
      group.weight_decay = decay ? config_.weight_decay : 0.0;
      impl_->groups.push_back(std::move(group));
    }
  }
  impl_->states.resize(parameters_.size());
}

Optimizer::~Optimizer() = default;

double Optimizer::lr_at(int64_t step) const {
  return config_.lr * lr_multiplier(step, total_steps_, config_.warmup, config_.schedule);
}

void Optimizer::step(int64_t step) {
  torch::NoGradGuard no_grad;
  const double factor = lr_multiplier(step, total_steps_, config_.warmup, config_.schedule);
  for (const Group& group : impl_->groups) {
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    for (size_t i : group.members) {
      const at::Tensor& p = parameters_[i].second;
      if (!p.grad().defined()) continue;  // untouched this step: no update, as torch.optim
      ParamState& state = impl_->states[i];
      if (!state.step.defined()) {
        state.exp_avg = torch::zeros_like(p, at::MemoryFormat::Preserve);
        state.exp_avg_sq = torch::zeros_like(p, at::MemoryFormat::Preserve);
        state.step = torch::zeros({}, p.options().dtype(torch::kFloat32));
      }
      params.push_back(p);
      grads.push_back(p.grad());
      exp_avgs.push_back(state.exp_avg);
      exp_avg_sqs.push_back(state.exp_avg_sq);
      steps.push_back(state.step);
    }
    if (params.empty()) continue;
    // The kernel reads the step count after the caller has advanced it (as torch.optim does).
    for (at::Tensor& s : steps) s.add_(1);
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, group.peak_lr * factor,
                      config_.beta1, config_.beta2, group.weight_decay, config_.eps, /*amsgrad=*/false,
                      /*maximize=*/false);
  }
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : parameters_) p.mutable_grad() = at::Tensor();
}

double Optimizer::clip_gradients() {
  const double limit = config_.grad_clip > 0 ? config_.grad_clip : std::numeric_limits<double>::infinity();
  return torch::nn::utils::clip_grad_norm_(tensors_, limit);
}

core::NamedTensors Optimizer::state() const {
  core::NamedTensors out;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const ParamState& s = impl_->states[i];
    if (!s.step.defined()) continue;
    const std::string& name = parameters_[i].first;
    out.emplace_back("optim." + name + ".exp_avg", s.exp_avg);
    out.emplace_back("optim." + name + ".exp_avg_sq", s.exp_avg_sq);
    out.emplace_back("optim." + name + ".step", torch::tensor(static_cast<int64_t>(s.step.item<float>()), torch::kInt64));
  }
  return out;
}

void Optimizer::restore(const core::SafetensorsFile& file) {
  std::vector<std::string> problems;
  int64_t present = 0;
  for (const auto& [name, p] : parameters_) present += file.contains("optim." + name + ".step");
  if (present == 0) return;  // saved before the first step: a fresh optimiser is the same state
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto& [name, p] = parameters_[i];
    const std::string prefix = "optim." + name;
    if (!file.contains(prefix + ".step")) {
      problems.push_back(fmt::format("missing {}.*", prefix));
      continue;
    }
    at::Tensor avg = file.tensor(prefix + ".exp_avg"), avg_sq = file.tensor(prefix + ".exp_avg_sq");
    if (avg.sizes() != p.sizes() || avg_sq.sizes() != p.sizes()) {
      problems.push_back(fmt::format("{}: state {} for parameter {}", prefix, core::shape_text(avg.sizes()),
                                     core::shape_text(p.sizes())));
      continue;
    }
    ParamState& state = impl_->states[i];
    state.exp_avg = avg.to(p.options()).clone();
    state.exp_avg_sq = avg_sq.to(p.options()).clone();
    state.step = torch::full({}, double(file.tensor(prefix + ".step").item<int64_t>()),
                             p.options().dtype(torch::kFloat32));
  }
  if (!problems.empty()) {
    std::string list;
    for (const auto& problem : problems) list += "\n  " + problem;
    throw core::FormatError(fmt::format("{}: optimiser state does not match the model ({} problems):{}",
                                        file.path().string(), problems.size(), list));
  }
}

}  // namespace hdv::train
