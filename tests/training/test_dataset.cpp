// Tests for training/dataset.h: the HD-VILA-100M, WebVid and MSR-VTT readers on small fixture
// files written per test (video files are empty placeholders: reading only checks they exist),
// their exact error texts, split selection and format auto-detection.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/tokenizer.h"
#include "tests/core/test_support.h"
#include "training/dataset.h"

namespace hdv::train {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using Strings = std::vector<std::string>;

// DataSpec with named setters: Spec(dir).split("train").text_field("text_asr").
struct Spec {
  DataSpec spec;
  explicit Spec(fs::path path) { spec.path = std::move(path); }
  Spec& split(std::string value) { spec.split = std::move(value); return *this; }
  Spec& format(std::string value) { spec.format = std::move(value); return *this; }
  Spec& text_field(std::string value) { spec.text_field = std::move(value); return *this; }
  Spec& video_root(fs::path value) { spec.video_root = std::move(value); return *this; }
  operator const DataSpec&() const { return spec; }
};

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  test::write_bytes(path, text);
}

void touch(const fs::path& path) { write_file(path, ""); }

const ClipRecord* find_clip(const Dataset& dataset, const std::string& clip_id) {
  for (const ClipRecord& clip : dataset.clips) {
    if (clip.clip_id == clip_id) return &clip;
  }
  return nullptr;
}

Strings clip_ids(const Dataset& dataset) {
  Strings ids;
  for (const ClipRecord& clip : dataset.clips) ids.push_back(clip.clip_id);
  return ids;
}

// An HD-VILA-100M split folder: vidA has a pre-cut clip and a whole video (.mkv) for the other;
// vidB and vidC have no video file at all.
void write_hdvila_split(const fs::path& split_dir) {
  write_file(split_dir / "metadata.jsonl",
             R"({"video_id": "vidA", "url": "https://youtu.be/vidA", "clip": [{"clip_id": "vidA.0.mp4", "span": ["00:00:01.000", "00:00:03.500"]}, {"clip_id": "vidA.1.mp4", "span": ["00:00:05.000", "00:00:09.250"]}]})"
             "\n"
             R"({"video_id": "vidB", "url": "https://youtu.be/vidB", "clip": [{"clip_id": "vidB.0.mp4", "span": ["00:01:00.000", "00:01:02.000"]}]})"
             "\r\n\n"
             R"({"video_id": "vidC", "url": "https://youtu.be/vidC", "clip": [{"clip_id": "vidC.0.mp4", "span": ["0:10.5", "0:12"]}]})"
             "\n");
  write_file(split_dir / "clip_text.jsonl",
             R"({"clip_id": "vidA.0.mp4", "text": "a man cooks pasta"})"
             "\n"
             R"({"clip_id": "vidA.1.mp4", "text": "", "text_asr": "so today we cook"})"
             "\n"
             R"({"clip_id": "vidB.0.mp4", "text": "a dog, running"})"
             "\n"
             R"({"clip_id": "vidC.0.mp4", "text_asr": "hello there"})"
             "\n"
             R"({"clip_id": "unknown.0.mp4", "text": "not in the metadata"})"
             "\n");
  write_file(split_dir / "labels.jsonl", R"({"clip_id": "vidA.0.mp4", "colour": "red", "motion": "left"})" "\n");
  touch(split_dir / "video_clips" / "vidA" / "vidA.0.mp4");
  touch(split_dir / "videos" / "vidA.mkv");
}

TEST(HdVilaDataset, ReadsPreCutAndSpanClipsWithTextAndLabels) {
  TempDir dir;
  const fs::path split = dir / "train";
  write_hdvila_split(split);
  Dataset dataset = load_dataset(Spec(dir.path()).split("train"));
  EXPECT_EQ(dataset.format, "hdvila");
  EXPECT_EQ(dataset.root, split);
  // vidA.1 has an empty "text", vidC.0 none: both left out and counted.
  EXPECT_EQ(clip_ids(dataset), (Strings{"vidA.0.mp4", "vidB.0.mp4"}));
  EXPECT_EQ(dataset.clips_without_text, 2);
  EXPECT_EQ(dataset.clips_without_video, 1);

  const ClipRecord& pre_cut = dataset.clips[0];
  EXPECT_EQ(pre_cut.video_id, "vidA");
  EXPECT_EQ(pre_cut.video, split / "video_clips" / "vidA" / "vidA.0.mp4");
  EXPECT_FALSE(pre_cut.span.has_value());  // a pre-cut file is the clip
  EXPECT_EQ(pre_cut.texts, (Strings{"a man cooks pasta"}));
  EXPECT_EQ(pre_cut.labels.at("colour"), "red");
  EXPECT_EQ(pre_cut.labels.at("motion"), "left");

  const ClipRecord& missing = dataset.clips[1];
  EXPECT_EQ(missing.video, split / "video_clips" / "vidB" / "vidB.0.mp4");  // the path a skip will name
  EXPECT_EQ(missing.texts, (Strings{"a dog, running"}));
  EXPECT_TRUE(missing.labels.is_null());
}

