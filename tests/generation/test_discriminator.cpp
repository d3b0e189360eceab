// StyleGAN2 residual discriminator (generation/discriminator.h): shapes, NVlabs names, the blurred
// down-sampling's padding, minibatch std and config validation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <string>

#include "core/error.h"
#include "generation/discriminator.h"
#include "generation/generator.h"

namespace hdv::gen {
namespace {

DiscriminatorConfig tiny_config() {
  DiscriminatorConfig config;
  config.resolution = 16;
  config.channel_base = 128;  // 8 channels at 16², 16 at 8², 32 at 4²
  config.channel_max = 32;
  return config;
}

TEST(Discriminator, MapsImagesToOneLogitEach) {
  torch::manual_seed(0);
  Discriminator d(tiny_config());
  at::Tensor logits = d->forward(torch::randn({8, 3, 16, 16}));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{8, 1}));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
}

TEST(Discriminator, UsesNvlabsStateDictNames) {
  Discriminator d(tiny_config());
  std::set<std::string> names;
  for (auto& item : d->named_parameters()) names.insert(item.key());
  const std::set<std::string> expected = {
      "b16.fromrgb.weight", "b16.fromrgb.bias", "b16.conv0.weight", "b16.conv0.bias", "b16.conv1.weight",
      "b16.conv1.bias",     "b16.skip.weight",  "b8.conv0.weight",  "b8.conv0.bias",  "b8.conv1.weight",
      "b8.conv1.bias",      "b8.skip.weight",   "b4.conv.weight",   "b4.conv.bias",   "b4.fc.weight",
      "b4.fc.bias",         "b4.out.weight",    "b4.out.bias"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(d->named_parameters()["b16.fromrgb.weight"].sizes(), (std::vector<int64_t>{8, 3, 1, 1}));
  EXPECT_EQ(d->named_parameters()["b16.conv1.weight"].sizes(), (std::vector<int64_t>{16, 8, 3, 3}));
  EXPECT_EQ(d->named_parameters()["b4.conv.weight"].sizes(), (std::vector<int64_t>{32, 33, 3, 3}));  // + mbstd
  EXPECT_EQ(d->named_parameters()["b4.fc.weight"].sizes(), (std::vector<int64_t>{32, 32 * 16}));
  EXPECT_EQ(d->named_parameters()["b4.out.weight"].sizes(), (std::vector<int64_t>{1, 32}));
}

TEST(DiscriminatorConv, BlurredDownsamplingPadsLikeConv2dResample) {
  // 1×1 skip with weight 1 on an 8×8 image of ones: [1,3,3,1]/8 per axis over the zero-padded
  // input (pad 1, 1) sampled every 2nd pixel: borders see 7/8 of the filter, the inside all of it.
  DiscriminatorConv skip(1, 1, 1, /*bias=*/false, /*activate=*/false, /*down=*/true, /*conv_clamp=*/0);
  {
    torch::NoGradGuard no_grad;
    skip->weight.fill_(1.0);
  }
  at::Tensor y = skip->forward(torch::ones({1, 1, 8, 8}));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 4, 4}));
  EXPECT_NEAR(y[0][0][0][0].item<double>(), 49.0 / 64.0, 1e-6);
  EXPECT_NEAR(y[0][0][0][1].item<double>(), 7.0 / 8.0, 1e-6);
  EXPECT_NEAR(y[0][0][1][1].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(y[0][0][3][3].item<double>(), 49.0 / 64.0, 1e-6);

  // 3×3 strided conv: 8×8 -> 4×4, and the √0.5 gain scales the result.
  DiscriminatorConv conv(2, 4, 3, true, true, true, 0);
  at::Tensor x = torch::randn({2, 2, 8, 8});
  at::Tensor a = conv->forward(x), b = conv->forward(x, std::sqrt(0.5));
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{2, 4, 4, 4}));
  EXPECT_TRUE(torch::allclose(b, a * std::sqrt(0.5)));
}

TEST(MinibatchStd, AppendsTheGroupStandardDeviation) {
  // Batch 4, group 2: groups are images {0, 2} and {1, 3} (stride B/G, as NVlabs' reshape).
  at::Tensor x = torch::zeros({4, 2, 1, 1});
  x[0].fill_(1.0);  // group {0, 2}: values 1 and 3 -> std 1 in both channels
  x[2].fill_(3.0);
  x[1].fill_(5.0);  // group {1, 3}: values 5 and 5 -> std ≈ 1e-4 (√1e-8)
  x[3].fill_(5.0);
  at::Tensor y = minibatch_std(x, 2, 1);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{4, 3, 1, 1}));
  EXPECT_NEAR(y[0][2][0][0].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(y[2][2][0][0].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(y[1][2][0][0].item<double>(), 1e-4, 1e-6);
  EXPECT_NEAR(y[3][2][0][0].item<double>(), 1e-4, 1e-6);
  EXPECT_TRUE(torch::equal(y.narrow(1, 0, 2), x));
  EXPECT_THROW(minibatch_std(torch::zeros({6, 2, 1, 1}), 4, 1), core::Error);
}

TEST(Discriminator, MinibatchStdMakesALogitDependOnTheOtherImages) {
  torch::manual_seed(1);
  DiscriminatorConfig config = tiny_config();
  Discriminator with(config);
  config.mbstd_channels = 0;
  Discriminator without(config);
  with->eval();
  without->eval();
  torch::NoGradGuard no_grad;
  at::Tensor x = torch::randn({4, 3, 16, 16});
  at::Tensor changed = x.clone();
  changed[1] = changed[1] * 3.0;  // image 1 shares image 0's group (group 4 = the whole batch)
  const double delta_with = (with->forward(x)[0] - with->forward(changed)[0]).abs().item<double>();
  const double delta_without = (without->forward(x)[0] - without->forward(changed)[0]).abs().item<double>();
  EXPECT_GT(delta_with, 1e-4);
  EXPECT_EQ(delta_without, 0.0);
}

TEST(Discriminator, RejectsImagesOfTheWrongSize) {
  Discriminator d(tiny_config());
  try {
    d->forward(torch::zeros({4, 3, 32, 32}));
    FAIL() << "no error";
  } catch (const core::Error& e) {
    EXPECT_STREQ(e.what(), "discriminator: images [4, 3, 32, 32], expected [B, 3, 16, 16]");
  }
}

TEST(DiscriminatorConfig, ValidateNamesTheField) {
  DiscriminatorConfig config;
  config.resolution = 96;
  try {
    config.validate();
    FAIL() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_STREQ(e.what(), "discriminator config: resolution=96 must be a power of two >= 8");
  }
}

TEST(DiscriminatorConfig, FollowsTheGenerator) {
  GeneratorConfig g;
  g.resolution = 64;
  g.channel_base = 4096;
  g.channel_max = 256;
  g.conv_clamp = 0;
  DiscriminatorConfig d = discriminator_config_for(g);
  EXPECT_EQ(d.resolution, 64);
  EXPECT_EQ(d.channel_base, 4096);
  EXPECT_EQ(d.channel_max, 256);
  EXPECT_EQ(d.conv_clamp, 0);
  EXPECT_EQ(d.mbstd_group, 4);
  EXPECT_EQ(d.mbstd_channels, 1);
  EXPECT_EQ(d.channels_at(64), 64);
  EXPECT_EQ(d.channels_at(4), 256);
}

}  // namespace
}  // namespace hdv::gen
