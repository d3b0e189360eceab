// Dataset readers: HD-VILA-100M JSONL, WebVid CSV, MSR-VTT JSON (see dataset.h; docs/design.md §5).
//
// References for the layouts: microsoft/XPretrain hd-vila (HD-VILA-100M metadata, clip ids
// "<video_id>.<k>.mp4", pre-cut clips at <video_id>/<clip_id>), the WebVid-10M CSVs
// (videoid,contentUrl,duration,page_dir,name), MSR-VTT's MSRVTT_data.json and the JSFusion /
// CLIP4Clip split files MSRVTT_JSFUSION_test.csv and MSRVTT_train.9k.csv.
#include "training/dataset.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <streambuf>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/error.h"
#include "core/log.h"
#include "models/tokenizer.h"

namespace hdv::train {

std::vector<std::string> text_field_names(const std::string& text_field) {
  std::vector<std::string> fields;
  for (size_t start = 0; start <= text_field.size();) {
    const size_t comma = std::min(text_field.find(',', start), text_field.size());
    std::string field = text_field.substr(start, comma - start);
    if (field.empty()) {
      throw core::ConfigError(fmt::format("text_field \"{}\": an empty field name in the list", text_field));
    }
    fields.push_back(std::move(field));
    start = comma + 1;
  }
  return fields;
}
namespace fs = std::filesystem;
namespace {

constexpr const char* kMetadataName = "metadata.jsonl";
constexpr const char* kClipTextName = "clip_text.jsonl";
constexpr const char* kLabelsName = "labels.jsonl";
constexpr const char* kMsrvttJsonNames[] = {"MSRVTT_data.json", "train_val_videodatainfo.json"};
constexpr const char* kJsfusionTestName = "MSRVTT_JSFUSION_test.csv";
constexpr const char* kTrain9kName = "MSRVTT_train.9k.csv";
// Whole source videos of HD-VILA-100M, tried in this order.
constexpr const char* kVideoExtensions[] = {".mp4", ".mkv", ".webm", ".avi"};

bool is_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

std::string where_at(const fs::path& file, int64_t line) { return fmt::format("{}:{}", file.string(), line); }

[[noreturn]] void fail_field(const std::string& where, const std::string& field, const std::string& problem) {
  throw core::FormatError(fmt::format("{}: field \"{}\": {}", where, field, problem));
}

// Ids become path components: keep them plain file names so metadata cannot point outside the
// dataset ("../../etc/passwd" as a clip id).
void check_plain_name(const std::string& name, const std::string& where, const std::string& field) {
  if (name.empty()) fail_field(where, field, "is empty");
  if (name == "." || name == ".." || name.find('/') != std::string::npos || name.find('\\') != std::string::npos) {
    fail_field(where, field, fmt::format("\"{}\" is not a plain file name (no '/', '\\', \".\" or \"..\")", name));
  }
}

std::string_view strip_bom(std::string_view text) {
  return text.substr(0, 3) == "\xEF\xBB\xBF" ? text.substr(3) : text;
}

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::ifstream open_input(const fs::path& path) {
  if (!is_file(path)) throw core::IoError(fmt::format("{}: no such file", path.string()));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw core::IoError(fmt::format("{}: cannot open for reading", path.string()));
  return in;
}

// Parses one JSONL line; errors name file:line and the column.
core::Json parse_jsonl_line(std::string_view line, const std::string& where) {
  try {
    return core::Json::parse(line.begin(), line.end());
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    auto colon = what.find(": ", what.find("parse error"));
    std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
    throw core::FormatError(fmt::format("{}: invalid JSON at column {}: {}", where, e.byte, reason));
  } catch (const nlohmann::json::exception& e) {
    // Well-formed text the parser still refuses, such as a number beyond double (1e400).
    const std::string what = e.what();
    const auto bracket = what.find("] ");
    throw core::FormatError(
        fmt::format("{}: invalid JSON: {}", where, bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }
}

// Calls f(line_number, object) for every non-blank line of a JSONL file; a line that is not a
// JSON object is an error naming file:line.
template <class F>
void for_each_jsonl_object(const fs::path& path, F&& f) {
  std::ifstream in = open_input(path);
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    std::string_view text = number == 1 ? strip_bom(line) : std::string_view(line);
    if (is_blank(text)) continue;
    const std::string where = where_at(path, number);
    core::Json value = parse_jsonl_line(text, where);
    if (!value.is_object()) {
      throw core::FormatError(fmt::format("{}: expected a JSON object, got {}", where, core::describe_json_value(value)));
    }
    f(number, where, value);
  }
  if (in.bad()) throw core::IoError(fmt::format("{}: read error", path.string()));
}

const core::Json& require_field(const core::Json& object, const std::string& key, const std::string& where,
                                const std::string& field) {
  auto it = object.find(key);
  if (it == object.end()) fail_field(where, field, "missing");
  return *it;
}

std::string require_string(const core::Json& object, const std::string& key, const std::string& where,
                           const std::string& field) {
  const core::Json& value = require_field(object, key, where, field);
  if (!value.is_string()) fail_field(where, field, "expected a string, got " + core::describe_json_value(value));
  return value.get<std::string>();
}

// A caption field: a string (one caption) or an array of strings; null, "" or [] = no caption.
std::vector<std::string> read_captions(const core::Json& value, const std::string& where, const std::string& field) {
  std::vector<std::string> texts;
  auto add = [&](const core::Json& item, const std::string& name) {
    if (!item.is_string()) fail_field(where, name, "expected a string, got " + core::describe_json_value(item));
    std::string text = item.get<std::string>();
    if (!is_blank(text)) texts.push_back(std::move(text));
  };
  if (value.is_null()) return texts;
  if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) add(value[i], fmt::format("{}[{}]", field, i));
  } else if (value.is_string()) {
    add(value, field);
  } else {
    fail_field(where, field, "expected a string or an array of strings, got " + core::describe_json_value(value));
  }
  return texts;
}

// Drops clips without captions and counts them; counts the kept clips without a video file
// (has_video[i] tells for dataset.clips[i]); warns once about each.
void finish_clips(Dataset& dataset, const std::vector<char>& has_video, const std::string& source,
                  const std::string& no_text, const std::string& looked_for) {
  const auto total = static_cast<int64_t>(dataset.clips.size());
  std::vector<ClipRecord> kept;
  kept.reserve(dataset.clips.size());
  for (size_t i = 0; i < dataset.clips.size(); ++i) {
    if (dataset.clips[i].texts.empty()) continue;
    if (!has_video[i]) ++dataset.clips_without_video;
    kept.push_back(std::move(dataset.clips[i]));
  }
  dataset.clips = std::move(kept);
  dataset.clips_without_text = total - static_cast<int64_t>(dataset.clips.size());
  if (dataset.clips_without_text > 0) {
    core::log_warning("{}: {} of {} clips have no caption ({}); they are left out", source,
                      dataset.clips_without_text, total, no_text);
  }
  if (dataset.clips_without_video > 0) {
    core::log_warning("{}: {} of {} clips have no video file (looked for {}); the loader will skip them", source,
                      dataset.clips_without_video, dataset.clips.size(), looked_for);
  }
}

// CSV (RFC 4180): comma-separated, fields optionally in double quotes, "" inside quotes is one ",
// quoted fields may hold commas and line breaks; CRLF or LF line ends.
class CsvReader {
 public:
  explicit CsvReader(const fs::path& path) : path_(path), in_(open_input(path)), buffer_(in_.rdbuf()) {
    if (peek() == 0xEF) {  // a UTF-8 byte-order mark (EF BB BF) is not part of the first column name
      get_char();
      if (get_char() != 0xBB || get_char() != 0xBF) {
        throw core::FormatError(fmt::format("{}:1: invalid UTF-8 at the start of the file", path_.string()));
      }
    }
  }

