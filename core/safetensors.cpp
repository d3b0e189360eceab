// safetensors reader and writer (see safetensors.h).
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/atomic_file.h"
#include "core/config.h"
#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::core {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  unsigned bits;                 // per element: 4 and 6 for the packed sub-byte floats
  c10::ScalarType scalar_type;   // Undefined where LibTorch has no such type (F6)
  DTypeKind kind;
};

// Every dtype the format defines (safetensors' Dtype enum; the Python package writes all but F6).
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 64, c10::kDouble, DTypeKind::Floating},
    {DType::F32, "F32", 32, c10::kFloat, DTypeKind::Floating},
    {DType::F16, "F16", 16, c10::kHalf, DTypeKind::Floating},
    {DType::BF16, "BF16", 16, c10::kBFloat16, DTypeKind::Floating},
    {DType::I64, "I64", 64, c10::kLong, DTypeKind::Integer},
    {DType::I32, "I32", 32, c10::kInt, DTypeKind::Integer},
    {DType::I16, "I16", 16, c10::kShort, DTypeKind::Integer},
    {DType::I8, "I8", 8, c10::kChar, DTypeKind::Integer},
    {DType::U8, "U8", 8, c10::kByte, DTypeKind::Integer},
    {DType::Bool, "BOOL", 8, c10::kBool, DTypeKind::Integer},
    {DType::U16, "U16", 16, c10::kUInt16, DTypeKind::Integer},
    {DType::U32, "U32", 32, c10::kUInt32, DTypeKind::Integer},
    {DType::U64, "U64", 64, c10::kUInt64, DTypeKind::Integer},
    {DType::F8_E4M3, "F8_E4M3", 8, c10::kFloat8_e4m3fn, DTypeKind::Floating},
    {DType::F8_E5M2, "F8_E5M2", 8, c10::kFloat8_e5m2, DTypeKind::Floating},
    {DType::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8, c10::kFloat8_e4m3fnuz, DTypeKind::Floating},
    {DType::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8, c10::kFloat8_e5m2fnuz, DTypeKind::Floating},
    {DType::F8_E8M0, "F8_E8M0", 8, c10::kFloat8_e8m0fnu, DTypeKind::Floating},
    {DType::F4, "F4", 4, c10::kFloat4_e2m1fn_x2, DTypeKind::PackedFloat},
    {DType::F6_E2M3, "F6_E2M3", 6, c10::ScalarType::Undefined, DTypeKind::PackedFloat},
    {DType::F6_E3M2, "F6_E3M2", 6, c10::ScalarType::Undefined, DTypeKind::PackedFloat},
    {DType::C64, "C64", 64, c10::kComplexFloat, DTypeKind::Complex},
};

std::string known_dtype_names() {
  std::string names;
  for (const auto& d : kDTypes) names += (names.empty() ? "" : " ") + std::string(d.name);
  return names;
}

const DTypeInfo& info(DType dtype) {
  for (const auto& d : kDTypes) {
    if (d.dtype == dtype) return d;
  }
  throw Error("internal: unknown DType");
}

uint64_t read_u64_le(const char* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(p[i]);
  return value;
}

// CRC-32 (zlib's crc32_z), fed in pieces.
class Crc32 {
 public:
  void update(const void* data, size_t size) {
    // An empty tensor's data may be a null pointer, for which zlib would return its initial value.
    if (size > 0) crc_ = crc32_z(crc_, static_cast<const Bytef*>(data), size);
  }
  void update(std::string_view text) {  // followed by a '\0' as a separator
    update(text.data(), text.size());
    update("", 1);
  }
  std::string hex() const { return fmt::format("{:08x}", crc_); }

 private:
  uLong crc_ = crc32_z(0L, Z_NULL, 0);
};

// The checksum's input up to the data section: the metadata but kChecksumKey, then the tensor table.
void checksum_header(Crc32& crc, const Metadata& metadata, std::vector<TensorEntry> entries) {
  // In file order; empty tensors (which share offsets) by name.
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  for (const auto& [key, value] : metadata) {
    if (key == kChecksumKey) continue;
    crc.update(key);
    crc.update(value);
  }
  for (const TensorEntry& e : entries) {
    crc.update(e.name);
    crc.update(dtype_name(e.dtype));
    crc.update(fmt::format("{}", fmt::join(e.shape, ",")));
    crc.update(fmt::format("{},{}", e.begin, e.end));
  }
}

}  // namespace

