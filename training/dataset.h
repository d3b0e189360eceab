// Video-text dataset readers: the metadata formats users have (docs/design.md §5 "Data formats") read
// into one list of clips, each a video file (or a time span of one) with its captions.
//
//   hdvila  HD-VILA-100M: metadata JSONL (one line per source video, its clips with spans), clip
//           text JSONL beside it, optional labels JSONL (SynthVid); videos pre-cut at
//           video_clips/<video_id>/<clip_id> or whole at videos/<video_id>.<ext>, cut by span.
//   webvid  WebVid CSV (RFC 4180): columns videoid, name (the caption), page_dir; videos at
//           videos/<page_dir>/<videoid>.mp4.
//   msrvtt  MSR-VTT JSON (MSRVTT_data.json / train_val_videodatainfo.json): videos + sentences,
//           splits train / validate / test from the JSON, the JSFusion 1k-A test split
//           (MSRVTT_JSFUSION_test.csv) and the 9k training split (MSRVTT_train.9k.csv).
// docs/formats.md "Datasets" describes the layouts for users. Reading only checks the metadata
// and which video files exist; decoding happens later (clip_sampler.h), where a missing or corrupt
// video is skipped and counted by the loader rather than failing a long run.
//
// Every malformed input is a core::FormatError naming the file, the line (JSONL, CSV) and the
// field: "metadata.jsonl:3: field \"clip[0].span[1]\": expected HH:MM:SS.mmm, got \"1:xx\"".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/timecode.h"

namespace hdv::models {
class Tokenizer;
}

namespace hdv::train {

struct ClipRecord {
  std::string clip_id;                 // unique in the dataset
  std::string video_id;                // the source video the clip comes from
  std::filesystem::path video;         // the file to decode
  std::optional<core::TimeSpan> span;  // when set, the clip is this span of `video`; else the whole file
  std::vector<std::string> texts;      // captions, never empty (HD-VILA, WebVid: 1; MSR-VTT: ~20)
  core::Json labels;                   // the clip's labels.jsonl line (SynthVid); null otherwise
};

struct DataSpec {
  std::filesystem::path path;         // a dataset folder or a metadata file
  std::string split;                  // e.g. "train", "test", "1k-a-test"; "" = none
  std::string format = "auto";        // auto | hdvila | webvid | msrvtt
  std::string text_field = "text";    // which field of clip_text.jsonl is the caption (hdvila); a
                                      // comma-separated list ("text,text_zh") gives each clip the
                                      // captions of every field, in that order (training draws one;
                                      // evaluation reads the first: the first field's)
  std::filesystem::path video_root;   // replaces the dataset root when looking for videos; "" = default
};

struct Dataset {
  std::string format;                 // hdvila | webvid | msrvtt (what was read)
  std::filesystem::path root;         // folder of the metadata file
  std::vector<ClipRecord> clips;      // in metadata order
  int64_t clips_without_text = 0;     // dropped: no caption (empty or absent)
  int64_t clips_without_video = 0;    // kept, but no video file was found at load time
};

// Format names accepted by DataSpec::format.
std::vector<std::string> dataset_format_names();

// "text,text_zh" -> {"text", "text_zh"}; throws core::ConfigError on an empty name in the list.
std::vector<std::string> text_field_names(const std::string& text_field);

// Resolves spec (auto-detection, split folders/files), reads the metadata and returns the clips.
// Throws core::IoError for missing files, core::FormatError for malformed ones (naming file, line
// and field), core::ConfigError for an unknown format or split name, and core::FormatError when
// no clip is left.
//
// Auto-detection, for a folder DIR (with split S, "DIR/S/" below stands for the split folder):
//   hdvila  if DIR/S/metadata.jsonl (or DIR/metadata.jsonl without a split) exists;
//   msrvtt  else if DIR/MSRVTT_data.json or DIR/train_val_videodatainfo.json exists (or, for the
//           1k-a-test split, DIR/MSRVTT_JSFUSION_test.csv);
//   webvid  else if DIR holds exactly one *.csv (with a split: exactly one whose name contains S).
// A split of a folder that holds an unsplit HD-VILA dataset (DIR/metadata.jsonl) is a
// core::ConfigError rather than the whole folder. A file is read by its extension: .jsonl hdvila,
// .csv webvid, .json msrvtt; an hdvila or webvid file is read whole (a split does not apply).
Dataset load_dataset(const DataSpec& spec);

// How much of a dataset's captions a vocabulary cannot read. Over (up to) the first `sample_clips`
// clips, the share of word pieces that are [UNK], per caption field when every sampled clip has
// one caption per field of `text_field` (SynthVid: "text,text_zh"), else over all captions.
struct UnknownTokenShare {
  std::string field;      // the field name, or "captions" when not per field
  int64_t tokens = 0;     // word pieces counted (specials excluded)
  int64_t unknown = 0;    // of those, [UNK]
  std::string example;    // the sampled caption with the most [UNK]s
  int64_t example_unknown = 0, example_tokens = 0;
  double share() const { return tokens > 0 ? double(unknown) / double(tokens) : 0.0; }
};
std::vector<UnknownTokenShare> unknown_token_shares(const Dataset& dataset, const std::string& text_field,
                                                    const models::Tokenizer& tokenizer, int64_t sample_clips = 500);
// "text_zh: 71% of the word pieces are [UNK] with this vocabulary (e.g. "..." -> 31 of 44): ..."
// for every share above `threshold`; empty when none is.
std::vector<std::string> unknown_token_warnings(const std::vector<UnknownTokenShare>& shares, double threshold = 0.05);

}  // namespace hdv::train
