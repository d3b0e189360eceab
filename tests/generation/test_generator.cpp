// Tests for generation/generator.h, generation/upfirdn.h and generation/generator_checkpoint.h:
// parity with the PyTorch Python reference (bench/stylegan2_ref.py, computed with modulated
// weights and grouped convolutions), NVlabs state-dict names, the ws/styles layout, truncation,
// style mixing, w_avg tracking, StyleSpace round trip, demodulation's scale invariance, FIR
// resampling values, and checkpoint round trip and errors.
//
// The parity fixture (build/fixtures/generator/) is written by
// tests/generation/make_generator_fixture.py, which ctest runs first as `generation.generator_fixture`.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "generation/generator.h"
#include "generation/generator_checkpoint.h"
#include "generation/upfirdn.h"
#include "tests/core/test_support.h"
#include "tests/test_paths.h"

namespace hdv::gen {
namespace {

namespace fs = std::filesystem;
using test::error_text;

const fs::path kFixtureDir = fs::path(HDV_TEST_FIXTURES_DIR) / "generator";

fs::path fixture(const std::string& name) {
  fs::path path = kFixtureDir / name;
  if (!fs::exists(path)) {
    ADD_FAILURE() << path.string() << " is missing; create it with `" HDV_TEST_PYTHON " "
                  << HDV_TEST_SOURCE_DIR "/generation/make_generator_fixture.py --out " << kFixtureDir.string()
                  << "` (ctest runs this as generation.generator_fixture)";
  }
  return path;
}

double max_relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  return (actual - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

Generator tiny_generator(uint64_t seed = 0) {
  torch::manual_seed(seed);
  Generator generator(generator_preset("stylegan2-tiny"));
  generator->eval();
  return generator;
}

TEST(Generator, MatchesPythonReference) {
  const fs::path weights = fixture("generator.safetensors");
  const fs::path io_path = fixture("io.safetensors");
  ASSERT_TRUE(fs::exists(weights) && fs::exists(io_path));
  const auto io = core::SafetensorsFile::open(io_path);
  Generator generator = load_generator(weights);
  torch::NoGradGuard no_grad;
  const at::Tensor z = io.tensor("z");
  EXPECT_LT(max_relative_error(generator->map(z), io.tensor("w")), 1e-5);
  const at::Tensor image = generator->forward(z, 1.0, NoiseMode::Const);
  ASSERT_EQ(image.sizes(), io.tensor("image").sizes());
  EXPECT_LT(max_relative_error(image, io.tensor("image")), 1e-4);
  EXPECT_LT(max_relative_error(generator->forward(z, 0.6, NoiseMode::Const), io.tensor("image_psi")), 1e-4);
}

TEST(Generator, KeepsNVlabsStateDictNames) {
  Generator generator = tiny_generator();
  std::set<std::string> names;
  for (const auto& [name, shape] : generator_expected_shapes(*generator)) names.insert(name);
  for (const char* name :
       {"mapping.fc0.weight", "mapping.fc1.bias", "mapping.w_avg", "synthesis.b4.const", "synthesis.b4.conv1.weight",
        "synthesis.b4.conv1.affine.weight", "synthesis.b4.conv1.noise_strength", "synthesis.b4.conv1.noise_const",
        "synthesis.b4.torgb.affine.bias", "synthesis.b8.conv0.weight", "synthesis.b16.conv1.noise_const",
        "synthesis.b16.torgb.bias"}) {
    EXPECT_EQ(names.count(name), 1u) << name;
  }
  EXPECT_EQ(names.count("synthesis.b4.conv0.weight"), 0u);
  EXPECT_EQ(names.count("synthesis.b8.torgb.noise_const"), 0u);
}

TEST(Generator, LayoutOfWsAndStyles) {
  const GeneratorConfig config = generator_preset("stylegan2-small-128");
  EXPECT_EQ(config.num_ws(), 12);
  EXPECT_EQ(generator_preset("stylegan2-f-1024").num_ws(), 18);
  EXPECT_EQ(config.channels_at(4), 256);
  EXPECT_EQ(config.channels_at(32), 128);
  EXPECT_EQ(config.channels_at(128), 32);

  Generator generator = tiny_generator();
  const auto& layers = generator->style_layers();
  // b4: conv1, torgb; b8 and b16: conv0, conv1, torgb.
  ASSERT_EQ(layers.size(), 8u);
  const std::vector<std::string> names = {"synthesis.b4.conv1", "synthesis.b4.torgb", "synthesis.b8.conv0",
                                          "synthesis.b8.conv1", "synthesis.b8.torgb", "synthesis.b16.conv0",
                                          "synthesis.b16.conv1", "synthesis.b16.torgb"};
  const std::vector<int64_t> ws_index = {0, 1, 1, 2, 3, 3, 4, 5};
  const std::vector<int64_t> channels = {32, 32, 32, 32, 32, 32, 16, 16};
  for (size_t i = 0; i < layers.size(); ++i) {
    EXPECT_EQ(layers[i].name, names[i]);
    EXPECT_EQ(layers[i].ws_index, ws_index[i]) << names[i];
    EXPECT_EQ(layers[i].channels, channels[i]) << names[i];
    EXPECT_EQ(layers[i].torgb, names[i].ends_with("torgb"));
  }
  torch::NoGradGuard no_grad;
  const at::Tensor ws = generator->broadcast(generator->map(torch::randn({2, 32})));
  EXPECT_EQ(ws.sizes(), (std::vector<int64_t>{2, 6, 32}));
  const auto styles = generator->styles(ws);
  ASSERT_EQ(styles.size(), 8u);
  EXPECT_EQ(styles[6].sizes(), (std::vector<int64_t>{2, 16}));
  EXPECT_EQ(generator->synthesize(ws).sizes(), (std::vector<int64_t>{2, 3, 16, 16}));
  EXPECT_EQ(generator->noise_buffers().size(), 5u);
}

TEST(Generator, SynthesisFromStylesEqualsSynthesisFromWs) {
  Generator generator = tiny_generator(1);
  torch::NoGradGuard no_grad;
  const at::Tensor ws = torch::randn({2, 6, 32});
  const at::Tensor from_ws = generator->synthesize(ws);
  const at::Tensor from_styles = generator->synthesize_from_styles(generator->styles(ws));
  EXPECT_TRUE(torch::equal(from_ws, from_styles));
  // Changing one style channel changes the image; the unchanged copy stays identical.
  auto styles = generator->styles(ws);
  styles[3] = styles[3].clone();
  styles[3].select(1, 5).add_(3.0);
  EXPECT_GT((generator->synthesize_from_styles(styles) - from_ws).abs().max().item<double>(), 1e-3);
}

TEST(Generator, DemodulationMakesConvStylesScaleInvariant) {
  Generator generator = tiny_generator(2);
  torch::NoGradGuard no_grad;
  const at::Tensor ws = torch::randn({1, 6, 32});
  auto styles = generator->styles(ws);
  const at::Tensor before = generator->synthesize_from_styles(styles, NoiseMode::None);
  styles[3] = styles[3] * 7.5;  // a conv layer: demodulated, so its overall scale cancels
  EXPECT_LT(max_relative_error(generator->synthesize_from_styles(styles, NoiseMode::None), before), 1e-5);
  styles = generator->styles(ws);
  styles[4] = styles[4] * 2.0;  // a toRGB layer: not demodulated, the image changes
  EXPECT_GT(max_relative_error(generator->synthesize_from_styles(styles, NoiseMode::None), before), 1e-2);
}

TEST(Generator, TruncationAndMixing) {
  Generator generator = tiny_generator(3);
  torch::NoGradGuard no_grad;
  generator->mapping->w_avg.copy_(torch::randn({32}));
  const at::Tensor ws = torch::randn({2, 6, 32});
  const at::Tensor avg = generator->w_avg().reshape({1, 1, 32}).expand({2, 6, 32});
  EXPECT_TRUE(torch::allclose(generator->truncate(ws, 0.0), avg));
  EXPECT_TRUE(torch::equal(generator->truncate(ws, 1.0), ws));
  const at::Tensor half = generator->truncate(ws, 0.5, 2);
  EXPECT_TRUE(torch::allclose(half.slice(1, 0, 2), (0.5 * (ws + avg)).slice(1, 0, 2)));
  EXPECT_TRUE(torch::equal(half.slice(1, 2), ws.slice(1, 2)));
  const at::Tensor other = torch::randn({2, 6, 32});
  const at::Tensor mixed = GeneratorImpl::mix(ws, other, 4);
  EXPECT_TRUE(torch::equal(mixed.slice(1, 0, 4), ws.slice(1, 0, 4)));
  EXPECT_TRUE(torch::equal(mixed.slice(1, 4), other.slice(1, 4)));
}

TEST(Generator, TracksWAvgWithBeta) {
  Generator generator = tiny_generator(4);
  torch::NoGradGuard no_grad;
  const at::Tensor z = torch::randn({8, 32});
  const at::Tensor w = generator->map(z);
  generator->map(z, {}, /*update_w_avg=*/true);
  // w_avg starts at 0: after one update it is (1 − β)·mean(w).
  EXPECT_TRUE(torch::allclose(generator->w_avg(), w.mean(0) * (1 - 0.995), 1e-5, 1e-7));
}

TEST(Generator, NoiseModes) {
  Generator generator = tiny_generator(5);
  torch::NoGradGuard no_grad;
  for (auto& item : generator->named_parameters()) {
    if (item.key().ends_with("noise_strength")) item.value().fill_(0.5);
  }
  const at::Tensor z = torch::randn({1, 32});
  EXPECT_TRUE(torch::equal(generator->forward(z, 1.0, NoiseMode::Const), generator->forward(z, 1.0, NoiseMode::Const)));
  EXPECT_FALSE(torch::equal(generator->forward(z, 1.0, NoiseMode::Random), generator->forward(z, 1.0, NoiseMode::Random)));
  // Noise given explicitly replaces the stored buffers: passing the buffers equals Const.
  std::vector<at::Tensor> noise;
  for (const at::Tensor& buffer : generator->noise_buffers()) noise.push_back(buffer.reshape({1, 1, buffer.size(0), buffer.size(1)}));
  const at::Tensor ws = generator->broadcast(generator->map(z));
  EXPECT_TRUE(torch::allclose(generator->synthesize_from_styles(generator->styles(ws), NoiseMode::None, noise),
                              generator->synthesize(ws, NoiseMode::Const)));
  noise.pop_back();
  EXPECT_EQ(error_text<core::Error>([&] { generator->synthesize_from_styles(generator->styles(ws), NoiseMode::None, noise); }),
            "noise: got 4 tensors, expected 5 (one per conv layer)");
}

TEST(Generator, RejectsBadInputAndConfig) {
  Generator generator = tiny_generator();
  EXPECT_EQ(error_text<core::Error>([&] { generator->map(torch::randn({2, 31})); }), "z: got shape [2, 31], expected [*, 32]");
  EXPECT_EQ(error_text<core::Error>([&] { generator->synthesize(torch::randn({2, 5, 32})); }),
            "ws: got shape [2, 5, 32], expected [*, 6, 32]");
  GeneratorConfig config = generator_preset("stylegan2-tiny");
  config.resolution = 96;
  EXPECT_EQ(error_text<core::ConfigError>([&] { config.validate(); }),
            "generator config: resolution=96 must be a power of two >= 4");
  EXPECT_EQ(error_text<core::ConfigError>([&] { generator_preset("stylegan3"); }),
            "unknown generator preset \"stylegan3\" (known: stylegan2-f-1024, stylegan2-small-128, stylegan2-small-64, stylegan2-lite-64, "
            "stylegan2-tiny)");
}

TEST(Upfirdn, ZeroInsertionAndFilterValues) {
  // up=2 with a 1-tap kernel inserts zeros.
  const at::Tensor x = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({1, 1, 2, 2});
  const at::Tensor stuffed = upfirdn2d(x, torch::ones({1, 1}), 2, 1, 0, 0);
  const at::Tensor expected = torch::tensor({1.0f, 0.f, 2.f, 0.f, 0.f, 0.f, 0.f, 0.f, 3.f, 0.f, 4.f, 0.f, 0.f, 0.f, 0.f, 0.f}).reshape({1, 1, 4, 4});
  EXPECT_TRUE(torch::equal(stuffed, expected));
  // The kernel is applied as a convolution (flipped): an impulse reproduces the kernel.
  at::Tensor impulse = torch::zeros({1, 1, 3, 3});
  impulse.index_put_({0, 0, 1, 1}, 1.0f);
  const at::Tensor kernel = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({2, 2});
  const at::Tensor out = upfirdn2d(impulse, kernel, 1, 1, 1, 0);
  EXPECT_TRUE(torch::equal(out.slice(2, 1, 3).slice(3, 1, 3).reshape({2, 2}), kernel));
  // Down-sampling keeps every second pixel.
  const at::Tensor ramp = torch::arange(16.0f).reshape({1, 1, 4, 4});
  EXPECT_TRUE(torch::equal(upfirdn2d(ramp, torch::ones({1, 1}), 1, 2, 0, 0),
                           torch::tensor({0.0f, 2.0f, 8.0f, 10.0f}).reshape({1, 1, 2, 2})));
}

TEST(Upfirdn, ResamplingKeepsConstantsAndSizes) {
  const at::Tensor kernel = fir_kernel_1331();
  EXPECT_NEAR(kernel.sum().item<double>(), 1.0, 1e-7);
  EXPECT_NEAR(kernel.index({0, 0}).item<double>(), 1.0 / 64, 1e-9);
  const at::Tensor flat = torch::full({1, 2, 8, 8}, 3.0f);
  const at::Tensor up = upsample2d(flat, kernel);
  ASSERT_EQ(up.sizes(), (std::vector<int64_t>{1, 2, 16, 16}));
  // Away from the zero-padded border a constant stays constant.
  EXPECT_NEAR(up.slice(2, 2, 14).slice(3, 2, 14).min().item<double>(), 3.0, 1e-5);
  EXPECT_NEAR(up.slice(2, 2, 14).slice(3, 2, 14).max().item<double>(), 3.0, 1e-5);
  const at::Tensor down = downsample2d(flat, kernel);
  ASSERT_EQ(down.sizes(), (std::vector<int64_t>{1, 2, 4, 4}));
  EXPECT_NEAR(down.index({0, 0, 1, 1}).item<double>(), 3.0, 1e-5);
}

TEST(GeneratorCheckpoint, RoundTripAndWrongKind) {
  test::TempDir dir;
  Generator generator = tiny_generator(6);
  {
    torch::NoGradGuard no_grad;
    generator->mapping->w_avg.copy_(torch::randn({32}));
  }
  save_generator(dir / "g.safetensors", *generator, "stylegan2-tiny", 42);
  Generator loaded = load_generator(dir / "g.safetensors");
  EXPECT_EQ(core::read_checkpoint_info(dir / "g.safetensors").step, 42);
  torch::NoGradGuard no_grad;
  const at::Tensor z = torch::randn({2, 32});
  EXPECT_TRUE(torch::equal(loaded->forward(z, 0.7), generator->forward(z, 0.7)));

  core::CheckpointInfo info;
  info.kind = "oracle";
  core::save_checkpoint(dir / "oracle.safetensors", {{"w", torch::zeros({2})}}, info);
  const std::string message = error_text<core::FormatError>([&] { load_generator(dir / "oracle.safetensors"); });
  EXPECT_NE(message.find("oracle"), std::string::npos) << message;
  EXPECT_NE(message.find("generator"), std::string::npos) << message;
}

}  // namespace
}  // namespace hdv::gen
