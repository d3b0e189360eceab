// Checkpoints = safetensors + hdvila metadata (see checkpoint.h).
#include "core/checkpoint.h"

#include <climits>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::core {
namespace {

constexpr const char* kMetadataKey = "hdvila";
constexpr size_t kMaxListedMismatches = 12;

CheckpointInfo parse_info(const SafetensorsFile& file) {
  const std::string source = file.path().string();
  auto it = file.metadata().find(kMetadataKey);
  if (it == file.metadata().end()) {
    throw FormatError(fmt::format(
        "{}: not an hdvila checkpoint (no \"{}\" entry in __metadata__); plain weights are brought in "
        "with `hdvila-train import`",
        source, kMetadataKey));
  }
  Json json = parse_json(it->second, source + " __metadata__.hdvila");
  auto field = [&](const char* key) -> const Json& {
    if (!json.is_object() || !json.contains(key)) {
      throw FormatError(fmt::format("{}: checkpoint metadata lacks \"{}\"", source, key));
    }
    return json[key];
  };
  CheckpointInfo info;
  const Json& kind = field("kind");
  const Json& version = field("format_version");
  if (!kind.is_string()) throw FormatError(fmt::format("{}: checkpoint metadata \"kind\" must be a string", source));
  if (!version.is_number_integer()) {
    throw FormatError(fmt::format("{}: checkpoint metadata \"format_version\" must be an integer", source));
  }
  // Checked before narrowing to int: 4294967297 must not wrap to version 1.
  const bool version_fits = version.is_number_unsigned() ? version.get<uint64_t>() <= uint64_t(INT_MAX)
                                                         : version.get<int64_t>() >= INT_MIN && version.get<int64_t>() <= INT_MAX;
  if (!version_fits) {
    throw FormatError(fmt::format("{}: checkpoint format version {} is not supported (this build reads 1..{})", source,
                                  version.dump(), kCheckpointFormatVersion));
  }
  info.kind = kind.get<std::string>();
  info.format_version = version.get<int>();
  if (json.contains("preset") && json["preset"].is_string()) info.preset = json["preset"].get<std::string>();
  if (json.contains("step") && json["step"].is_number_integer()) info.step = json["step"].get<int64_t>();
  if (json.contains("config")) info.config = json["config"];
  return info;
}

}  // namespace

Checkpoint Checkpoint::load(const std::filesystem::path& path, std::string_view expected_kind) {
  Checkpoint checkpoint(SafetensorsFile::open(path));
  checkpoint.info_ = parse_info(checkpoint.file_);
  const std::string source = path.string();
  if (!expected_kind.empty() && checkpoint.info_.kind != expected_kind) {
    throw FormatError(fmt::format("{}: checkpoint kind is \"{}\", expected \"{}\"", source,
                                  checkpoint.info_.kind, expected_kind));
  }
  if (checkpoint.info_.format_version > kCheckpointFormatVersion || checkpoint.info_.format_version < 1) {
    throw FormatError(fmt::format("{}: checkpoint format version {} is not supported (this build reads 1..{})",
                                  source, checkpoint.info_.format_version, kCheckpointFormatVersion));
  }
  return checkpoint;
}

void Checkpoint::check_tensors(const ExpectedShapes& expected) const {
  std::vector<std::string> problems;
  std::map<std::string, bool, std::less<>> expected_names;
  for (const auto& [name, shape] : expected) {
    expected_names[name] = true;
    if (!file_.contains(name)) {
      problems.push_back(fmt::format("missing \"{}\" {}", name, shape_text(shape)));
      continue;
    }
    const TensorEntry& entry = file_.entry(name);
    if (entry.shape != shape) {
      problems.push_back(fmt::format("\"{}\" has shape {}, expected {}", name, shape_text(entry.shape), shape_text(shape)));
    }
  }
  for (const TensorEntry& entry : file_.entries()) {
    if (expected_names.find(entry.name) == expected_names.end()) {
      problems.push_back(fmt::format("unexpected \"{}\" {}", entry.name, shape_text(entry.shape)));
    }
  }
  if (problems.empty()) return;
  size_t shown = std::min(problems.size(), kMaxListedMismatches);
  std::string list = fmt::format("{}", fmt::join(problems.begin(), problems.begin() + shown, "; "));
  if (shown < problems.size()) list += fmt::format("; and {} more", problems.size() - shown);
  throw FormatError(fmt::format("{}: {} tensor mismatch{} with the {} model: {}", file_.path().string(),
                                problems.size(), problems.size() == 1 ? "" : "es", info_.kind, list));
}

void save_checkpoint(const std::filesystem::path& path, const NamedTensors& tensors, const CheckpointInfo& info) {
  if (info.kind.empty()) throw Error(fmt::format("{}: checkpoint kind must not be empty", path.string()));
  Json json = Json::object();
  json["kind"] = info.kind;
  json["format_version"] = info.format_version;
  json["preset"] = info.preset;
  json["step"] = info.step;
  json["config"] = info.config;
  write_safetensors(path, tensors, {{"format", "pt"}, {kMetadataKey, json.dump()}}, /*checksum=*/true);
}

CheckpointInfo read_checkpoint_info(const std::filesystem::path& path) {
  return parse_info(SafetensorsFile::open(path));
}

}  // namespace hdv::core
