// Tests for models/clip_model.h, clip_import.h and clip_checkpoint.h: parity of the image and
// text embeddings with open_clip_torch (random ViT-B/32 and ViT-B/16 weights, and a small
// QuickGELU model) and Hugging Face transformers CLIPModel (small, random), on the fixtures written
// by tests/models/make_clip_fixture.py (ctest fixture models.clip_fixture, under
// <build>/fixtures/clip/; HDV_CLIP_FIXTURE_DIR overrides the folder); the "clip" checkpoint round
// trip with its tokenizer; and the importer's and loader's error texts.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/test_paths.h"

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/clip_checkpoint.h"
#include "models/clip_import.h"
#include "models/clip_model.h"
#include "models/clip_tokenizer.h"
#include "tests/core/test_support.h"

namespace hdv::models {
namespace {

namespace fs = std::filesystem;
using test::error_text;

fs::path fixture_dir() {
  const char* env = std::getenv("HDV_CLIP_FIXTURE_DIR");
  return env != nullptr ? fs::path(env) : fs::path(HDV_TEST_FIXTURES_DIR) / "clip";
}

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("hdv_test_clip_" + std::to_string(::getpid()) + "_" + name);
}

// max |a - b| / max |b|
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

struct Parity {
  double image = 1, text = 1;
};

Parity parity(ClipModelImpl& model, const fs::path& reference) {
  const core::SafetensorsFile ref = core::SafetensorsFile::open(reference);
  torch::NoGradGuard no_grad;
  const at::Tensor image = model.encode_image(ref.tensor("pixels"));
  const at::Tensor text = model.encode_text(ref.tensor("ids").to(torch::kLong));
  return {relative_error(image, ref.tensor("image")), relative_error(text, ref.tensor("text"))};
}

void expect_parity(const std::string& name, const std::string& layout, const std::string& arch, bool quick_gelu) {
  const fs::path dir = fixture_dir() / name;
  if (!fs::exists(dir / "weights.safetensors")) GTEST_FAIL() << "missing " << dir << " (run ctest -R clip_fixture)";
  ClipImport done = import_clip_weights(dir / "weights.safetensors", /*quick_gelu=*/name == "small");
  EXPECT_EQ(done.layout, layout);
  EXPECT_EQ(done.arch, arch);
  EXPECT_EQ(done.model->config().quick_gelu, quick_gelu);
  const Parity p = parity(*done.model, dir / "reference.safetensors");
  EXPECT_LE(p.image, 1e-4) << name << " image embeddings";
  EXPECT_LE(p.text, 1e-4) << name << " text embeddings";
  std::printf("%s: image rel err %.3g, text rel err %.3g\n", name.c_str(), p.image, p.text);
}

TEST(ClipModel, MatchesOpenClipViTB32) { expect_parity("vit-b-32", "OpenCLIP", "ViT-B/32", false); }

TEST(ClipModel, MatchesOpenClipViTB16) {
  if (!fs::exists(fixture_dir() / "vit-b-16")) GTEST_SKIP() << "no vit-b-16 fixture (make_clip_fixture.py --b16)";
  expect_parity("vit-b-16", "OpenCLIP", "ViT-B/16", false);
}

TEST(ClipModel, MatchesOpenClipSmallQuickGelu) {
  expect_parity("small", "OpenCLIP", "ViT-128/16 (custom: 64 px, 2 + 2 layers)", true);
}

TEST(ClipModel, MatchesHuggingFaceClipModel) {
  // quick_gelu comes from the config.json beside the weights (hidden_act), not the argument.
  expect_parity("hf", "Hugging Face CLIPModel", "ViT-128/16 (custom: 64 px, 2 + 2 layers)", true);
}

TEST(ClipCheckpoint, RoundTripsModelAndTokenizer) {
  const fs::path dir = fixture_dir();
  ClipImport done = import_clip_weights(dir / "small" / "weights.safetensors", true);
  const ClipTokenizer tokenizer = ClipTokenizer::from_file(dir / "merges.txt");
  const fs::path path = temp_path("roundtrip.safetensors");
  save_clip_model(path, *done.model, tokenizer, "test");
  LoadedClip loaded = load_clip_model(path);
  fs::remove(path);
  EXPECT_EQ(core::config_to_json(loaded.model->config()), core::config_to_json(done.model->config()));
  EXPECT_EQ(loaded.tokenizer.merges(), tokenizer.merges());
  EXPECT_EQ(loaded.tokenizer.encode("a photo of a cat."), (std::vector<int64_t>{320, 1125, 539, 320, 2368, 269}));
  const Parity p = parity(*loaded.model, dir / "small" / "reference.safetensors");
  EXPECT_LE(p.image, 1e-4);
  EXPECT_LE(p.text, 1e-4);
}

TEST(ClipCheckpoint, RejectsOtherKindsAndMissingMerges) {
  ClipConfig config;
  config.vision = {32, 16, 64, 1, 1};
  config.text = {8, 49408, 64, 1, 1};
  config.embed_dim = 32;
  ClipModel model(config);
  const fs::path path = temp_path("nomerges.safetensors");
  core::CheckpointInfo info;
  info.kind = kClipKind;
  info.config = core::config_to_json(config);
  core::NamedTensors tensors;
  for (auto& item : model->named_parameters()) tensors.emplace_back(item.key(), item.value().detach());
  core::save_checkpoint(path, tensors, info);
  const std::string missing = error_text<core::FormatError>([&] { load_clip_model(path); });
  EXPECT_NE(missing.find(path.string()), std::string::npos) << missing;
  EXPECT_NE(missing.find("tokenizer.bpe_merges"), std::string::npos) << missing;
  info.kind = "vl-model";
  core::save_checkpoint(path, tensors, info);
  const std::string kind = error_text<core::Error>([&] { load_clip_model(path); });
  fs::remove(path);
  EXPECT_NE(kind.find("vl-model"), std::string::npos) << kind;
  EXPECT_NE(kind.find("clip"), std::string::npos) << kind;
}

TEST(ClipImport, NamesEveryMissingAndUnusedTensor) {
  const core::SafetensorsFile source = core::SafetensorsFile::open(fixture_dir() / "small" / "weights.safetensors");
  core::NamedTensors tensors;
  for (const core::TensorEntry& entry : source.entries()) {
    if (entry.name == "ln_final.bias") continue;
    tensors.emplace_back(entry.name == "visual.proj" ? "visual.projection" : entry.name, source.tensor(entry.name));
  }
  const fs::path path = temp_path("broken.safetensors");
  core::write_safetensors(path, tensors, {});
  const std::string message = error_text<core::FormatError>([&] { import_clip_weights(path, false); });
  fs::remove(path);
  EXPECT_EQ(message, path.string() + ": no tensor \"visual.proj\"; expected an OpenCLIP or Hugging Face CLIPModel "
                                     "state dict of a ViT CLIP");
  tensors.emplace_back("visual.proj", source.tensor("visual.proj"));
  core::write_safetensors(path, tensors, {});
  const std::string listed = error_text<core::FormatError>([&] { import_clip_weights(path, false); });
  fs::remove(path);
  EXPECT_EQ(listed, path.string() + ": 2 problems importing it as a OpenCLIP ViT-128/16 (custom: 64 px, 2 + 2 layers): "
                                    "missing \"ln_final.bias\"; unused \"visual.projection\" [128, 64]");
}

TEST(ClipModel, RejectsImagesOfTheWrongSize) {
  ClipConfig config;
  config.vision = {32, 16, 64, 1, 1};
  config.text = {8, 100, 64, 1, 1};
  config.embed_dim = 32;
  ClipModel model(config);
  EXPECT_EQ(error_text<core::Error>([&] { model->encode_image(torch::zeros({1, 3, 30, 32})); }),
            "clip image tower: pixels [1, 3, 30, 32], expected [B, 3, 32, 32]");
  // preprocess resizes anything to the tower's size, differentiably.
  at::Tensor images = torch::zeros({2, 3, 50, 70}, torch::requires_grad());
  at::Tensor embedding = model->encode_image(model->preprocess(images));
  EXPECT_EQ(embedding.sizes(), (std::vector<int64_t>{2, 32}));
  embedding.sum().backward();
  EXPECT_TRUE(images.grad().defined());
}

}  // namespace
}  // namespace hdv::models
