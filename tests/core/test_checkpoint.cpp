// Checkpoints: metadata round trip, kind and version checks, and all-mismatch reporting.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "core/checkpoint.h"
#include "core/error.h"
#include "test_support.h"
#include "tests/test_paths.h"

namespace hdv::core {
namespace {

using test::TempDir;

CheckpointInfo generator_info() {
  CheckpointInfo info;
  info.kind = "generator";
  info.preset = "gen-64";
  info.step = 1234;
  info.config = Json{{"resolution", 64}, {"channels", Json::array({512, 256})}};
  return info;
}

TEST(Checkpoint, RoundTripsInfoAndTensors) {
  TempDir dir;
  save_checkpoint(dir / "g.safetensors", {{"mapping.0.weight", torch::full({8, 4}, 0.5f)}}, generator_info());
  Checkpoint ckpt = Checkpoint::load(dir / "g.safetensors", "generator");
  EXPECT_EQ(ckpt.info().kind, "generator");
  EXPECT_EQ(ckpt.info().preset, "gen-64");
  EXPECT_EQ(ckpt.info().step, 1234);
  EXPECT_EQ(ckpt.info().format_version, kCheckpointFormatVersion);
  EXPECT_EQ(ckpt.info().config["channels"][1].get<int>(), 256);
  EXPECT_FLOAT_EQ(ckpt.tensor("mapping.0.weight")[7][3].item<float>(), 0.5f);
  EXPECT_EQ(ckpt.file().metadata().at("format"), "pt");
}

TEST(Checkpoint, WrongKindNamesBoth) {
  TempDir dir;
  save_checkpoint(dir / "g.safetensors", {{"w", torch::ones({1})}}, generator_info());
  HDV_EXPECT_THROW_MSG(Checkpoint::load(dir / "g.safetensors", "vl-model"), FormatError,
                       "g.safetensors: checkpoint kind is \"generator\", expected \"vl-model\"");
}

TEST(Checkpoint, NewerFormatVersionIsRejected) {
  TempDir dir;
  CheckpointInfo info = generator_info();
  info.format_version = kCheckpointFormatVersion + 1;
  save_checkpoint(dir / "g.safetensors", {{"w", torch::ones({1})}}, info);
  HDV_EXPECT_THROW_MSG(Checkpoint::load(dir / "g.safetensors", "generator"), FormatError,
                       "checkpoint format version 2 is not supported (this build reads 1..1)");
}

TEST(Checkpoint, PlainSafetensorsIsNotACheckpoint) {
  TempDir dir;
  write_safetensors(dir / "plain.safetensors", {{"w", torch::ones({1})}});
  HDV_EXPECT_THROW_MSG(Checkpoint::load(dir / "plain.safetensors", "generator"), FormatError,
                       "plain.safetensors: not an hdvila checkpoint (no \"hdvila\" entry in __metadata__)");
}

TEST(Checkpoint, CorruptMetadataJsonIsNamed) {
  TempDir dir;
  write_safetensors(dir / "m.safetensors", {{"w", torch::ones({1})}}, {{"hdvila", "{not json"}});
  HDV_EXPECT_THROW_MSG(Checkpoint::load(dir / "m.safetensors", ""), FormatError,
                       "m.safetensors __metadata__.hdvila: invalid JSON at line 1, column 3");
}

TEST(Checkpoint, ReportsEveryTensorMismatch) {
  TempDir dir;
  save_checkpoint(dir / "g.safetensors",
                  {{"a", torch::zeros({2, 3})}, {"b", torch::zeros({4})}, {"extra", torch::zeros({1})}},
                  generator_info());
  Checkpoint ckpt = Checkpoint::load(dir / "g.safetensors", "generator");
  EXPECT_NO_THROW(ckpt.check_tensors({{"a", {2, 3}}, {"b", {4}}, {"extra", {1}}}));
  try {
    ckpt.check_tensors({{"a", {3, 3}}, {"b", {4}}, {"missing", {5, 5}}});
    FAIL() << "expected a mismatch error";
  } catch (const FormatError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("3 tensor mismatches with the generator model"), std::string::npos) << message;
    EXPECT_NE(message.find("\"a\" has shape [2, 3], expected [3, 3]"), std::string::npos) << message;
    EXPECT_NE(message.find("missing \"missing\" [5, 5]"), std::string::npos) << message;
    EXPECT_NE(message.find("unexpected \"extra\" [1]"), std::string::npos) << message;
  }
}

// Fuzz regression (tests/fuzz/regressions/checkpoint/): format_version 4294967297 was narrowed to
// int, wrapped to 1 and loaded as a supported version.
TEST(Checkpoint, FormatVersionBeyondIntIsRefusedNotWrapped) {
  TempDir dir;
  const std::string metadata =
      test::read_bytes(HDV_TEST_SOURCE_DIR "/fuzz/regressions/checkpoint/format-version-wraps-to-1.json");
  write_safetensors(dir / "c.safetensors", {{"w", torch::zeros({2})}}, {{"format", "pt"}, {"hdvila", metadata}});
  const std::string path = (dir / "c.safetensors").string();
  EXPECT_EQ(test::error_text<FormatError>([&] { Checkpoint::load(path, ""); }),
            path + ": checkpoint format version 4294967297 is not supported (this build reads 1..1)");
}

}  // namespace
}  // namespace hdv::core
