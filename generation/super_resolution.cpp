// Text-guided super-resolution (see super_resolution.h).
#include "generation/super_resolution.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "generation/labels.h"
#include "core/shape_text.h"

namespace hdv::gen {
namespace {

namespace F = torch::nn::functional;

// GEOCROSS: mean squared geodesic distance between every pair of the layers' latents.
at::Tensor geocross(const at::Tensor& latent) {
  // latent: [L, D]
  const int64_t l = latent.size(0);
  if (l < 2) return torch::zeros({}, latent.options());
  at::Tensor a = latent.unsqueeze(0).expand({l, l, -1}), b = latent.unsqueeze(1).expand({l, l, -1});
  at::Tensor d = 2 * torch::atan2((a - b).norm(2, -1), (a + b).norm(2, -1));
  return d.square().sum() / static_cast<double>(l * (l - 1));
}

}  // namespace

void SRConfig::validate() const {
  if (steps < 1) throw core::ConfigError(fmt::format("sr: steps={} must be >= 1", steps));
  if (!(lr > 0)) throw core::ConfigError(fmt::format("sr: lr={} must be > 0", lr));
  if (candidates < 1) throw core::ConfigError(fmt::format("sr: candidates={} must be >= 1", candidates));
  if (l2_weight < 0 || geocross_weight < 0 || text_weight < 0) throw core::ConfigError("sr: loss weights must be >= 0");
  if (fit_samples < 2) throw core::ConfigError(fmt::format("sr: fit_samples={} must be >= 2", fit_samples));
}

at::Tensor downscale(const at::Tensor& images, int64_t factor) {
  return F::avg_pool2d(images, F::AvgPool2dFuncOptions(factor));
}

at::Tensor bicubic_upscale(const at::Tensor& images, int64_t size) {
  return F::interpolate(images, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{size, size})
                                    .mode(torch::kBicubic)
                                    .align_corners(false))
      .clamp(-1, 1);
}

SRResult super_resolve(GeneratorImpl& generator, VLGuide* guide, const at::Tensor& low_image, int64_t scale,
                       const at::Tensor& text, const SRConfig& config, const core::ProgressCallback& progress,
                       const std::atomic<bool>* cancel) {
  config.validate();
  const int64_t resolution = generator.config().resolution;
  if (scale < 2 || resolution % scale != 0) {
    throw core::Error(fmt::format("sr: scale {} does not divide the generator's resolution {}", scale, resolution));
  }
  at::Tensor low = low_image.dim() == 3 ? low_image.unsqueeze(0) : low_image;
  const int64_t size = resolution / scale;
  if (low.dim() != 4 || low.size(2) != size || low.size(3) != size || low.size(1) != generator.config().img_channels) {
    throw core::Error(fmt::format("sr: input has shape {}, expected [{}, {}, {}] for ×{} with a {}-pixel generator",
                                  core::shape_text(low_image.sizes()), generator.config().img_channels, size, size,
                                  scale, resolution));
  }
  if (text.defined() && guide == nullptr) throw core::Error("sr: a prompt needs the VL model");
  const auto start = std::chrono::steady_clock::now();
  const c10::Device device = generator.mapping->w_avg.device();
  low = low.to(device).to(torch::kFloat);
  for (auto& p : generator.parameters()) p.set_requires_grad(false);

  // PULSE's gaussian fit: the mapping output before its last leaky ReLU is about Gaussian.
  at::Tensor mu, sigma;
  {
    torch::NoGradGuard no_grad;
    auto cpu = torch::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config.seed) + 7919);
    at::Tensor z = torch::randn({config.fit_samples, generator.config().z_dim}, cpu, torch::kFloat).to(device);
    at::Tensor c = generator.config().conditional()
                       ? random_labels(generator.config().labels, config.fit_samples, cpu).to(device)
                       : at::Tensor();                 // conditional: over labels drawn uniformly
    at::Tensor w = generator.map(z, c) / std::sqrt(2.0);  // undo the gain √2
    at::Tensor pre = torch::where(w < 0, w / 0.2, w);  // invert leaky ReLU(0.2)
    mu = pre.mean(0);
    sigma = pre.std(0);
  }
  at::Tensor target = text.defined() ? text.to(guide->device()).reshape({1, -1}) : at::Tensor();
  const int64_t num_ws = generator.config().num_ws(), w_dim = generator.config().w_dim;
  const double radius = std::sqrt(static_cast<double>(w_dim));

  SRResult result;
  result.bicubic = bicubic_upscale(low, resolution);
  const int64_t total = config.candidates * config.steps;
  for (int64_t c = 0; c < config.candidates; ++c) {
    const int64_t seed = config.seed + c;
    auto cpu = torch::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
    at::Tensor latent = torch::randn({num_ws, w_dim}, cpu, torch::kFloat).to(device);
    latent = (latent * (radius / latent.norm(2, 1, true))).set_requires_grad(true);
    torch::optim::Adam adam({latent}, torch::optim::AdamOptions(config.lr));
    auto render = [&](const at::Tensor& v) {
      at::Tensor ws = torch::leaky_relu(v * sigma + mu, 0.2) * std::sqrt(2.0);
      return generator.synthesize(ws.unsqueeze(0), NoiseMode::Const);
    };
    auto fidelity = [&](const at::Tensor& image, at::Tensor* similarity) {
      at::Tensor loss = config.l2_weight * (downscale(image, scale) - low).square().mean();
      if (target.defined()) {
        *similarity = (guide->embed_images(image) * target).sum(1).mean();
        loss = loss + config.text_weight * (1 - *similarity);
      }
      return loss;
    };
    for (int64_t step = 0; step < config.steps; ++step) {
      check_cancel(cancel);
      at::Tensor image = render(latent);
      at::Tensor similarity;
      at::Tensor loss = fidelity(image, &similarity) + config.geocross_weight * geocross(latent);
      adam.zero_grad();
      loss.backward();
      adam.step();
      {
        torch::NoGradGuard no_grad;
        latent.mul_(radius / latent.norm(2, 1, true));  // back onto the sphere
      }
      if (progress) {
        progress(c * config.steps + step + 1, total,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
    }
    torch::NoGradGuard no_grad;
    SRCandidate candidate;
    candidate.seed = seed;
    at::Tensor image = render(latent);
    at::Tensor similarity;
    candidate.score = fidelity(image, &similarity).item<double>();
    candidate.lr_mse = (downscale(image, scale) - low).square().mean().item<double>();
    candidate.text_similarity = similarity.defined() ? similarity.item<double>() : 0.0;
    image = image.clamp(-1, 1);
    if (config.consistency) {
      // Back-projection onto {x : down(x) = LR} (nearest-up residual, exact for area-down),
      // alternated with the pixel range [-1, 1] until both hold (projections onto convex sets).
      for (int iteration = 0; iteration < 50; ++iteration) {
        at::Tensor residual = low - downscale(image, scale);
        if (residual.abs().max().item<double>() < 1e-6) break;
        image = (image + residual.repeat_interleave(scale, 2).repeat_interleave(scale, 3)).clamp(-1, 1);
      }
    }
    candidate.image = image;
    result.candidates.push_back(std::move(candidate));
  }
  std::sort(result.candidates.begin(), result.candidates.end(),
            [](const SRCandidate& a, const SRCandidate& b) { return a.score < b.score; });
  return result;
}

}  // namespace hdv::gen
