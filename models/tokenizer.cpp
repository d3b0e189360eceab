// WordPiece tokenizer matching HuggingFace `BertTokenizer` (see tokenizer.h for the pipeline).
//
// Reference: HF tokenizers `normalizers/bert.rs`, `pre_tokenizers/bert.rs`,
// `models/wordpiece/mod.rs`; Google BERT `tokenization.py`. NFD follows Unicode UAX #15
// (recursive canonical decomposition, arithmetic Hangul decomposition, canonical ordering).
#include "models/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "models/unicode_text.h"

namespace hdv::models {
namespace {

constexpr std::string_view kPad = kSpecialTokens[0];
constexpr std::string_view kUnk = kSpecialTokens[1];
constexpr std::string_view kCls = kSpecialTokens[2];
constexpr std::string_view kSep = kSpecialTokens[3];
constexpr std::string_view kMask = kSpecialTokens[4];

// HF: \t \n \r count as whitespace although they are Cc; Zl/Zp are whitespace to Rust's
// char::is_whitespace and to Python's str.split() alike.
bool is_whitespace(char32_t c) {
  if (c == U' ' || c == U'\t' || c == U'\n' || c == U'\r') return true;
  const CharClass cls = char_class(c);
  return cls == kSpaceSeparator || cls == kLineSeparator;
}

// HF tokenizers drops "other" characters (Cc, Cf, Co; surrogates cannot occur in valid UTF-8)
// but keeps unassigned ones.
bool is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  const CharClass cls = char_class(c);
  return cls == kControl || cls == kFormat || cls == kPrivateUse;
}

// All non-letter/number ASCII counts as punctuation ("$", "^", "`" are symbols in Unicode).
bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  return c >= 0x80 && char_class(c) == kPunctuation;
}

// The CJK Unified Ideographs blocks BERT splits per character (not Hangul, not kana).
bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Length of the special token starting text[pos], or 0 (HF matches them on the raw text).
size_t special_token_at(std::string_view text, size_t pos) {
  if (text[pos] != '[') return 0;
  for (std::string_view special : kSpecialTokens) {
    if (text.substr(pos, special.size()) == special) return special.size();
  }
  return 0;
}

// The lines of a vocab.txt; a final newline ends the last line instead of starting an empty one.
std::vector<std::string> read_vocab_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw core::IoError("vocabulary " + path.string() +
                        ": cannot open for reading (missing file or no permission); expected a "
                        "BERT vocab.txt with one token per line");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw core::IoError("vocabulary " + path.string() + ": read failed");
  const std::string content = buffer.str();
  if (content.empty()) {
    throw core::FormatError("vocabulary " + path.string() +
                            ": file is empty; expected one token per line");
  }
  decode_utf8(content, "vocabulary " + path.string());

  std::vector<std::string> tokens;
  size_t start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    std::string_view line(content.data() + start, end - start);
    // CRLF files read as HF reads them.
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    tokens.emplace_back(line);
    start = end + 1;
  }
  return tokens;
}

}  // namespace

void TokenizerConfig::validate() const {
  if (max_length < 2) {
    throw core::ConfigError("tokenizer config: max_length=" + std::to_string(max_length) +
                            " must be >= 2 (room for [CLS] and [SEP])");
  }
}

std::u32string decode_utf8(std::string_view text, std::string_view what) {
  std::u32string out;
  out.reserve(text.size());
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto fail = [&](size_t i) {
    throw core::FormatError(std::string(what) + ": invalid UTF-8 at byte " + std::to_string(i));
  };
  for (size_t i = 0; i < text.size();) {
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    }
    // Table 3-7 of the Unicode standard: the allowed range of the second byte depends on the
    // lead byte, which rules out overlong forms, surrogates and values above U+10FFFF.
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      fail(i);
    }
    if (i + length > text.size()) fail(i);
    if (byte(i + 1) < low || byte(i + 1) > high) fail(i);
    char32_t c = lead & (0xFF >> (length + 1));
    for (size_t k = 1; k < length; ++k) {
      if (k > 1 && (byte(i + k) & 0xC0) != 0x80) fail(i);
      c = (c << 6) | (byte(i + k) & 0x3F);
    }
    out.push_back(c);
    i += length;
  }
  return out;
}

std::string encode_utf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) append_utf8(c, out);
  return out;
}

std::vector<std::u32string> BasicTokenizer::split_words(std::string_view text,
                                                        std::string_view what) const {
  const std::u32string decoded = decode_utf8(text, what);

  // Clean and isolate CJK ideographs.
  std::u32string cleaned;
  cleaned.reserve(decoded.size());
  for (char32_t c : decoded) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      cleaned.push_back(U' ');
    } else if (is_cjk_ideograph(c)) {
      cleaned.push_back(U' ');
      cleaned.push_back(c);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(c);
    }
  }

  // Strip accents, then lower-case (HF tokenizers' order; per character the same result as
  // Python's lower-then-strip, which gen_unicode_tables.py's Unicode version was checked for).
  std::u32string normalized;
  if (lower_case_) {
    normalized.reserve(cleaned.size());
    for (char32_t c : nfd(cleaned)) {
      if (c >= 0x300 && char_class(c) == kNonspacingMark) continue;
      append_lower(c, normalized);
    }
  } else {
    normalized = std::move(cleaned);
  }

  std::vector<std::u32string> words;
  std::u32string current;
  const auto flush = [&] {
    if (!current.empty()) words.push_back(std::move(current));
    current.clear();
  };
  for (char32_t c : normalized) {
    if (is_whitespace(c)) {
      flush();
    } else if (is_punctuation(c)) {
      flush();
      words.push_back(std::u32string(1, c));
    } else {
      current.push_back(c);
    }
  }
  flush();
  return words;
}

