// Tests for models/clip_tokenizer.h: the text cleaning (ftfy subset, html.unescape, lower-casing),
// BPE on a handwritten merge list, error texts, and parity with OpenCLIP's SimpleTokenizer on the
// fixture written by tests/models/make_clip_tokenizer_fixture.py (the ctest fixture
// models.clip_tokenizer_fixture writes it, with the gunzipped merges, under
// <build>/fixtures/clip/; the environment variable HDV_CLIP_FIXTURE_DIR overrides the folder).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_paths.h"

#include "core/error.h"
#include "models/clip_tokenizer.h"
#include "tests/core/test_support.h"

namespace hdv::models {
namespace {

using Strings = std::vector<std::string>;
using Ids = std::vector<int64_t>;
using test::error_text;

std::filesystem::path fixture_dir() {
  const char* env = std::getenv("HDV_CLIP_FIXTURE_DIR");
  return env != nullptr ? std::filesystem::path(env) : std::filesystem::path(HDV_TEST_FIXTURES_DIR) / "clip";
}

// Merges of a toy vocabulary: ids 0..255 bytes, 256..511 bytes + "</w>", then one per merge.
ClipTokenizer toy_tokenizer() {
  return ClipTokenizer({"h e", "l l", "he ll", "hell o</w>", "c a", "ca t</w>"}, "toy merges");
}

TEST(ClipTokenizer, CleansLikeFtfyAndHtmlUnescape) {
  EXPECT_EQ(ClipTokenizer::clean("  A  Photo\tOF\n a CAT  "), "a photo of a cat");
  EXPECT_EQ(ClipTokenizer::clean("\u201chere\u2019s\u201d \ufb01ne \ufb04"), "\"here's\" fine ffl");
  EXPECT_EQ(ClipTokenizer::clean("ＬＯＵＤ　ＮＯＩＳＥＳ"), "loud noises");
  EXPECT_EQ(ClipTokenizer::clean("caf&eacute; &amp;amp; &lt;b&gt; &copy2024"), "café & <b> ©2024");
  EXPECT_EQ(ClipTokenizer::clean("a < b &amp; c"), "a < b & c");  // ftfy skips the line, html.unescape does not
  EXPECT_EQ(ClipTokenizer::clean("cafe\u0301"), "caf\u00e9");      // NFC
  EXPECT_EQ(ClipTokenizer::clean("ΟΔΟΣ ΣΟΦΟΣ."), "οδος σοφος.");       // final sigma
  EXPECT_EQ(ClipTokenizer::clean("\x1b[31mred\x1b[0m\x07"), "red");
}

TEST(ClipTokenizer, SplitsWordsWithTheClipPattern) {
  EXPECT_EQ(ClipTokenizer::split_words("It's 2024, isn't it?! <end_of_text>x"),
            (Strings{"it", "'s", "2", "0", "2", "4", ",", "isn", "'t", "it", "?!", "<end_of_text>", "x"}));
}

TEST(ClipTokenizer, MergesLowestRankFirst) {
  const ClipTokenizer tokenizer = toy_tokenizer();
  EXPECT_EQ(tokenizer.vocab_size(), 512 + 6 + 2);
  EXPECT_EQ(tokenizer.tokenize("Hello cat dog"),
            (Strings{"hello</w>", "cat</w>", "d", "o", "g</w>"}));
  EXPECT_EQ(tokenizer.encode("hello"), (Ids{515}));  // "hell" + "o</w>" is merge 3 -> 512 + 3
  EXPECT_EQ(tokenizer.id_to_token(tokenizer.sot_id()), "<start_of_text>");
  EXPECT_EQ(tokenizer.id_to_token(tokenizer.eot_id()), "<end_of_text>");
}

TEST(ClipTokenizer, TruncatesToTheContextKeepingTheEndToken) {
  const ClipTokenizer tokenizer = toy_tokenizer();
  const Ids ids = tokenizer.encode_for_model("cat cat cat cat cat", 4);
  EXPECT_EQ(ids, (Ids{tokenizer.sot_id(), 517, 517, tokenizer.eot_id()}));
  EXPECT_EQ(tokenizer.encode_for_model("cat", 5), (Ids{tokenizer.sot_id(), 517, tokenizer.eot_id(), 0, 0}));
  EXPECT_EQ(error_text<core::Error>([&] { tokenizer.encode_for_model("cat", 1); }),
            "CLIP tokenizer: context_length=1 must be >= 2 (start and end tokens)");
}

TEST(ClipTokenizer, RejectsMalformedMerges) {
  EXPECT_EQ(error_text<core::Error>([] { ClipTokenizer({"a b", "ab"}, "m.txt"); }),
            "m.txt: merge 1 (line 3 of a merges file) is \"ab\"; expected two symbols separated by one space");
  EXPECT_EQ(error_text<core::Error>([] { ClipTokenizer({"a b", "a b"}, "m.txt"); }), "m.txt: merge 1 \"a b\" repeats an earlier one");
  EXPECT_EQ(error_text<core::Error>([] { ClipTokenizer::from_file("/nonexistent/merges.txt"); }),
            "/nonexistent/merges.txt: cannot open the CLIP BPE merges for reading (missing file or no permission); "
            "expected OpenCLIP's bpe_simple_vocab_16e6.txt (gunzipped) or a Hugging Face CLIP merges.txt");
}

TEST(ClipTokenizer, MatchesOpenClipOnFixture) {
  const std::filesystem::path dir = fixture_dir();
  std::ifstream in(dir / "tokenizer_parity.jsonl");
  if (!in) GTEST_FAIL() << "missing " << (dir / "tokenizer_parity.jsonl") << " (run ctest -R clip_tokenizer_fixture)";
  const ClipTokenizer tokenizer = ClipTokenizer::from_file(dir / "merges.txt");
  ASSERT_EQ(tokenizer.vocab_size(), 49408);
  ASSERT_EQ(tokenizer.sot_id(), 49406);
  int lines = 0, clean_mismatches = 0, id_mismatches = 0, truncated = 0;
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json row = nlohmann::json::parse(line);
    const std::string text = row.at("text");
    ++lines;
    const std::string clean = ClipTokenizer::clean(text);
    if (clean != row.at("clean").get<std::string>() && ++clean_mismatches <= 5) {
      ADD_FAILURE() << "clean differs on line " << lines << ": " << nlohmann::json(text).dump() << "\n  ours:     "
                    << nlohmann::json(clean).dump() << "\n  OpenCLIP: " << row.at("clean").dump();
    }
    const Ids ids = tokenizer.encode(text);
    const Ids model_ids = tokenizer.encode_for_model(text);
    truncated += ids.size() + 2 > 77;
    if ((ids != row.at("ids").get<Ids>() || model_ids != row.at("model_ids").get<Ids>()) && ++id_mismatches <= 5) {
      ADD_FAILURE() << "ids differ on line " << lines << ": " << nlohmann::json(text).dump()
                    << "\n  ours:     " << nlohmann::json(ids).dump() << "\n  OpenCLIP: " << row.at("ids").dump();
    }
  }
  EXPECT_GE(lines, 1000);
  EXPECT_GE(truncated, 100);  // the fixture exercises truncation
  EXPECT_EQ(clean_mismatches, 0);
  EXPECT_EQ(id_mismatches, 0);
  EXPECT_EQ(tokenizer.encode("a photo of a cat."), (Ids{320, 1125, 539, 320, 2368, 269}));
}

}  // namespace
}  // namespace hdv::models
