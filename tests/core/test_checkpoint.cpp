// Checkpoints: metadata round trip, kind and version checks, and all-mismatch reporting.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

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

// Fault drill (tests/drills/, corrupt-pretrain): one bit of a checkpoint's tensor data, or of its
// "step", changed after it was written loaded without a word (a resume from the wrong weights, or
// at the wrong step). Checkpoints now carry a CRC-32 of metadata, tensor table and data.
TEST(Checkpoint, CarriesAChecksumOfMetadataTableAndData) {
  TempDir dir;
  const std::string path = (dir / "g.safetensors").string();
  save_checkpoint(path, {{"a", torch::arange(6, torch::kFloat).reshape({2, 3})}, {"b", torch::ones({4})}, {"empty", torch::ones({0})}},
                  generator_info());
  const std::string stored = Checkpoint::load(path, "generator").file().metadata().at(kChecksumKey);
  EXPECT_EQ(stored.size(), 8U);
  // The CRC-32 (zlib's) of what docs/formats.md lists, recomputed here from the file's own text:
  // metadata but the checksum, sorted by key; the table in file order; the data section.
  const std::string bytes = test::read_bytes(path);
  size_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = header_size << 8 | static_cast<unsigned char>(bytes[size_t(i)]);
  const Json header = Json::parse(bytes.substr(8, header_size));
  std::string input;
  for (const auto& [key, value] : header["__metadata__"].items()) {
    if (key != kChecksumKey) input += key + '\0' + value.get<std::string>() + '\0';
  }
  for (const char* name : {"a", "b", "empty"}) {  // by offset: [0, 24], [24, 40], [40, 40]
    const Json& e = header[name];
    std::string shape;
    for (const Json& d : e["shape"]) shape += (shape.empty() ? "" : ",") + std::to_string(d.get<int64_t>());
    input += std::string(name) + '\0' + e["dtype"].get<std::string>() + '\0' + shape + '\0' +
             std::to_string(e["data_offsets"][0].get<uint64_t>()) + "," + std::to_string(e["data_offsets"][1].get<uint64_t>()) + '\0';
  }
  input += bytes.substr(8 + header_size);
  uint32_t crc = 0xffffffffU;
  for (unsigned char c : input) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1U) != 0 ? 0xEDB88320U ^ (crc >> 1) : crc >> 1;
  }
  EXPECT_EQ(stored, fmt::format("{:08x}", ~crc));
}

TEST(Checkpoint, AChangedDataBitIsRefusedNamingTheFile) {
  TempDir dir;
  const std::string path = (dir / "g.safetensors").string();
  save_checkpoint(path, {{"w", torch::full({64}, 0.5f)}}, generator_info());
  std::string bytes = test::read_bytes(path);
  const std::string stored = Checkpoint::load(path, "generator").file().metadata().at(kChecksumKey);
  bytes[bytes.size() - 100] ^= 1;  // inside w's data
  test::write_bytes(path, bytes);
  const std::string message = test::error_text<FormatError>([&] { Checkpoint::load(path, "generator"); });
  EXPECT_EQ(message.rfind(path + ": checksum mismatch: hdvila_crc32 says " + stored + ", the file's metadata, tensor table "
                          "and data give ", 0), 0U) << message;
  EXPECT_NE(message.find("(the file is corrupt: changed since it was written)"), std::string::npos) << message;
}

TEST(Checkpoint, AChangedStepIsRefused) {
  TempDir dir;
  const std::string path = (dir / "g.safetensors").string();
  save_checkpoint(path, {{"w", torch::ones({2})}}, generator_info());
  std::string bytes = test::read_bytes(path);
  const size_t at = bytes.find("\\\"step\\\":1234");  // the metadata JSON is a string inside the header
  ASSERT_NE(at, std::string::npos);
  bytes[at + 12] ^= 1;  // step 1234 -> 1235: still valid JSON, a resume at the wrong step
  test::write_bytes(path, bytes);
  HDV_EXPECT_THROW_MSG(Checkpoint::load(path, "generator"), FormatError, path + ": checksum mismatch");
  HDV_EXPECT_THROW_MSG(read_checkpoint_info(path), FormatError, path + ": checksum mismatch");
}

TEST(Checkpoint, FilesWithoutAChecksumStillLoad) {
  TempDir dir;
  const std::string path = (dir / "old.safetensors").string();
  write_safetensors(path, {{"w", torch::ones({2})}},
                    {{"format", "pt"}, {"hdvila", R"({"kind": "generator", "format_version": 1, "step": 7})"}});
  Checkpoint ckpt = Checkpoint::load(path, "generator");
  EXPECT_EQ(ckpt.info().step, 7);
  EXPECT_EQ(ckpt.file().metadata().count(kChecksumKey), 0U);
}

// `hdvila-train convert` (cast_safetensors) keeps the metadata: the checksum is recomputed for the
// cast tensors, not copied stale.
TEST(Checkpoint, ACastCheckpointGetsItsOwnChecksum) {
  TempDir dir;
  save_checkpoint(dir / "g.safetensors", {{"w", torch::full({8}, 0.25f)}}, generator_info());
  cast_safetensors(dir / "g.safetensors", dir / "g16.safetensors", DType::F16);
  Checkpoint ckpt = Checkpoint::load(dir / "g16.safetensors", "generator");
  EXPECT_EQ(ckpt.tensor("w").scalar_type(), torch::kHalf);
  EXPECT_NE(ckpt.file().metadata().at(kChecksumKey),
            Checkpoint::load(dir / "g.safetensors", "generator").file().metadata().at(kChecksumKey));
}

}  // namespace
}  // namespace hdv::core
