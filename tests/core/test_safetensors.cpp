// safetensors: round trips for every dtype, interop with Python's `safetensors` package both
// ways, and one test per malformed-header case checking its specific error.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "test_support.h"
#include "tests/test_paths.h"

namespace hdv::core {
namespace {

using test::TempDir;

// The same recipe as tests/core/safetensors_interop.py: arange(24) reshaped [2, 3, 4], scaled and
// shifted per dtype so that negative values, fractions and wrap-around are exercised.
at::Tensor reference_tensor(DType dtype) {
  at::Tensor base = torch::arange(24, torch::kFloat64).reshape({2, 3, 4});
  switch (dtype) {
    case DType::F64: return base * 0.25 - 3.0;
    case DType::F32: return (base * 0.5 - 4.0).to(torch::kFloat32);
    case DType::F16: return (base * 0.125 - 1.0).to(torch::kHalf);
    case DType::BF16: return (base * 2.0 - 20.0).to(torch::kBFloat16);
    case DType::I64: return (base * 1000000007 - 5).to(torch::kLong);
    case DType::I32: return (base * 100000 - 7).to(torch::kInt);
    case DType::I16: return (base * 1000 - 9).to(torch::kShort);
    case DType::I8: return (base * 10 - 100).to(torch::kChar);
    case DType::U8: return (base * 10).to(torch::kByte);
    case DType::Bool: return base.remainder(3).eq(0);
  }
  return {};
}

const DType kAllDTypes[] = {DType::F64, DType::F32, DType::F16, DType::I64, DType::I32,
                            DType::I16, DType::I8,  DType::U8,  DType::Bool, DType::BF16};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(c));
  return out;
}

TEST(Safetensors, RoundTripsEveryDtype) {
  TempDir dir;
  NamedTensors tensors;
  for (DType dtype : kAllDTypes) tensors.emplace_back(lower(dtype_name(dtype)), reference_tensor(dtype));
  tensors.emplace_back("scalar", torch::tensor(2.5f).reshape({}));
  tensors.emplace_back("empty", torch::zeros({0, 7}));
  write_safetensors(dir / "all.safetensors", tensors, {{"note", "hello"}});

  SafetensorsFile file = SafetensorsFile::open(dir / "all.safetensors");
  EXPECT_EQ(file.entries().size(), tensors.size());
  EXPECT_EQ(file.metadata().at("note"), "hello");
  for (const auto& [name, expected] : tensors) {
    at::Tensor got = file.tensor(name);
    EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), expected.sizes()) << name;
    EXPECT_TRUE(torch::equal(got, expected)) << name;
  }
  EXPECT_EQ(file.entry("f32").dtype, DType::F32);
  EXPECT_EQ(file.entry("f32").end - file.entry("f32").begin, 24u * 4u);
}

TEST(Safetensors, WritingIntoALoadedTensorLeavesTheFileUnchanged) {
  TempDir dir;
  write_safetensors(dir / "w.safetensors", {{"w", torch::ones({4, 4})}});
  std::string before = test::read_bytes(dir / "w.safetensors");
  {
    SafetensorsFile file = SafetensorsFile::open(dir / "w.safetensors");
    at::Tensor w = file.tensor("w");
    w.mul_(3.0);
    EXPECT_FLOAT_EQ(w[1][2].item<float>(), 3.0f);
  }
  EXPECT_EQ(test::read_bytes(dir / "w.safetensors"), before);
}

TEST(Safetensors, TensorOutlivesTheFileObject) {
  TempDir dir;
  write_safetensors(dir / "w.safetensors", {{"w", torch::arange(10, torch::kFloat32)}});
  at::Tensor kept;
  {
    SafetensorsFile file = SafetensorsFile::open(dir / "w.safetensors");
    kept = file.tensor("w");
  }
  EXPECT_FLOAT_EQ(kept[9].item<float>(), 9.0f);
}