  // Reads the next record into `fields`; false at the end of the file. Blank lines are skipped.
  bool next(std::vector<std::string>& fields) {
    fields.clear();
    while (peek() == '\n' || peek() == '\r') {  // blank lines
      if (get_char() == '\n') ++line_;
    }
    if (peek() == kEnd) return false;
    record_line_ = line_;
    std::string field;
    for (;;) {
      field.clear();
      if (peek() == '"') {
        get_char();
        const int64_t opened = line_;
        for (;;) {
          int c = get_char();
          if (c == kEnd) {
            throw core::FormatError(fmt::format("{}: field {}: unterminated quoted field (the quote opened on line {} never closes)",
                                                where_at(path_, record_line_), fields.size() + 1, opened));
          }
          if (c == '"') {
            if (peek() != '"') break;
            get_char();
          }
          if (c == '\n') ++line_;
          field += static_cast<char>(c);
        }
        int after = peek();
        if (after != ',' && after != '\n' && after != '\r' && after != kEnd) {
          throw core::FormatError(fmt::format("{}: field {}: unexpected character '{}' after a closing quote",
                                              where_at(path_, line_), fields.size() + 1, static_cast<char>(after)));
        }
      } else {
        for (int c = peek(); c != ',' && c != '\n' && c != '\r' && c != kEnd; c = peek()) {
          if (c == '"') {
            throw core::FormatError(fmt::format(
                "{}: field {}: a quote inside an unquoted field (quote the whole field and double inner quotes)",
                where_at(path_, line_), fields.size() + 1));
          }
          field += static_cast<char>(get_char());
        }
      }
      fields.push_back(field);
      int c = get_char();
      if (c == ',') continue;
      if (c == '\r' && peek() == '\n') c = get_char();
      if (c == '\n' || c == '\r') ++line_;
      return true;  // end of line or of file
    }
  }