std::string_view dtype_name(DType dtype) { return info(dtype).name; }
unsigned dtype_bits(DType dtype) { return info(dtype).bits; }
size_t dtype_size(DType dtype) { return std::max<size_t>(1, info(dtype).bits / 8); }
DTypeKind dtype_kind(DType dtype) { return info(dtype).kind; }
c10::ScalarType to_scalar_type(DType dtype) {
  const DTypeInfo& d = info(dtype);
  if (d.scalar_type == c10::ScalarType::Undefined) {
    throw Error(fmt::format("dtype {} ({}-bit floats) has no LibTorch type: such a tensor can be listed but not loaded",
                            d.name, d.bits));
  }
  return d.scalar_type;
}

std::optional<std::string> conversion_problem(DType stored, c10::ScalarType target) {
  const DTypeInfo& d = info(stored);
  const bool floating_target = c10::isFloatingType(target);
  switch (d.kind) {
    case DTypeKind::Floating:
      if (floating_target) return std::nullopt;
      break;
    case DTypeKind::Integer:
      if (!floating_target && !c10::isComplexType(target)) return std::nullopt;
      break;
    case DTypeKind::PackedFloat:
      if (floating_target) {
        return fmt::format("has dtype {} (packed {}-bit floats), which has no conversion to {}: dequantise it to "
                           "F32, F16 or BF16 where it was written",
                           d.name, d.bits, c10::toString(target));
      }
      break;
    case DTypeKind::Complex:
      if (floating_target) {
        return fmt::format("has dtype {} (complex), expected {}: a real tensor cannot hold the imaginary part",
                           d.name, c10::toString(target));
      }
      break;
  }
  return fmt::format("has dtype {}, expected {}", d.name, c10::toString(target));
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& d : kDTypes) {
    if (d.name == name) return d.dtype;
  }
  return std::nullopt;
}

DType from_scalar_type(c10::ScalarType type) {
  for (const auto& d : kDTypes) {
    if (d.scalar_type == type) return d.dtype;
  }
  throw Error(fmt::format("dtype {} cannot be stored in safetensors", c10::toString(type)));
}

