// safetensors: round trips for every dtype, interop with Python's `safetensors` package both
// ways, and one test per malformed-header case checking its specific error.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <limits>

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
    case DType::U16: return (base * 2731).to(torch::kLong).to(torch::kUInt16);
    case DType::U32: return (base * 150000000 + 7).to(torch::kLong).to(torch::kUInt32);
    case DType::U64: {
      at::Tensor low = base.to(torch::kLong) * int64_t{384307168202282325};
      at::Tensor odd = torch::arange(24).reshape({2, 3, 4}).remainder(2).eq(1);
      return torch::where(odd, low.bitwise_or(std::numeric_limits<int64_t>::min()), low).view(torch::kUInt64);
    }
    case DType::F8_E4M3: return (base * 0.25 - 2.0).to(torch::kFloat8_e4m3fn);
    case DType::F8_E5M2: return (base.remainder(8) - 4.0).to(torch::kFloat8_e5m2);
    case DType::F8_E4M3FNUZ: return (base * 0.25 - 2.0).to(torch::kFloat8_e4m3fnuz);
    case DType::F8_E5M2FNUZ: return (base.remainder(8) - 4.0).to(torch::kFloat8_e5m2fnuz);
    case DType::F8_E8M0: return torch::pow(2.0, base - 12.0).to(torch::kFloat8_e8m0fnu);
    case DType::F4: return (base * 10 + 3).to(torch::kByte).view(torch::kFloat4_e2m1fn_x2);
    case DType::C64:
      return torch::complex((base * 0.5 - 3.0).to(torch::kFloat32), (base * 0.25).to(torch::kFloat32));
    case DType::F6_E2M3:
    case DType::F6_E3M2: break;  // no LibTorch type: see the F6 tests
  }
  return {};
}

// Every dtype a tensor can be written in (F6 has no LibTorch type).
const DType kAllDTypes[] = {DType::F64,     DType::F32,         DType::F16,         DType::I64,     DType::I32,
                            DType::I16,     DType::I8,          DType::U8,          DType::Bool,    DType::BF16,
                            DType::U16,     DType::U32,         DType::U64,         DType::F8_E4M3, DType::F8_E5M2,
                            DType::F8_E4M3FNUZ, DType::F8_E5M2FNUZ, DType::F8_E8M0, DType::F4,      DType::C64};

// The tensor's bytes as integers of its element size: equal() has no kernels for the unsigned and
// 8-bit types, and equal bytes is what a round trip promises.
at::Tensor bits(const at::Tensor& t) {
  switch (t.element_size()) {
    case 1: return t.view(torch::kByte);
    case 2: return t.view(torch::kShort);
    case 4: return t.view(torch::kInt);
    default: return t.view(torch::kLong);
  }
}

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
    EXPECT_TRUE(torch::equal(bits(got), bits(expected))) << name;
  }
  EXPECT_EQ(file.entry("f32").dtype, DType::F32);
  EXPECT_EQ(file.entry("f32").end - file.entry("f32").begin, 24u * 4u);
  // The format counts F4's 4-bit elements; LibTorch pairs them along the last dimension.
  EXPECT_EQ(file.entry("f4").shape, (std::vector<int64_t>{2, 3, 8}));
  EXPECT_EQ(file.entry("f4").end - file.entry("f4").begin, 24u);
  EXPECT_EQ(file.entry("u64").end - file.entry("u64").begin, 24u * 8u);
}

TEST(Safetensors, LoadsNewDtypesIntoTheTypesModelsUse) {
  TempDir dir;
  NamedTensors tensors;
  for (DType dtype : kAllDTypes) tensors.emplace_back(lower(dtype_name(dtype)), reference_tensor(dtype));
  write_safetensors(dir / "all.safetensors", tensors);
  SafetensorsFile file = SafetensorsFile::open(dir / "all.safetensors");
  at::Tensor base = torch::arange(24, torch::kFloat64).reshape({2, 3, 4});
  // 8-bit floats into F32 parameters: exact for these values.
  EXPECT_TRUE(torch::equal(file.tensor("f8_e4m3").to(torch::kFloat), (base * 0.25 - 2.0).to(torch::kFloat)));
  EXPECT_TRUE(torch::equal(file.tensor("f8_e5m2").to(torch::kFloat), (base.remainder(8) - 4.0).to(torch::kFloat)));
  EXPECT_TRUE(torch::equal(file.tensor("f8_e8m0").to(torch::kDouble), torch::pow(2.0, base - 12.0)));
  // Unsigned into int64 buffers (a step counter): values past the signed range of their width.
  EXPECT_EQ(file.tensor("u16").to(torch::kLong)[1][2][3].item<int64_t>(), 23 * 2731);
  EXPECT_EQ(file.tensor("u32").to(torch::kLong)[1][2][3].item<int64_t>(), int64_t{23} * 150000000 + 7);
  for (DType dtype : {DType::F8_E4M3, DType::F8_E5M2, DType::F8_E4M3FNUZ, DType::F8_E5M2FNUZ, DType::F8_E8M0,
                      DType::F16, DType::BF16, DType::F64}) {
    EXPECT_EQ(conversion_problem(dtype, torch::kFloat), std::nullopt) << dtype_name(dtype);
  }
  for (DType dtype : {DType::U16, DType::U32, DType::U64, DType::I32, DType::U8, DType::Bool}) {
    EXPECT_EQ(conversion_problem(dtype, torch::kLong), std::nullopt) << dtype_name(dtype);
  }
  EXPECT_EQ(conversion_problem(DType::U16, torch::kFloat).value_or(""), "has dtype U16, expected Float");
  EXPECT_EQ(conversion_problem(DType::F8_E4M3, torch::kLong).value_or(""), "has dtype F8_E4M3, expected Long");
  EXPECT_EQ(conversion_problem(DType::F4, torch::kFloat).value_or(""),
            "has dtype F4 (packed 4-bit floats), which has no conversion to Float: dequantise it to F32, F16 or BF16 "
            "where it was written");
  EXPECT_EQ(conversion_problem(DType::C64, torch::kHalf).value_or(""),
            "has dtype C64 (complex), expected Half: a real tensor cannot hold the imaginary part");
}

