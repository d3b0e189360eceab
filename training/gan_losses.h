// StyleGAN2's GAN objectives (docs/design.md §7): the non-saturating logistic loss for G and D, the R1
// gradient penalty on real images, path-length regularisation of G, style-mixing cut-offs, the
// lazy-regularisation correction of Adam's settings, and the G EMA.
//
// Reference: Karras et al. 2020 §4 and Appendix B (lazy regularisation, path length);
// Mescheder et al. 2018 (R1); NVlabs stylegan2-ada-pytorch `training/loss.py` (StyleGAN2Loss) and
// `training/training_loop.py` (phases, mb_ratio, G_ema).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace hdv::gen {
class GeneratorImpl;
}

namespace hdv::train {

// G: mean softplus(−D(G(z))) = −log σ(fake).  fake_logits: [B, 1] -> scalar
at::Tensor generator_logistic_loss(const at::Tensor& fake_logits);
// D: mean softplus(D(G(z))) + mean softplus(−D(x)).  logits: [B, 1] each -> scalar
at::Tensor discriminator_logistic_loss(const at::Tensor& real_logits, const at::Tensor& fake_logits);

// R1 per image: ‖∇ₓ Σ D(x)‖² summed over C, H, W, with the graph kept (create_graph) so that
// the penalty itself can be back-propagated. `real_images` must require grad and `real_logits`
// must come from it. -> [B]. The loss StyleGAN2 adds is mean(r1) · γ/2 (times the interval).
at::Tensor r1_penalty(const at::Tensor& real_logits, const at::Tensor& real_images);

// Path-length regularisation (StyleGAN2 §4.2): y ~ N(0, I)/√(H·W), J_wᵀy = ∇_ws Σ(img·y),
// length a = √(mean over ws of Σ_w (J_wᵀy)²) per image; the target `pl_mean` moves toward the
// batch mean of a by `decay` (updated in place); penalty (a − pl_mean)² per image.
struct PathLength {
  at::Tensor penalty;  // [B] (differentiable)
  at::Tensor lengths;  // [B] (detached)
};
// images: [B, C, H, W] from ws: [B, num_ws, w_dim] (ws requires grad); noise: like images, N(0,1).
PathLength path_length_penalty(const at::Tensor& images, const at::Tensor& ws, const at::Tensor& noise,
                               at::Tensor& pl_mean, double decay);

// Adam settings of a phase regularised lazily every `interval` minibatches: lr·c, β^c with
// c = interval / (interval + 1) (StyleGAN2 Appendix B; NVlabs mb_ratio). interval 0 = not lazy.
struct LazyAdam {
  double lr, beta1, beta2;
};
LazyAdam lazy_adam(double lr, double beta1, double beta2, int64_t interval);

// Style mixing (NVlabs run_G): with probability `probability` a crossover in [1, num_ws) at which
// the second latent takes over; num_ws (no mixing) otherwise. `u` ~ U[0, 1) and `cutoff_draw` is a
// uniform integer in [1, num_ws), both drawn by the caller so that the RNG stream is explicit.
int64_t mixing_cutoff(double u, int64_t cutoff_draw, int64_t num_ws, double probability);

// EMA decay per step: 0.5^(batch / ema_nimg) with ema_nimg = ema_kimg·1000, limited to
// images_seen·rampup while rampup > 0 (NVlabs' ema_rampup, so early G_ema follows G closely).
double ema_beta(int64_t batch, double ema_kimg, double rampup, int64_t images_seen);
// ema ← lerp(g, ema, beta) on every parameter; buffers (w_avg, noise_const) copied from g.
void update_ema(gen::GeneratorImpl& ema, gen::GeneratorImpl& g, double beta);

}  // namespace hdv::train
