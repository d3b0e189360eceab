// StyleGAN2 GAN objectives (see gan_losses.h; NVlabs stylegan2-ada-pytorch training/loss.py and
// training/training_loop.py).
#include "training/gan_losses.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "generation/generator.h"

namespace hdv::train {

namespace F = torch::nn::functional;

at::Tensor generator_logistic_loss(const at::Tensor& fake_logits) { return F::softplus(-fake_logits).mean(); }

at::Tensor discriminator_logistic_loss(const at::Tensor& real_logits, const at::Tensor& fake_logits) {
  return F::softplus(fake_logits).mean() + F::softplus(-real_logits).mean();
}

at::Tensor r1_penalty(const at::Tensor& real_logits, const at::Tensor& real_images) {
  if (!real_images.requires_grad()) throw core::Error("r1_penalty: real_images must require grad");
  at::Tensor grads = torch::autograd::grad({real_logits.sum()}, {real_images}, /*grad_outputs=*/{},
                                           /*retain_graph=*/true, /*create_graph=*/true)[0];  // [B, C, H, W]
  return grads.square().sum({1, 2, 3});  // [B]
}

PathLength path_length_penalty(const at::Tensor& images, const at::Tensor& ws, const at::Tensor& noise,
                               at::Tensor& pl_mean, double decay) {
  // images: [B, C, H, W], ws: [B, num_ws, w_dim]
  const double scale = 1.0 / std::sqrt(double(images.size(2) * images.size(3)));
  at::Tensor grads = torch::autograd::grad({(images * (noise * scale)).sum()}, {ws}, {}, /*retain_graph=*/true,
                                           /*create_graph=*/true)[0];  // [B, num_ws, w_dim]
  at::Tensor lengths = grads.square().sum(2).mean(1).sqrt();             // [B]
  at::Tensor mean = pl_mean.lerp(lengths.mean().detach(), decay);
  {
    torch::NoGradGuard no_grad;
    pl_mean.copy_(mean);
  }
  return {(lengths - mean).square(), lengths.detach()};
}

LazyAdam lazy_adam(double lr, double beta1, double beta2, int64_t interval) {
  if (interval <= 0) return {lr, beta1, beta2};
  const double c = double(interval) / double(interval + 1);
  return {lr * c, std::pow(beta1, c), std::pow(beta2, c)};
}

int64_t mixing_cutoff(double u, int64_t cutoff_draw, int64_t num_ws, double probability) {
  return u < probability ? cutoff_draw : num_ws;
}

double ema_beta(int64_t batch, double ema_kimg, double rampup, int64_t images_seen) {
  double nimg = ema_kimg * 1000.0;
  if (rampup > 0) nimg = std::min(nimg, double(images_seen) * rampup);
  return std::pow(0.5, double(batch) / std::max(nimg, 1e-8));
}

void update_ema(gen::GeneratorImpl& ema, gen::GeneratorImpl& g, double beta) {
  torch::NoGradGuard no_grad;
  auto ema_params = ema.parameters(), params = g.parameters();
  for (size_t i = 0; i < params.size(); ++i) ema_params[i].copy_(params[i].lerp(ema_params[i], beta));
  auto ema_buffers = ema.buffers(), buffers = g.buffers();
  for (size_t i = 0; i < buffers.size(); ++i) ema_buffers[i].copy_(buffers[i]);
}

}  // namespace hdv::train
