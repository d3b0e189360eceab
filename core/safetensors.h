// safetensors reader and writer (the Hugging Face format).
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON header, then the data section.
// The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section) plus an optional "__metadata__" object of string -> string.
// Reference: huggingface/safetensors, README "Format" and safetensors/src/tensor.rs.
//
// Every header field is validated before any tensor is touched: the length is sane, the JSON is
// well formed with no duplicate names, every dtype is known, dtype x shape equals the byte span,
// spans lie inside the file, do not overlap and leave no holes (as the reference implementation
// requires). Errors name the file and the tensor. Files are memory-mapped copy-on-write: tensors
// read from them share the mapping, and writing into such a tensor never changes the file.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hdv::core {

// Every dtype of the format. F4 and F6_* pack 4- and 6-bit floats; LibTorch holds F4 as
// float4_e2m1fn_x2 (two per byte, so the last dimension halves) and has no type for F6, whose
// tensors are listed and validated but cannot be loaded.
enum class DType {
  F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool,
  U16, U32, U64, F8_E4M3, F8_E5M2, F8_E4M3FNUZ, F8_E5M2FNUZ, F8_E8M0, F4, F6_E2M3, F6_E3M2, C64
};
// Floating: converts to any floating type (copy_/to); Integer (and BOOL): to any integer type;
// PackedFloat (F4, F6): no conversion in LibTorch; Complex: never into a real tensor.
enum class DTypeKind { Floating, Integer, PackedFloat, Complex };

std::string_view dtype_name(DType dtype);  // "F32", "BOOL", ...
unsigned dtype_bits(DType dtype);          // bits per element (4 for F4, 6 for F6_*)
size_t dtype_size(DType dtype);            // bytes per element, at least 1
DTypeKind dtype_kind(DType dtype);
std::optional<DType> parse_dtype(std::string_view name);
// Throws Error for F6, which LibTorch has no type for.
c10::ScalarType to_scalar_type(DType dtype);
// Why a tensor stored as `stored` cannot be copied into one of `target` type ("has dtype I32,
// expected Float", ...; the caller puts the tensor's name first), or nullopt when it converts.
std::optional<std::string> conversion_problem(DType stored, c10::ScalarType target);
// Throws Error for scalar types safetensors cannot hold (complex, quantised, ...).
DType from_scalar_type(c10::ScalarType type);

struct TensorEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

using Metadata = std::map<std::string, std::string>;

struct SafetensorsHeader {
  std::vector<TensorEntry> entries;  // sorted by begin offset
  Metadata metadata;
  uint64_t header_size = 0;  // N, the JSON length
};

// Headers above this size are rejected (the reference implementation's limit).
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Validates the header of a file of `file_size` bytes whose first bytes are `prefix` (at least
// 8 + N bytes, or the whole file if shorter). `source` names the file in errors.
SafetensorsHeader parse_safetensors_header(std::string_view prefix, uint64_t file_size,
                                           std::string_view source);

class SafetensorsFile {
 public:
  // Maps and validates the file (and its kChecksumKey checksum, if it has one); throws IoError
  // (missing/unreadable) or FormatError.
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const std::vector<TensorEntry>& entries() const { return header_.entries; }
  const Metadata& metadata() const { return header_.metadata; }
  bool contains(std::string_view name) const;
  // Throws Error naming the file and tensor when absent.
  const TensorEntry& entry(std::string_view name) const;
  // A CPU tensor over the mapping (copied only if the data is misaligned for its dtype).
  at::Tensor tensor(std::string_view name) const;

 private:
  struct Mapping;
  std::filesystem::path path_;
  SafetensorsHeader header_;
  std::shared_ptr<Mapping> mapping_;
  std::map<std::string, size_t, std::less<>> index_;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// The optional integrity check of this project's files (checkpoints write it): __metadata__
// ["hdvila_crc32"] holds the CRC-32 (zlib's) of everything else the file says, as 8 lowercase hex
// digits: every other metadata key and value, every tensor's name, dtype, shape and data offsets,
// and the whole data section. SafetensorsFile::open verifies it when present, so a truncated,
// bit-flipped or partly overwritten file is refused naming the file instead of loading wrong
// values; files without it (other tools' files, older checkpoints) load as before.
constexpr const char* kChecksumKey = "hdvila_crc32";

// Writes tensors (any device; copied to CPU, made contiguous) in the given order, atomically.
// Throws Error for duplicate or empty names and unsupported dtypes. When `metadata` has a
// kChecksumKey entry (copied from another file), the checksum is computed for what is written.
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const Metadata& metadata = {});
// The same, with the kChecksumKey checksum when `checksum` is true (save_checkpoint).
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors, const Metadata& metadata,
                       bool checksum);

// Rewrites `in` as `out` with every floating-point tensor cast to `dtype` (F32, F16 or BF16);
// integer and bool tensors, tensor order and metadata are kept. Returns the bytes written for
// tensor data. Throws Error when `dtype` is not floating, when `in` and `out` are the same file,
// or when a value is finite in `in` but overflows `dtype` (naming the tensor).
uint64_t cast_safetensors(const std::filesystem::path& in, const std::filesystem::path& out, DType dtype);

}  // namespace hdv::core
