// The learning-rate ramp shared by the latent optimisers (StyleGAN2 projector, StyleCLIP):
// linear ramp-up over the first `rampup` fraction, cosine ramp-down over the last `rampdown`.
#pragma once

#include <algorithm>
#include <cmath>

namespace hdv::gen {

// t in [0, 1]: fraction of the optimisation done -> multiplier of the base learning rate.
inline double ramped_lr(double t, double rampup = 0.05, double rampdown = 0.25) {
  double ramp = std::min(1.0, (1.0 - t) / rampdown);
  ramp = 0.5 - 0.5 * std::cos(ramp * M_PI);
  return ramp * std::min(1.0, t / rampup);
}

}  // namespace hdv::gen
