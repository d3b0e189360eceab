// Growing a text tower's WordPiece vocabulary for captions it cannot read: what Hugging Face's
// add_tokens + resize_token_embeddings do, decided by a corpus.
//
// bert-base-uncased's vocabulary (all-MiniLM-L6-v2's, hdvila-small's) holds few CJK characters:
// 30 of the 99 that SynthVid's Chinese captions use. BERT's basic tokenizer makes every CJK
// character a word of its own, and a word WordPiece cannot spell becomes [UNK], so most of a
// Chinese caption reaches the model as [UNK] and nothing can be learned from it.
//
//   plan_vocab_extension: every word of the corpus that WordPiece turns into [UNK] contributes
//     its characters that the vocabulary lacks: the first as a word-start token ("连"), the others
//     as continuations ("##é"). With them, WordPiece's greedy longest match always spells the
//     word. New tokens are ordered by count (most frequent first), then by their UTF-8 bytes.
//   extend_text_vocabulary: a copy of the model with `added` more rows in
//     bert.embeddings.word_embeddings and in the MLM decoder (weight and bias). Existing rows are
//     kept bit for bit; each new row is drawn from a normal distribution fitted per dimension to
//     the existing rows of that matrix (seeded), and each new decoder bias is the mean bias, so a
//     new token starts as a typical one rather than as one shared point.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/tokenizer.h"
#include "models/vl_model.h"

namespace hdv::models {

struct VocabExtensionConfig {
  int64_t min_count = 1;  // least number of [UNK] words a new token must help spell
  int64_t max_new = 0;    // most tokens to add, most frequent first (0: no limit)

  // Throws core::ConfigError naming the field.
  void validate() const;
};

struct VocabExtensionPlan {
  std::vector<std::string> tokens;      // new tokens, in the order they are appended (ids follow the old ones)
  std::vector<int64_t> counts;          // per new token: [UNK] words of the corpus it helps spell
  int64_t words = 0;                    // words of the corpus (after BERT's basic tokenizer)
  int64_t unknown_words_before = 0;     // of them, words WordPiece turned into [UNK] with the old vocabulary
  int64_t unknown_words_after = 0;      // ... and with the extended one
  int64_t skipped_tokens = 0;           // candidate tokens left out by min_count or max_new
};

// Decides the tokens to add so that `texts` tokenize with as few [UNK] as possible. Words longer
// than Tokenizer::kMaxInputCharsPerWord stay [UNK] whatever the vocabulary (as in BERT) and are
// not counted as fixable. Throws core::FormatError for a text that is not UTF-8 (naming it by its
// index in `texts`).
VocabExtensionPlan plan_vocab_extension(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                        const VocabExtensionConfig& config = {});

// The vocabulary's tokens in id order followed by `added` (the new vocab.txt's lines). Throws
// core::Error when a token of `added` is already in the vocabulary or listed twice.
std::vector<std::string> extended_tokens(const Tokenizer& tokenizer, const std::vector<std::string>& added);

// A new model equal to `model` except for a vocabulary `added` tokens larger (see the top of the
// file). Throws core::ConfigError when added < 0.
VLModel extend_text_vocabulary(VLModelImpl& model, int64_t added, uint64_t seed = 0);

}  // namespace hdv::models
