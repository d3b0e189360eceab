// Tests for models/tokenizer.h: the BERT basic tokenizer rules and WordPiece on a small
// handwritten vocabulary, error texts, and parity with HuggingFace `BertTokenizer` on the
// fixture written by tests/models/make_tokenizer_fixture.py (the ctest fixture
// models.tokenizer_fixture writes it to the paths in tests/test_paths.h; the environment
// variables HDV_TOKENIZER_FIXTURE and HDV_TOKENIZER_VOCAB override them).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_paths.h"

#include "core/error.h"
#include "tests/core/test_support.h"
#include "models/tokenizer.h"

namespace hdv::models {
namespace {

using Strings = std::vector<std::string>;
using Ids = std::vector<int64_t>;

// Ids are line numbers: [PAD]=0, [unused0]=1, [UNK]=2, [CLS]=3, [SEP]=4, [MASK]=5, the=6, ...
const Strings kVocab = {
    "[PAD]", "[unused0]", "[UNK]", "[CLS]",  "[SEP]", "[MASK]", "the",    "a",    "man",
    "is",    "play",      "##ing", "guitar", "un",    "##aff",  "##able", "cafe", "naive",
    "hello", "world",     ",",     "!",      ".",     "我",     "爱",     "b",    "##b",
    "##s",   "zurich",    "σ",     "##σ",    "ο",     "##δ",    "##ο",
};

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("hdv_test_tokenizer_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::filesystem::path write_lines(const std::filesystem::path& path, const Strings& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const std::string& line : lines) out << line << '\n';
  return path;
}

Tokenizer small_tokenizer() { return Tokenizer(kVocab, TokenizerConfig{}); }

using test::error_text;

TEST(Tokenizer, LowercasesAndStripsAccents) {
  EXPECT_EQ(small_tokenizer().tokenize("Café NAÏVE ZÜRICH"), (Strings{"cafe", "naive", "zurich"}));
  // Decomposed input (e + combining acute) normalizes the same way.
  EXPECT_EQ(small_tokenizer().tokenize("cafe\u0301"), (Strings{"cafe"}));
}

TEST(Tokenizer, SplitsPunctuationIntoSingleCharacters) {
  EXPECT_EQ(small_tokenizer().tokenize("Hello,world!!the."),
            (Strings{"hello", ",", "world", "!", "!", "the", "."}));
}

TEST(Tokenizer, SplitsCjkIdeographsPerCharacter) {
  EXPECT_EQ(small_tokenizer().tokenize("我爱hello"), (Strings{"我", "爱", "hello"}));
}

TEST(Tokenizer, UsesLongestMatchContinuationPieces) {
  EXPECT_EQ(small_tokenizer().tokenize("unaffable playing"),
            (Strings{"un", "##aff", "##able", "play", "##ing"}));
  EXPECT_EQ(small_tokenizer().encode("unaffable playing"), (Ids{13, 14, 15, 10, 11}));
}

TEST(Tokenizer, LowercasesEachCharacterLikeHfTokenizers) {
  // Per-character lower-casing: a final capital sigma becomes σ (not Python's contextual ς).
  EXPECT_EQ(small_tokenizer().tokenize("ΟΔΟΣ"), (Strings{"ο", "##δ", "##ο", "##σ"}));
}

TEST(Tokenizer, WordWithUnmatchablePieceIsOneUnk) {
  // "un" + "##aff" match, then "x" has no piece: the whole word is [UNK].
  EXPECT_EQ(small_tokenizer().tokenize("unaffx the zzz"), (Strings{"[UNK]", "the", "[UNK]"}));
  EXPECT_EQ(small_tokenizer().encode("unaffx"), (Ids{2}));
}

TEST(Tokenizer, WordsOver100CharactersAreUnk) {
  const std::string hundred(100, 'b');
  const Strings pieces = small_tokenizer().tokenize(hundred);
  ASSERT_EQ(pieces.size(), 100u);
  EXPECT_EQ(pieces.front(), "b");
  EXPECT_EQ(pieces.back(), "##b");
  EXPECT_EQ(small_tokenizer().tokenize(hundred + "b"), (Strings{"[UNK]"}));
}

TEST(Tokenizer, DropsControlCharactersAndMapsWhitespace) {
  // NUL, U+FFFD, BEL, zero-width space (Cf) and BOM vanish inside a word; tab, NBSP, the
  // ideographic space and the line separator split words.
  using namespace std::string_literals;  // the text holds NUL bytes
  EXPECT_EQ(small_tokenizer().tokenize("hel\x00lo\xEF\xBF\xBD wor\x07ld\u200b\ufeff"
                                       "\tthe\u00a0a\u3000man\u2028is\x00"s),
            (Strings{"hello", "world", "the", "a", "man", "is"}));
}

TEST(Tokenizer, KeepsSpecialTokensWrittenInText) {
  EXPECT_EQ(small_tokenizer().tokenize("hello [MASK] world[SEP][mask]"),
            (Strings{"hello", "[MASK]", "world", "[SEP]", "[UNK]", "[UNK]", "[UNK]"}));
  EXPECT_EQ(small_tokenizer().encode("a[MASK]b"), (Ids{7, 5, 25}));
}

TEST(Tokenizer, ReportsSpecialIdsAndLookups) {
  const Tokenizer tokenizer = small_tokenizer();
  EXPECT_EQ(tokenizer.pad_id(), 0);
  EXPECT_EQ(tokenizer.unk_id(), 2);
  EXPECT_EQ(tokenizer.cls_id(), 3);
  EXPECT_EQ(tokenizer.sep_id(), 4);
  EXPECT_EQ(tokenizer.mask_id(), 5);
  EXPECT_EQ(tokenizer.vocab_size(), static_cast<int64_t>(kVocab.size()));
  EXPECT_EQ(tokenizer.id_to_token(12), "guitar");
  EXPECT_EQ(tokenizer.token_to_id("##able"), 15);
  EXPECT_EQ(error_text<core::Error>([&] { tokenizer.id_to_token(34); }),
            "id_to_token: id 34 is outside the vocabulary [0, 34)");
  EXPECT_EQ(error_text<core::Error>([&] { tokenizer.token_to_id("guitars"); }),
            "token_to_id: \"guitars\" is not in the vocabulary");
}

TEST(Tokenizer, EncodeForModelPadsWithMask) {
  const Encoding encoding = small_tokenizer().encode_for_model("the man", 6);
  EXPECT_EQ(encoding.input_ids, (Ids{3, 6, 8, 4, 0, 0}));
  EXPECT_EQ(encoding.attention_mask, (Ids{1, 1, 1, 1, 0, 0}));
}

TEST(Tokenizer, EncodeForModelTruncatesPiecesToFitSpecials) {
  // 6 pieces (the man is play ##ing guitar), room for 4 between [CLS] and [SEP].
  const Encoding encoding = small_tokenizer().encode_for_model("the man is playing guitar", 6);
  EXPECT_EQ(encoding.input_ids, (Ids{3, 6, 8, 9, 10, 4}));
  EXPECT_EQ(encoding.attention_mask, (Ids{1, 1, 1, 1, 1, 1}));
  const Encoding empty = small_tokenizer().encode_for_model("", 2);
  EXPECT_EQ(empty.input_ids, (Ids{3, 4}));
}

TEST(Tokenizer, EncodeForModelUsesConfiguredLength) {
  const Tokenizer tokenizer(kVocab, TokenizerConfig{.lower_case = true, .max_length = 4});
  EXPECT_EQ(tokenizer.encode_for_model("the man is").input_ids, (Ids{3, 6, 8, 4}));
}

TEST(Tokenizer, RejectsMaxLengthBelowTwo) {
  EXPECT_EQ(error_text<core::Error>([] { small_tokenizer().encode_for_model("the", 1); }),
            "encode_for_model: max_length=1 must be >= 2 (room for [CLS] and [SEP])");
  EXPECT_EQ(error_text<core::ConfigError>(
                [] { Tokenizer(kVocab, TokenizerConfig{.lower_case = true, .max_length = 0}); }),
            "tokenizer config: max_length=0 must be >= 2 (room for [CLS] and [SEP])");
}

TEST(Tokenizer, KeepsCaseAndAccentsWhenNotLowerCasing) {
  const Tokenizer cased(Strings{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Café"},
                        TokenizerConfig{.lower_case = false, .max_length = 8});
  EXPECT_EQ(cased.tokenize("Café café"), (Strings{"Café", "[UNK]"}));
}

TEST(Tokenizer, RejectsInvalidUtf8NamingTheByte) {
  const auto message = [](std::string text) {
    return error_text<core::FormatError>([&] { small_tokenizer().tokenize(text); });
  };
  EXPECT_EQ(message("hello w\xC3\x28"), "text: invalid UTF-8 at byte 7");     // bad continuation
  EXPECT_EQ(message("ab\xC0\xAF"), "text: invalid UTF-8 at byte 2");          // overlong '/'
  EXPECT_EQ(message("\xE0\x80\xAF"), "text: invalid UTF-8 at byte 0");        // overlong, 3 bytes
  EXPECT_EQ(message("x\xED\xA0\x80"), "text: invalid UTF-8 at byte 1");       // surrogate D800
  EXPECT_EQ(message("xy\xF4\x90\x80\x80"), "text: invalid UTF-8 at byte 2");  // > U+10FFFF
  EXPECT_EQ(message("abc\xE2\x82"), "text: invalid UTF-8 at byte 3");         // truncated
  EXPECT_EQ(message("\x80"), "text: invalid UTF-8 at byte 0");                // stray continuation
  // An error after a special token still counts bytes from the start of the text.
  EXPECT_EQ(message("[CLS] \xFF"), "text: invalid UTF-8 at byte 6");
}

TEST(Utf8, RoundTripsAllEncodingLengths) {
  const std::string text = "a\u00e9\u4e00\U0001F600";
  EXPECT_EQ(decode_utf8(text), (std::u32string{U'a', 0xE9, 0x4E00, 0x1F600}));
  EXPECT_EQ(encode_utf8(decode_utf8(text)), text);
}

TEST(Tokenizer, LoadsVocabFileWithLastDuplicateWinning) {
  TempDir dir;
  Strings lines = kVocab;
  lines.push_back("the");  // line 34 repeats "the" (line 6)
  const Tokenizer tokenizer(write_lines(dir.path() / "vocab.txt", lines));
  EXPECT_EQ(tokenizer.vocab_size(), 35);
  EXPECT_EQ(tokenizer.token_to_id("the"), 34);
  EXPECT_EQ(tokenizer.id_to_token(6), "the");
  EXPECT_EQ(tokenizer.encode("the man"), (Ids{34, 8}));
}

TEST(Tokenizer, LoadsVocabFileWithCrlfLines) {
  TempDir dir;
  const auto path = dir.path() / "vocab.txt";
  std::ofstream(path, std::ios::binary) << "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhi\r\n";
  EXPECT_EQ(Tokenizer(path).encode("hi"), (Ids{5}));
}

TEST(Tokenizer, MissingVocabFileErrorNamesPath) {
  TempDir dir;
  const auto path = dir.path() / "no_such_vocab.txt";
  EXPECT_EQ(error_text<core::IoError>([&] { Tokenizer{path}; }),
            "vocabulary " + path.string() +
                ": cannot open for reading (missing file or no permission); expected a BERT "
                "vocab.txt with one token per line");
}

TEST(Tokenizer, EmptyVocabFileIsRejected) {
  TempDir dir;
  const auto path = write_lines(dir.path() / "vocab.txt", {});
  EXPECT_EQ(error_text<core::FormatError>([&] { Tokenizer{path}; }),
            "vocabulary " + path.string() + ": file is empty; expected one token per line");
}

TEST(Tokenizer, VocabWithoutMaskErrorNamesTokenAndFile) {
  TempDir dir;
  const auto path =
      write_lines(dir.path() / "vocab.txt", {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"});
  EXPECT_EQ(error_text<core::FormatError>([&] { Tokenizer{path}; }),
            "vocabulary " + path.string() +
                ": missing special token(s) [MASK]; a BERT vocabulary needs [PAD] [UNK] [CLS] "
                "[SEP] [MASK]");
}

TEST(Tokenizer, VocabFileThatIsNotUtf8IsRejected) {
  TempDir dir;
  const auto path = write_lines(dir.path() / "vocab.txt", {"[PAD]", "a\xFF"});
  EXPECT_EQ(error_text<core::FormatError>([&] { Tokenizer{path}; }),
            "vocabulary " + path.string() + ": invalid UTF-8 at byte 7");
}

// Parity with HuggingFace: every fixture sentence must give identical ids, plain and
// model-ready (max_length 50, truncation, padding).
TEST(TokenizerParity, MatchesTransformersBertTokenizer) {
  const char* fixture_path = std::getenv("HDV_TOKENIZER_FIXTURE");
  const char* vocab_path = std::getenv("HDV_TOKENIZER_VOCAB");
  if (fixture_path == nullptr) fixture_path = HDV_TEST_TOKENIZER_FIXTURE;
  if (vocab_path == nullptr) vocab_path = HDV_TEST_TOKENIZER_VOCAB;
  ASSERT_NE(fixture_path, nullptr)
      << "HDV_TOKENIZER_FIXTURE is not set; generate the fixture with "
         "tests/models/make_tokenizer_fixture.py --vocab VOCAB --out FIXTURE.jsonl and set it";
  ASSERT_NE(vocab_path, nullptr) << "HDV_TOKENIZER_VOCAB is not set; point it at the vocab.txt "
                                    "the fixture was made with (make_tokenizer_fixture.py "
                                    "--print-vocab-path)";
  const Tokenizer tokenizer{std::filesystem::path(vocab_path)};
  std::ifstream in(fixture_path);
  ASSERT_TRUE(in) << "HDV_TOKENIZER_FIXTURE=" << fixture_path << ": cannot open";

  constexpr int kMaxLength = 50;
  constexpr int kShown = 5;
  int sentences = 0, mismatches = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json row = nlohmann::json::parse(line);
    const std::string text = row.at("text").get<std::string>();
    const Ids expected = row.at("ids").get<Ids>();
    const Ids expected_model = row.at("model_ids").get<Ids>();
    const Ids expected_mask = row.at("model_mask").get<Ids>();
    ++sentences;
    const Ids got = tokenizer.encode(text);
    const Encoding model = tokenizer.encode_for_model(text, kMaxLength);
    if (got == expected && model.input_ids == expected_model &&
        model.attention_mask == expected_mask) {
      continue;
    }
    if (++mismatches <= kShown) {
      ADD_FAILURE() << "fixture line " << sentences << " text " << nlohmann::json(text).dump()
                    << "\n  expected ids " << nlohmann::json(expected).dump() << "\n  got ids      "
                    << nlohmann::json(got).dump() << "\n  expected model_ids "
                    << nlohmann::json(expected_model).dump() << "\n  got model_ids      "
                    << nlohmann::json(model.input_ids).dump();
    }
  }
  EXPECT_GE(sentences, 1000) << "fixture " << fixture_path << " is too small";
  EXPECT_EQ(mismatches, 0) << mismatches << " of " << sentences << " sentences differ from HF";
  std::cout << "[ parity   ] " << sentences - mismatches << " of " << sentences
            << " fixture sentences match transformers.BertTokenizer\n";
}

}  // namespace
}  // namespace hdv::models
