// Tests for models/wordpiece_trainer.h: vocabulary layout, the WordPiece merge score, size
// limits and errors, and that a learned vocabulary tokenizes its corpus with whole words.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/core/test_support.h"
#include "models/tokenizer.h"
#include "models/wordpiece_trainer.h"

namespace hdv::models {
namespace {

using Strings = std::vector<std::string>;

// `count` copies of line.
Strings repeated(const std::string& line, int count) {
  return Strings(static_cast<size_t>(count), line);
}

Strings concat(std::initializer_list<Strings> parts) {
  Strings out;
  for (const Strings& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// Captions drawn with a fixed seed from a Zipf-like word list: early words are frequent.
Strings caption_corpus(int lines) {
  const Strings words = {"the",     "a",        "man",      "woman",    "is",      "playing",
                         "guitar",  "video",    "shows",    "cooking",  "kitchen", "dog",
                         "running", "beach",    "people",   "dancing",  "street",  "night",
                         "camera",  "tutorial", "unboxing", "mountain", "bicycle", "Zürich"};
  std::mt19937 rng(1234);
  Strings corpus;
  for (int i = 0; i < lines; ++i) {
    std::string line;
    const int length = 4 + static_cast<int>(rng() % 8);
    for (int k = 0; k < length; ++k) {
      const size_t a = rng() % words.size(), b = rng() % words.size();
      line += (k ? " " : "") + words[std::min(a, b)];  // min of two: skewed to early words
    }
    corpus.push_back(line + (rng() % 3 == 0 ? "." : ""));
  }
  return corpus;
}

using test::error_text;

TEST(WordPieceTrainer, StartsWithSpecialsThenBothFormsOfEveryCharacter) {
  // No pair occurs twice, so nothing merges and the base vocabulary is all there is.
  const Strings vocab = learn_wordpiece_vocab({"ba ab"}, 13);
  EXPECT_EQ(vocab, (Strings{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "##a", "##b", "a", "b"}));
}

TEST(WordPieceTrainer, MergesByScoreNotByPairFrequency) {
  // HF course example: ("##u", "##g") is the most frequent pair (20), but ("##g", "##s") has
  // the best score 5 / (20 * 5); every other pair scores 1/36.
  const Strings corpus = concat({repeated("hug", 10), repeated("pug", 5), repeated("pun", 12),
                                 repeated("bun", 4), repeated("hugs", 5)});
  const Strings vocab = learn_wordpiece_vocab(corpus, 5 + 14 + 1);
  ASSERT_EQ(vocab.size(), 20u);
  EXPECT_EQ(vocab.back(), "##gs");
}

TEST(WordPieceTrainer, BreaksScoreTiesLexicographically) {
  // "ab" and "cd" score the same; "a" < "c" decides, in either corpus order.
  const Strings forward = concat({repeated("ab", 2), repeated("cd", 2)});
  const Strings backward = concat({repeated("cd", 2), repeated("ab", 2)});
  EXPECT_EQ(learn_wordpiece_vocab(forward, 14).back(), "ab");
  EXPECT_EQ(learn_wordpiece_vocab(backward, 14), learn_wordpiece_vocab(forward, 14));
}

TEST(WordPieceTrainer, ReachesExactlyTheRequestedSize) {
  const Strings corpus = caption_corpus(400);
  for (int size : {80, 120}) {
    const Strings vocab = learn_wordpiece_vocab(corpus, size);
    EXPECT_EQ(vocab.size(), static_cast<size_t>(size));
    EXPECT_EQ(std::set<std::string>(vocab.begin(), vocab.end()).size(), vocab.size())
        << "duplicate tokens in a vocabulary of " << size;
    EXPECT_EQ(Strings(vocab.begin(), vocab.begin() + 5),
              (Strings{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}));
  }
}

TEST(WordPieceTrainer, LearnedVocabularyKeepsFrequentWordsWhole) {
  // Room for every merge the corpus allows: each word seen at least min_frequency times ends
  // as one token; "zebra", seen once, stays in pieces.
  const Strings corpus = concat({caption_corpus(400), {"a zebra"}});
  const Strings vocab = learn_wordpiece_vocab(corpus, 1000);
  EXPECT_LT(vocab.size(), 1000u);
  const Tokenizer tokenizer(vocab, TokenizerConfig{});
  EXPECT_EQ(tokenizer.tokenize("The man is playing guitar."),
            (Strings{"the", "man", "is", "playing", "guitar", "."}));
  EXPECT_EQ(tokenizer.tokenize("ZÜRICH video tutorial unboxing"),
            (Strings{"zurich", "video", "tutorial", "unboxing"}));
  const Strings zebra = tokenizer.tokenize("zebra");
  EXPECT_GT(zebra.size(), 1u);
  EXPECT_EQ(std::count(zebra.begin(), zebra.end(), "[UNK]"), 0);
}

TEST(WordPieceTrainer, StopsShortWhenNoPairReachesMinFrequency) {
  // Each pair occurs once; min_frequency 2 allows no merge.
  EXPECT_EQ(learn_wordpiece_vocab({"abc"}, 100).size(), 5u + 6u);
  EXPECT_EQ(learn_wordpiece_vocab({"abc"}, 100, WordPieceTrainerConfig{.min_frequency = 1}).size(),
            5u + 6u + 2u);  // "##bc" (ties with "ab", "##b" < "a"), then "abc"
}

TEST(WordPieceTrainer, RejectsSizeBelowSpecialsPlusCharacters) {
  EXPECT_EQ(error_text<core::ConfigError>([] { learn_wordpiece_vocab({"ab ba"}, 8); }),
            "wordpiece trainer: vocab_size=8 is below the 9 base tokens (5 special tokens + 2 "
            "distinct corpus characters in \"x\" and \"##x\" form); ask for at least 9");
}

TEST(WordPieceTrainer, RejectsMinFrequencyBelowOne) {
  EXPECT_EQ(error_text<core::ConfigError>([] {
              learn_wordpiece_vocab({"ab"}, 20, WordPieceTrainerConfig{.min_frequency = 0});
            }),
            "wordpiece trainer config: min_frequency=0 must be >= 1");
}

TEST(WordPieceTrainer, NamesTheCorpusLineWithInvalidUtf8) {
  EXPECT_EQ(error_text<core::FormatError>([] {
              learn_wordpiece_vocab({"ok", "a\xFF"}, 20);
            }),
            "corpus line 2: invalid UTF-8 at byte 1");
}

TEST(WordPieceTrainer, ReportsProgressPerMerge) {
  std::vector<int64_t> steps;
  int64_t last_total = -1;
  learn_wordpiece_vocab(caption_corpus(50), 60, {}, [&](int64_t step, int64_t total, double s) {
    steps.push_back(step);
    last_total = total;
    EXPECT_GE(s, 0.0);
  });
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.back(), last_total);
  EXPECT_TRUE(std::is_sorted(steps.begin(), steps.end()));
}

TEST(WriteVocab, WritesOneTokenPerLineAndLeavesNoTempFile) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("hdv_test_write_vocab_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "vocab.txt";
  const Strings tokens = learn_wordpiece_vocab(caption_corpus(100), 70);
  write_vocab(path, tokens);
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  std::string expected;
  for (const std::string& token : tokens) expected += token + "\n";
  EXPECT_EQ(content.str(), expected);
  EXPECT_FALSE(std::filesystem::exists(dir / "vocab.txt.tmp"));
  EXPECT_EQ(Tokenizer(path).vocab_size(), 70);
  std::filesystem::remove_all(dir);
}

TEST(WriteVocab, ErrorNamesUnwritablePath) {
  const auto path = std::filesystem::temp_directory_path() / "hdv_no_such_dir_for_vocab" / "v.txt";
  EXPECT_EQ(error_text<core::IoError>([&] { write_vocab(path, {"[PAD]"}); }),
            "vocabulary " + path.string() +
                ".tmp: cannot open for writing (missing directory or no permission)");
}

TEST(WriteVocab, RejectsTokenWithLineBreak) {
  EXPECT_EQ(error_text<core::FormatError>([] {
              write_vocab("/tmp/unused.txt", {"a", "b\nc"});
            }),
            "vocabulary /tmp/unused.txt: token 1 is empty or holds a line break; vocab.txt has "
            "one token a line");
}

}  // namespace
}  // namespace hdv::models