TEST(HdVilaDataset, TextFieldChoosesTheCaptionAndWholeVideosAreCutBySpan) {
  TempDir dir;
  write_hdvila_split(dir / "train");
  Dataset dataset = load_dataset(Spec(dir / "train" / "metadata.jsonl").text_field("text_asr"));
  EXPECT_EQ(clip_ids(dataset), (Strings{"vidA.1.mp4", "vidC.0.mp4"}));
  EXPECT_EQ(dataset.clips_without_text, 2);

  const ClipRecord& whole = dataset.clips[0];
  EXPECT_EQ(whole.video, dir / "train" / "videos" / "vidA.mkv");
  ASSERT_TRUE(whole.span.has_value());
  EXPECT_DOUBLE_EQ(whole.span->start, 5.0);
  EXPECT_DOUBLE_EQ(whole.span->end, 9.25);
  EXPECT_EQ(whole.texts, (Strings{"so today we cook"}));

  const ClipRecord& short_codes = dataset.clips[1];  // "MM:SS.mmm" and "MM:SS" time codes
  EXPECT_EQ(short_codes.texts, (Strings{"hello there"}));
  EXPECT_FALSE(short_codes.span.has_value());  // no video file at all: kept, no span
}

TEST(HdVilaDataset, VideoRootReplacesTheDatasetFolderForVideos) {
  TempDir dir;
  write_hdvila_split(dir / "train");
  touch(dir / "media" / "video_clips" / "vidB" / "vidB.0.mp4");
  Dataset dataset = load_dataset(Spec(dir.path()).split("train").video_root(dir / "media"));
  ASSERT_NE(find_clip(dataset, "vidB.0.mp4"), nullptr);
  EXPECT_EQ(find_clip(dataset, "vidB.0.mp4")->video, dir / "media" / "video_clips" / "vidB" / "vidB.0.mp4");
  EXPECT_EQ(dataset.clips_without_video, 1);  // vidA.0's pre-cut file is not under media/
}

TEST(HdVilaDataset, CaptionsMayBeAnArrayOfStrings) {
  TempDir dir;
  write_file(dir / "metadata.jsonl", R"({"video_id": "v", "clip": [{"clip_id": "v.0.mp4", "span": ["00:00:00.000", "00:00:02.000"]}]})" "\n");
  write_file(dir / "clip_text.jsonl", R"({"clip_id": "v.0.mp4", "text": ["a red ball", "a ball that is red"]})" "\n");
  Dataset dataset = load_dataset(Spec(dir.path()));
  ASSERT_EQ(dataset.clips.size(), 1u);
  EXPECT_EQ(dataset.clips[0].texts, (Strings{"a red ball", "a ball that is red"}));
}

struct MalformedLine {
  std::string name;      // the test's name
  std::string line;      // written as line 2 of metadata.jsonl, after a valid line 1
  std::string expected;  // the error text after "<file>:"
};

void PrintTo(const MalformedLine& param, std::ostream* out) { *out << param.line; }

class HdVilaMalformedLine : public ::testing::TestWithParam<MalformedLine> {};