TEST(Safetensors, WriterRejectsDuplicateNamesAndLeavesNoFile) {
  TempDir dir;
  HDV_EXPECT_THROW_MSG(write_safetensors(dir / "d.safetensors", {{"a", torch::ones({1})}, {"a", torch::ones({1})}}),
                       Error, "tensor \"a\" given twice");
  EXPECT_FALSE(std::filesystem::exists(dir / "d.safetensors"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Safetensors, WriterRejectsUnsupportedDtype) {
  TempDir dir;
  HDV_EXPECT_THROW_MSG(write_safetensors(dir / "c.safetensors", {{"z", torch::zeros({2}, torch::kComplexFloat)}}),
                       Error, "tensor \"z\": dtype ComplexFloat cannot be stored in safetensors");
}

TEST(Safetensors, MissingFileNamesThePath) {
  TempDir dir;
  HDV_EXPECT_THROW_MSG(SafetensorsFile::open(dir / "nope.safetensors"), IoError, "nope.safetensors: no such file");
}

TEST(Safetensors, UnknownTensorNameIsAnError) {
  TempDir dir;
  write_safetensors(dir / "w.safetensors", {{"w", torch::ones({1})}});
  SafetensorsFile file = SafetensorsFile::open(dir / "w.safetensors");
  HDV_EXPECT_THROW_MSG(file.tensor("v"), Error, "no tensor named \"v\"");
}

TEST(Safetensors, CastRewritesFloatingTensorsAndKeepsTheRest) {
  TempDir dir;
  const at::Tensor weight = torch::randn({3, 5}, torch::TensorOptions().dtype(torch::kFloat32));
  const at::Tensor steps = torch::arange(4, torch::kLong) * 1000000007;
  write_safetensors(dir / "in.safetensors", {{"weight", weight}, {"steps", steps}}, {{"hdvila", "{\"kind\":\"x\"}"}});
  const uint64_t bytes = cast_safetensors(dir / "in.safetensors", dir / "out.safetensors", DType::F16);
  EXPECT_EQ(bytes, 15u * 2 + 4u * 8);
  SafetensorsFile out = SafetensorsFile::open(dir / "out.safetensors");
  ASSERT_EQ(out.entries().size(), 2u);
  EXPECT_EQ(out.entries()[0].name, "weight");
  EXPECT_EQ(out.entry("weight").dtype, DType::F16);
  EXPECT_EQ(out.entry("steps").dtype, DType::I64);
  EXPECT_TRUE(torch::equal(out.tensor("weight"), weight.to(torch::kHalf)));
  EXPECT_TRUE(torch::equal(out.tensor("steps"), steps));
  EXPECT_EQ(out.metadata().at("hdvila"), "{\"kind\":\"x\"}");
}

TEST(Safetensors, CastRefusesOverflowSamePathAndIntegerTargets) {
  TempDir dir;
  write_safetensors(dir / "big.safetensors", {{"a", torch::ones({2})}, {"huge", torch::full({3}, 1e6)}});
  HDV_EXPECT_THROW_MSG(cast_safetensors(dir / "big.safetensors", dir / "half.safetensors", DType::F16), Error,
                       "tensor \"huge\": 3 finite value(s) overflow F16");
  EXPECT_FALSE(std::filesystem::exists(dir / "half.safetensors"));
  HDV_EXPECT_THROW_MSG(cast_safetensors(dir / "big.safetensors", dir / "big.safetensors", DType::BF16), Error,
                       "the output is the input file");
  HDV_EXPECT_THROW_MSG(cast_safetensors(dir / "big.safetensors", dir / "i.safetensors", DType::I32), Error,
                       "cast to I32: expected a floating dtype (F32, F16 or BF16)");
}

// --- interop with the Python package -------------------------------------------------------

std::string python_command(const std::string& args) {
  return std::string(HDV_TEST_PYTHON) + " " + HDV_TEST_SOURCE_DIR + "/core/safetensors_interop.py " + args;
}

TEST(SafetensorsInterop, ReadsFilesWrittenByPython) {
  TempDir dir;
  std::string output;
  ASSERT_EQ(test::run_command(python_command("write " + (dir / "py.safetensors").string()), &output), 0) << output;
  SafetensorsFile file = SafetensorsFile::open(dir / "py.safetensors");
  EXPECT_EQ(file.metadata().at("writer"), "python");
  for (DType dtype : kAllDTypes) {
    std::string name = lower(dtype_name(dtype));
    at::Tensor got = file.tensor(name);
    EXPECT_EQ(file.entry(name).dtype, dtype) << name;
    EXPECT_TRUE(torch::equal(got, reference_tensor(dtype))) << name << "\n" << got;
  }
}

TEST(SafetensorsInterop, PythonReadsFilesWrittenByUs) {
  TempDir dir;
  NamedTensors tensors;
  for (DType dtype : kAllDTypes) tensors.emplace_back(lower(dtype_name(dtype)), reference_tensor(dtype));
  write_safetensors(dir / "cpp.safetensors", tensors, {{"writer", "cpp"}});
  std::string output;
  EXPECT_EQ(test::run_command(python_command("check " + (dir / "cpp.safetensors").string()), &output), 0) << output;
  EXPECT_NE(output.find("checked 10 tensors"), std::string::npos) << output;
}

// --- malformed headers ------------------------------------------------------------------------

// A file with the given header text and `data_bytes` zero bytes of data.
std::string file_bytes(const std::string& header, size_t data_bytes, uint64_t length_override = 0) {
  uint64_t n = length_override != 0 ? length_override : header.size();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return bytes + header + std::string(data_bytes, '\0');
}

struct MalformedCase {
  const char* label;
  std::string bytes;
  const char* expected;  // fragment after "<path>: invalid safetensors file: "
};

class SafetensorsMalformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(SafetensorsMalformed, GivesItsSpecificError) {
  TempDir dir;
  auto path = dir / "bad.safetensors";
  test::write_bytes(path, GetParam().bytes);
  std::string expected = path.string() + ": invalid safetensors file: " + GetParam().expected;
  HDV_EXPECT_THROW_MSG(SafetensorsFile::open(path), FormatError, expected);
}

const std::string kGood = R"("w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]})";

