// Benchmark: CPU forward latency of hdvila-small's two towers, VLModel::encode_text and
// VLModel::encode_video (models/vl_model.h), at batch 1 and 8.
// Counterpart: bench/bench_towers.py (the same architecture in plain PyTorch Python, loading the
// weights this program saves with --save-weights, so both run the very same model).
//
// Work per run, identical on both sides (InferenceMode, eval mode, --threads intra-op threads):
//   text:  encode_text on [B, 32] token ids, 20 real tokens ([CLS] ... [SEP]) then padding;
//   video: encode_video on keyframes [B, 2, 3, 128, 128] and neighbours [B, 2, 6, 3, 32, 32]
//          (2 segments of 7 frames, pixels in [-1, 1]).
// --warmup untimed runs, then --runs timed ones; prints the median and min in ms, one line per
// tower and batch.
//
// Weights: the preset's initialisation for --seed, plus small noise on every tensor (perturb()).
// Equivalence check with the Python side: --save-weights writes every parameter and buffer by
// name, --inputs the fixed inputs and --outputs this model's embeddings for them
// (bench_towers.py check WEIGHTS INPUTS OUTPUTS compares).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/cli.h"
#include "core/device.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/presets.h"
#include "models/vl_model.h"

namespace {

using namespace hdv;

constexpr int64_t kSegments = 2;    // segments per clip
constexpr int64_t kRealTokens = 20;  // tokens of the caption, [CLS] and [SEP] included

struct Options {
  std::string preset = "hdvila-small";
  int threads = 0;
  int runs = 30;
  int warmup = 5;
  std::vector<int64_t> batches = {1, 8};
  std::string tower = "both";
  int64_t seed = 0;
  std::string save_weights;
  std::string inputs;
  std::string outputs;
};

struct TowerInputs {
  at::Tensor input_ids;       // [B, L] int64
  at::Tensor attention_mask;  // [B, L] int64, 1 for the first kRealTokens positions
  at::Tensor keyframes;       // [B, S, 3, H, W] in [-1, 1]
  at::Tensor neighbours;      // [B, S, T-1, 3, H/4, W/4] in [-1, 1]
};

TowerInputs make_inputs(const models::VLConfig& config, int64_t batch) {
  const int64_t length = config.max_text_len, real = std::min(kRealTokens, length);
  TowerInputs in;
  in.input_ids = torch::zeros({batch, length}, torch::kLong);  // [PAD] = 0
  in.input_ids.narrow(1, 0, real).copy_(torch::randint(1000, config.text.vocab_size, {batch, real}, torch::kLong));
  in.input_ids.select(1, 0).fill_(101);         // [CLS]
  in.input_ids.select(1, real - 1).fill_(102);  // [SEP]
  in.attention_mask = torch::zeros({batch, length}, torch::kLong);
  in.attention_mask.narrow(1, 0, real).fill_(1);
  // hdvila-small's grid (2 x 2 tokens) from a 128 x 128 keyframe: C5 4 x 4, max-pooled.
  const int64_t height = 64 * config.video.grid_height, width = 64 * config.video.grid_width;
  in.keyframes = torch::rand({batch, kSegments, 3, height, width}) * 2 - 1;
  in.neighbours = torch::rand({batch, kSegments, config.video.frames - 1, 3, height / 4, width / 4}) * 2 - 1;
  return in;
}

// The preset's initialisation leaves some tensors at constants (temporal_fc of every block but the
// first and time_embed at zero, norms at 1/0, BatchNorm statistics at 0/1), which would let a wrong
// use of them pass the equivalence check. Noise on everything makes every tensor count.
void perturb(models::VLModelImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters()) p.add_(torch::randn_like(p), 0.02);
  for (const auto& item : model.named_buffers()) {
    at::Tensor b = item.value();
    if (item.key().find("running_mean") != std::string::npos) b.add_(torch::randn_like(b), 0.1);
    if (item.key().find("running_var") != std::string::npos) b.mul_(torch::rand_like(b) + 0.5);
  }
}

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Runs `forward` warmup + runs times; prints "cpp    text  batch 1: 30 runs, median 3.21 ms, min 3.10 ms".
template <class Forward>
void time_tower(const char* tower, int64_t batch, const Options& options, Forward forward) {
  for (int i = 0; i < options.warmup; ++i) forward();
  std::vector<double> ms;
  for (int i = 0; i < options.runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    at::Tensor out = forward();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::printf("cpp    %-5s batch %lld: %d runs, median %.2f ms, min %.2f ms\n", tower, static_cast<long long>(batch),
              options.runs, median_of(ms), *std::min_element(ms.begin(), ms.end()));
  std::fflush(stdout);
}

void run(const Options& options) {
  if (options.tower != "text" && options.tower != "video" && options.tower != "both") {
    throw core::UsageError(fmt::format("--tower: expected text, video or both, got \"{}\"", options.tower));
  }
  const int threads = core::set_thread_count(options.threads);
  torch::manual_seed(static_cast<uint64_t>(options.seed));
  models::VLConfig config = models::vl_preset(options.preset);
  models::VLModel model(config);
  perturb(*model);
  model->eval();
  std::printf("cpp    %s, %d thread(s), batches %s, %d warm-up + %d timed runs, InferenceMode, seed %lld\n",
              options.preset.c_str(), threads, fmt::format("{}", fmt::join(options.batches, ",")).c_str(),
              options.warmup, options.runs, static_cast<long long>(options.seed));

  if (!options.save_weights.empty()) {
    core::NamedTensors tensors;
    for (const auto& item : model->named_parameters()) tensors.emplace_back(item.key(), item.value());
    for (const auto& item : model->named_buffers()) tensors.emplace_back(item.key(), item.value());
    core::write_safetensors(options.save_weights, tensors, {{"preset", options.preset}});
    std::printf("cpp    wrote %zu tensors to %s\n", tensors.size(), options.save_weights.c_str());
  }

  c10::InferenceMode inference;
  core::NamedTensors inputs, outputs;
  for (int64_t batch : options.batches) {
    TowerInputs in = make_inputs(config, batch);
    const std::string b = fmt::format("b{}", batch);
    if (options.tower != "video") {
      auto forward = [&] { return model->encode_text(in.input_ids, in.attention_mask); };
      time_tower("text", batch, options, forward);
      inputs.emplace_back("text." + b + ".input_ids", in.input_ids);
      inputs.emplace_back("text." + b + ".attention_mask", in.attention_mask);
      outputs.emplace_back("text." + b, forward());
    }
    if (options.tower != "text") {
      auto forward = [&] { return model->encode_video(in.keyframes, in.neighbours); };
      time_tower("video", batch, options, forward);
      inputs.emplace_back("video." + b + ".keyframes", in.keyframes);
      inputs.emplace_back("video." + b + ".neighbours", in.neighbours);
      outputs.emplace_back("video." + b, forward());
    }
  }
  if (!options.inputs.empty()) core::write_safetensors(options.inputs, inputs);
  if (!options.outputs.empty()) core::write_safetensors(options.outputs, outputs);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"CPU forward latency of the VL model's text and video towers (counterpart: bench/bench_towers.py)",
               "hdv_bench_towers"};
  app.add_option("--preset", options.preset, "VL model preset")->check(CLI::IsMember(models::vl_preset_names()));
  app.add_option("--threads", options.threads, "LibTorch intra-op threads (0 = all cores)")
      ->check(core::non_negative_integer());
  app.add_option("--runs", options.runs, "timed runs per tower and batch")->check(core::positive_integer());
  app.add_option("--warmup", options.warmup, "untimed runs before them")->check(core::non_negative_integer());
  app.add_option("--batch", options.batches, "batch sizes")->delimiter(',')->check(core::positive_integer());
  app.add_option("--tower", options.tower, "text, video or both");
  app.add_option("--seed", options.seed, "seed of the weights and inputs");
  app.add_option("--save-weights", options.save_weights, "write every parameter and buffer here (safetensors)");
  app.add_option("--inputs", options.inputs, "write the inputs here (safetensors: text.b1.input_ids, ...)");
  app.add_option("--outputs", options.outputs, "write the embeddings here (safetensors: text.b1, video.b1, ...)");
  core::show_defaults_in_help(app);
  return core::run_cli(app, argc, argv, [&] { run(options); });
}
