// Tests for generation/stylegan_import.h and scripts/convert_stylegan_pkl.py: StyleGAN2 files as
// other projects save them (stylegan2-ada-pytorch network pickles, rosinality checkpoints), built
// with random weights by tests/generation/make_stylegan_pkl_fixture.py (ctest runs it first as
// generation.stylegan_fixture), imported and compared image by image with bench/stylegan2_ref.py
// on the same weights; malicious pickles refused with nothing run; mapping errors named.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/safetensors.h"
#include "generation/generator.h"
#include "generation/generator_checkpoint.h"
#include "generation/stylegan_import.h"
#include "models/bert_import.h"
#include "tests/core/test_support.h"
#include "tests/test_paths.h"

namespace hdv::gen {
namespace {

namespace fs = std::filesystem;
using test::error_text;

const fs::path kFixtureDir = fs::path(HDV_TEST_FIXTURES_DIR) / "stylegan";
const fs::path kScript = fs::path(HDV_TEST_SOURCE_DIR) / ".." / "scripts" / "convert_stylegan_pkl.py";

fs::path fixture(const std::string& name) {
  fs::path path = kFixtureDir / name;
  if (!fs::exists(path)) {
    ADD_FAILURE() << path.string() << " is missing; create it with `" HDV_TEST_PYTHON " "
                  << HDV_TEST_SOURCE_DIR "/generation/make_stylegan_pkl_fixture.py --config-f --out "
                  << kFixtureDir.string() << "` (ctest runs this as generation.stylegan_fixture)";
  }
  return path;
}

double max_relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  return (actual - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

// The user's file through the venv's converter and the importer.
StyleganImport import_file(const fs::path& file, const test::TempDir& dir) {
  const fs::path raw = dir.path() / (file.filename().string() + ".raw.safetensors");
  models::convert_bin_with_python(file, raw, HDV_TEST_PYTHON, kScript);
  return import_stylegan(raw, file);
}

TEST(StyleganImport, NVlabsConditionalPickleDrawsTheReferenceImages) {
  test::TempDir dir;
  StyleganImport done = import_file(fixture("nvlabs-small.pkl"), dir);
  EXPECT_EQ(done.layout, "nvlabs");
  const GeneratorConfig& config = done.generator->config();
  EXPECT_EQ(config.resolution, 32);
  EXPECT_EQ(config.z_dim, 24);
  EXPECT_EQ(config.w_dim, 32);
  EXPECT_EQ(config.mapping_layers, 3);
  EXPECT_EQ(config.channel_base, 512);
  EXPECT_EQ(config.channel_max, 64);
  EXPECT_DOUBLE_EQ(config.conv_clamp, 256.0);
  ASSERT_EQ(config.labels.size(), 1u);
  EXPECT_EQ(config.labels[0].name, "class");
  EXPECT_EQ(config.labels[0].values, (std::vector<std::string>{"0", "1", "2", "3"}));

  const auto io = core::SafetensorsFile::open(fixture("io-nvlabs-small.safetensors"));
  torch::NoGradGuard no_grad;
  const at::Tensor z = io.tensor("z"), c = io.tensor("c");
  EXPECT_TRUE(torch::equal(done.generator->w_avg(), io.tensor("w_avg")));
  const at::Tensor image = done.generator->forward(z, 1.0, NoiseMode::Const, c);
  ASSERT_EQ(image.sizes(), io.tensor("image").sizes());
  EXPECT_LT(max_relative_error(image, io.tensor("image")), 1e-4);
  EXPECT_LT(max_relative_error(done.generator->forward(z, 0.7, NoiseMode::Const, c), io.tensor("image_psi")), 1e-4);
  // The label matters: another class gives another image.
  EXPECT_GT(max_relative_error(done.generator->forward(z, 1.0, NoiseMode::Const, c.roll(1, 1)), image), 1e-2);
}

TEST(StyleganImport, ConfigF1024PickleDrawsTheReferenceImageAndSavesAsAGenerator) {
  test::TempDir dir;
  StyleganImport done = import_file(fixture("nvlabs-f1024.pkl"), dir);
  const GeneratorConfig& config = done.generator->config();
  EXPECT_EQ(config.resolution, 1024);
  EXPECT_EQ(config.z_dim, 512);
  EXPECT_EQ(config.mapping_layers, 8);
  EXPECT_EQ(config.channel_base, 32768);
  EXPECT_EQ(config.channel_max, 512);
  EXPECT_EQ(done.generator->style_layers().size(), 26u);  // 18 ws: 17 convs + 9 toRGB layers
  EXPECT_EQ(done.tensors, 182 - 26);                      // the 26 resample_filter buffers dropped
  ASSERT_FALSE(done.notes.empty());
  EXPECT_NE(std::find(done.notes.begin(), done.notes.end(),
                      "num_fp16_res 4: computed in fp32 here (NVlabs uses fp16 on GPU only)"),
            done.notes.end());

  const auto io = core::SafetensorsFile::open(fixture("io-nvlabs-f1024.safetensors"));
  torch::NoGradGuard no_grad;
  const at::Tensor image = done.generator->forward(io.tensor("z"), 1.0, NoiseMode::Const);
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 3, 1024, 1024}));
  EXPECT_LT(max_relative_error(image, io.tensor("image")), 1e-4);