SafetensorsHeader parse_safetensors_header(std::string_view prefix, uint64_t file_size,
                                           std::string_view source) {
  auto fail = [&](const std::string& problem) -> FormatError {
    return FormatError(fmt::format("{}: invalid safetensors file: {}", source, problem));
  };
  if (file_size < 8 || prefix.size() < 8) {
    throw fail(fmt::format("{} bytes is too short for the 8-byte header length", file_size));
  }
  SafetensorsHeader header;
  header.header_size = read_u64_le(prefix.data());
  if (header.header_size > kMaxSafetensorsHeaderBytes) {
    throw fail(fmt::format("header length {} exceeds the limit of {} bytes", header.header_size,
                           kMaxSafetensorsHeaderBytes));
  }
  if (header.header_size > file_size - 8) {
    throw fail(fmt::format("header length {} exceeds the {} bytes that follow it (file truncated?)",
                           header.header_size, file_size - 8));
  }
  if (prefix.size() < 8 + header.header_size) throw fail("internal: header prefix not fully read");
  std::string_view text = prefix.substr(8, header.header_size);
  if (text.empty() || text.front() != '{') throw fail("the JSON header does not start with '{'");

  // Duplicate top-level names would silently shadow each other; the callback sees every key.
  std::set<std::string> seen_keys;
  std::string duplicate;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, Json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
      auto key = parsed.get<std::string>();
      if (!seen_keys.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  Json json;
  try {
    json = Json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    throw fail(fmt::format("the header is not valid JSON ({})", e.what()));
  }
  if (!duplicate.empty()) throw fail(fmt::format("tensor \"{}\" appears twice in the header", duplicate));
  if (!json.is_object()) throw fail("the header is not a JSON object");

  const uint64_t data_size = file_size - 8 - header.header_size;
  for (auto it = json.begin(); it != json.end(); ++it) {
    const std::string& name = it.key();
    const Json& value = it.value();
    if (name == "__metadata__") {
      if (!value.is_object()) throw fail("__metadata__ must be an object of strings");
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string()) {
          throw fail(fmt::format("__metadata__ value \"{}\" must be a string, got {}", m.key(),
                                 describe_json_value(m.value())));
        }
        header.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& problem) { return fail(fmt::format("tensor \"{}\": {}", name, problem)); };
    if (!value.is_object()) throw bad("expected an object with dtype, shape and data_offsets");
    for (auto f = value.begin(); f != value.end(); ++f) {
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets") {
        throw bad(fmt::format("unknown field \"{}\"", f.key()));
      }
    }
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!value.contains(field)) throw bad(fmt::format("missing field \"{}\"", field));
    }
    TensorEntry entry;
    entry.name = name;
    const Json& dtype = value["dtype"];
    if (!dtype.is_string()) throw bad(fmt::format("dtype must be a string, got {}", describe_json_value(dtype)));
    auto parsed = parse_dtype(dtype.get<std::string>());
    if (!parsed) {
      throw bad(fmt::format("unknown dtype \"{}\" (expected one of {})", dtype.get<std::string>(),
                            known_dtype_names()));
    }
    entry.dtype = *parsed;
    const Json& shape = value["shape"];
    if (!shape.is_array()) throw bad(fmt::format("shape must be an array, got {}", describe_json_value(shape)));
    uint64_t numel = 1;
    bool overflow = false;
    for (const Json& dim : shape) {
      if (!dim.is_number_unsigned() && !(dim.is_number_integer() && dim.get<int64_t>() >= 0)) {
        throw bad(fmt::format("shape entries must be non-negative integers, got {}", describe_json_value(dim)));
      }
      uint64_t d = dim.get<uint64_t>();
      if (d > uint64_t(INT64_MAX) || (d != 0 && numel > UINT64_MAX / d)) overflow = true;
      numel *= d;
      entry.shape.push_back(static_cast<int64_t>(std::min<uint64_t>(d, INT64_MAX)));
    }
    const Json& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      throw bad(fmt::format("data_offsets must be [begin, end] with non-negative integers, got {}",
                            offsets.dump()));
    }
    entry.begin = offsets[0].get<uint64_t>();
    entry.end = offsets[1].get<uint64_t>();
    if (entry.begin > entry.end) {
      throw bad(fmt::format("data_offsets [{}, {}] has begin after end", entry.begin, entry.end));
    }
    if (entry.end > data_size) {
      throw bad(fmt::format("data_offsets [{}, {}] reach past the end of the data section ({} bytes; file truncated?)",
                            entry.begin, entry.end, data_size));
    }
    // Sub-byte dtypes (F4, F6) pack their elements: the bytes hold numel x bits / 8 exactly.
    const uint64_t bits = dtype_bits(entry.dtype);
    const uint64_t span = entry.end - entry.begin;
    if (overflow || numel > UINT64_MAX / bits || numel * bits % 8 != 0 || numel * bits / 8 != span) {
      throw bad(fmt::format("dtype {} x shape {} does not match the {} bytes of data_offsets [{}, {}]",
                            dtype_name(entry.dtype), shape_text(entry.shape), entry.end - entry.begin,
                            entry.begin, entry.end));
    }
    header.entries.push_back(std::move(entry));
  }

  std::sort(header.entries.begin(), header.entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry& entry : header.entries) {
    if (entry.begin < covered) {
      throw fail(fmt::format("tensors \"{}\" and \"{}\" overlap (bytes [{}, {}) and [{}, {}))", previous->name,
                             entry.name, previous->begin, previous->end, entry.begin, entry.end));
    }
    if (entry.begin > covered) {
      throw fail(fmt::format("bytes [{}, {}) of the data section belong to no tensor (before \"{}\")", covered,
                             entry.begin, entry.name));
    }
    if (entry.end > entry.begin || previous == nullptr) previous = &entry;
    covered = std::max(covered, entry.end);
  }
  if (covered != data_size) {
    throw fail(fmt::format("{} bytes after the last tensor belong to no tensor", data_size - covered));
  }
  return header;
}