TEST_P(HdVilaMalformedLine, IsAFormatErrorNamingFileLineAndField) {
  TempDir dir;
  write_file(dir / "metadata.jsonl",
             R"({"video_id": "v1", "url": "u", "clip": [{"clip_id": "v1.0.mp4", "span": ["00:00:01.000", "00:00:02.000"]}]})"
             "\n" + GetParam().line + "\n");
  write_file(dir / "clip_text.jsonl", R"({"clip_id": "v1.0.mp4", "text": "x"})" "\n");
  const std::string message = test::error_text<core::FormatError>([&] { load_dataset(Spec(dir.path())); });
  EXPECT_EQ(message, (dir / "metadata.jsonl").string() + ":" + GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    HdVilaDataset, HdVilaMalformedLine,
    ::testing::Values(
        MalformedLine{"NotAnObject", R"([1, 2])", "2: expected a JSON object, got an array of 2"},
        // Fuzz regression (tests/fuzz/regressions/hdvila/): nlohmann's out_of_range escaped unnamed.
        MalformedLine{"NumberBeyondDouble", R"({"video_id": "v2", "clip": [{"clip_id": 1e400}]})",
                      "2: invalid JSON: number overflow parsing '1e400'"},
        MalformedLine{"MissingVideoId", R"({"url": "u", "clip": []})", R"(2: field "video_id": missing)"},
        MalformedLine{"WrongTypeVideoId", R"({"video_id": 7, "clip": []})", R"(2: field "video_id": expected a string, got integer 7)"},
        MalformedLine{"MissingClip", R"({"video_id": "v2"})", R"(2: field "clip": missing)"},
        MalformedLine{"ClipNotAnArray", R"({"video_id": "v2", "clip": {"clip_id": "x"}})",
                      R"(2: field "clip": expected an array of clips, got an object)"},
        MalformedLine{"MissingClipId", R"({"video_id": "v2", "clip": [{"span": ["00:00:01.000", "00:00:02.000"]}]})",
                      R"(2: field "clip[0].clip_id": missing)"},
        MalformedLine{"SpanOfOneTimeCode", R"({"video_id": "v2", "clip": [{"clip_id": "v2.0.mp4", "span": ["00:00:01.000"]}]})",
                      R"(2: field "clip[0].span": expected an array of 2 time codes, got an array of 1)"},
        MalformedLine{"SpanNotAString", R"({"video_id": "v2", "clip": [{"clip_id": "v2.0.mp4", "span": ["00:00:01.000", 2]}]})",
                      R"(2: field "clip[0].span[1]": expected a time code string, got integer 2)"},
        MalformedLine{"BadTimeCode", R"({"video_id": "v2", "clip": [{"clip_id": "v2.0.mp4", "span": ["00:00:01.000", "00:00:xx"]}]})",
                      R"(2: field "clip[0].span[1]": expected HH:MM:SS.mmm, got "00:00:xx")"},
        MalformedLine{"EndBeforeStart", R"({"video_id": "v2", "clip": [{"clip_id": "v2.0.mp4", "span": ["00:00:05.000", "00:00:04.000"]}]})",
                      R"(2: field "clip[0].span": end 00:00:04.000 is not after start 00:00:05.000)"},
        MalformedLine{"DuplicateClipId", R"({"video_id": "v2", "clip": [{"clip_id": "v2.0.mp4", "span": ["00:00:01.000", "00:00:02.000"]}, {"clip_id": "v1.0.mp4", "span": ["00:00:03.000", "00:00:04.000"]}]})",
                      R"(2: field "clip[1].clip_id": duplicate clip_id "v1.0.mp4" (first seen on line 1))"},
        MalformedLine{"DotDotVideoId", R"({"video_id": "..", "clip": []})",
                      R"(2: field "video_id": ".." is not a plain file name (no '/', '\', "." or ".."))"},
        MalformedLine{"PathInClipId", R"({"video_id": "v2", "clip": [{"clip_id": "../../etc/passwd", "span": ["00:00:01.000", "00:00:02.000"]}]})",
                      R"(2: field "clip[0].clip_id": "../../etc/passwd" is not a plain file name (no '/', '\', "." or ".."))"}),
    [](const ::testing::TestParamInfo<MalformedLine>& info) { return info.param.name; });

TEST(HdVilaDataset, InvalidJsonNamesFileLineAndColumn) {
  TempDir dir;
  write_file(dir / "metadata.jsonl", "\n{\"video_id\": \"v1\", \"clip\": [}\n");
  write_file(dir / "clip_text.jsonl", "");
  const std::string message = test::error_text<core::FormatError>([&] { load_dataset(Spec(dir.path())); });
  EXPECT_EQ(message.rfind((dir / "metadata.jsonl").string() + ":2: invalid JSON at column 29: ", 0), 0u) << message;
}

TEST(HdVilaDataset, MalformedClipTextAndLabelLinesAreNamed) {
  TempDir dir;
  write_file(dir / "metadata.jsonl", R"({"video_id": "v", "clip": [{"clip_id": "v.0.mp4", "span": ["00:00:00.000", "00:00:02.000"]}]})" "\n");
  write_file(dir / "clip_text.jsonl", R"({"clip_id": "v.0.mp4", "text": 5})" "\n");
  EXPECT_EQ(test::error_text<core::FormatError>([&] { load_dataset(Spec(dir.path())); }),
            (dir / "clip_text.jsonl").string() + R"(:1: field "text": expected a string or an array of strings, got integer 5)");

  write_file(dir / "clip_text.jsonl", R"({"clip_id": "v.0.mp4", "text": "a"})" "\n" R"({"clip_id": "v.0.mp4", "text": "b"})" "\n");
  EXPECT_EQ(test::error_text<core::FormatError>([&] { load_dataset(Spec(dir.path())); }),
            (dir / "clip_text.jsonl").string() + R"(:2: field "clip_id": duplicate clip_id "v.0.mp4" (first seen on line 1))");

  write_file(dir / "clip_text.jsonl", R"({"clip_id": "v.0.mp4", "text": "a"})" "\n");
  write_file(dir / "labels.jsonl", R"({"colour": "red"})" "\n");
  EXPECT_EQ(test::error_text<core::FormatError>([&] { load_dataset(Spec(dir.path())); }),
            (dir / "labels.jsonl").string() + R"(:1: field "clip_id": missing)");
}

TEST(HdVilaDataset, MissingClipTextFileIsNamed) {
  TempDir dir;
  write_file(dir / "metadata.jsonl", R"({"video_id": "v", "clip": []})" "\n");
  EXPECT_EQ(test::error_text<core::IoError>([&] { load_dataset(Spec(dir.path())); }),
            (dir / "clip_text.jsonl").string() + ": no such file (the captions of " + (dir / "metadata.jsonl").string() +
                "; HD-VILA-100M keeps clip_text.jsonl beside metadata.jsonl)");
}

TEST(HdVilaDataset, SeveralTextFieldsGiveEveryClipTheCaptionsOfEach) {
  TempDir dir;
  write_hdvila_split(dir / "train");
  // "text" then "text_asr": a clip keeps those it has, in that order; one with neither is dropped.
  Dataset dataset = load_dataset(Spec(dir / "train" / "metadata.jsonl").text_field("text,text_asr"));
  EXPECT_EQ(clip_ids(dataset), (Strings{"vidA.0.mp4", "vidA.1.mp4", "vidB.0.mp4", "vidC.0.mp4"}));
  EXPECT_EQ(dataset.clips[0].texts, (Strings{"a man cooks pasta"}));
  EXPECT_EQ(dataset.clips[1].texts, (Strings{"so today we cook"}));
  EXPECT_EQ(dataset.clips[3].texts, (Strings{"hello there"}));
  EXPECT_EQ(dataset.clips_without_text, 0);
  EXPECT_EQ(test::error_text<core::ConfigError>([&] { load_dataset(Spec(dir / "train" / "metadata.jsonl").text_field("text,,text_asr")); }),
            "text_field \"text,,text_asr\": an empty field name in the list");
}

TEST(HdVilaDataset, NoClipWithACaptionIsAnError) {
  TempDir dir;
  write_file(dir / "metadata.jsonl", R"({"video_id": "v", "clip": [{"clip_id": "v.0.mp4", "span": ["00:00:00.000", "00:00:02.000"]}]})" "\n");
  write_file(dir / "clip_text.jsonl", R"({"clip_id": "v.0.mp4", "text": "a"})" "\n");
  EXPECT_EQ(test::error_text<core::FormatError>([&] { load_dataset(Spec(dir.path()).text_field("caption")); }),
            dir.path().string() + ": the hdvila dataset has no clip with a caption (1 without)");
}

const char* kWebVidCsv =
    "videoid,contentUrl,duration,page_dir,name\r\n"
    "1001,https://x/1001.mp4,PT00H00M12S,000001_000050,\"A man, smiling, says \"\"hello\"\"\"\r\n"
    "1002,https://x/1002.mp4,PT00H00M08S,000001_000050,\"Two lines\nof caption\"\n"
    "1003,https://x/1003.mp4,PT00H00M05S,000051_000100,Plain caption\n"
    "1004,https://x/1004.mp4,PT00H00M05S,000051_000100,\n";

TEST(WebVidDataset, ReadsQuotedFieldsWithCommasQuotesAndLineBreaks) {
  TempDir dir;
  write_file(dir / "results_2M_train.csv", kWebVidCsv);
  touch(dir / "videos" / "000001_000050" / "1001.mp4");
  Dataset dataset = load_dataset(Spec(dir / "results_2M_train.csv"));
  EXPECT_EQ(dataset.format, "webvid");
  EXPECT_EQ(clip_ids(dataset), (Strings{"1001", "1002", "1003"}));
  EXPECT_EQ(dataset.clips_without_text, 1);  // 1004: empty name
  EXPECT_EQ(dataset.clips_without_video, 2);
  EXPECT_EQ(dataset.clips[0].texts, (Strings{"A man, smiling, says \"hello\""}));
  EXPECT_EQ(dataset.clips[1].texts, (Strings{"Two lines\nof caption"}));
  EXPECT_EQ(dataset.clips[2].texts, (Strings{"Plain caption"}));
  EXPECT_EQ(dataset.clips[0].video, dir / "videos" / "000001_000050" / "1001.mp4");
  EXPECT_EQ(dataset.clips[2].video, dir / "videos" / "000051_000100" / "1003.mp4");
  EXPECT_EQ(dataset.clips[0].video_id, "1001");
  EXPECT_FALSE(dataset.clips[0].span.has_value());

  Dataset moved = load_dataset(Spec(dir / "results_2M_train.csv").video_root("/data/webvid"));
  EXPECT_EQ(moved.clips[0].video, fs::path("/data/webvid/videos/000001_000050/1001.mp4"));
}

TEST(WebVidDataset, MissingColumnIsNamed) {
  TempDir dir;
  write_file(dir / "w.csv", "videoid,name\n1,a cat\n");
  EXPECT_EQ(test::error_text<core::FormatError>([&] { load_dataset(Spec(dir / "w.csv")); }),
            (dir / "w.csv").string() + ": missing column \"page_dir\" (the header has: videoid, name)");
}

TEST(WebVidDataset, MalformedRowsNameFileAndLine) {
  TempDir dir;
  const fs::path csv = dir / "w.csv";
  auto error = [&](const std::string& text) {
    write_file(csv, text);
    return test::error_text<core::FormatError>([&] { load_dataset(Spec(csv)); });
  };
  // Line numbers count physical lines: the quoted caption of line 2 spans lines 2-3.
  EXPECT_EQ(error("videoid,page_dir,name\n1,p,\"two\nlines\"\n2,p\n"), csv.string() + ":4: expected 3 fields (as the header), found 2");
  EXPECT_EQ(error("videoid,page_dir,name\n1,p,ok\n2,p,\"never closed\n"),
            csv.string() + ":3: field 3: unterminated quoted field (the quote opened on line 3 never closes)");
  EXPECT_EQ(error("videoid,page_dir,name\n1,\"p\"x,ok\n"), csv.string() + ":2: field 2: unexpected character 'x' after a closing quote");
  EXPECT_EQ(error("videoid,page_dir,name\n1,p,say \"hi\"\n"),
            csv.string() + ":2: field 3: a quote inside an unquoted field (quote the whole field and double inner quotes)");
  EXPECT_EQ(error("videoid,page_dir,name\n1,p,a\n1,p,b\n"), csv.string() + ":3: field \"videoid\": duplicate videoid \"1\" (first seen on line 2)");
  EXPECT_EQ(error("videoid,page_dir,name\n1,../up,a\n"),
            csv.string() + ":2: field \"page_dir\": \"../up\" is not a plain file name (no '/', '\\', \".\" or \"..\")");
}

// MSR-VTT: five videos over the three JSON splits; video4 has no sentence.
void write_msrvtt(const fs::path& dir) {
  write_file(dir / "MSRVTT_data.json", R"({
    "info": {"year": 2016},
    "videos": [
      {"category": 9, "url": "u0", "video_id": "video0", "start time": 1.0, "end time": 11.0, "split": "train", "id": 0},
      {"category": 2, "url": "u1", "video_id": "video1", "start time": 2.0, "end time": 12.0, "split": "train", "id": 1},
      {"category": 3, "url": "u2", "video_id": "video2", "start time": 3.0, "end time": 13.0, "split": "validate", "id": 2},
      {"category": 4, "url": "u3", "video_id": "video3", "start time": 4.0, "end time": 14.0, "split": "test", "id": 3},
      {"category": 5, "url": "u4", "video_id": "video4", "start time": 5.0, "end time": 15.0, "split": "test", "id": 4}],
    "sentences": [
      {"caption": "a man is cooking", "video_id": "video0", "sen_id": 0},
      {"caption": "someone makes food", "video_id": "video0", "sen_id": 1},
      {"caption": "a car drives", "video_id": "video1", "sen_id": 2},
      {"caption": "a woman sings", "video_id": "video2", "sen_id": 3},
      {"caption": "a man talks", "video_id": "video3", "sen_id": 4},
      {"caption": "a person speaks", "video_id": "video3", "sen_id": 5}]})");
  write_file(dir / "MSRVTT_JSFUSION_test.csv",
             "key,vid_key,video_id,sentence\nret0,msr3,video3,\"a man, talking\"\nret1,msr4,video4,a cat plays\n");
  write_file(dir / "MSRVTT_train.9k.csv", "video_id\nvideo0\nvideo2\n");
  touch(dir / "videos" / "video0.mp4");
  touch(dir / "videos" / "all" / "video1.mp4");
}