  // Line on which the last record returned by next() starts.
  int64_t record_line() const { return record_line_; }
  const fs::path& path() const { return path_; }

 private:
  static constexpr int kEnd = std::char_traits<char>::eof();
  int peek() { return buffer_->sgetc(); }
  int get_char() { return buffer_->sbumpc(); }

  fs::path path_;
  std::ifstream in_;
  std::streambuf* buffer_;
  int64_t line_ = 1;
  int64_t record_line_ = 1;
};

// A CSV file with a header: column lookup by name and per-row checks.
class CsvTable {
 public:
  CsvTable(const fs::path& path, const std::vector<std::string>& required) : reader_(path) {
    if (!reader_.next(header_)) throw core::FormatError(fmt::format("{}: empty file (expected a header line)", path.string()));
    for (const std::string& name : required) {
      auto it = std::find(header_.begin(), header_.end(), name);
      if (it == header_.end()) {
        throw core::FormatError(fmt::format("{}: missing column \"{}\" (the header has: {})", path.string(), name,
                                            fmt::join(header_, ", ")));
      }
      columns_[name] = static_cast<size_t>(it - header_.begin());
    }
  }

  bool next() {
    if (!reader_.next(row_)) return false;
    if (row_.size() != header_.size()) {
      throw core::FormatError(fmt::format("{}: expected {} fields (as the header), found {}", where(), header_.size(), row_.size()));
    }
    return true;
  }

  const std::string& get(const std::string& column) const { return row_[columns_.at(column)]; }
  std::string where() const { return where_at(reader_.path(), reader_.record_line()); }
  int64_t line() const { return reader_.record_line(); }