struct SafetensorsFile::Mapping {
  void* address = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (address != nullptr) ::munmap(address, size);
  }
};

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string source = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) throw IoError(fmt::format("{}: no such file", source));
    throw IoError(fmt::format("{}: cannot open: {}", source, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(fmt::format("{}: not a regular file", source));
  }
  const auto file_size = static_cast<uint64_t>(st.st_size);
  auto mapping = std::make_shared<Mapping>();
  if (file_size > 0) {
    // Private + writable: copy-on-write pages, so callers may modify tensors in place safely.
    void* address = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw IoError(fmt::format("{}: cannot map: {}", source, std::strerror(err)));
    }
    mapping->address = address;
    mapping->size = file_size;
  }
  ::close(fd);

  SafetensorsFile file;
  file.path_ = path;
  std::string_view bytes(static_cast<const char*>(mapping->address), file_size);
  const uint64_t header_size = file_size >= 8 ? read_u64_le(bytes.data()) : 0;
  std::string_view prefix =
      bytes.substr(0, std::min<uint64_t>(file_size, 8 + std::min(header_size, kMaxSafetensorsHeaderBytes)));
  file.header_ = parse_safetensors_header(prefix, file_size, source);
  auto stored = file.header_.metadata.find(kChecksumKey);
  if (stored != file.header_.metadata.end()) {
    Crc32 crc;
    checksum_header(crc, file.header_.metadata, file.header_.entries);
    const uint64_t data_start = 8 + file.header_.header_size;
    crc.update(bytes.data() + data_start, file_size - data_start);
    if (crc.hex() != stored->second) {
      throw FormatError(fmt::format("{}: checksum mismatch: {} says {}, the file's metadata, tensor table and data give "
                                    "{} (the file is corrupt: changed since it was written)",
                                    source, kChecksumKey, stored->second, crc.hex()));
    }
  }
  file.mapping_ = std::move(mapping);
  for (size_t i = 0; i < file.header_.entries.size(); ++i) file.index_[file.header_.entries[i].name] = i;
  return file;
}

bool SafetensorsFile::contains(std::string_view name) const { return index_.find(name) != index_.end(); }

const TensorEntry& SafetensorsFile::entry(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    throw Error(fmt::format("{}: no tensor named \"{}\"", path_.string(), name));
  }
  return header_.entries[it->second];
}

at::Tensor SafetensorsFile::tensor(std::string_view name) const {
  const TensorEntry& e = entry(name);
  c10::ScalarType type;
  try {
    type = to_scalar_type(e.dtype);
  } catch (const Error& problem) {
    throw Error(fmt::format("{}: tensor \"{}\": {}", path_.string(), name, problem.what()));
  }
  std::vector<int64_t> shape = e.shape;
  if (e.dtype == DType::F4) {
    // LibTorch's float4_e2m1fn_x2 holds two elements per byte: the last dimension halves.
    if (shape.empty() || shape.back() % 2 != 0) {
      throw Error(fmt::format("{}: tensor \"{}\": F4 with shape {} cannot be loaded as float4_e2m1fn_x2 (pairs along "
                              "the last dimension): the last dimension must be even",
                              path_.string(), name, shape_text(e.shape)));
    }
    shape.back() /= 2;
  }
  // A shape with a zero dimension holds no bytes whatever its other dimensions, so the header
  // allows [0, 2^62, 4]; LibTorch's contiguous strides of it overflow int64 and it cannot hold it.
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 1;) {
    if (__builtin_mul_overflow(stride, std::max<int64_t>(shape[i], 1), &stride)) {
      throw Error(fmt::format("{}: tensor \"{}\": shape {} cannot be loaded: its strides overflow int64", path_.string(),
                              name, shape_text(e.shape)));
    }
  }
  auto options = torch::TensorOptions().dtype(type).device(torch::kCPU);
  if (e.end == e.begin) return torch::empty(shape, options);
  char* data = static_cast<char*>(mapping_->address) + 8 + header_.header_size + e.begin;
  auto keep_alive = mapping_;
  at::Tensor view = torch::from_blob(data, shape, [keep_alive](void*) {}, options);
  if (reinterpret_cast<uintptr_t>(data) % dtype_size(e.dtype) != 0) return view.clone();
  return view;
}

void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors, const Metadata& metadata) {
  write_safetensors(path, tensors, metadata, false);
}

