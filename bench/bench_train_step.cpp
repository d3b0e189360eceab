// Benchmark: CPU throughput of one stage-1 (CLIP mode) pre-training step of hdvila-small, the step
// of training/trainer.cpp (Trainer::contrastive_micro_step + train_step) at world size 1.
// Counterpart: bench/bench_train_step.py (the same step in plain PyTorch Python, with the modules of
// bench/bench_towers.py; it can load the weights this program saves with --save-weights).
//
// One step, identical on both sides (train mode, --threads intra-op threads):
//   zero the gradients; encode_text on [B, 32] ids (20 real tokens) and encode_video on keyframes
//   [B, 2, 3, 128, 128] + neighbours [B, 2, 6, 3, 32, 32] (BatchNorm on batch statistics);
//   symmetric InfoNCE over the B pairs (τ = 0.05: logit scale 20); backward; read the loss;
//   clip the global gradient norm at 5; one AdamW step (lr 1e-4 constant, β 0.9 / 0.98, ε 1e-8,
//   weight decay 1e-3 on parameters with dim > 1 only) over the stage-1 trainable parameters
//   (both towers and their projections; not the cross-modal layers or heads).
// Differences from hdvila-small as trained: dropout (text, 0.1) and drop-path (video, 0.1 on the
// last block) are 0 here, on both sides, so one step is deterministic and the Python modules
// (which have neither) run the same computation.
// --warmup untimed steps, then --runs timed ones per batch size; prints the median ms per step,
// clips/s, the min, and the median of each phase (forward + loss, backward, clip + AdamW).
//
// Weights: the preset's initialisation for --seed plus small noise on every tensor (as in
// bench_towers.cpp), the same for every batch size. Equivalence check with the Python side:
// --save-weights writes every parameter and buffer before any step, --inputs the inputs of each
// batch size, --outputs what the first step from those weights gives; bench_train_step.py check
// WEIGHTS INPUTS OUTPUTS recomputes it and compares. Recorded: the parameter counts (trained,
// decayed), the loss, the global gradient norm before clipping, for a dozen parameters the
// gradient norm, AdamW's moments after the step ((1 - β1)·g and (1 - β2)·g² of the clipped
// gradient: betas and clipping) and the update norm, and the update of the position-embedding rows
// no input reaches (no gradient: weight decay alone, -lr·wd·p; elsewhere the decay is lost in
// AdamW's first update of about ±lr per element). One step only: a 1e-6 relative perturbation of
// the first step's gradients moves the HR stem's second-step gradient norms by up to 3e-4
// relative (ReLU / max-pool decisions flip), more than the check's tolerance.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/cli.h"
#include "core/device.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "bench/bench_inputs.h"
#include "models/presets.h"
#include "models/vl_model.h"
#include "training/objectives.h"
#include "training/optim.h"