 private:
  CsvReader reader_;
  std::vector<std::string> header_;
  std::vector<std::string> row_;
  std::unordered_map<std::string, size_t> columns_;
};

// HD-VILA-100M (and SynthVid).

Dataset read_hdvila(const fs::path& metadata, const DataSpec& spec) {
  Dataset dataset;
  dataset.format = "hdvila";
  dataset.root = metadata.parent_path();
  const fs::path video_root = spec.video_root.empty() ? dataset.root : spec.video_root;

  std::vector<char> has_video;                       // per clip of dataset.clips
  std::unordered_map<std::string, size_t> index_of;  // clip_id -> position in dataset.clips
  std::unordered_map<std::string, int64_t> line_of;  // clip_id -> metadata line, for duplicates
  for_each_jsonl_object(metadata, [&](int64_t line, const std::string& where, const core::Json& object) {
    const std::string video_id = require_string(object, "video_id", where, "video_id");
    check_plain_name(video_id, where, "video_id");
    if (auto url = object.find("url"); url != object.end() && !url->is_string() && !url->is_null()) {
      fail_field(where, "url", "expected a string, got " + core::describe_json_value(*url));
    }
    const core::Json& clips = require_field(object, "clip", where, "clip");
    if (!clips.is_array()) fail_field(where, "clip", "expected an array of clips, got " + core::describe_json_value(clips));

    // Whole source video, the fallback for clips that are not pre-cut (looked up once per video).
    fs::path whole_video;
    for (const char* extension : kVideoExtensions) {
      fs::path candidate = video_root / "videos" / (video_id + extension);
      if (is_file(candidate)) {
        whole_video = candidate;
        break;
      }
    }
    for (size_t i = 0; i < clips.size(); ++i) {
      const std::string field = fmt::format("clip[{}]", i);
      const core::Json& clip = clips[i];
      if (!clip.is_object()) fail_field(where, field, "expected an object, got " + core::describe_json_value(clip));
      ClipRecord record;
      record.video_id = video_id;
      record.clip_id = require_string(clip, "clip_id", where, field + ".clip_id");
      check_plain_name(record.clip_id, where, field + ".clip_id");
      const core::Json& span = require_field(clip, "span", where, field + ".span");
      if (!span.is_array() || span.size() != 2) {
        fail_field(where, field + ".span", "expected an array of 2 time codes, got " + core::describe_json_value(span));
      }
      double bounds[2];
      for (size_t k = 0; k < 2; ++k) {
        const std::string name = fmt::format("{}.span[{}]", field, k);
        if (!span[k].is_string()) fail_field(where, name, "expected a time code string, got " + core::describe_json_value(span[k]));
        bounds[k] = core::parse_timecode(span[k].get<std::string>(), fmt::format("{}: field \"{}\"", where, name));
      }
      if (bounds[1] <= bounds[0]) {
        fail_field(where, field + ".span",
                   fmt::format("end {} is not after start {}", span[1].get<std::string>(), span[0].get<std::string>()));
      }
      auto [seen, inserted] = line_of.emplace(record.clip_id, line);
      if (!inserted) {
        fail_field(where, field + ".clip_id",
                   fmt::format("duplicate clip_id \"{}\" (first seen on line {})", record.clip_id, seen->second));
      }
      const fs::path pre_cut = video_root / "video_clips" / video_id / record.clip_id;
      has_video.push_back(1);
      if (is_file(pre_cut)) {
        record.video = pre_cut;
      } else if (!whole_video.empty()) {
        record.video = whole_video;
        record.span = core::TimeSpan{bounds[0], bounds[1]};
      } else {
        record.video = pre_cut;  // neither exists: the loader reports this path when it skips the clip
        has_video.back() = 0;
      }
      index_of.emplace(record.clip_id, dataset.clips.size());
      dataset.clips.push_back(std::move(record));
    }
  });

  // Captions.
  const fs::path text_path = dataset.root / kClipTextName;
  if (!is_file(text_path)) {
    throw core::IoError(fmt::format("{}: no such file (the captions of {}; HD-VILA-100M keeps {} beside {})",
                                    text_path.string(), metadata.string(), kClipTextName, kMetadataName));
  }
  std::unordered_map<std::string, int64_t> text_line_of;
  int64_t unknown_text_ids = 0;
  const std::vector<std::string> text_fields = text_field_names(spec.text_field);
  for_each_jsonl_object(text_path, [&](int64_t line, const std::string& where, const core::Json& object) {
    const std::string clip_id = require_string(object, "clip_id", where, "clip_id");
    auto [seen, inserted] = text_line_of.emplace(clip_id, line);
    if (!inserted) {
      fail_field(where, "clip_id", fmt::format("duplicate clip_id \"{}\" (first seen on line {})", clip_id, seen->second));
    }
    auto it = index_of.find(clip_id);
    if (it == index_of.end()) {
      ++unknown_text_ids;
      return;
    }
    std::vector<std::string>& texts = dataset.clips[it->second].texts;
    for (const std::string& field : text_fields) {
      auto text = object.find(field);
      if (text == object.end()) continue;  // no caption of this kind: counted below when none is left
      for (std::string& caption : read_captions(*text, where, field)) texts.push_back(std::move(caption));
    }
  });
  if (unknown_text_ids > 0) {
    core::log_debug("{}: {} lines name clips that {} does not list", text_path.string(), unknown_text_ids,
                    metadata.string());
  }

  // Labels (SynthVid): optional.
  const fs::path labels_path = dataset.root / kLabelsName;
  if (is_file(labels_path)) {
    std::unordered_map<std::string, int64_t> label_line_of;
    for_each_jsonl_object(labels_path, [&](int64_t line, const std::string& where, const core::Json& object) {
      const std::string clip_id = require_string(object, "clip_id", where, "clip_id");
      auto [seen, inserted] = label_line_of.emplace(clip_id, line);
      if (!inserted) {
        fail_field(where, "clip_id", fmt::format("duplicate clip_id \"{}\" (first seen on line {})", clip_id, seen->second));
      }
      if (auto it = index_of.find(clip_id); it != index_of.end()) dataset.clips[it->second].labels = object;
    });
  }

  finish_clips(dataset, has_video, metadata.string(),
               fmt::format("field \"{}\" of {} absent or empty", spec.text_field, text_path.string()),
               fmt::format("{}/video_clips/<video_id>/<clip_id> and {}/videos/<video_id>.{{mp4,mkv,webm,avi}}",
                                  video_root.string(), video_root.string()));
  return dataset;
}

// WebVid.

Dataset read_webvid(const fs::path& csv, const DataSpec& spec) {
  Dataset dataset;
  dataset.format = "webvid";
  dataset.root = csv.parent_path();
  const fs::path video_root = spec.video_root.empty() ? dataset.root : spec.video_root;
  CsvTable table(csv, {"videoid", "name", "page_dir"});
  std::vector<char> has_video;
  std::unordered_map<std::string, int64_t> line_of;
  while (table.next()) {
    const std::string where = table.where();
    ClipRecord record;
    record.clip_id = record.video_id = table.get("videoid");
    check_plain_name(record.video_id, where, "videoid");
    const std::string& page_dir = table.get("page_dir");
    check_plain_name(page_dir, where, "page_dir");
    auto [seen, inserted] = line_of.emplace(record.video_id, table.line());
    if (!inserted) {
      fail_field(where, "videoid", fmt::format("duplicate videoid \"{}\" (first seen on line {})", record.video_id, seen->second));
    }
    if (!is_blank(table.get("name"))) record.texts.push_back(table.get("name"));
    record.video = video_root / "videos" / page_dir / (record.video_id + ".mp4");
    has_video.push_back(is_file(record.video));
    dataset.clips.push_back(std::move(record));
  }
  finish_clips(dataset, has_video, csv.string(), "column \"name\" empty",
               video_root.string() + "/videos/<page_dir>/<videoid>.mp4");
  return dataset;
}

// MSR-VTT.

struct MsrvttJson {
  std::vector<std::pair<std::string, std::string>> videos;             // (video_id, split) in file order
  std::unordered_map<std::string, std::vector<std::string>> sentences;  // video_id -> captions
};

MsrvttJson read_msrvtt_json(const fs::path& path) {
  const core::Json json = core::read_json_file(path);
  const std::string where = path.string();
  if (!json.is_object()) {
    throw core::FormatError(fmt::format("{}: expected a JSON object with \"videos\" and \"sentences\", got {}", where,
                                        core::describe_json_value(json)));
  }
  MsrvttJson result;
  const core::Json& videos = require_field(json, "videos", where, "videos");
  if (!videos.is_array()) fail_field(where, "videos", "expected an array, got " + core::describe_json_value(videos));
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < videos.size(); ++i) {
    const std::string field = fmt::format("videos[{}]", i);
    if (!videos[i].is_object()) fail_field(where, field, "expected an object, got " + core::describe_json_value(videos[i]));
    std::string video_id = require_string(videos[i], "video_id", where, field + ".video_id");
    check_plain_name(video_id, where, field + ".video_id");
    std::string split = require_string(videos[i], "split", where, field + ".split");
    if (auto [it, inserted] = seen.emplace(video_id, i); !inserted) {
      fail_field(where, field + ".video_id", fmt::format("duplicate video_id \"{}\" (first at videos[{}])", video_id, it->second));
    }
    result.videos.emplace_back(std::move(video_id), std::move(split));
  }
  const core::Json& sentences = require_field(json, "sentences", where, "sentences");
  if (!sentences.is_array()) fail_field(where, "sentences", "expected an array, got " + core::describe_json_value(sentences));
  for (size_t i = 0; i < sentences.size(); ++i) {
    const std::string field = fmt::format("sentences[{}]", i);
    if (!sentences[i].is_object()) fail_field(where, field, "expected an object, got " + core::describe_json_value(sentences[i]));
    std::string video_id = require_string(sentences[i], "video_id", where, field + ".video_id");
    std::string caption = require_string(sentences[i], "caption", where, field + ".caption");
    if (!is_blank(caption)) result.sentences[video_id].push_back(std::move(caption));
  }
  return result;
}

