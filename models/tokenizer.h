// WordPiece text tokenizer, identical in output to HuggingFace `BertTokenizer` (uncased).
//
// Reference: HF tokenizers `normalizers/bert.rs` + `pre_tokenizers/bert.rs` + `models/wordpiece`
// (what transformers >= 5 runs for `BertTokenizer`), which follow Google BERT `tokenization.py`
// (`BasicTokenizer`, `WordpieceTokenizer`). The pipeline:
//   1. the special tokens [PAD] [UNK] [CLS] [SEP] [MASK] are cut out of the raw text verbatim;
//   2. clean: drop U+0000, U+FFFD and control characters (categories Cc, Cf, Co except \t \n \r),
//      map whitespace (\t \n \r, Zs, Zl, Zp) to ' ';
//   3. put spaces around CJK ideographs;
//   4. when lower-casing: NFD, drop non-spacing marks (Mn), lower-case each character;
//   5. split on whitespace, and split every punctuation character (ASCII symbols, P*) off alone;
//   6. WordPiece: greedy longest-match-first with "##" continuations; a word longer than 100
//      characters, or with a piece no vocabulary entry matches, becomes one [UNK].
// Unicode data (models/unicode_tables.inc) is generated from Python's unicodedata by
// models/gen_unicode_tables.py. Lower-casing is per character, as in HF tokenizers (so a
// word-final capital sigma becomes σ, not Python str.lower()'s contextual ς), and unassigned
// code points are kept (they become [UNK]), as in HF tokenizers. Known, deliberate gaps to HF
// tokenizers 0.23: its category tables predate Unicode 14 (characters assigned since differ)
// and its CJK range starts Extension E at U+2B920; we use Unicode 14 and BERT's U+2B820.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hdv::models {

// BERT's special tokens in the order a learned vocabulary lists them (ids 0..4 there; in
// bert-base-uncased they sit at 0, 100, 101, 102, 103). Written in a text, they are kept whole.
inline constexpr std::array<std::string_view, 5> kSpecialTokens = {"[PAD]", "[UNK]", "[CLS]",
                                                                   "[SEP]", "[MASK]"};

struct TokenizerConfig {
  bool lower_case = true;  // lower-case and strip accents (uncased BERT vocabularies)
  int max_length = 50;     // tokens per encode_for_model() sequence, [CLS] and [SEP] included

  // Throws core::ConfigError naming the field ("max_length=1 must be >= 2").
  void validate() const;
};

// Decodes UTF-8 into code points. Overlong forms, surrogates (U+D800..DFFF), values above
// U+10FFFF and truncated sequences throw core::FormatError "<what>: invalid UTF-8 at byte N"
// (N: offset of the first byte of the bad sequence).
std::u32string decode_utf8(std::string_view text, std::string_view what = "text");

// Encodes code points as UTF-8 (the inverse of decode_utf8 on valid input).
std::string encode_utf8(std::u32string_view code_points);

// BERT's basic tokenizer: steps 2-5 above (no special-token handling, no vocabulary). Splits
// text into words and single punctuation characters, each returned as UTF-8.
class BasicTokenizer {
 public:
  explicit BasicTokenizer(bool lower_case = true) : lower_case_(lower_case) {}

  // `what` names the text in error messages ("text", "corpus line 12").
  std::vector<std::string> tokenize(std::string_view text, std::string_view what = "text") const;

  // Same words as code points (what WordPiece consumes).
  std::vector<std::u32string> split_words(std::string_view text,
                                          std::string_view what = "text") const;

  bool lower_case() const { return lower_case_; }

 private:
  bool lower_case_;
};

// A model-ready sequence: [CLS] pieces [SEP] [PAD]..., all of length max_length.
struct Encoding {
  std::vector<int64_t> input_ids;       // token ids
  std::vector<int64_t> attention_mask;  // 1 for real tokens (specials included), 0 for [PAD]
};

class Tokenizer {
 public:
  // Longest word WordPiece splits; longer words become [UNK] (HF max_input_chars_per_word).
  static constexpr int kMaxInputCharsPerWord = 100;

  // Loads a BERT vocab.txt: one token per line, id = line number (0-based). A token listed
  // twice maps to its last line, as HF load_vocab does. Throws core::IoError when the file
  // cannot be read and core::FormatError when it is empty, not UTF-8, or lacks one of
  // [CLS] [SEP] [PAD] [MASK] [UNK]; the message names the file.
  explicit Tokenizer(const std::filesystem::path& vocab_path, TokenizerConfig config = {});

  // Builds from tokens in id order (tests, vocabularies learned in memory). `source` names
  // them in error messages.
  Tokenizer(std::vector<std::string> tokens, TokenizerConfig config,
            std::string_view source = "vocabulary");

  // Word pieces of text, e.g. "Unaffable!" -> {"una", "##ffa", "##ble", "!"}.
  std::vector<std::string> tokenize(std::string_view text) const;

  // Ids of tokenize(text), no special tokens added.
  std::vector<int64_t> encode(std::string_view text) const;

  // [CLS] ids [SEP], word pieces truncated so the whole fits max_length, then padded with
  // [PAD] to exactly max_length. Throws core::Error when max_length < 2.
  Encoding encode_for_model(std::string_view text, int max_length) const;
  // The same with config().max_length.
  Encoding encode_for_model(std::string_view text) const;

  int64_t vocab_size() const { return static_cast<int64_t>(tokens_.size()); }
  // Throws core::Error naming the id when it is out of range.
  const std::string& id_to_token(int64_t id) const;
  // Throws core::Error naming the token when it is not in the vocabulary.
  int64_t token_to_id(std::string_view token) const;
  bool contains(std::string_view token) const;

  int64_t pad_id() const { return pad_id_; }
  int64_t unk_id() const { return unk_id_; }
  int64_t cls_id() const { return cls_id_; }
  int64_t sep_id() const { return sep_id_; }
  int64_t mask_id() const { return mask_id_; }

  const TokenizerConfig& config() const { return config_; }

 private:
  // Appends the ids (and, when `pieces` is not null, the strings) of text's word pieces.
  void run(std::string_view text, std::vector<int64_t>& ids,
           std::vector<std::string>* pieces) const;
  void wordpiece(const std::u32string& word, std::vector<int64_t>& ids,
                 std::vector<std::string>* pieces) const;

  TokenizerConfig config_;
  BasicTokenizer basic_;
  // Hashes std::string and std::string_view alike so lookups need no temporary string.
  struct TokenHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t, TokenHash, std::equal_to<>> ids_;
  int64_t pad_id_ = 0;
  int64_t unk_id_ = 0;
  int64_t cls_id_ = 0;
  int64_t sep_id_ = 0;
  int64_t mask_id_ = 0;
};

}  // namespace hdv::models