namespace {

using namespace hdv;
using Clock = std::chrono::steady_clock;

constexpr const char* kPreset = "hdvila-small";  // the Python side is written for this one
constexpr double kTemperature = 0.05;            // τ of the InfoNCE loss (HD-VILA)

// Parameters whose gradient norm and update norm --outputs records (one per kind of layer).
const std::vector<std::string> kTracedParameters = {
    "bert.embeddings.word_embeddings.weight",
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.5.output.LayerNorm.weight",
    "bert.pooler.dense.weight",
    "text_proj.weight",
    "video.hr_backbone.conv1.weight",
    "video.hr_backbone.bn1.weight",
    "video.lr_backbone.layer3.0.conv2.weight",
    "video.blocks.1.temporal_fc.weight",
    "video.time_embed",
    "video.fuse.weight",
    "video_proj.bias",
};

struct Options {
  int threads = 2;
  int runs = 10;
  int warmup = 2;
  std::vector<int64_t> batches = {8, 16};
  int64_t seed = 0;
  std::string save_weights;
  std::string inputs;
  std::string outputs;
};




// Stage 1 trains everything but the cross-modal layers, the visual embeddings and the heads
// (training/trainer.cpp, is_cross_modal).
bool is_cross_modal(const std::string& name, int64_t text_layers) {
  static const std::regex layer(R"(bert\.encoder\.layer\.(\d+)\..*)");
  std::smatch match;
  if (std::regex_match(name, match, layer)) return std::stoll(match[1]) >= text_layers;
  return name.rfind("visual_embeddings.", 0) == 0 || name.rfind("mlm.", 0) == 0 || name.rfind("vtm.", 0) == 0;
}

// A freshly seeded, perturbed model in train mode with its stage-1 parameters and their optimiser.
struct Trainee {
  models::VLModel model{nullptr};
  std::vector<std::pair<std::string, at::Tensor>> trainable;
  std::unique_ptr<train::Optimizer> optimizer;
};

Trainee make_trainee(const models::VLConfig& config, int64_t seed, int64_t total_steps) {
  torch::manual_seed(static_cast<uint64_t>(seed));
  Trainee t;
  t.model = models::VLModel(config);
  bench::perturb(*t.model);
  t.model->train();
  for (auto& item : t.model->named_parameters()) {
    const bool train = !is_cross_modal(item.key(), config.text_layers);
    item.value().set_requires_grad(train);
    if (train) t.trainable.emplace_back(item.key(), item.value());
  }
  train::OptimConfig optim;
  optim.lr = 1e-4;
  optim.beta1 = 0.9;
  optim.beta2 = 0.98;
  optim.eps = 1e-8;
  optim.weight_decay = 1e-3;
  optim.warmup = 0;
  optim.schedule = "constant";
  optim.grad_clip = 5.0;
  t.optimizer = std::make_unique<train::Optimizer>(t.trainable, optim, total_steps);
  return t;
}

// Seconds of each phase of one step.
struct PhaseTimes {
  double forward = 0, backward = 0, update = 0;
};

// What the first step gives, for the equivalence check: names -> scalars.
using StepRecord = std::vector<std::pair<std::string, double>>;

// One training step; `record` (when given) receives the loss, the gradient norms before clipping
// and, after the step, the norms of the traced parameters' AdamW moments and updates and of the
// decay-only update.
PhaseTimes train_step(Trainee& t, const bench::ModelInputs& in, const at::Tensor& log_scale, int64_t step,
                      StepRecord* record) {
  PhaseTimes times;
  auto start = Clock::now();
  t.optimizer->zero_grad();
  at::Tensor text = t.model->encode_text(in.input_ids, in.attention_mask);     // [B, D]
  at::Tensor video = t.model->encode_video(in.keyframes, in.neighbours);      // [B, D]
  at::Tensor loss = train::info_nce_loss(text.to(torch::kFloat32), video.to(torch::kFloat32), log_scale);
  auto forward_end = Clock::now();
  loss.backward();
  const double loss_value = loss.item<double>();
  auto backward_end = Clock::now();

  std::vector<at::Tensor> before;
  if (record != nullptr) {
    record->emplace_back("loss", loss_value);
    for (const auto& name : kTracedParameters) {
      auto it = std::find_if(t.trainable.begin(), t.trainable.end(), [&](const auto& p) { return p.first == name; });
      if (it == t.trainable.end()) throw core::Error(fmt::format("traced parameter {} is not trained in stage 1", name));
      record->emplace_back("grad_norm." + name, it->second.grad().norm().item<double>());
      before.push_back(it->second.detach().clone());
    }
  }
  const at::Tensor positions = t.model->bert->embeddings->position_embeddings->weight;
  const int64_t used = in.input_ids.size(1), unused = positions.size(0) - used;
  at::Tensor unused_before = record != nullptr ? positions.detach().narrow(0, used, unused).clone() : at::Tensor();
  const auto update_start = Clock::now();
  const double norm = t.optimizer->clip_gradients();
  if (!std::isfinite(norm) || !std::isfinite(loss_value)) {
    throw core::Error(fmt::format("step {}: non-finite loss {} or gradient norm {}", step + 1, loss_value, norm));
  }
  t.optimizer->step(step);
  const auto update_end = Clock::now();
  if (record != nullptr) {
    record->emplace_back("grad_norm.total", norm);
    record->emplace_back("decay_norm.unused_position_embeddings",
                         (positions.detach().narrow(0, used, unused) - unused_before).norm().item<double>());
    for (size_t i = 0; i < kTracedParameters.size(); ++i) {
      auto it = std::find_if(t.trainable.begin(), t.trainable.end(),
                             [&](const auto& p) { return p.first == kTracedParameters[i]; });
      record->emplace_back("update_norm." + kTracedParameters[i], (it->second.detach() - before[i]).norm().item<double>());
    }
    const core::NamedTensors state = t.optimizer->state();
    for (const auto& name : kTracedParameters) {
      for (const char* moment : {"exp_avg", "exp_avg_sq"}) {
        const std::string key = fmt::format("optim.{}.{}", name, moment);
        auto it = std::find_if(state.begin(), state.end(), [&](const auto& s) { return s.first == key; });
        if (it == state.end()) throw core::Error(fmt::format("no optimiser state {} after the step", key));
        record->emplace_back(fmt::format("{}_norm.{}", moment, name), it->second.norm().item<double>());
      }
    }
  }
  times.forward = std::chrono::duration<double>(forward_end - start).count();
  times.backward = std::chrono::duration<double>(backward_end - forward_end).count();
  times.update = std::chrono::duration<double>(update_end - update_start).count();
  return times;
}

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

void run(const Options& options) {
  const int threads = core::set_thread_count(options.threads);
  models::VLConfig config = models::vl_preset(kPreset);
  config.text.hidden_dropout = 0;  // see the file comment: deterministic and like the Python side
  config.text.attention_dropout = 0;
  config.video.drop_path = 0;
  const at::Tensor log_scale = torch::full({}, std::log(1.0 / kTemperature));
  const int64_t total_steps = 1 + options.warmup + options.runs;

  std::printf("cpp    %s train step (dropout 0, drop-path 0), %d thread(s), batches %s, %d warm-up + %d timed steps, "
              "seed %lld\n",
              kPreset, threads, fmt::format("{}", fmt::join(options.batches, ",")).c_str(), options.warmup,
              options.runs, static_cast<long long>(options.seed));
  if (!options.save_weights.empty()) {
    Trainee t = make_trainee(config, options.seed, total_steps);
    core::NamedTensors tensors;
    for (const auto& item : t.model->named_parameters()) tensors.emplace_back(item.key(), item.value().detach());
    for (const auto& item : t.model->named_buffers()) tensors.emplace_back(item.key(), item.value());
    core::write_safetensors(options.save_weights, tensors, {{"preset", kPreset}});
    std::printf("cpp    wrote %zu tensors to %s\n", tensors.size(), options.save_weights.c_str());
  }

  core::NamedTensors inputs, outputs;
  for (int64_t batch : options.batches) {
    Trainee t = make_trainee(config, options.seed, total_steps);
    int64_t decayed = 0, count = 0;
    for (const auto& [name, p] : t.trainable) {
      count += p.numel();
      decayed += train::decays(name, p) ? p.numel() : 0;
    }
    bench::ModelInputs in = bench::make_inputs(config, batch);
    const std::string b = fmt::format("b{}", batch);
    int64_t step = 0;
    if (!options.outputs.empty()) {  // the first step from the saved weights, before any warm-up
      StepRecord record{{"parameters.trained", double(count)}, {"parameters.decayed", double(decayed)}};
      train_step(t, in, log_scale, step++, &record);
      for (const auto& [name, value] : record) outputs.emplace_back(b + "." + name, torch::tensor(value, torch::kFloat64));
      auto value = [&](const char* name) {
        return std::find_if(record.begin(), record.end(), [&](const auto& r) { return r.first == name; })->second;
      };
      std::printf("cpp    check batch %lld: first step loss %.6f, gradient norm %.6f\n", static_cast<long long>(batch),
                  value("loss"), value("grad_norm.total"));
    }
    inputs.emplace_back(b + ".input_ids", in.input_ids);
    inputs.emplace_back(b + ".attention_mask", in.attention_mask);
    inputs.emplace_back(b + ".keyframes", in.keyframes);
    inputs.emplace_back(b + ".neighbours", in.neighbours);

    for (int i = 0; i < options.warmup; ++i) train_step(t, in, log_scale, step++, nullptr);
    std::vector<double> total, forward, backward, update;
    for (int i = 0; i < options.runs; ++i) {
      auto start = Clock::now();
      PhaseTimes phases = train_step(t, in, log_scale, step++, nullptr);
      total.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      forward.push_back(1e3 * phases.forward);
      backward.push_back(1e3 * phases.backward);
      update.push_back(1e3 * phases.update);
    }
    const double median = median_of(total);
    std::printf("cpp    train batch %lld: %d runs, median %.2f ms/step (%.2f clips/s), min %.2f ms | forward %.2f, "
                "backward %.2f, clip+adamw %.2f ms | %lld trained parameters (%lld decayed)\n",
                static_cast<long long>(batch), options.runs, median, 1e3 * double(batch) / median,
                *std::min_element(total.begin(), total.end()), median_of(forward), median_of(backward),
                median_of(update), static_cast<long long>(count), static_cast<long long>(decayed));
    std::fflush(stdout);
  }
  if (!options.inputs.empty()) core::write_safetensors(options.inputs, inputs);
  if (!options.outputs.empty()) core::write_safetensors(options.outputs, outputs);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"CPU throughput of one stage-1 (InfoNCE) training step of hdvila-small "
               "(counterpart: bench/bench_train_step.py)",
               "hdv_bench_train_step"};
  app.add_option("--threads", options.threads, "LibTorch intra-op threads (0 = all cores)")
      ->check(core::non_negative_integer());
  app.add_option("--runs", options.runs, "timed steps per batch size")->check(core::positive_integer());
  app.add_option("--warmup", options.warmup, "untimed steps before them")->check(core::non_negative_integer());
  app.add_option("--batch", options.batches, "batch sizes (clips per step)")->delimiter(',')->check(core::positive_integer());
  app.add_option("--seed", options.seed, "seed of the weights and inputs");
  app.add_option("--save-weights", options.save_weights, "write every parameter and buffer here before any step (safetensors)");
  app.add_option("--inputs", options.inputs, "write the inputs here (safetensors: b8.input_ids, b8.keyframes, ...)");
  app.add_option("--outputs", options.outputs,
                 "write the first step's loss, gradient and update norms here (safetensors: b8.loss, ...)");
  core::show_defaults_in_help(app);
  return core::run_cli(app, argc, argv, [&] { run(options); });
}