  // Saved and loaded as an ordinary generator checkpoint, tensor by tensor.
  const fs::path out = dir.path() / "ffhq-like.safetensors";
  save_generator(out, *done.generator, "imported-nvlabs");
  Generator loaded = load_generator(out);
  const core::NamedTensors a = generator_tensors(*done.generator), b = generator_tensors(*loaded);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
}

TEST(StyleganImport, RosinalityCheckpointDrawsTheReferenceImagesAndDerivesWAvg) {
  test::TempDir dir;
  StyleganImport done = import_file(fixture("rosinality.pt"), dir);
  EXPECT_EQ(done.layout, "rosinality");
  const GeneratorConfig& config = done.generator->config();
  EXPECT_EQ(config.resolution, 32);
  EXPECT_EQ(config.channel_base, 1024);
  EXPECT_EQ(config.channel_max, 32);
  EXPECT_DOUBLE_EQ(config.conv_clamp, 0.0);
  EXPECT_TRUE(config.labels.empty());

  const auto io = core::SafetensorsFile::open(fixture("io-rosinality.safetensors"));
  torch::NoGradGuard no_grad;
  const at::Tensor image = done.generator->forward(io.tensor("z"), 1.0, NoiseMode::Const);
  EXPECT_LT(max_relative_error(image, io.tensor("image")), 1e-4);
  // No latent_avg in the file: w_avg is the mean of mapped z, which another sample agrees with.
  torch::manual_seed(7);
  const at::Tensor mean = done.generator->map(torch::randn({20000, config.z_dim})).mean(0);
  const at::Tensor w_avg = done.generator->w_avg();
  EXPECT_LT((w_avg - mean).norm().item<double>(), 0.05 * mean.norm().item<double>());
  EXPECT_NE(std::find(done.notes.begin(), done.notes.end(),
                      "mapping.w_avg: not in the file; the mean of 10,000 mapped z (seed 0)"),
            done.notes.end());
}

TEST(StyleganImport, MaliciousPicklesAreRefusedAndNothingRuns) {
  test::TempDir dir;
  const fs::path marker = kFixtureDir / "pwned";
  fs::remove(marker);
  const std::string direct =
      error_text<core::Error>([&] { import_file(fixture("evil.pkl"), dir); });
  EXPECT_NE(direct.find("refusing global posix.system: it is not part of a StyleGAN2 network pickle (nothing from "
                        "the file was run)"),
            std::string::npos)
      << direct;
  const std::string nested = error_text<core::Error>([&] { import_file(fixture("evil-storage.pkl"), dir); });
  EXPECT_NE(nested.find("a tensor storage in the file is not a plain storage and was refused (nothing from the file "
                        "was run)"),
            std::string::npos)
      << nested;
  EXPECT_NE(nested.find("posix.system"), std::string::npos) << nested;
  EXPECT_FALSE(fs::exists(marker));
}

// Raw converter output written directly, for the mapping's own errors.
struct Raw {
  core::NamedTensors tensors;
  std::string info = R"({"layout": "nvlabs", "class_name": "Generator", "init_kwargs": {}})";

  fs::path write(const test::TempDir& dir) const {
    const fs::path path = dir.path() / "raw.safetensors";
    core::write_safetensors(path, tensors, {{"format", "pt"}, {"stylegan_source", info}});
    return path;
  }
};

// A 8-px StyleGAN2 (z 4, w 4, one mapping layer, 8 channels) under NVlabs names.
Raw tiny_nvlabs() {
  GeneratorConfig config;
  config.resolution = 8;
  config.z_dim = 4;
  config.w_dim = 4;
  config.mapping_layers = 1;
  config.channel_base = 64;
  config.channel_max = 8;
  Generator generator(config);
  Raw raw;
  raw.tensors = generator_tensors(*generator);
  return raw;
}

