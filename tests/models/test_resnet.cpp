// Tests for models/resnet.h: parity with torchvision.models.resnet50 (C4 after layer3, C5 after
// layer4) on random weights with non-trivial BatchNorm statistics, the stage-3-only variant of
// HD-VILA's LR path, feature shapes, the state-dict importer's error report, input and config
// checks.
//
// The fixture (build/fixtures/resnet/) is written by tests/models/make_resnet_fixture.py, which
// ctest runs first as `models.resnet_fixture`.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/resnet.h"
#include "tests/core/test_support.h"
#include "tests/test_paths.h"

namespace hdv::models {
namespace {

namespace fs = std::filesystem;
using test::error_text;

const fs::path kFixtureDir = fs::path(HDV_TEST_FIXTURES_DIR) / "resnet";

// Fails (never skips) when the generated fixture is absent, saying how to make it.
fs::path fixture(const std::string& name) {
  fs::path path = kFixtureDir / name;
  if (!fs::exists(path)) {
    ADD_FAILURE() << path.string() << " is missing; create it with `" HDV_TEST_PYTHON " "
                  << HDV_TEST_SOURCE_DIR "/models/make_resnet_fixture.py --out " << kFixtureDir.string()
                  << "` (ctest runs this as models.resnet_fixture)";
  }
  return path;
}

// max|a - b| / max|b|: one number per feature map, insensitive to its overall scale.
double max_relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  return (actual - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

ResNetConfig small_config() {
  ResNetConfig config;
  config.layers = {1, 1, 1, 1};
  config.base_width = 8;
  return config;
}

// A model's parameters and buffers by name, as a torchvision state dict would hold them.
core::NamedTensors state_dict(ResNet& model) {
  core::NamedTensors tensors;
  for (const auto& item : model->named_parameters()) tensors.emplace_back(item.key(), item.value());
  for (const auto& item : model->named_buffers()) tensors.emplace_back(item.key(), item.value());
  return tensors;
}

TEST(ResNet, MatchesTorchvisionResNet50) {
  const fs::path weights = fixture("resnet50.safetensors");
  const fs::path io_path = fixture("io.safetensors");
  ASSERT_TRUE(fs::exists(weights) && fs::exists(io_path));
  const auto io = core::SafetensorsFile::open(io_path);

  ResNet model;
  load_torchvision_resnet(model, weights, /*ignore_fc=*/true);
  model->eval();
  torch::NoGradGuard no_grad;
  ResNetFeatures features = model->forward(io.tensor("images"));

  const at::Tensor c4 = io.tensor("c4");
  const at::Tensor c5 = io.tensor("c5");
  ASSERT_EQ(features.c4.sizes(), c4.sizes());
  ASSERT_EQ(features.c5.sizes(), c5.sizes());
  const double c4_error = max_relative_error(features.c4, c4);
  const double c5_error = max_relative_error(features.c5, c5);
  EXPECT_LT(c4_error, 1e-4);
  EXPECT_LT(c5_error, 1e-4);
  std::printf("parity max relative error: C4 %.3g, C5 %.3g\n", c4_error, c5_error);
}

TEST(ResNet, StageThreeVariantLoadsFullFileAndGivesSameC4) {
  const fs::path weights = fixture("resnet50.safetensors");
  const fs::path io_path = fixture("io.safetensors");
  ASSERT_TRUE(fs::exists(weights) && fs::exists(io_path));
  const auto io = core::SafetensorsFile::open(io_path);

  ResNetConfig config;
  config.last_stage = 3;
  ResNet model(config);
  for (const auto& item : model->named_parameters()) {
    ASSERT_NE(item.key().rfind("layer4.", 0), 0u) << item.key();
  }
  // The file holds layer4.* and fc.*: both skipped, everything else loads.
  load_torchvision_resnet(model, weights, /*ignore_fc=*/true);
  model->eval();
  torch::NoGradGuard no_grad;
  ResNetFeatures features = model->forward(io.tensor("images"));
  EXPECT_FALSE(features.c5.defined());
  ASSERT_EQ(features.c4.sizes(), io.tensor("c4").sizes());
  EXPECT_LT(max_relative_error(features.c4, io.tensor("c4")), 1e-4);
}

TEST(ResNet, ReportsFcTensorsUnlessIgnored) {
  const fs::path weights = fixture("resnet50.safetensors");
  ASSERT_TRUE(fs::exists(weights));
  ResNet model;
  std::string message =
      error_text<core::FormatError>([&] { load_torchvision_resnet(model, weights, /*ignore_fc=*/false); });
  EXPECT_NE(message.find(weights.string() + ": 2 tensor mismatches"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected \"fc.weight\" [1000, 2048]"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected \"fc.bias\" [1000]"), std::string::npos) << message;
  EXPECT_NE(message.find("load with ignore_fc"), std::string::npos) << message;
}

TEST(ResNet, FeatureShapesAreStride16And32) {
  ResNet model;
  model->eval();
  torch::NoGradGuard no_grad;
  ResNetFeatures features = model->forward(torch::randn({1, 3, 64, 96}));
  EXPECT_EQ(features.c4.sizes(), at::IntArrayRef({1, 1024, 4, 6}));
  EXPECT_EQ(features.c5.sizes(), at::IntArrayRef({1, 2048, 2, 3}));
  EXPECT_EQ(model->config().c4_channels(), 1024);
  EXPECT_EQ(model->config().c5_channels(), 2048);
}

TEST(ResNet, HasTorchvisionResNet50Parameters) {
  ResNet model;
  int64_t count = 0;
  for (const auto& p : model->parameters()) count += p.numel();
  // torchvision resnet50 has 25,557,032 parameters; fc holds 2048 * 1000 + 1000 of them.
  EXPECT_EQ(count, 25'557'032 - 2'049'000);
  auto params = model->named_parameters();
  auto buffers = model->named_buffers();
  EXPECT_EQ(params["layer1.0.downsample.0.weight"].sizes(), at::IntArrayRef({256, 64, 1, 1}));
  EXPECT_EQ(params["layer2.0.conv2.weight"].sizes(), at::IntArrayRef({128, 128, 3, 3}));
  EXPECT_EQ(buffers["layer4.2.bn3.running_var"].sizes(), at::IntArrayRef({2048}));
  EXPECT_EQ(buffers["bn1.num_batches_tracked"].scalar_type(), at::kLong);
}

TEST(ResNet, SmallConfigBuildsRunsAndRoundTrips) {
  test::TempDir dir;
  ResNetConfig config;
  config.layers = {1, 1, 1, 1};
  config.base_width = 16;
  ResNet model(config);
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor images = torch::randn({2, 3, 32, 64});
  ResNetFeatures features = model->forward(images);
  EXPECT_EQ(features.c4.sizes(), at::IntArrayRef({2, 256, 2, 4}));
  EXPECT_EQ(features.c5.sizes(), at::IntArrayRef({2, 512, 1, 2}));
  EXPECT_TRUE(torch::isfinite(features.c5).all().item<bool>());

  // Its own state dict (the names a torchvision model of this shape would use) loads back.
  core::write_safetensors(dir / "small.safetensors", state_dict(model));
  ResNet copy(config);
  copy->eval();
  load_torchvision_resnet(copy, dir / "small.safetensors", /*ignore_fc=*/false);
  EXPECT_TRUE(torch::equal(copy->forward(images).c5, features.c5));
}

TEST(ResNet, LoadListsEveryMismatchWithNamesAndShapes) {
  test::TempDir dir;
  ResNet model(small_config());
  core::NamedTensors tensors;
  for (auto& [name, tensor] : state_dict(model)) {
    if (name == "layer2.0.conv1.weight") continue;  // missing
    if (name == "conv1.weight") tensor = torch::zeros({8, 3, 5, 5});
    if (name == "layer3.0.bn2.running_mean") tensor = torch::zeros({33});
    tensors.emplace_back(name, tensor);
  }
  tensors.emplace_back("layer9.weight", torch::zeros({2, 2}));
  const fs::path path = dir / "wrong.safetensors";
  core::write_safetensors(path, tensors);

  const at::Tensor before = model->conv1->weight.clone();
  std::string message = error_text<core::FormatError>([&] { load_torchvision_resnet(model, path, false); });
  EXPECT_NE(message.find(path.string() + ": 4 tensor mismatches"), std::string::npos) << message;
  EXPECT_NE(message.find("\"conv1.weight\" has shape [8, 3, 5, 5], expected [8, 3, 7, 7]"), std::string::npos)
      << message;
  EXPECT_NE(message.find("\"layer3.0.bn2.running_mean\" has shape [33], expected [32]"), std::string::npos)
      << message;
  EXPECT_NE(message.find("missing \"layer2.0.conv1.weight\" [16, 32, 1, 1]"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected \"layer9.weight\" [2, 2]"), std::string::npos) << message;
  EXPECT_TRUE(torch::equal(model->conv1->weight, before)) << "a rejected file must leave the model untouched";
}

TEST(ResNet, LoadRejectsIntegerWeights) {
  test::TempDir dir;
  ResNet model(small_config());
  core::NamedTensors tensors = state_dict(model);
  for (auto& [name, tensor] : tensors) {
    if (name == "bn1.weight") tensor = torch::ones({8}, at::kInt);
  }
  core::write_safetensors(dir / "int.safetensors", tensors);
  HDV_EXPECT_THROW_MSG(load_torchvision_resnet(model, dir / "int.safetensors", false), core::FormatError,
                       "\"bn1.weight\" has dtype I32, expected Float");
}

TEST(ResNet, LoadNamesMissingFile) {
  ResNet model(small_config());
  HDV_EXPECT_THROW_MSG(load_torchvision_resnet(model, "/nonexistent/resnet50.safetensors", true), core::Error,
                       "/nonexistent/resnet50.safetensors");
}

TEST(ResNet, RejectsWrongInputShape) {
  ResNet model(small_config());
  HDV_EXPECT_THROW_MSG(model->forward(torch::zeros({3, 32, 32})), core::Error,
                       "images: expected 4 dims [B, 3, H, W], got 3");
  HDV_EXPECT_THROW_MSG(model->forward(torch::zeros({1, 4, 32, 32})), core::Error, "images: dim 1 got 4, expected 3");
  HDV_EXPECT_THROW_MSG(model->forward(torch::zeros({1, 3, 32, 32}, at::kLong)), core::Error,
                       "images: expected a floating-point tensor, got Long");
}

TEST(ResNetConfig, ValidateNamesTheField) {
  auto message_for = [](auto change) {
    ResNetConfig config;
    change(config);
    return error_text<core::ConfigError>([&] { config.validate(); });
  };
  EXPECT_EQ(message_for([](ResNetConfig& c) { c.last_stage = 5; }),
            "resnet config: last_stage=5 must be 3 (stop after layer3, C4 only) or 4 (C4 and C5)");
  EXPECT_EQ(message_for([](ResNetConfig& c) { c.layers = {3, 4, 6}; }),
            "resnet config: layers has 3 entries, expected 4 (blocks in layer1..layer4)");
  EXPECT_EQ(message_for([](ResNetConfig& c) { c.layers = {3, 0, 6, 3}; }), "resnet config: layers[1]=0 must be >= 1");
  EXPECT_EQ(message_for([](ResNetConfig& c) { c.base_width = 0; }), "resnet config: base_width=0 must be >= 1");
  EXPECT_EQ(message_for([](ResNetConfig& c) { c.in_channels = 0; }), "resnet config: in_channels=0 must be >= 1");
  // The constructor validates too, before building anything.
  ResNetConfig bad;
  bad.last_stage = 2;
  HDV_EXPECT_THROW_MSG(ResNet{bad}, core::ConfigError, "last_stage=2");
}

TEST(ResNetConfig, JsonRoundTrip) {
  ResNetConfig config = small_config();
  config.last_stage = 3;
  const core::Json json = core::config_to_json(config);
  EXPECT_EQ(json.dump(), R"({"layers":[1,1,1,1],"base_width":8,"in_channels":3,"last_stage":3})");
  ResNetConfig read;
  core::config_from_json(json, read, "test");
  EXPECT_EQ(read.layers, config.layers);
  EXPECT_EQ(read.base_width, 8);
  EXPECT_EQ(read.last_stage, 3);
}

}  // namespace
}  // namespace hdv::models
