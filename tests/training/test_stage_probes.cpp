// Tests for training/stage_probes.h: the stages of each video mode in forward order with their
// pooled widths, the last two equal to what the model itself computes (so the trace changes
// nothing), and the linear probe: it reads a linearly separable attribute and not noise.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "models/presets.h"
#include "models/vl_model.h"
#include "tests/core/test_support.h"
#include "models/tokenizer.h"
#include "training/stage_probes.h"
#include "training/synthvid.h"

namespace hdv::train {
namespace {

using Shape = std::vector<int64_t>;

std::vector<std::string> names(const std::vector<std::pair<std::string, at::Tensor>>& stages) {
  std::vector<std::string> out;
  for (const auto& [name, features] : stages) out.push_back(name);
  return out;
}

// hdvila-tiny: ResNet base width 4 (stem 4, layer1 16, layer2 32, C4 64, C5 128), hidden 32, T = 3,
// embedding 32. Two clips of two segments; keyframes 64 x 128, neighbours 16 x 32.
struct TinyClips {
  at::Tensor keyframes = torch::rand({2, 2, 3, 64, 128}) * 2 - 1;
  at::Tensor neighbours = torch::rand({2, 2, 2, 3, 16, 32}) * 2 - 1;
};

TEST(StageFeatures, HybridStagesInForwardOrderWithTheirWidths) {
  torch::manual_seed(0);
  models::VLModel model(models::vl_preset("hdvila-tiny"));
  model->eval();
  TinyClips clips;
  const auto stages = video_stage_features(*model, clips.keyframes, clips.neighbours);
  EXPECT_EQ(names(stages), (std::vector<std::string>{"hr_stem", "hr_layer1", "hr_layer2", "hr_layer3", "hr_layer4",
                                                     "hr_tokens", "lr_layer3", "spacetime_in", "spacetime_out",
                                                     "visual_tokens", "embedding"}));
  const std::vector<int64_t> widths = {4, 16, 32, 64, 128, 32,
                                       2 * 64,  // the 2 neighbours' C4, concatenated in time order
                                       3 * 32,  // the 3 steps of the Transformer's input, concatenated
                                       32, 32, 32};
  ASSERT_EQ(stages.size(), widths.size());
  for (size_t s = 0; s < stages.size(); ++s) {
    EXPECT_EQ(stages[s].second.sizes(), (Shape{2, widths[s]})) << stages[s].first;
    EXPECT_EQ(stages[s].second.scalar_type(), torch::kFloat32) << stages[s].first;
  }
  // The last stages are the model's own: the embedding is encode_video's, and it is the projection
  // of visual_tokens (the mean over tokens and segments).
  torch::NoGradGuard no_grad;
  at::Tensor embedding = model->encode_video(clips.keyframes, clips.neighbours);
  EXPECT_TRUE(torch::allclose(stages.back().second, embedding, 1e-5, 1e-6));
  at::Tensor projected = torch::nn::functional::normalize(model->video_proj->forward(stages[9].second),
                                                          torch::nn::functional::NormalizeFuncOptions().dim(-1));
  EXPECT_TRUE(torch::allclose(projected, embedding, 1e-5, 1e-6));
}

TEST(StageFeatures, AblationModesHaveTheirOwnStages) {
  torch::manual_seed(0);
  TinyClips clips;
  models::VLConfig hr = models::vl_preset("hdvila-tiny");
  hr.video.mode = "hr-only";
  models::VLModel hr_model(hr);
  hr_model->eval();
  EXPECT_EQ(names(video_stage_features(*hr_model, clips.keyframes, at::Tensor())),
            (std::vector<std::string>{"hr_stem", "hr_layer1", "hr_layer2", "hr_layer3", "hr_layer4", "hr_tokens",
                                      "visual_tokens", "embedding"}));
  models::VLConfig lr = models::vl_preset("hdvila-tiny");
  lr.video.mode = "lr-only";
  models::VLModel lr_model(lr);
  lr_model->eval();
  const auto stages = video_stage_features(*lr_model, clips.keyframes, clips.neighbours);
  EXPECT_EQ(names(stages),
            (std::vector<std::string>{"lr_layer3", "spacetime_in", "spacetime_out", "visual_tokens", "embedding"}));
  EXPECT_EQ(stages[0].second.sizes(), (Shape{2, 3 * 64}));  // all 3 frames at low resolution
}

TEST(LinearProbe, ReadsASeparableAttributeAndNotNoise) {
  torch::manual_seed(1);
  // Three classes, told apart by two of 20 feature dimensions; the rest is noise.
  auto make = [](int64_t n) {
    at::Tensor y = torch::arange(n, torch::kLong) % 3;
    at::Tensor x = torch::randn({n, 20});
    x.select(1, 4).add_(y.to(torch::kFloat32) * 4.0);
    x.select(1, 11).add_(y.eq(1).to(torch::kFloat32) * 4.0);
    return std::make_pair(x, y);
  };
  auto [fit_x, fit_y] = make(300);
  auto [test_x, test_y] = make(150);
  LinearProbeResult separable = linear_probe(fit_x, fit_y, test_x, test_y, 3);
  EXPECT_GT(separable.accuracy, 95.0);
  // Labels unrelated to the features: about chance (33%).
  at::Tensor random_fit = torch::randint(3, {300}, torch::kLong), random_test = torch::randint(3, {150}, torch::kLong);
  LinearProbeResult noise = linear_probe(fit_x, random_fit, test_x, random_test, 3);
  EXPECT_LT(noise.accuracy, 50.0);
  EXPECT_EQ(separable.accuracy, linear_probe(fit_x, fit_y, test_x, test_y, 3).accuracy);  // deterministic
}

TEST(LinearProbe, RejectsMismatchedShapes) {
  HDV_EXPECT_THROW_MSG(linear_probe(torch::zeros({4, 3}), torch::zeros({4}, torch::kLong), torch::zeros({2, 5}),
                                    torch::zeros({2}, torch::kLong), 2),
                       core::Error, "linear_probe: fit [4, 3] / [4] and test [2, 5] / [2]: expected [N, D] / [N] and [M, D] / [M]");
}


// The supervised tower check learns what it is asked for: on 96 SynthVid clips at 64 px the
// tiny HR-only tower's colour head goes from chance (12.5%) to 51.5% over steps 121-240 (40%
// required); only the video tower and its projection change, never the text tower.
TEST(SupervisedTower, LearnsColourAndLeavesTheTextTowerAlone) {
  const int saved_threads = at::get_num_threads();
  at::set_num_threads(1);
  test::TempDir dir;
  SynthVidConfig synth;
  synth.seed = 3;
  synth.splits = {"train"};
  synth.train_clips = 96;
  synth.size = 64;
  synth.frames = 8;
  synth.second_object_prob = 0;
  synth.jobs = 2;
  write_synthvid(dir.path(), synth);
  DataSpec spec;
  spec.path = dir.path();
  spec.split = "train";
  const Dataset fit = load_dataset(spec);

  torch::manual_seed(0);
  // The HR-only tower: the hybrid one learns from scratch far more slowly (docs/training.md,
  // supervised checks), too slowly for a unit test.
  models::VLConfig config = models::vl_preset("hdvila-tiny");
  config.video.mode = "hr-only";
  models::VLModel model(config);
  const at::Tensor text_before = model->bert->parameters().front().detach().clone();
  const at::Tensor video_before = model->video_proj->weight.detach().clone();
  ClipSamplerConfig sampler;
  sampler.segments = 1;
  sampler.frames = 3;
  sampler.sample_rate = 2;
  sampler.frame_height = sampler.frame_width = 64;
  sampler.crop_height = sampler.crop_width = 64;
  const models::Tokenizer tokenizer(std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"},
                                    models::TokenizerConfig{}, "test vocabulary");
  SupervisedTowerOptions options;
  options.steps = 240;
  options.lr = 1e-3;
  options.batch_size = 8;
  options.workers = 1;
  options.log_every = 120;
  int calls = 0;
  const std::vector<SupervisedTowerTick> ticks =
      supervise_video_tower(*model, tokenizer, fit, ClipSampler(sampler), options, [&](const SupervisedTowerTick&) { ++calls; });
  at::set_num_threads(saved_threads);

  ASSERT_EQ(ticks.size(), 2u);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(ticks[0].step, 120);
  EXPECT_EQ(ticks[1].step, 240);
  ASSERT_EQ(ticks[1].accuracy.size(), kStageProbeAttributes.size());
  EXPECT_EQ(ticks[1].accuracy[2].first, "colour");
  EXPECT_GE(ticks[1].accuracy[2].second, 40.0) << "colour, the last 120 steps";
  EXPECT_LT(ticks[1].loss, ticks[0].loss);
  EXPECT_FALSE(model->is_training());
  EXPECT_TRUE(torch::equal(model->bert->parameters().front(), text_before));
  EXPECT_FALSE(torch::equal(model->video_proj->weight, video_before));
}

TEST(SupervisedTower, NeedsLabelledClipsAndAtLeastOneStep) {
  models::VLModel model(models::vl_preset("hdvila-tiny"));
  const models::Tokenizer tokenizer(std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"},
                                    models::TokenizerConfig{}, "test vocabulary");
  Dataset unlabelled;
  unlabelled.root = "/data/webvid";
  ClipRecord clip;
  clip.texts = {"a"};
  unlabelled.clips.push_back(clip);
  SupervisedTowerOptions options;
  options.steps = 5;
  HDV_EXPECT_THROW_MSG(supervise_video_tower(*model, tokenizer, unlabelled, ClipSampler(ClipSamplerConfig{}), options, {}),
                       core::Error,
                       "/data/webvid: no one-object clip with SynthVid labels (labels.jsonl); the supervised tower check "
                       "needs them");
  options.steps = 0;
  HDV_EXPECT_THROW_MSG(supervise_video_tower(*model, tokenizer, unlabelled, ClipSampler(ClipSamplerConfig{}), options, {}),
                       core::ConfigError, "supervise_video_tower: steps=0, lr=0.0001, temperature=0.07: expected >= 1, > 0, > 0");
}

}  // namespace
}  // namespace hdv::train
