// Training the attribute oracle (training/oracle_trainer.h): targets follow the config's value
// lists and the primary object, missing labels name the image, bad settings name the field.
// (Whether it learns: test_oracle_learning.cpp, label slow.)
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "tests/core/test_support.h"
#include "training/image_dataset.h"
#include "training/oracle_trainer.h"

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

}  // namespace
}  // namespace hdv::train