TEST(MsrvttDataset, ReadsTheJsonSplitsWithAllSentences) {
  TempDir dir;
  write_msrvtt(dir.path());
  Dataset train = load_dataset(Spec(dir.path()).split("train"));
  EXPECT_EQ(train.format, "msrvtt");
  EXPECT_EQ(clip_ids(train), (Strings{"video0", "video1"}));
  EXPECT_EQ(train.clips[0].texts, (Strings{"a man is cooking", "someone makes food"}));
  EXPECT_EQ(train.clips[0].video, dir / "videos" / "video0.mp4");
  EXPECT_EQ(train.clips[1].video, dir / "videos" / "all" / "video1.mp4");  // the videos/all/ layout
  EXPECT_EQ(train.clips_without_video, 0);

  EXPECT_EQ(clip_ids(load_dataset(Spec(dir / "MSRVTT_data.json").split("validate"))), (Strings{"video2"}));
  EXPECT_EQ(clip_ids(load_dataset(Spec(dir.path()).split("val"))), (Strings{"video2"}));
  Dataset test = load_dataset(Spec(dir.path()).split("test"));
  EXPECT_EQ(clip_ids(test), (Strings{"video3"}));
  EXPECT_EQ(test.clips_without_text, 1);  // video4
  EXPECT_EQ(test.clips_without_video, 1);
  EXPECT_EQ(load_dataset(Spec(dir.path())).clips.size(), 4u);  // no split: every video with a sentence
}