std::vector<std::string> msrvtt_split_names() { return {"train", "validate", "val", "test", "1k-a-test", "9k-train"}; }

// The first JSON of kMsrvttJsonNames in dir; empty when there is none.
fs::path find_msrvtt_json(const fs::path& dir) {
  for (const char* name : kMsrvttJsonNames) {
    if (is_file(dir / name)) return dir / name;
  }
  return {};
}

Dataset read_msrvtt(const fs::path& dir, const fs::path& json_path, const DataSpec& spec) {
  Dataset dataset;
  dataset.format = "msrvtt";
  dataset.root = dir;
  const fs::path video_root = spec.video_root.empty() ? dir : spec.video_root;
  std::vector<char> has_video;
  auto video_path = [&](const std::string& video_id) {
    fs::path flat = video_root / "videos" / (video_id + ".mp4");
    fs::path all = video_root / "videos" / "all" / (video_id + ".mp4");
    const bool flat_found = is_file(flat);
    const bool use_all = !flat_found && is_file(all);
    has_video.push_back(flat_found || use_all);
    return use_all ? all : flat;
  };
  auto require_json = [&]() {
    if (json_path.empty()) {
      throw core::IoError(fmt::format("{}: no {} or {} (the MSR-VTT annotations; split \"{}\" needs them)", dir.string(),
                                      kMsrvttJsonNames[0], kMsrvttJsonNames[1], spec.split));
    }
    return read_msrvtt_json(json_path);
  };
  auto require_split_file = [&](const char* name) {
    const fs::path path = dir / name;
    if (!is_file(path)) {
      throw core::IoError(fmt::format("{}: no such file (split \"{}\" is read from {} beside the MSR-VTT annotations)",
                                      path.string(), spec.split, name));
    }
    return path;
  };

  std::string source = json_path.string();
  if (spec.split == "1k-a-test") {
    // JSFusion's 1k-A test split: one clip per row, that row's sentence only.
    const fs::path csv = require_split_file(kJsfusionTestName);
    source = csv.string();
    CsvTable table(csv, {"key", "video_id", "sentence"});
    std::unordered_map<std::string, int64_t> line_of;
    while (table.next()) {
      const std::string where = table.where();
      ClipRecord record;
      record.clip_id = table.get("key");
      if (record.clip_id.empty()) fail_field(where, "key", "is empty");
      auto [seen, inserted] = line_of.emplace(record.clip_id, table.line());
      if (!inserted) fail_field(where, "key", fmt::format("duplicate key \"{}\" (first seen on line {})", record.clip_id, seen->second));
      record.video_id = table.get("video_id");
      check_plain_name(record.video_id, where, "video_id");
      if (!is_blank(table.get("sentence"))) record.texts.push_back(table.get("sentence"));
      record.video = video_path(record.video_id);
      dataset.clips.push_back(std::move(record));
    }
  } else if (spec.split == "9k-train") {
    const fs::path csv = require_split_file(kTrain9kName);
    MsrvttJson json = require_json();
    std::unordered_set<std::string> listed;
    for (const auto& video : json.videos) listed.insert(video.first);
    CsvTable table(csv, {"video_id"});
    while (table.next()) {
      const std::string where = table.where();
      ClipRecord record;
      record.clip_id = record.video_id = table.get("video_id");
      check_plain_name(record.video_id, where, "video_id");
      auto it = json.sentences.find(record.video_id);
      if (listed.count(record.video_id) == 0) fail_field(where, "video_id", fmt::format("\"{}\" is not a video of {}", record.video_id, json_path.string()));
      if (it != json.sentences.end()) record.texts = it->second;
      record.video = video_path(record.video_id);
      dataset.clips.push_back(std::move(record));
    }
  } else {
    std::string wanted = spec.split == "val" ? "validate" : spec.split;
    if (!wanted.empty() && wanted != "train" && wanted != "validate" && wanted != "test") {
      throw core::ConfigError(fmt::format("MSR-VTT split \"{}\": expected one of {} (or \"\" for every video)", spec.split,
                                          fmt::join(msrvtt_split_names(), ", ")));
    }
    MsrvttJson json = require_json();
    for (const auto& [video_id, split] : json.videos) {
      if (!wanted.empty() && split != wanted) continue;
      ClipRecord record;
      record.clip_id = record.video_id = video_id;
      if (auto it = json.sentences.find(video_id); it != json.sentences.end()) record.texts = it->second;
      record.video = video_path(video_id);
      dataset.clips.push_back(std::move(record));
    }
    if (dataset.clips.empty() && !wanted.empty()) {
      throw core::FormatError(fmt::format("{}: no video has \"split\": \"{}\"", json_path.string(), wanted));
    }
  }
  finish_clips(dataset, has_video, source, "no sentence",
               video_root.string() + "/videos/<video_id>.mp4 and " + video_root.string() + "/videos/all/<video_id>.mp4");
  return dataset;
}

