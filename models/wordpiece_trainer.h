// Learns a WordPiece vocabulary (a BERT vocab.txt) from a text corpus.
//
// Reference: the WordPiece training algorithm as described in Schuster & Nakajima 2012 and the
// HuggingFace course ("WordPiece tokenization"): start from the characters, then repeatedly
// merge the adjacent pair (a, b) with the highest score count(ab) / (count(a) * count(b)),
// continuation pieces carrying the "##" prefix. Words come from the same BasicTokenizer that
// Tokenizer uses, so a learned vocabulary tokenizes the way it was learned.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace hdv::models {

struct WordPieceTrainerConfig {
  int min_frequency = 2;   // a pair merges only if it occurs at least this often (corpus count)
  bool lower_case = true;  // pre-tokenise like the uncased tokenizer (lower-case, strip accents)

  // Throws core::ConfigError naming the field ("min_frequency=0 must be >= 1").
  void validate() const;
};

// Reports merges done so far out of at most `total`, and seconds since training started.
using WordPieceProgress = std::function<void(int64_t step, int64_t total, double seconds)>;

// Returns the vocabulary in id order: [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0..4), then every
// character of the corpus in both forms ("x" and "##x", sorted by code point), then merged
// pieces in the order they were learned, until vocab_size entries or no pair occurs
// min_frequency times (the result is then shorter). Ties in score go to the lexicographically
// smallest pair, so the result is deterministic. Words longer than
// Tokenizer::kMaxInputCharsPerWord are skipped (the tokenizer maps them to [UNK]).
// Throws core::ConfigError when vocab_size cannot hold the specials and characters, and
// core::FormatError naming the line when a line is not UTF-8.
std::vector<std::string> learn_wordpiece_vocab(const std::vector<std::string>& lines,
                                               int vocab_size,
                                               const WordPieceTrainerConfig& config = {},
                                               const WordPieceProgress& progress = {});

// Writes tokens one per line to `path + ".tmp"`, then renames it to path, so a vocab.txt that
// exists is complete. Throws core::IoError naming the path, core::FormatError when a token is
// empty or holds a line break.
void write_vocab(const std::filesystem::path& path, const std::vector<std::string>& tokens);

}  // namespace hdv::models