TEST(MsrvttDataset, Reads1kATestAndThe9kTrainingSplit) {
  TempDir dir;
  write_msrvtt(dir.path());
  Dataset test = load_dataset(Spec(dir.path()).split("1k-a-test"));
  EXPECT_EQ(clip_ids(test), (Strings{"ret0", "ret1"}));
  EXPECT_EQ(test.clips[0].video_id, "video3");
  EXPECT_EQ(test.clips[0].texts, (Strings{"a man, talking"}));  // that row's sentence only
  EXPECT_EQ(test.clips[1].texts, (Strings{"a cat plays"}));
  EXPECT_EQ(test.clips[1].video, dir / "videos" / "video4.mp4");

  Dataset train = load_dataset(Spec(dir / "MSRVTT_data.json").split("9k-train"));
  EXPECT_EQ(clip_ids(train), (Strings{"video0", "video2"}));
  EXPECT_EQ(train.clips[0].texts, (Strings{"a man is cooking", "someone makes food"}));
  EXPECT_EQ(train.clips[1].texts, (Strings{"a woman sings"}));
}

TEST(MsrvttDataset, SplitErrorsNameTheExpectedFile) {
  TempDir dir;
  write_msrvtt(dir.path());
  fs::remove(dir / "MSRVTT_train.9k.csv");
  EXPECT_EQ(test::error_text<core::IoError>([&] { load_dataset(Spec(dir.path()).split("9k-train")); }),
            (dir / "MSRVTT_train.9k.csv").string() +
                ": no such file (split \"9k-train\" is read from MSRVTT_train.9k.csv beside the MSR-VTT annotations)");
  fs::remove(dir / "MSRVTT_JSFUSION_test.csv");
  EXPECT_EQ(test::error_text<core::IoError>([&] { load_dataset(Spec(dir.path()).split("1k-a-test")); }),
            (dir / "MSRVTT_JSFUSION_test.csv").string() +
                ": no such file (split \"1k-a-test\" is read from MSRVTT_JSFUSION_test.csv beside the MSR-VTT annotations)");
  EXPECT_EQ(test::error_text<core::ConfigError>([&] { load_dataset(Spec(dir.path()).split("dev")); }),
            "MSR-VTT split \"dev\": expected one of train, validate, val, test, 1k-a-test, 9k-train (or \"\" for every video)");
  write_file(dir / "MSRVTT_train.9k.csv", "video_id\nvideo0\nvideo99\n");
  EXPECT_EQ(test::error_text<core::FormatError>([&] { load_dataset(Spec(dir.path()).split("9k-train")); }),
            (dir / "MSRVTT_train.9k.csv").string() + ":3: field \"video_id\": \"video99\" is not a video of " +
                (dir / "MSRVTT_data.json").string());
}

