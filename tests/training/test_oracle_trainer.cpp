// Training the attribute oracle (training/oracle_trainer.h): targets follow the config's value
// lists and the primary object, missing labels name the image, bad settings name the field, and
// a short run on a small SynthVid train split reads colour, size and class on a *different* split
// far above chance — the test that fails when the oracle cannot learn.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "tests/core/test_support.h"
#include "training/image_dataset.h"
#include "training/oracle_trainer.h"
#include "training/synthvid.h"

namespace hdv::train {
namespace {

using test::TempDir;

LabelledImages labelled(const std::vector<core::Json>& labels) {
  LabelledImages images;
  images.pixels = torch::zeros({static_cast<int64_t>(labels.size()), 3, 8, 8}, torch::kUInt8);
  images.labels = labels;
  for (size_t i = 0; i < labels.size(); ++i) images.sources.push_back(fmt::format("clip{}.mp4#0", i));
  return images;
}

core::Json object(const std::string& colour, const std::string& size) {
  return {{"objects", core::Json::array({{{"colour", colour}, {"size", size}}, {{"colour", "white"}, {"size", "small"}}})}};
}

TEST(OracleTrainer, TargetsAreThePrimaryObjectsValuesInConfigOrder) {
  const LabelledImages images = labelled({object("red", "large"), object("blue", "small"), object("pink", "small")});
  const std::vector<gen::OracleAttribute> values = attribute_values(images, {"colour", "size"});
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0].name, "colour");
  EXPECT_EQ(values[0].values, (std::vector<std::string>{"blue", "pink", "red"}));  // sorted, second object ignored
  EXPECT_EQ(values[1].values, (std::vector<std::string>{"large", "small"}));

  gen::OracleConfig config;
  config.attributes = {{"colour", {"red", "orange", "blue"}}, {"size", {"small", "large"}}};
  const std::vector<at::Tensor> targets = attribute_targets(images, config);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_TRUE(torch::equal(targets[0], torch::tensor({0, 2, -1}, torch::kLong)));  // pink is not listed
  EXPECT_TRUE(torch::equal(targets[1], torch::tensor({1, 0, 0}, torch::kLong)));
}

TEST(OracleTrainer, MissingLabelsNameTheImage) {
  const LabelledImages images = labelled({object("red", "large"), core::Json::object()});
  HDV_EXPECT_THROW_MSG(attribute_values(images, {"colour"}), core::FormatError, "clip1.mp4#0: labels have no objects[0]");
  const LabelledImages no_texture = labelled({object("red", "large")});
  HDV_EXPECT_THROW_MSG(attribute_values(no_texture, {"texture"}), core::FormatError,
                       "clip0.mp4#0: labels field \"objects[0].texture\": expected a string");
}

TEST(OracleTrainer, SettingsValidationNamesTheField) {
  OracleTrainConfig config;
  config.batch = 0;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "oracle training: batch=0 must be >= 1");
  config = {};
  config.lr = -1;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "oracle training: lr=-1 must be > 0");
}

// About 20 s on the 2-core development machine: 64 train clips, 48 val clips at 32 x 32.
TEST(OracleTrainer, LearnsColourOnAHeldOutSplit) {
  TempDir dir;
  SynthVidConfig synth;
  synth.seed = 11;
  synth.splits = {"train", "val"};
  synth.train_clips = 64;
  synth.val_clips = 48;
  synth.size = 32;
  synth.frames = 8;
  write_synthvid(dir.path(), synth);

  ImageSourceOptions source;
  source.kind = "synthvid";
  source.path = dir.path();
  source.resolution = 32;
  source.frames_per_clip = 4;
  const LabelledImages train = load_images(source);
  source.split = "val";
  source.frames_per_clip = 1;
  const LabelledImages val = load_images(source);
  ASSERT_EQ(train.size(), 256);
  ASSERT_EQ(val.size(), 48);

  gen::OracleConfig model;
  model.resolution = 32;
  model.width = 16;
  model.stages = 3;
  model.attributes = {{"class", std::vector<std::string>(kSynthClasses.begin(), kSynthClasses.end())},
                      {"colour", std::vector<std::string>(kSynthColours.begin(), kSynthColours.end())},
                      {"size", std::vector<std::string>(kSynthSizes.begin(), kSynthSizes.end())}};
  OracleTrainConfig config;
  config.epochs = 40;  // 8 steps of 32 per epoch: 320 steps
  config.batch = 32;
  config.lr = 3e-3;
  config.max_shift = 2;
  config.seed = 3;
  std::vector<OracleEpoch> epochs;
  int64_t steps = 0;
  gen::AttributeOracle oracle =
      train_oracle(train, model, config, torch::kCPU, [&](const OracleEpoch& e) { epochs.push_back(e); }, &steps);
  EXPECT_EQ(steps, 320);
  ASSERT_EQ(epochs.size(), 40u);
  EXPECT_LT(epochs.back().loss, epochs.front().loss);

  const std::map<std::string, double> accuracy = evaluate_oracle(*oracle, val, torch::kCPU);
  // Chance: colour 1/8, size 1/3, class 1/14.
  EXPECT_GE(accuracy.at("colour"), 0.6) << "size " << accuracy.at("size") << ", class " << accuracy.at("class");
  EXPECT_GE(accuracy.at("size"), 0.5);
  // predict() names a listed value of every attribute, with more than chance confidence for colour.
  const std::vector<gen::OraclePrediction> predictions = oracle->predict(image_batch(val, {0, 1, 2, 3}));
  ASSERT_EQ(predictions.size(), 4u);
  for (const gen::OraclePrediction& p : predictions) {
    EXPECT_EQ(p.values.size(), 3u);
    EXPECT_GT(p.confidence.at("colour"), 1.0 / 8);
  }
}

}  // namespace
}  // namespace hdv::train