TEST(Safetensors, SixBitFloatsAreValidatedAndListedButNotLoaded) {
  TempDir dir;
  auto bytes_of = [](const std::string& header, size_t data) {
    uint64_t n = header.size();
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return bytes + header + std::string(data, '\x5a');
  };
  // Four 6-bit elements fill three bytes exactly.
  test::write_bytes(dir / "f6.safetensors",
                    bytes_of(R"({"a":{"dtype":"F6_E2M3","shape":[2,4],"data_offsets":[0,6]},)"
                             R"("b":{"dtype":"F6_E3M2","shape":[4],"data_offsets":[6,9]}})",
                             9));
  SafetensorsFile file = SafetensorsFile::open(dir / "f6.safetensors");
  EXPECT_EQ(file.entry("a").dtype, DType::F6_E2M3);
  EXPECT_EQ(file.entry("b").dtype, DType::F6_E3M2);
  EXPECT_EQ(dtype_bits(DType::F6_E3M2), 6u);
  HDV_EXPECT_THROW_MSG(file.tensor("a"), Error,
                       "f6.safetensors: tensor \"a\": dtype F6_E2M3 (6-bit floats) has no LibTorch type: such a "
                       "tensor can be listed but not loaded");
  EXPECT_EQ(conversion_problem(DType::F6_E3M2, torch::kFloat).value_or(""),
            "has dtype F6_E3M2 (packed 6-bit floats), which has no conversion to Float: dequantise it to F32, F16 or "
            "BF16 where it was written");
}

TEST(Safetensors, CastRefusesTensorsWithNoFloatingConversion) {
  TempDir dir;
  write_safetensors(dir / "q.safetensors", {{"w", torch::ones({2})}, {"z", torch::zeros({2}, torch::kComplexFloat)}});
  HDV_EXPECT_THROW_MSG(cast_safetensors(dir / "q.safetensors", dir / "h.safetensors", DType::F16), Error,
                       "q.safetensors: tensor \"z\" has dtype C64 (complex), expected Half");
  EXPECT_FALSE(std::filesystem::exists(dir / "h.safetensors"));
  // 8-bit floats widen.
  write_safetensors(dir / "f8.safetensors", {{"w", (torch::arange(8) * 0.5).to(torch::kFloat8_e4m3fn)}});
  cast_safetensors(dir / "f8.safetensors", dir / "f32.safetensors", DType::F32);
  EXPECT_TRUE(torch::equal(SafetensorsFile::open(dir / "f32.safetensors").tensor("w"), torch::arange(8) * 0.5f));
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
  HDV_EXPECT_THROW_MSG(write_safetensors(dir / "c.safetensors", {{"z", torch::zeros({2}, torch::kComplexDouble)}}),
                       Error, "tensor \"z\": dtype ComplexDouble cannot be stored in safetensors");
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
    EXPECT_EQ(got.scalar_type(), reference_tensor(dtype).scalar_type()) << name;
    EXPECT_TRUE(torch::equal(bits(got), bits(reference_tensor(dtype)))) << name;
  }
}

TEST(SafetensorsInterop, PythonReadsFilesWrittenByUs) {
  TempDir dir;
  NamedTensors tensors;
  for (DType dtype : kAllDTypes) tensors.emplace_back(lower(dtype_name(dtype)), reference_tensor(dtype));
  write_safetensors(dir / "cpp.safetensors", tensors, {{"writer", "cpp"}});
  std::string output;
  EXPECT_EQ(test::run_command(python_command("check " + (dir / "cpp.safetensors").string()), &output), 0) << output;
  EXPECT_NE(output.find("checked 20 tensors"), std::string::npos) << output;
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
                      "tensor \"w\": unknown dtype \"F8\" (expected one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL "
                      "U16 U32 U64 F8_E4M3 F8_E5M2 F8_E4M3FNUZ F8_E5M2FNUZ F8_E8M0 F4 F6_E2M3 F6_E3M2 C64)"},
        MalformedCase{"SubByteSpanNotWhole",
                      file_bytes(R"({"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2),
                      "tensor \"w\": dtype F4 x shape [3] does not match the 2 bytes of data_offsets [0, 2]"},
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

// Fuzz regression (tests/fuzz/regressions/safetensors/): a tensor of shape [0, 2^62, 4] holds no
// bytes, so its header is valid, but LibTorch's strides of it overflow int64: loading it threw a
// c10::Error that named neither the file nor the tensor.
TEST(Safetensors, ZeroElementTensorWhoseStridesOverflowIsRefusedByName) {
  const std::string path = HDV_TEST_SOURCE_DIR "/fuzz/regressions/safetensors/zero-elements-stride-overflow.safetensors";
  const SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.entries().size(), 1u);
  EXPECT_EQ(test::error_text<Error>([&] { file.tensor("w"); }),
            path + ": tensor \"w\": shape [0, 4611686018427387904, 4] cannot be loaded: its strides overflow int64");
}

}  // namespace
}  // namespace hdv::core