// Resolution of DataSpec::path to a format and a file.

struct Resolved {
  std::string format;
  fs::path file;  // the metadata file (msrvtt: the JSON, empty when only the split CSV is there)
  fs::path dir;   // the folder holding it
};

fs::path hdvila_metadata(const fs::path& dir, const std::string& split) {
  return split.empty() ? dir / kMetadataName : dir / split / kMetadataName;
}

// *.csv files of dir (with a split: those whose name contains it), sorted.
std::vector<fs::path> csv_candidates(const fs::path& dir, const std::string& split) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::path& path = entry.path();
    if (path.extension() != ".csv" || !is_file(path)) continue;
    if (!split.empty() && path.filename().string().find(split) == std::string::npos) continue;
    found.push_back(path);
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string describe_csvs(const std::vector<fs::path>& found) {
  std::vector<std::string> names;
  for (const auto& path : found) names.push_back(path.filename().string());
  return found.empty() ? "found none" : fmt::format("found {}", fmt::join(names, ", "));
}

Resolved resolve_folder(const fs::path& dir, const DataSpec& spec) {
  const std::string& format = spec.format;
  const std::string csv_wanted = spec.split.empty() ? "exactly one *.csv"
                                                    : fmt::format("exactly one *.csv whose name contains \"{}\"", spec.split);
  if (format == "hdvila" || format == "auto") {
    fs::path metadata = hdvila_metadata(dir, spec.split);
    if (is_file(metadata)) return {"hdvila", metadata, metadata.parent_path()};
    // A split names a sub-folder; an unsplit folder is not silently read whole for it (it could be
    // the training data of a "test" request).
    if (!spec.split.empty() && is_file(dir / kMetadataName)) {
      throw core::ConfigError(fmt::format(
          "{}: no split folder \"{}\" ({} does not exist); the folder holds one unsplit HD-VILA dataset ({}): pass no "
          "split (--split \"\") or the metadata file",
          dir.string(), spec.split, metadata.string(), (dir / kMetadataName).string()));
    }
    if (format == "hdvila") {
      throw core::IoError(fmt::format("{}: no such file (an HD-VILA dataset folder holds {}, or <split>/{} when a split is given)",
                                      metadata.string(), kMetadataName, kMetadataName));
    }
  }
  if (format == "msrvtt" || format == "auto") {
    fs::path json = find_msrvtt_json(dir);
    if (!json.empty() || (spec.split == "1k-a-test" && is_file(dir / kJsfusionTestName))) return {"msrvtt", json, dir};
    if (format == "msrvtt") {
      throw core::IoError(fmt::format("{}: no {} or {} (the MSR-VTT annotations)", dir.string(), kMsrvttJsonNames[0],
                                      kMsrvttJsonNames[1]));
    }
  }
  std::vector<fs::path> csvs = csv_candidates(dir, spec.split);
  if (csvs.size() == 1 && (format == "webvid" || format == "auto")) return {"webvid", csvs[0], dir};
  if (format == "webvid") {
    throw core::IoError(fmt::format("{}: expected {} (a WebVid CSV), {}", dir.string(), csv_wanted, describe_csvs(csvs)));
  }
  throw core::FormatError(fmt::format(
      "{}: cannot tell the dataset format: looked for {} (hdvila), {} or {} (msrvtt) and {} (webvid), {}; "
      "pass the format or a metadata file",
      dir.string(), hdvila_metadata(dir, spec.split).string(), kMsrvttJsonNames[0], kMsrvttJsonNames[1], csv_wanted,
      describe_csvs(csvs)));
}