TEST(MsrvttDataset, MalformedJsonNamesTheField) {
  TempDir dir;
  write_file(dir / "MSRVTT_data.json", R"({"videos": [{"video_id": "video0", "split": "train"}, {"video_id": 1}], "sentences": []})");
  EXPECT_EQ(test::error_text<core::FormatError>([&] { load_dataset(Spec(dir.path()).split("train")); }),
            (dir / "MSRVTT_data.json").string() + ": field \"videos[1].video_id\": expected a string, got integer 1");
  write_file(dir / "MSRVTT_data.json", R"({"videos": []})");
  EXPECT_EQ(test::error_text<core::FormatError>([&] { load_dataset(Spec(dir.path()).split("train")); }),
            (dir / "MSRVTT_data.json").string() + ": field \"sentences\": missing");
}

TEST(DatasetDetection, PicksTheFormatFromTheFolderOrTheExtension) {
  TempDir dir;
  write_hdvila_split(dir / "hd" / "train");
  write_file(dir / "web" / "results_2M_train.csv", kWebVidCsv);
  write_file(dir / "web" / "results_2M_val.csv", kWebVidCsv);
  write_msrvtt(dir / "msr");  // holds a .csv too: the JSON decides

  EXPECT_EQ(load_dataset(Spec(dir / "hd").split("train")).format, "hdvila");
  EXPECT_EQ(load_dataset(Spec(dir / "hd" / "train")).format, "hdvila");
  EXPECT_EQ(load_dataset(Spec(dir / "msr").split("test")).format, "msrvtt");
  EXPECT_EQ(load_dataset(Spec(dir / "web").split("val")).root, dir / "web");
  EXPECT_EQ(load_dataset(Spec(dir / "web" / "results_2M_val.csv")).format, "webvid");
  EXPECT_EQ(load_dataset(Spec(dir / "hd" / "train" / "metadata.jsonl")).format, "hdvila");
  EXPECT_EQ(load_dataset(Spec(dir / "msr" / "MSRVTT_data.json").split("train")).format, "msrvtt");
}

