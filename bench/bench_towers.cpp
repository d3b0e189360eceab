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
#include "bench/bench_inputs.h"
#include "models/presets.h"
#include "models/vl_model.h"

namespace {

using namespace hdv;


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
  bench::perturb(*model);
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
    bench::ModelInputs in = bench::make_inputs(config, batch);
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