Resolved resolve_file(const fs::path& file, const DataSpec& spec) {
  std::string format = spec.format;
  const std::string extension = file.extension().string();
  if (format == "auto") {
    if (extension == ".jsonl") format = "hdvila";
    else if (extension == ".csv") format = "webvid";
    else if (extension == ".json") format = "msrvtt";
    else {
      throw core::FormatError(fmt::format(
          "{}: cannot tell the dataset format from the extension \"{}\" (expected .jsonl for hdvila, .csv for webvid, "
          ".json for msrvtt); pass the format",
          file.string(), extension));
    }
  }
  if (format != "msrvtt" && !spec.split.empty()) {
    // The file itself is the selection: a split (a sub-folder or file name filter) has nothing to pick.
    core::log_info("{}: a {} metadata file is read whole; split \"{}\" does not apply", file.string(), format, spec.split);
  }
  return {format, file, file.parent_path()};
}

}  // namespace

std::vector<std::string> dataset_format_names() { return {"auto", "hdvila", "webvid", "msrvtt"}; }

Dataset load_dataset(const DataSpec& spec) {
  const auto names = dataset_format_names();
  if (std::find(names.begin(), names.end(), spec.format) == names.end()) {
    throw core::ConfigError(fmt::format("dataset format \"{}\": expected one of {}", spec.format, fmt::join(names, ", ")));
  }
  if (spec.text_field.empty()) throw core::ConfigError("dataset text_field must not be empty");
  std::error_code ec;
  if (!fs::exists(spec.path, ec)) throw core::IoError(fmt::format("{}: no such file or folder", spec.path.string()));
  const Resolved resolved = fs::is_directory(spec.path, ec) ? resolve_folder(spec.path, spec) : resolve_file(spec.path, spec);

  Dataset dataset;
  if (resolved.format == "hdvila") dataset = read_hdvila(resolved.file, spec);
  else if (resolved.format == "webvid") dataset = read_webvid(resolved.file, spec);
  else dataset = read_msrvtt(resolved.dir, resolved.file, spec);

  if (dataset.clips.empty()) {
    throw core::FormatError(fmt::format("{}: the {} dataset{} has no clip with a caption ({} without)", spec.path.string(),
                                        dataset.format, spec.split.empty() ? "" : " split \"" + spec.split + "\"",
                                        dataset.clips_without_text));
  }
  core::log_info("dataset {} ({}{}): {} clips", spec.path.string(), dataset.format,
                 spec.split.empty() ? "" : ", split " + spec.split, dataset.clips.size());
  return dataset;
}