TEST(DatasetDetection, ASplitOfAnUnsplitFolderIsAnError) {
  TempDir dir;
  write_hdvila_split(dir.path());  // metadata.jsonl at the top: no split folders
  EXPECT_EQ(test::error_text<core::ConfigError>([&] { load_dataset(Spec(dir.path()).split("test")); }),
            dir.path().string() + ": no split folder \"test\" (" + (dir / "test" / "metadata.jsonl").string() +
                " does not exist); the folder holds one unsplit HD-VILA dataset (" + (dir / "metadata.jsonl").string() +
                "): pass no split (--split \"\") or the metadata file");
  EXPECT_EQ(load_dataset(Spec(dir.path())).clips.size(), 2u);
  EXPECT_EQ(load_dataset(Spec(dir / "metadata.jsonl").split("test")).clips.size(), 2u);
}

TEST(DatasetDetection, UnknownLayoutsListWhatWasLookedFor) {
  TempDir dir;
  write_file(dir / "web" / "a.csv", kWebVidCsv);
  write_file(dir / "web" / "b.csv", kWebVidCsv);
  EXPECT_EQ(test::error_text<core::FormatError>([&] { load_dataset(Spec(dir / "web")); }),
            (dir / "web").string() + ": cannot tell the dataset format: looked for " + (dir / "web" / "metadata.jsonl").string() +
                " (hdvila), MSRVTT_data.json or train_val_videodatainfo.json (msrvtt) and exactly one *.csv (webvid), "
                "found a.csv, b.csv; pass the format or a metadata file");
  EXPECT_EQ(test::error_text<core::IoError>([&] { load_dataset(Spec(dir / "web").split("test").format("webvid")); }),
            (dir / "web").string() + ": expected exactly one *.csv whose name contains \"test\" (a WebVid CSV), found none");
  EXPECT_EQ(test::error_text<core::IoError>([&] { load_dataset(Spec(dir / "web").format("hdvila")); }),
            (dir / "web" / "metadata.jsonl").string() +
                ": no such file (an HD-VILA dataset folder holds metadata.jsonl, or <split>/metadata.jsonl when a split is given)");

  write_file(dir / "list.txt", "x");
  EXPECT_EQ(test::error_text<core::FormatError>([&] { load_dataset(Spec(dir / "list.txt")); }),
            (dir / "list.txt").string() +
                ": cannot tell the dataset format from the extension \".txt\" (expected .jsonl for hdvila, .csv for webvid, "
                ".json for msrvtt); pass the format");
  // A metadata file is the selection: a split (here a default like the CLI's "train") is not used.
  EXPECT_EQ(load_dataset(Spec(dir / "web" / "a.csv").split("train")).clips.size(), 3u);
  EXPECT_EQ(test::error_text<core::ConfigError>([&] { load_dataset(Spec(dir.path()).format("kinetics")); }),
            "dataset format \"kinetics\": expected one of auto, hdvila, webvid, msrvtt");
  EXPECT_EQ(test::error_text<core::IoError>([&] { load_dataset(Spec(dir / "nowhere")); }),
            (dir / "nowhere").string() + ": no such file or folder");
}

