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
  if (l2_lambda < 0 || pixel_lambda < 0 || direction_lambda < 0) {
    throw core::ConfigError("edit-optimise: l2_lambda, pixel_lambda and direction_lambda must be >= 0");
  }
  if (layer_begin < 0 || (layer_end >= 0 && layer_end <= layer_begin)) {
    throw core::ConfigError(fmt::format("edit-optimise: layers {}:{} must satisfy 0 <= begin < end", layer_begin, layer_end));
  }
  if (views < 1) throw core::ConfigError(fmt::format("edit-optimise: views={} must be >= 1", views));
}

std::pair<int64_t, int64_t> parse_layer_range(const std::string& text, const std::string& flag) {
  auto fail = [&] {
    throw core::UsageError(fmt::format("{}: expected BEGIN:END or BEGIN: (W+ layer indices, BEGIN < END), got \"{}\"", flag, text));
  };
  auto number = [&](const std::string& part) -> int64_t {
    if (part.empty() || part.size() > 6 || part.find_first_not_of("0123456789") != std::string::npos) fail();
    return std::stoll(part);
  };
  const size_t colon = text.find(':');
  if (colon == std::string::npos) fail();
  const int64_t begin = number(text.substr(0, colon));
  const std::string rest = text.substr(colon + 1);
  const int64_t end = rest.empty() ? -1 : number(rest);
  if (end >= 0 && end <= begin) fail();
  return {begin, end};
}

namespace {

// [1, 3, H, W] -> [views, 3, H, W]: the image itself, then copies shifted by up to H/8 pixels
// (edge pixels repeated into the gap) and mirrored left-right with probability 1/2.
at::Tensor augmented_views(const at::Tensor& image, int64_t views, at::Generator& rng) {
  if (views == 1) return image;
  namespace F = torch::nn::functional;
  const int64_t h = image.size(2), w = image.size(3);
  const int64_t pad = std::max<int64_t>(1, h / 8);
  at::Tensor padded = F::pad(image, F::PadFuncOptions({pad, pad, pad, pad}).mode(torch::kReplicate));
  std::vector<at::Tensor> out{image};
  at::Tensor draws = at::randint(0, 2 * pad + 1, {views - 1, 3}, rng, at::TensorOptions().dtype(at::kLong));
  for (int64_t v = 0; v + 1 < views; ++v) {
    const int64_t dy = draws[v][0].item<int64_t>(), dx = draws[v][1].item<int64_t>();
    at::Tensor view = padded.slice(2, dy, dy + h).slice(3, dx, dx + w);
    if (draws[v][2].item<int64_t>() % 2 == 1) view = view.flip({3});
    out.push_back(view);
  }
  return at::cat(out, 0);
}

}  // namespace

OptimiseResult edit_optimise(GeneratorImpl& generator, VLGuide& guide, const at::Tensor& ws0, const at::Tensor& text,
                             const EditOptimiseConfig& config, const core::ProgressCallback& progress,
                             const std::atomic<bool>* cancel, const at::Tensor& direction) {
  config.validate();
  if (config.direction_lambda > 0 && !direction.defined()) {
    throw core::ConfigError("edit-optimise: direction_lambda > 0 needs the text direction (a neutral prompt)");
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto& p : generator.parameters()) p.set_requires_grad(false);
  at::Tensor source_ws = ws0.detach();
  at::Tensor source_image, source_embedding;
  {
    torch::NoGradGuard no_grad;
    source_image = generator.synthesize(source_ws);
    if (config.direction_lambda > 0) source_embedding = guide.embed_images(source_image);
  }
  const int64_t num_ws = source_ws.size(1);
  const int64_t begin = config.layer_begin;
  const int64_t end = config.layer_end < 0 ? num_ws : std::min(config.layer_end, num_ws);
  if (begin >= end) {
    throw core::ConfigError(
        fmt::format("edit-optimise: layers {}:{} select none of the {} ws", config.layer_begin, config.layer_end, num_ws));
  }
  // Only ws[:, begin:end] is a variable; `full` puts it back among the source's other layers.
  at::Tensor moving = source_ws.slice(1, begin, end).clone().set_requires_grad(true);
  auto full = [&](const at::Tensor& part) {
    return at::cat({source_ws.slice(1, 0, begin), part, source_ws.slice(1, end, num_ws)}, 1);
  };
  at::Generator rng = at::detail::createCPUGenerator(config.seed);
  torch::optim::Adam adam({moving}, torch::optim::AdamOptions(config.lr).betas({0.9, 0.999}));
  at::Tensor target = text.to(guide.device()).reshape({1, -1});
  at::Tensor text_step = config.direction_lambda > 0 ? direction.to(guide.device()).reshape({1, -1}) : at::Tensor();
  OptimiseResult result;
  // Adam's steps are about lr per coordinate whatever the gradient, so on a rough VL landscape a
  // run can end worse than it started (seen with the bundled 64-px generator at lr 0.1: similarity
  // 0.55 -> 0.07 over 300 steps). The latent with the lowest objective seen is returned.
  at::Tensor best_ws = source_ws.clone();
  double best_loss = std::numeric_limits<double>::infinity();
  struct Evaluated {
    at::Tensor loss, image;
    double similarity;  // of the image as rendered (view 0)
  };
  auto objective = [&](const at::Tensor& w) {
    at::Tensor image = generator.synthesize(w);
    at::Tensor embeddings = guide.embed_images(augmented_views(image, config.views, rng));  // [views, D]
    at::Tensor per_view = (embeddings * target).sum(1);
    at::Tensor loss = (1 - per_view.mean()) + config.l2_lambda * (w - source_ws).square().sum();
    if (config.pixel_lambda > 0) loss = loss + config.pixel_lambda * (image - source_image).square().mean();
    if (config.direction_lambda > 0) {
      // On the rendered view only. At w = w₀ the image step is zero and has no direction: it counts
      // as a step across Δt (cos 0), so that the objectives of all latents compare, and gives no
      // gradient until the latent has moved.
      at::Tensor image_step = embeddings.slice(0, 0, 1) - source_embedding;
      const at::Tensor norm = image_step.norm(2, 1);
      if (norm.item<double>() > 1e-6) {
        loss = loss + config.direction_lambda * (1 - (image_step * text_step).sum(1) / norm).squeeze(0);
      } else {
        loss = loss + config.direction_lambda;
      }
    }
    return Evaluated{loss, image, per_view[0].item<double>()};
  };
  for (int64_t step = 0; step < config.steps; ++step) {
    check_cancel(cancel);
    const double t = static_cast<double>(step) / static_cast<double>(config.steps);
    for (auto& group : adam.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(config.lr * ramped_lr(t));
    const at::Tensor ws = full(moving);
    const Evaluated now = objective(ws);
    if (step == 0) result.start_similarity = now.similarity;
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
  const at::Tensor ws = full(moving);
  const Evaluated last = objective(ws);
  if (last.loss.item<double>() < best_loss) {
    result.ws = ws.detach().clone();
    result.image = last.image;
    result.similarity = last.similarity;
  } else {
    result.ws = best_ws;
    result.image = generator.synthesize(result.ws);
    result.similarity = (guide.embed_images(result.image) * target).sum(1).item<double>();
  }
  result.steps = config.steps;
  return result;
}

}  // namespace hdv::gen
