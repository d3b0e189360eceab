// Benchmark: CPU latency of the StyleGAN2 generator (generation/generator.h) — z -> image at
// batch 1 and 8 — and of a global-direction edit end to end (text embeddings of the prompt pair,
// Δt, relevance, new styles, synthesis) on the small 128-px geometry; with --train, the forward +
// backward pass GAN training runs on G (z -> image -> a scalar -> gradients of every weight) in fp32
// and under CPU bf16 autocast (core/autocast.h, what `hdvila-train gan --precision bf16` uses).
// Counterpart: bench/bench_generator.py (bench/stylegan2_ref.py, the same generator in PyTorch
// Python, loading the weights this program writes with --save-weights).
//
//   hdv_bench_generator [--preset stylegan2-small-128] [--batch 1,8] [--runs 20] [--warmup 3]
//                       [--save-weights FILE] [--edit-generator G --edit-vl V --edit-directions D]
//                       [--train]
// InferenceMode, eval mode, noise_mode const, psi 0.7; prints median and min in ms. --device cuda
// times the generator forward on the GPU (scripts/gpu_check.sh: config F at 1024 px). --train: psi 1,
// noise const, loss = mean of the squared image, gradients zeroed between runs.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/assets.h"
#include "core/autocast.h"
#include "core/cli.h"
#include "core/device.h"
#include "generation/generator.h"
#include "generation/generator_checkpoint.h"
#include "generation/pipeline.h"

namespace {

using namespace hdv;

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

template <class F>
void time_it(const std::string& label, int warmup, int runs, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("cpp    %s: %d runs, median %.2f ms, min %.2f ms\n", label.c_str(), runs, median_of(ms),
              *std::min_element(ms.begin(), ms.end()));
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "stylegan2-small-128", save_weights, edit_generator, edit_vl, edit_directions;
  std::vector<int64_t> batches = {1, 8};
  int runs = 20, warmup = 3;
  bool train = false, plain_relevance = false;
  core::CommonOptions common;
  CLI::App app{"hdv_bench_generator: StyleGAN2 forward and global-direction edit latency", "hdv_bench_generator"};
  app.add_option("--preset", preset, "Generator preset")->capture_default_str();
  app.add_option("--batch", batches, "Batch sizes")->delimiter(',')->capture_default_str();
  app.add_option("--runs", runs, "Timed runs")->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed runs first")->capture_default_str();
  app.add_option("--save-weights", save_weights, "Write the generator (a generator checkpoint) for the Python side");
  app.add_option("--edit-generator", edit_generator, "Time a global-direction edit with this generator ...");
  app.add_option("--edit-vl", edit_vl, "... this VL model ...");
  app.add_option("--edit-directions", edit_directions, "... and this direction table");
  app.add_flag("--edit-plain-relevance", plain_relevance, "Time the edit with StyleCLIP's plain relevance (default: whitened)");
  app.add_flag("--train", train, "Also time forward + backward (a G training pass) in fp32 and bf16 autocast");
  core::add_common_options(app, common);
  return core::run_cli(app, argc, argv, [&] {
    const c10::Device device = core::apply_common_options(common);
    std::printf("cpp    %s, %d thread(s), %d warm-up + %d timed runs, InferenceMode, %s\n", preset.c_str(),
                torch::get_num_threads(), warmup, runs, device.str().c_str());
    torch::manual_seed(0);
    gen::Generator generator(gen::generator_preset(preset));
    generator->eval();
    if (!save_weights.empty()) gen::save_generator(save_weights, *generator, preset);
    if (train) {
      for (const bool bf16 : {false, true}) {
        for (int64_t batch : batches) {
          at::Tensor z = torch::randn({batch, generator->config().z_dim});
          time_it(fmt::format("train pass {} batch {}", bf16 ? "bf16" : "fp32", batch), warmup, runs, [&] {
            for (auto& p : generator->parameters()) p.mutable_grad() = at::Tensor();
            at::Tensor image;
            {
              core::AutocastScope amp(at::kCPU, at::kBFloat16, bf16);
              image = generator->forward(z, 1.0, gen::NoiseMode::Const);  // [B, 3, R, R]
            }
            image.to(torch::kFloat32).square().mean().backward();
          });
        }
      }
    }
    c10::InferenceMode inference;
    generator->to(device);  // --device cuda: the forward timing on the GPU (the rest stays on the CPU)
    for (int64_t batch : batches) {
      at::Tensor z = torch::randn({batch, generator->config().z_dim}).to(device);
      time_it("generator batch " + std::to_string(batch), warmup, runs, [&] {
        // .item() waits for the device, so a GPU run is timed to its end.
        generator->forward(z, 0.7, gen::NoiseMode::Const).sum().item<float>();
      });
    }
    generator->to(torch::kCPU);
    if (!edit_generator.empty()) {
      gen::PipelineOptions options;
      options.generator = edit_generator;
      options.vl_model = edit_vl;
      options.directions = edit_directions;
      options.python = core::default_python();
      options.plain_relevance = plain_relevance;
      gen::Pipeline pipeline(options);
      gen::Rendered start = pipeline.sample(1);
      time_it(fmt::format("global-direction edit (prompt pair -> image, {} relevance)", plain_relevance ? "plain" : "whitened"),
              warmup, runs,
              [&] { pipeline.edit(start.latent, "a red t-shirt", "a t-shirt", 4.1, 0.15); });
    }
  });
}
