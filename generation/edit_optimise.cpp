// Latent-optimisation editing (see edit_optimise.h).
#include "generation/edit_optimise.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <chrono>
#include <limits>

#include "core/error.h"
#include "generation/schedule.h"

namespace hdv::gen {

void EditOptimiseConfig::validate() const {
  if (steps < 1) throw core::ConfigError(fmt::format("edit-optimise: steps={} must be >= 1", steps));
  if (!(lr > 0)) throw core::ConfigError(fmt::format("edit-optimise: lr={} must be > 0", lr));
  if (l2_lambda < 0 || pixel_lambda < 0) throw core::ConfigError("edit-optimise: l2_lambda and pixel_lambda must be >= 0");
}

OptimiseResult edit_optimise(GeneratorImpl& generator, VLGuide& guide, const at::Tensor& ws0, const at::Tensor& text,
                             const EditOptimiseConfig& config, const core::ProgressCallback& progress,
                             const std::atomic<bool>* cancel) {
  config.validate();
  const auto start = std::chrono::steady_clock::now();
  for (auto& p : generator.parameters()) p.set_requires_grad(false);
  at::Tensor source_ws = ws0.detach();
  at::Tensor source_image;
  {
    torch::NoGradGuard no_grad;
    source_image = generator.synthesize(source_ws);
  }
  at::Tensor ws = source_ws.clone().set_requires_grad(true);
  torch::optim::Adam adam({ws}, torch::optim::AdamOptions(config.lr).betas({0.9, 0.999}));
  at::Tensor target = text.to(guide.device()).reshape({1, -1});
  OptimiseResult result;
  // Adam's steps are about lr per coordinate whatever the gradient, so on a rough VL landscape a
  // run can end worse than it started (seen with the bundled 64-px generator at lr 0.1: similarity
  // 0.55 -> 0.07 over 300 steps). The latent with the lowest objective seen is returned.
  at::Tensor best_ws = source_ws.clone();
  double best_loss = std::numeric_limits<double>::infinity();
  struct Evaluated {
    at::Tensor loss, similarity, image;
  };
  auto objective = [&](const at::Tensor& w) {
    at::Tensor image = generator.synthesize(w);
    at::Tensor similarity = (guide.embed_images(image) * target).sum(1).mean();
    at::Tensor loss = (1 - similarity) + config.l2_lambda * (w - source_ws).square().sum();
    if (config.pixel_lambda > 0) loss = loss + config.pixel_lambda * (image - source_image).square().mean();
    return Evaluated{loss, similarity, image};
  };
  for (int64_t step = 0; step < config.steps; ++step) {
    check_cancel(cancel);
    const double t = static_cast<double>(step) / static_cast<double>(config.steps);
    for (auto& group : adam.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(config.lr * ramped_lr(t));
    const Evaluated now = objective(ws);
    if (step == 0) result.start_similarity = now.similarity.item<double>();
    const double loss = now.loss.item<double>();
    if (loss < best_loss) {
      best_loss = loss;
      best_ws = ws.detach().clone();
    }
    adam.zero_grad();
    now.loss.backward();
    adam.step();
    if (progress) {
      progress(step + 1, config.steps, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  torch::NoGradGuard no_grad;
  // The latent after the last step has not been looked at yet; when it is the best, its image and
  // similarity are already at hand.
  const Evaluated last = objective(ws);
  if (last.loss.item<double>() < best_loss) {
    result.ws = ws.detach().clone();
    result.image = last.image;
    result.similarity = last.similarity.item<double>();
  } else {
    result.ws = best_ws;
    result.image = generator.synthesize(result.ws);
    result.similarity = (guide.embed_images(result.image) * target).sum(1).item<double>();
  }
  result.steps = config.steps;
  return result;
}

}  // namespace hdv::gen
