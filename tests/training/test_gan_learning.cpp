// Does GAN training learn? The tiny StyleGAN2 trains on 16×16 coloured squares for a fixed number
// of steps; the Fréchet distance on simple pixel features (4×4 average-pooled RGB, 48 values per
// image) between G_ema's samples and real images must fall well below the untrained generator's.
// Label "slow" (about a minute on 2 cores).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/log.h"
#include "generation/generator.h"
#include "generation/generator_checkpoint.h"
#include "tests/core/test_support.h"
#include "tests/training/gan_test_data.h"
#include "training/frechet.h"
#include "training/gan_trainer.h"

namespace hdv::train {
namespace {

constexpr int64_t kLearningSteps = 100;  // about a minute on 2 idle cores (300 steps: FD 123 -> 3.6)

// images float [N, 3, 16, 16] in [-1, 1] -> [N, 48]
at::Tensor pixel_features(const at::Tensor& images) {
  return torch::nn::functional::avg_pool2d(images, torch::nn::functional::AvgPool2dFuncOptions(4)).flatten(1);
}

TEST(GanLearning, TinyGanMovesTowardTheSquares) {
  test::TempDir dir;
  LabelledImages images = test::square_images(2048, 16, 5);
  std::vector<int64_t> all(512);
  for (int64_t i = 0; i < 512; ++i) all[size_t(i)] = i;
  FeatureStatistics real = feature_statistics(pixel_features(image_batch(images, all, false)));

  GanRun run;
  run.config.preset = "stylegan2-tiny";
  run.config.resolution = 16;
  run.config.batch = 8;
  run.config.steps = kLearningSteps;
  run.config.seed = 1;
  run.config.log_every = 50;
  run.config.sample_every = 100000;
  run.config.checkpoint_every = 100000;
  run.images = &images;
  run.out = dir / "run";
  run.device = "cpu";
  // The generator before any step: what train_gan builds first from the seed.
  torch::manual_seed(uint64_t(run.config.seed));
  gen::GeneratorConfig config = gen::generator_preset("stylegan2-tiny");
  config.resolution = 16;
  gen::Generator untrained(config);
  const double before = frechet_distance(real, feature_statistics(pixel_features(sample_generator(*untrained, 512, 99))));

  GanResult result = train_gan(run);
  gen::Generator trained = gen::load_generator(result.generator);
  const double after = frechet_distance(real, feature_statistics(pixel_features(sample_generator(*trained, 512, 99))));
  core::log_info("pixel-feature FD: untrained {:.4f}, after {} steps {:.4f} ({:.1f} img/s)", before, result.step, after,
                 result.images_per_second);
  RecordProperty("fd_before", std::to_string(before));
  RecordProperty("fd_after", std::to_string(after));
  EXPECT_LT(after, 0.5 * before) << "before " << before << ", after " << after;
}

}  // namespace
}  // namespace hdv::train