void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors, const Metadata& metadata,
                       bool checksum) {
  Json header = Json::object();
  checksum = checksum || metadata.count(kChecksumKey) != 0;
  if (!metadata.empty() || checksum) header["__metadata__"] = Json::object();  // first in the header, filled below
  std::vector<TensorEntry> entries;  // what the checksum covers
  std::vector<at::Tensor> contiguous;
  contiguous.reserve(tensors.size());
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__") {
      throw Error(fmt::format("{}: invalid tensor name \"{}\"", path.string(), name));
    }
    if (!names.insert(name).second) throw Error(fmt::format("{}: tensor \"{}\" given twice", path.string(), name));
    if (!tensor.defined()) throw Error(fmt::format("{}: tensor \"{}\" is undefined", path.string(), name));
    DType dtype;
    try {
      dtype = from_scalar_type(tensor.scalar_type());
    } catch (const Error& e) {
      throw Error(fmt::format("{}: tensor \"{}\": {}", path.string(), name, e.what()));
    }
    at::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    uint64_t bytes = static_cast<uint64_t>(cpu.numel()) * cpu.element_size();
    std::vector<int64_t> shape = cpu.sizes().vec();
    if (dtype == DType::F4) {
      if (shape.empty()) throw Error(fmt::format("{}: tensor \"{}\": a float4_e2m1fn_x2 scalar cannot be stored as F4", path.string(), name));
      shape.back() *= 2;  // the format counts 4-bit elements
    }
    header[name] = Json{{"dtype", dtype_name(dtype)},
                        {"shape", shape},
                        {"data_offsets", {offset, offset + bytes}}};
    entries.push_back({name, dtype, shape, offset, offset + bytes});
    offset += bytes;
    contiguous.push_back(std::move(cpu));
  }
  Metadata meta = metadata;
  if (checksum) {
    Crc32 crc;
    checksum_header(crc, meta, entries);
    for (const at::Tensor& t : contiguous) crc.update(t.data_ptr(), t.numel() * t.element_size());
    meta[kChecksumKey] = crc.hex();
  }
  for (const auto& [key, value] : meta) header["__metadata__"][key] = value;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
  char length[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((n >> (8 * i)) & 0xff);

  AtomicFile file(path);
  file.write(length, 8);
  file.write(text);
  for (const at::Tensor& t : contiguous) file.write(t.data_ptr(), t.numel() * t.element_size());
  file.commit();
}

uint64_t cast_safetensors(const std::filesystem::path& in, const std::filesystem::path& out, DType dtype) {
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16) {
    throw Error(fmt::format("cast to {}: expected a floating dtype (F32, F16 or BF16)", dtype_name(dtype)));
  }
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(in, out, ec)) {
    throw Error(fmt::format("{}: the output is the input file; write to another path", out.string()));
  }
  const SafetensorsFile file = SafetensorsFile::open(in);
  const c10::ScalarType target = to_scalar_type(dtype);
  NamedTensors tensors;
  tensors.reserve(file.entries().size());
  uint64_t bytes = 0;
  for (const TensorEntry& entry : file.entries()) {
    if (dtype_kind(entry.dtype) == DTypeKind::PackedFloat || dtype_kind(entry.dtype) == DTypeKind::Complex) {
      throw Error(fmt::format("{}: tensor \"{}\" {}", in.string(), entry.name, *conversion_problem(entry.dtype, target)));
    }
    at::Tensor tensor = file.tensor(entry.name);
    if (dtype_kind(entry.dtype) == DTypeKind::Floating && tensor.scalar_type() != target) {
      at::Tensor cast = tensor.to(target);
      // Checked in F32: the 8-bit floats have no isinf/isfinite kernels.
      const int64_t newly_infinite = (cast.isinf() & tensor.to(torch::kFloat).isfinite()).sum().item<int64_t>();
      if (newly_infinite > 0) {
        throw Error(fmt::format("{}: tensor \"{}\": {} finite value(s) overflow {}", in.string(), entry.name,
                                newly_infinite, dtype_name(dtype)));
      }
      tensor = cast;
    }
    bytes += static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
    tensors.emplace_back(entry.name, tensor);
  }
  write_safetensors(out, tensors, file.metadata());
  return bytes;
}

}  // namespace hdv::core