INSTANTIATE_TEST_SUITE_P(
    Cases, SafetensorsMalformed,
    ::testing::Values(
        MalformedCase{"TooShort", std::string(5, '\0'), "5 bytes is too short for the 8-byte header length"},
        MalformedCase{"HugeHeaderLength", file_bytes("{}", 0, 1ull << 40),
                      "header length 1099511627776 exceeds the limit of 100000000 bytes"},
        MalformedCase{"HeaderLongerThanFile", file_bytes("{}", 0, 64),
                      "header length 64 exceeds the 2 bytes that follow it (file truncated?)"},
        MalformedCase{"NotJsonObject", file_bytes("[1,2]   ", 0), "the JSON header does not start with '{'"},
        MalformedCase{"BrokenJson", file_bytes("{\"w\":", 0), "the header is not valid JSON"},
        MalformedCase{"UnknownDtype", file_bytes(R"({"w":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2),
                      "tensor \"w\": unknown dtype \"F8\""},
        MalformedCase{"MissingShape", file_bytes(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4),
                      "tensor \"w\": missing field \"shape\""},
        MalformedCase{"UnknownField",
                      file_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", 4),
                      "tensor \"w\": unknown field \"x\""},
        MalformedCase{"NegativeDim", file_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
                      "tensor \"w\": shape entries must be non-negative integers, got integer -1"},
        MalformedCase{"SpanDoesNotMatchShape",
                      file_bytes(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20),
                      "tensor \"w\": dtype F32 x shape [2, 3] does not match the 20 bytes of data_offsets [0, 20]"},
        MalformedCase{"OffsetsPastEnd", file_bytes("{" + kGood + "}", 16),
                      "tensor \"w\": data_offsets [0, 24] reach past the end of the data section (16 bytes"},
        MalformedCase{"BeginAfterEnd", file_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 8),
                      "tensor \"w\": data_offsets [8, 4] has begin after end"},
        MalformedCase{"Overlap",
                      file_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                 R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                                 24),
                      "tensors \"a\" and \"b\" overlap (bytes [0, 16) and [8, 24))"},
        MalformedCase{"Hole",
                      file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                                 20),
                      "bytes [8, 12) of the data section belong to no tensor (before \"b\")"},
        MalformedCase{"TrailingBytes", file_bytes("{" + kGood + "}", 30),
                      "6 bytes after the last tensor belong to no tensor"},
        MalformedCase{"DuplicateName", file_bytes("{" + kGood + "," + kGood + "}", 24),
                      "tensor \"w\" appears twice in the header"},
        MalformedCase{"NonStringMetadata", file_bytes(R"({"__metadata__":{"step":3}})", 0),
                      "__metadata__ value \"step\" must be a string, got integer 3"},
        MalformedCase{"BadOffsetsType", file_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":"0-4"}})", 4),
                      "tensor \"w\": data_offsets must be [begin, end] with non-negative integers"}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace hdv::core