// Captions in a script the vocabulary lacks (MiniLM's English vocabulary and Chinese captions):
// the share of [UNK] word pieces per field, and the warning that names the field and an example.
TEST(UnknownTokens, SharePerFieldAndTheWarningNameTheFieldAndAnExample) {
  const models::Tokenizer tokenizer(Strings{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "dress", "的"},
                                    models::TokenizerConfig{});
  Dataset dataset;
  for (int i = 0; i < 3; ++i) {
    ClipRecord clip;
    clip.texts = {"a red dress", i == 0 ? "红色的裙子" : "红的"};
    dataset.clips.push_back(clip);
  }
  const std::vector<UnknownTokenShare> shares = unknown_token_shares(dataset, "text,text_zh", tokenizer);
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_EQ(shares[0].field, "text");
  EXPECT_EQ(shares[0].tokens, 9);
  EXPECT_EQ(shares[0].unknown, 0);
  EXPECT_EQ(shares[1].field, "text_zh");
  EXPECT_EQ(shares[1].tokens, 5 + 2 + 2);  // one piece per CJK character
  EXPECT_EQ(shares[1].unknown, 4 + 1 + 1);
  EXPECT_EQ(shares[1].example, "红色的裙子");
  const Strings warnings = unknown_token_warnings(shares);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "text_zh: 67% of the word pieces are [UNK] with this vocabulary (e.g. \"红色的裙子\" -> 4 of 5): the text "
            "tower cannot read these captions; use a vocabulary that covers their script (hdvila-train vocab-extend "
            "adds the missing characters to a model and its vocab.txt), or leave the field out of "
            "--text-field");
  // Without one caption per field the share is over all captions; below the threshold, no warning.
  dataset.clips[1].texts.push_back("a dress");
  const std::vector<UnknownTokenShare> pooled = unknown_token_shares(dataset, "text,text_zh", tokenizer, 2);
  ASSERT_EQ(pooled.size(), 1u);
  EXPECT_EQ(pooled[0].field, "captions");
  EXPECT_EQ(pooled[0].tokens, 3 + 5 + 3 + 2 + 2);
  EXPECT_TRUE(unknown_token_warnings(unknown_token_shares(dataset, "text", tokenizer, 0)).empty());
}

}  // namespace
}  // namespace hdv::train
