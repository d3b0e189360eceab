// The optimisation projector (see projector.h).
#include "generation/projector.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "core/error.h"
#include "generation/labels.h"
#include "core/shape_text.h"
#include "generation/schedule.h"

namespace hdv::gen {
namespace {

namespace F = torch::nn::functional;

// NVlabs' noise regulariser: squared autocorrelation at lag 1 (x and y), over a pyramid.
at::Tensor noise_regularizer(const std::vector<at::Tensor>& noise) {
  at::Tensor loss = torch::zeros({}, noise.front().options());
  for (const at::Tensor& buffer : noise) {
    at::Tensor n = buffer.reshape({1, 1, buffer.size(-2), buffer.size(-1)});
    while (true) {
      loss = loss + (n * torch::roll(n, 1, 3)).mean().square() + (n * torch::roll(n, 1, 2)).mean().square();
      if (n.size(2) <= 8) break;
      n = F::avg_pool2d(n, F::AvgPool2dFuncOptions(2));
    }
  }
  return loss;
}

}  // namespace

void InvertConfig::validate() const {
  if (steps < 1) throw core::ConfigError(fmt::format("invert: steps={} must be >= 1", steps));
  if (!(lr > 0)) throw core::ConfigError(fmt::format("invert: lr={} must be > 0", lr));
  if (pixel_weight < 0 || vl_weight < 0) throw core::ConfigError("invert: pixel_weight and vl_weight must be >= 0");
  if (w_avg_samples < 2) throw core::ConfigError(fmt::format("invert: w_avg_samples={} must be >= 2", w_avg_samples));
}

at::Tensor fit_image(const at::Tensor& image, int64_t size) {
  at::Tensor x = image.dim() == 3 ? image.unsqueeze(0) : image;
  if (x.dim() != 4) throw core::Error(fmt::format("image: got shape {}, expected [C, H, W]", core::shape_text(image.sizes())));
  x = x.to(torch::kFloat);
  if (x.size(2) == size && x.size(3) == size) return x;
  if (x.size(2) >= size && x.size(3) >= size) {
    return F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kArea));
  }
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{size, size})
                               .mode(torch::kBicubic)
                               .align_corners(false))
      .clamp(-1, 1);
}

double psnr(const at::Tensor& a, const at::Tensor& b) {
  const double mse = (a.to(torch::kFloat) - b.to(torch::kFloat).to(a.device())).square().mean().item<double>();
  return 10.0 * std::log10(4.0 / std::max(mse, 1e-12));
}

InvertResult invert(GeneratorImpl& generator, VLGuide* guide, const at::Tensor& target_image, const InvertConfig& config,
                    const core::ProgressCallback& progress, const std::atomic<bool>* cancel) {
  config.validate();
  const auto start = std::chrono::steady_clock::now();
  const c10::Device device = generator.mapping->w_avg.device();
  for (auto& p : generator.parameters()) p.set_requires_grad(false);
  const at::Tensor target = fit_image(target_image, generator.config().resolution).to(device);
  if (target.size(1) != generator.config().img_channels) {
    throw core::Error(fmt::format("invert: image has {} channels, the generator makes {}", target.size(1),
                                  generator.config().img_channels));
  }
  // w_avg and σ_w from fresh samples (NVlabs: 10,000).
  // Every random draw (w samples, initial noise buffers, latent noise per step) comes from one
  // generator seeded by config.seed, so an inversion repeats exactly whatever ran before it.
  auto cpu = torch::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config.seed));
  at::Tensor w_avg, w_std;
  {
    torch::NoGradGuard no_grad;
    at::Tensor z = torch::randn({config.w_avg_samples, generator.config().z_dim}, cpu, torch::kFloat).to(device);
    // A conditional generator's mean over labels drawn uniformly (after the z draws, so an
    // unconditional inversion is unchanged).
    at::Tensor c = generator.config().conditional()
                       ? random_labels(generator.config().labels, config.w_avg_samples, cpu).to(device)
                       : at::Tensor();
    at::Tensor w = generator.map(z, c);
    w_avg = w.mean(0, true);
    w_std = std::sqrt((w - w_avg).square().sum().item<double>() / static_cast<double>(config.w_avg_samples)) *
            torch::ones({}, w.options());
  }
  at::Tensor target_embedding;
  if (guide != nullptr && config.vl_weight > 0) {
    torch::NoGradGuard no_grad;
    target_embedding = guide->embed_images(target).detach();
  }
  const int64_t num_ws = generator.config().num_ws();
  at::Tensor w_opt = (config.w_plus ? w_avg.unsqueeze(1).repeat({1, num_ws, 1}) : w_avg.clone()).set_requires_grad(true);
  std::vector<at::Tensor> noise;
  for (const at::Tensor& buffer : generator.noise_buffers()) {
    noise.push_back(
        torch::randn({1, 1, buffer.size(0), buffer.size(1)}, cpu, torch::kFloat).to(buffer.options()).set_requires_grad(true));
  }
  std::vector<at::Tensor> params = {w_opt};
  params.insert(params.end(), noise.begin(), noise.end());
  torch::optim::Adam adam(params, torch::optim::AdamOptions(config.lr).betas({0.9, 0.999}));
  const double sigma_w = w_std.item<double>();
  for (int64_t step = 0; step < config.steps; ++step) {
    check_cancel(cancel);
    const double t = static_cast<double>(step) / static_cast<double>(config.steps);
    const double noise_scale = sigma_w * config.initial_noise_factor * std::pow(std::max(0.0, 1.0 - t / config.noise_ramp), 2);
    for (auto& group : adam.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(config.lr * ramped_lr(t));
    at::Tensor w = w_opt + torch::randn(w_opt.sizes(), cpu, torch::kFloat).to(w_opt.device()) * noise_scale;
    at::Tensor ws = config.w_plus ? w : w.unsqueeze(1).repeat({1, num_ws, 1});
    at::Tensor image = generator.synthesize_from_styles(generator.styles(ws), NoiseMode::None, noise);
    at::Tensor loss = config.pixel_weight * (image - target).square().mean();
    if (target_embedding.defined()) {
      loss = loss + config.vl_weight * (1 - (guide->embed_images(image) * target_embedding).sum(1).mean());
    }
    loss = loss + config.noise_regularize * noise_regularizer(noise);
    adam.zero_grad();
    loss.backward();
    adam.step();
    {
      // Keep the noise maps zero-mean, unit-variance (NVlabs normalises after every step).
      torch::NoGradGuard no_grad;
      for (at::Tensor& n : noise) {
        n.sub_(n.mean());
        n.mul_(n.square().mean().rsqrt());
      }
    }
    if (progress) progress(step + 1, config.steps, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  torch::NoGradGuard no_grad;
  InvertResult result;
  result.ws = config.w_plus ? w_opt.detach().clone() : w_opt.detach().unsqueeze(1).repeat({1, num_ws, 1});
  for (const at::Tensor& n : noise) result.noise.push_back(n.detach());
  result.image = generator.synthesize_from_styles(generator.styles(result.ws), NoiseMode::None, result.noise);
  result.mse = (result.image - target).square().mean().item<double>();
  result.psnr = psnr(result.image, target);
  return result;
}

}  // namespace hdv::gen
