// The attribute oracle (generation/oracle.h): logits per attribute for any input size, predictions
// that name the arg-max value with its softmax probability, config validation naming the field,
// and "oracle" checkpoints that round-trip exactly and reject other kinds and other geometries
// naming the file.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/checkpoint.h"
#include "core/error.h"
#include "generation/oracle.h"
#include "../core/test_support.h"

namespace hdv::gen {
namespace {

using test::TempDir;

OracleConfig small_config() {
  OracleConfig config;
  config.resolution = 16;
  config.width = 4;
  config.stages = 3;
  config.attributes = {{"colour", {"red", "green", "blue"}}, {"size", {"small", "large"}}};
  return config;
}

TEST(Oracle, ForwardGivesLogitsPerAttributeForAnyInputSize) {
  torch::manual_seed(0);
  AttributeOracle oracle(small_config());
  for (auto [h, w] : {std::pair{16, 16}, std::pair{48, 32}, std::pair{8, 8}}) {
    auto logits = oracle->forward(torch::rand({5, 3, h, w}) * 2 - 1);
    ASSERT_EQ(logits.size(), 2u);
    EXPECT_EQ(logits.at("colour").sizes(), (std::vector<int64_t>{5, 3})) << h << "x" << w;
    EXPECT_EQ(logits.at("size").sizes(), (std::vector<int64_t>{5, 2})) << h << "x" << w;
  }
  // Parameters are named by module: what the checkpoint stores.
  auto params = oracle->named_parameters();
  EXPECT_TRUE(params.contains("features.0.weight"));
  EXPECT_TRUE(params.contains("heads.colour.weight"));
  EXPECT_EQ(params["heads.colour.weight"].sizes(), (std::vector<int64_t>{3, 32}));  // avg + max of width 4 * 2^2
  HDV_EXPECT_THROW_MSG(oracle->forward(torch::zeros({2, 1, 16, 16})), core::Error,
                       "oracle input: got shape [2, 1, 16, 16], expected [B, 3, H, W]");
}

TEST(Oracle, PredictNamesTheMostProbableValueWithItsProbability) {
  AttributeOracle oracle(small_config());
  oracle->eval();
  {
    torch::NoGradGuard no_grad;
    for (const auto& item : oracle->heads->items()) {
      auto* linear = item.second->as<torch::nn::Linear>();
      linear->weight.zero_();
      linear->bias.zero_();
    }
    oracle->heads["colour"]->as<torch::nn::Linear>()->bias[2] = std::log(6.0);  // blue: 6/(1+1+6) = 0.75
    oracle->heads["size"]->as<torch::nn::Linear>()->bias[0] = std::log(3.0);    // small: 3/(3+1) = 0.75
  }
  auto predictions = oracle->predict(torch::zeros({2, 3, 16, 16}));
  ASSERT_EQ(predictions.size(), 2u);
  for (const OraclePrediction& p : predictions) {
    EXPECT_EQ(p.values.at("colour"), "blue");
    EXPECT_EQ(p.values.at("size"), "small");
    EXPECT_NEAR(p.confidence.at("colour"), 0.75, 1e-6);
    EXPECT_NEAR(p.confidence.at("size"), 0.75, 1e-6);
  }
}

TEST(Oracle, ConfigValidationNamesTheField) {
  OracleConfig config = small_config();
  config.attributes[1].values = {"small"};
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError,
                       "oracle config: attributes[1].values has 1 entry, expected at least 2");
  config = small_config();
  config.attributes[1].name = "colour";
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "attributes[1].name=\"colour\" repeats an earlier attribute");
  config = small_config();
  config.resolution = 4;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "resolution=4 must be in 8..4096");
  config = small_config();
  config.attributes.clear();
  HDV_EXPECT_THROW_MSG(AttributeOracle{config}, core::ConfigError, "oracle config: attributes is empty");
}

TEST(Oracle, SaveLoadRoundTripGivesIdenticalLogits) {
  TempDir dir;
  torch::manual_seed(1);
  OracleConfig config = small_config();
  config.accuracy = {{"colour", 0.97}, {"size", 0.5}};
  AttributeOracle oracle(config);
  oracle->train();
  oracle->forward(torch::rand({8, 3, 16, 16}));  // moves the BatchNorm running statistics off their start
  oracle->eval();
  const at::Tensor images = torch::rand({4, 3, 32, 32}) * 2 - 1;
  auto before = oracle->forward(images);
  save_oracle(dir / "oracle.safetensors", *oracle, 123);

  AttributeOracle loaded = load_oracle(dir / "oracle.safetensors");
  EXPECT_FALSE(loaded->is_training());
  EXPECT_EQ(loaded->config().attributes[0].values, (std::vector<std::string>{"red", "green", "blue"}));
  EXPECT_EQ(loaded->config().accuracy["colour"], 0.97);
  auto after = loaded->forward(images);
  EXPECT_TRUE(torch::equal(before.at("colour"), after.at("colour")));
  EXPECT_TRUE(torch::equal(before.at("size"), after.at("size")));
  const core::CheckpointInfo info = core::read_checkpoint_info(dir / "oracle.safetensors");
  EXPECT_EQ(info.kind, "oracle");
  EXPECT_EQ(info.step, 123);
}

TEST(Oracle, LoadRejectsAnotherKindNamingTheFileAndKind) {
  TempDir dir;
  AttributeOracle oracle(small_config());
  core::NamedTensors tensors;
  for (auto& item : oracle->named_parameters()) tensors.emplace_back(item.key(), item.value().detach());
  core::CheckpointInfo info;
  info.kind = "generator";
  info.config = core::config_to_json(oracle->config());
  core::save_checkpoint(dir / "g.safetensors", tensors, info);
  const std::string message = test::error_text<core::FormatError>([&] { load_oracle(dir / "g.safetensors"); });
  EXPECT_EQ(message, (dir / "g.safetensors").string() + ": checkpoint kind is \"generator\", expected \"oracle\"");
}

TEST(Oracle, LoadRejectsTensorsThatDoNotFitTheConfig) {
  TempDir dir;
  AttributeOracle oracle(small_config());
  save_oracle(dir / "o.safetensors", *oracle);
  // The same tensors under a config that lists a fourth colour: the head's shape no longer fits.
  const core::Checkpoint checkpoint = core::Checkpoint::load(dir / "o.safetensors", kOracleKind);
  core::NamedTensors tensors;
  for (const auto& entry : checkpoint.file().entries()) tensors.emplace_back(entry.name, checkpoint.tensor(entry.name));
  OracleConfig wider = small_config();
  wider.attributes[0].values.push_back("pink");
  core::CheckpointInfo info = checkpoint.info();
  info.config = core::config_to_json(wider);
  core::save_checkpoint(dir / "bad.safetensors", tensors, info);
  const std::string message = test::error_text<core::FormatError>([&] { load_oracle(dir / "bad.safetensors"); });
  EXPECT_NE(message.find((dir / "bad.safetensors").string()), std::string::npos) << message;
  EXPECT_NE(message.find("\"heads.colour.weight\" has shape [3, 32], expected [4, 32]"), std::string::npos) << message;

  info.config["widht"] = 8;  // a misspelt key
  core::save_checkpoint(dir / "typo.safetensors", tensors, info);
  HDV_EXPECT_THROW_MSG(load_oracle(dir / "typo.safetensors"), core::ConfigError,
                       (dir / "typo.safetensors").string() + " config: key \"widht\": unknown key");
}

}  // namespace
}  // namespace hdv::gen