std::string import_error(const Raw& raw) {
  test::TempDir dir;
  const fs::path path = raw.write(dir);
  return error_text<core::FormatError>([&] { import_stylegan(path, "user.pkl"); });
}

TEST(StyleganImport, TinyRawGeneratorRoundTrips) {
  test::TempDir dir;
  const Raw raw = tiny_nvlabs();
  StyleganImport done = import_stylegan(raw.write(dir), "user.pkl");
  EXPECT_EQ(done.generator->config().channel_base, 64);
  EXPECT_EQ(done.generator->config().channel_max, 8);
  const core::NamedTensors loaded = generator_tensors(*done.generator);
  ASSERT_EQ(loaded.size(), raw.tensors.size());
  for (size_t i = 0; i < loaded.size(); ++i) EXPECT_TRUE(torch::equal(loaded[i].second, raw.tensors[i].second));
}

TEST(StyleganImport, MappingErrorsNameTheFileAndTheProblem) {
  Raw missing = tiny_nvlabs();
  std::erase_if(missing.tensors, [](const auto& entry) { return entry.first == "synthesis.b8.conv0.bias"; });
  missing.tensors.emplace_back("synthesis.b8.extra", torch::zeros({2}));
  EXPECT_EQ(import_error(missing),
            "user.pkl: the generator's tensors do not fit a StyleGAN2 generator of that geometry: missing "
            "synthesis.b8.conv0.bias [8]; unexpected synthesis.b8.extra");

  Raw stylegan3;
  stylegan3.tensors = {{"mapping.fc0.weight", torch::zeros({4, 4})}, {"synthesis.input.freqs", torch::zeros({4, 2})},
                       {"synthesis.L0_36_512.weight", torch::zeros({4, 4, 3, 3})}};
  EXPECT_EQ(import_error(stylegan3),
            "user.pkl: a StyleGAN3 generator (synthesis.input, synthesis.L0_...): hdvila's generator is StyleGAN2's, "
            "which StyleGAN3 files cannot be mapped onto");

  Raw resnet = tiny_nvlabs();
  resnet.info = R"({"layout": "nvlabs", "class_name": "Generator", "init_kwargs": {"synthesis_kwargs": {"architecture": "resnet"}}})";
  EXPECT_EQ(import_error(resnet),
            "user.pkl: synthesis architecture \"resnet\": hdvila's generator is the \"skip\" generator of StyleGAN2 "
            "(config E/F)");

  Raw filter = tiny_nvlabs();
  filter.tensors.emplace_back("synthesis.b8.resample_filter", torch::ones({4, 4}) / 16);
  EXPECT_EQ(import_error(filter),
            "user.pkl: synthesis.b8.resample_filter is not the [1,3,3,1] filter StyleGAN2 uses (shape [4, 4]): "
            "hdvila's generator has that filter built in");

  Raw kwargs = tiny_nvlabs();
  kwargs.info = R"({"layout": "nvlabs", "class_name": "Generator", "init_kwargs": {"z_dim": 512}})";
  EXPECT_EQ(import_error(kwargs), "user.pkl: init_kwargs z_dim is 512, but the tensors' shapes say 4");

  Raw discriminator = tiny_nvlabs();
  discriminator.info = R"({"layout": "nvlabs", "class_name": "Discriminator"})";
  EXPECT_EQ(import_error(discriminator), "user.pkl: G_ema is a Discriminator, expected a Generator");

  Raw layout = tiny_nvlabs();
  layout.info = R"({"layout": "tensorflow"})";
  EXPECT_EQ(import_error(layout), "user.pkl: stylegan_source layout \"tensorflow\": expected nvlabs or rosinality");

  Raw rosinality;
  rosinality.info = R"({"layout": "rosinality"})";
  rosinality.tensors = {{"style.1.weight", torch::zeros({4, 4})}, {"style.1.bias", torch::zeros({4})}};
  EXPECT_EQ(import_error(rosinality),
            "user.pkl: tensor \"input.input\" is missing: not a StyleGAN2 generator of the expected layout");

  test::TempDir dir;
  const fs::path plain = dir.path() / "plain.safetensors";
  core::write_safetensors(plain, {{"w", torch::zeros({2})}});
  EXPECT_EQ(error_text<core::FormatError>([&] { import_stylegan(plain, "user.pkl"); }),
            "user.pkl: no \"stylegan_source\" metadata: not written by scripts/convert_stylegan_pkl.py");
}

}  // namespace
}  // namespace hdv::gen
