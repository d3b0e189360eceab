// AdamW groups, schedules, clipping and named state (training/optim.h). The AdamW reference
// update is written out here from Loshchilov & Hutter's algorithm.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/safetensors.h"
#include "tests/core/test_support.h"
#include "training/optim.h"

namespace hdv::train {
namespace {
using test::TempDir;

TEST(LrMultiplier, WarmsUpLinearlyThenDecays) {
  EXPECT_DOUBLE_EQ(lr_multiplier(0, 100, 0.1, "linear"), 0.1);
  EXPECT_DOUBLE_EQ(lr_multiplier(9, 100, 0.1, "linear"), 1.0);
  EXPECT_DOUBLE_EQ(lr_multiplier(10, 100, 0.1, "linear"), 1.0);
  EXPECT_DOUBLE_EQ(lr_multiplier(55, 100, 0.1, "linear"), 0.5);
  EXPECT_DOUBLE_EQ(lr_multiplier(100, 100, 0.1, "linear"), 0.0);
  EXPECT_NEAR(lr_multiplier(55, 100, 0.1, "cosine"), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(lr_multiplier(80, 100, 0.1, "constant"), 1.0);
  EXPECT_DOUBLE_EQ(lr_multiplier(0, 10, 0.0, "linear"), 1.0);
}

TEST(Optimizer, OneStepMatchesTheAdamWFormula) {
  at::Tensor w = torch::tensor({{1.0, -2.0}}, torch::kFloat64).set_requires_grad(true);
  OptimConfig config;
  config.lr = 0.1;
  config.warmup = 0;
  config.schedule = "constant";
  config.weight_decay = 0.01;
  Optimizer optimizer({{"text_proj.weight", w}}, config, 10);
  w.mutable_grad() = torch::tensor({{0.5, 0.25}}, torch::kFloat64);
  optimizer.step(0);
  for (int i = 0; i < 2; ++i) {
    double p = i == 0 ? 1.0 : -2.0, g = i == 0 ? 0.5 : 0.25;
    double m = (1 - config.beta1) * g, v = (1 - config.beta2) * g * g;
    double m_hat = m / (1 - config.beta1), v_hat = v / (1 - config.beta2);
    double expected = p * (1 - config.lr * config.weight_decay) - config.lr * m_hat / (std::sqrt(v_hat) + config.eps);
    EXPECT_NEAR(w[0][i].item<double>(), expected, 1e-12);
  }
}

TEST(Optimizer, BiasesAreNotDecayedAndTheVideoTowerHasItsOwnRate) {
  at::Tensor weight = torch::ones({2, 2}, torch::kFloat64).set_requires_grad(true);
  at::Tensor bias = torch::ones({2}, torch::kFloat64).set_requires_grad(true);
  at::Tensor video = torch::ones({2, 2}, torch::kFloat64).set_requires_grad(true);
  OptimConfig config;
  config.lr = 0.1;
  config.video_lr = 0.3;
  config.weight_decay = 0.5;
  config.warmup = 0;
  config.schedule = "constant";
  Optimizer optimizer({{"text_proj.weight", weight}, {"text_proj.bias", bias}, {"video.fuse.weight", video}}, config, 5);
  for (auto* p : {&weight, &bias, &video}) p->mutable_grad() = torch::zeros_like(*p);
  optimizer.step(0);  // zero gradients: only the decay moves anything
  EXPECT_NEAR(weight[0][0].item<double>(), 1.0 - 0.1 * 0.5, 1e-12);
  EXPECT_NEAR(bias[0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(video[0][0].item<double>(), 1.0 - 0.3 * 0.5, 1e-12);
}

TEST(Optimizer, ClipsTheGlobalGradientNorm) {
  at::Tensor a = torch::zeros({2}, torch::kFloat64).set_requires_grad(true);
  OptimConfig config;
  config.grad_clip = 1.0;
  Optimizer optimizer({{"a", a}}, config, 5);
  a.mutable_grad() = torch::tensor({3.0, 4.0}, torch::kFloat64);
  EXPECT_NEAR(optimizer.clip_gradients(), 5.0, 1e-12);
  EXPECT_NEAR(a.grad().norm().item<double>(), 1.0, 1e-6);
}

TEST(Optimizer, RestoredStateContinuesExactly) {
  TempDir dir;
  OptimConfig config;
  config.lr = 0.05;
  config.warmup = 0.2;
  auto make = [] { return torch::tensor({0.5, -1.5, 2.0}, torch::kFloat64).reshape({3, 1}).set_requires_grad(true); };
  at::Tensor a = make(), b = make();
  Optimizer first({{"p", a}}, config, 8);
  auto grad_at = [](int step) { return torch::tensor({0.1 * step, -0.2, 0.3 / (step + 1)}, torch::kFloat64).reshape({3, 1}); };
  for (int step = 0; step < 3; ++step) {
    a.mutable_grad() = grad_at(step);
    first.step(step);
  }
  core::write_safetensors(dir.path() / "state.safetensors", first.state());
  {
    torch::NoGradGuard no_grad;
    b.copy_(a);
  }
  Optimizer second({{"p", b}}, config, 8);
  second.restore(core::SafetensorsFile::open(dir.path() / "state.safetensors"));
  for (int step = 3; step < 6; ++step) {
    a.mutable_grad() = grad_at(step);
    b.mutable_grad() = grad_at(step);
    first.step(step);
    second.step(step);
  }
  EXPECT_TRUE(a.equal(b)) << a << b;
}

TEST(Optimizer, RestoreNamesMismatchedState) {
  TempDir dir;
  at::Tensor p = torch::zeros({2}, torch::kFloat64).set_requires_grad(true);
  core::write_safetensors(dir.path() / "bad.safetensors",
                          {{"optim.p.exp_avg", torch::zeros({3})}, {"optim.p.exp_avg_sq", torch::zeros({3})},
                           {"optim.p.step", torch::tensor(int64_t(1))}});
  Optimizer optimizer({{"p", p}}, OptimConfig{}, 5);
  HDV_EXPECT_THROW_MSG(optimizer.restore(core::SafetensorsFile::open(dir.path() / "bad.safetensors")), core::FormatError,
                       "optimiser state does not match the model (1 problems):\n  optim.p: state [3] for parameter [2]");
}

TEST(OptimConfig, RejectsBadSchedule) {
  OptimConfig config;
  config.schedule = "step";
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "optim.schedule=\"step\": expected linear, cosine or constant");
}

}  // namespace
}  // namespace hdv::train