std::vector<UnknownTokenShare> unknown_token_shares(const Dataset& dataset, const std::string& text_field,
                                                    const models::Tokenizer& tokenizer, int64_t sample_clips) {
  const std::vector<std::string> fields = text_field_names(text_field);
  const size_t clips = std::min<size_t>(dataset.clips.size(), static_cast<size_t>(std::max<int64_t>(0, sample_clips)));
  bool per_field = fields.size() > 1;
  for (size_t i = 0; i < clips && per_field; ++i) per_field = dataset.clips[i].texts.size() == fields.size();
  std::vector<UnknownTokenShare> shares(per_field ? fields.size() : 1);
  for (size_t f = 0; f < shares.size(); ++f) shares[f].field = per_field ? fields[f] : std::string("captions");
  const int64_t unk = tokenizer.unk_id();
  for (size_t i = 0; i < clips; ++i) {
    const auto& texts = dataset.clips[i].texts;
    for (size_t t = 0; t < texts.size(); ++t) {
      UnknownTokenShare& share = shares[per_field ? t : 0];
      const std::vector<int64_t> ids = tokenizer.encode(texts[t]);
      const int64_t unknown = std::count(ids.begin(), ids.end(), unk);
      share.tokens += static_cast<int64_t>(ids.size());
      share.unknown += unknown;
      if (unknown > share.example_unknown) {
        share.example = texts[t];
        share.example_unknown = unknown;
        share.example_tokens = static_cast<int64_t>(ids.size());
      }
    }
  }
  return shares;
}

std::vector<std::string> unknown_token_warnings(const std::vector<UnknownTokenShare>& shares, double threshold) {
  std::vector<std::string> warnings;
  for (const UnknownTokenShare& share : shares) {
    if (share.tokens == 0 || share.share() <= threshold) continue;
    warnings.push_back(fmt::format(
        "{}: {:.0f}% of the word pieces are [UNK] with this vocabulary (e.g. \"{}\" -> {} of {}): the text tower "
        "cannot read these captions; use a vocabulary that covers their script (hdvila-train vocab-extend adds "
        "the missing characters to a model and its vocab.txt), or leave the field out of --text-field",
        share.field, 100.0 * share.share(), share.example, share.example_unknown, share.example_tokens));
  }
  return warnings;
}

}  // namespace hdv::train