std::vector<std::string> BasicTokenizer::tokenize(std::string_view text,
                                                  std::string_view what) const {
  std::vector<std::string> out;
  for (const std::u32string& word : split_words(text, what)) out.push_back(encode_utf8(word));
  return out;
}

Tokenizer::Tokenizer(const std::filesystem::path& vocab_path, TokenizerConfig config)
    : Tokenizer(read_vocab_file(vocab_path), config, "vocabulary " + vocab_path.string()) {}

Tokenizer::Tokenizer(std::vector<std::string> tokens, TokenizerConfig config,
                     std::string_view source)
    : config_(config), basic_(config.lower_case), tokens_(std::move(tokens)) {
  config_.validate();
  if (tokens_.empty()) {
    throw core::FormatError(std::string(source) + ": no tokens; expected one token per line");
  }
  ids_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    ids_.insert_or_assign(tokens_[i], static_cast<int64_t>(i));  // later duplicates win, as HF
  }
  std::string missing;
  for (std::string_view special : kSpecialTokens) {
    if (!contains(special)) missing += fmt::format("{}{}", missing.empty() ? "" : " ", special);
  }
  if (!missing.empty()) {
    throw core::FormatError(std::string(source) + ": missing special token(s) " + missing +
                            "; a BERT vocabulary needs [PAD] [UNK] [CLS] [SEP] [MASK]");
  }
  pad_id_ = token_to_id(kPad);
  unk_id_ = token_to_id(kUnk);
  cls_id_ = token_to_id(kCls);
  sep_id_ = token_to_id(kSep);
  mask_id_ = token_to_id(kMask);
}

void Tokenizer::wordpiece(const std::u32string& word, std::vector<int64_t>& ids,
                          std::vector<std::string>* pieces) const {
  if (word.size() > static_cast<size_t>(kMaxInputCharsPerWord)) {
    ids.push_back(unk_id_);
    if (pieces) pieces->emplace_back(kUnk);
    return;
  }
  std::string utf8;
  std::vector<size_t> offsets;  // offsets[i]: byte where character i starts
  offsets.reserve(word.size() + 1);
  for (char32_t c : word) {
    offsets.push_back(utf8.size());
    append_utf8(c, utf8);
  }
  offsets.push_back(utf8.size());

  const size_t first_new = ids.size();
  std::string candidate;
  for (size_t start = 0; start < word.size();) {
    int64_t found = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      candidate.assign(start > 0 ? "##" : "");
      candidate.append(utf8, offsets[start], offsets[end] - offsets[start]);
      auto it = ids_.find(candidate);
      if (it != ids_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {  // one unmatchable piece makes the whole word unknown
      const size_t matched = ids.size() - first_new;
      ids.resize(first_new);
      if (pieces) pieces->resize(pieces->size() - matched);
      ids.push_back(unk_id_);
      if (pieces) pieces->emplace_back(kUnk);
      return;
    }
    ids.push_back(found);
    if (pieces) pieces->push_back(candidate);
    start = end;
  }
}

void Tokenizer::run(std::string_view text, std::vector<int64_t>& ids,
                    std::vector<std::string>* pieces) const {
  decode_utf8(text, "text");  // byte offsets in errors refer to the whole text
  size_t segment_start = 0;
  const auto run_segment = [&](size_t end) {
    if (end <= segment_start) return;
    const std::string_view segment = text.substr(segment_start, end - segment_start);
    for (const std::u32string& word : basic_.split_words(segment)) wordpiece(word, ids, pieces);
  };
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = special_token_at(text, pos);
    if (length == 0) {
      ++pos;
      continue;
    }
    run_segment(pos);
    const std::string_view special = text.substr(pos, length);
    ids.push_back(token_to_id(special));
    if (pieces) pieces->emplace_back(special);
    pos += length;
    segment_start = pos;
  }
  run_segment(text.size());
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  std::vector<int64_t> ids;
  std::vector<std::string> pieces;
  run(text, ids, &pieces);
  return pieces;
}

std::vector<int64_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  run(text, ids, nullptr);
  return ids;
}

Encoding Tokenizer::encode_for_model(std::string_view text, int max_length) const {
  if (max_length < 2) {
    throw core::Error("encode_for_model: max_length=" + std::to_string(max_length) +
                      " must be >= 2 (room for [CLS] and [SEP])");
  }
  std::vector<int64_t> pieces = encode(text);
  const size_t room = static_cast<size_t>(max_length) - 2;
  if (pieces.size() > room) pieces.resize(room);

  Encoding encoding;
  encoding.input_ids.reserve(static_cast<size_t>(max_length));
  encoding.input_ids.push_back(cls_id_);
  encoding.input_ids.insert(encoding.input_ids.end(), pieces.begin(), pieces.end());
  encoding.input_ids.push_back(sep_id_);
  encoding.attention_mask.assign(encoding.input_ids.size(), 1);
  encoding.input_ids.resize(static_cast<size_t>(max_length), pad_id_);
  encoding.attention_mask.resize(static_cast<size_t>(max_length), 0);
  return encoding;
}

Encoding Tokenizer::encode_for_model(std::string_view text) const {
  return encode_for_model(text, config_.max_length);
}

const std::string& Tokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw core::Error("id_to_token: id " + std::to_string(id) + " is outside the vocabulary [0, " +
                      std::to_string(vocab_size()) + ")");
  }
  return tokens_[static_cast<size_t>(id)];
}

int64_t Tokenizer::token_to_id(std::string_view token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) {
    throw core::Error("token_to_id: \"" + std::string(token) + "\" is not in the vocabulary");
  }
  return it->second;
}

bool Tokenizer::contains(std::string_view token) const { return ids_.find(token) != ids_.end(); }

}  // namespace hdv::models
