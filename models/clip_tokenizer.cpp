// CLIP byte-level BPE tokenizer matching OpenCLIP's SimpleTokenizer (see clip_tokenizer.h).
//
// Reference: open_clip/tokenizer.py (SimpleTokenizer: the pattern, bytes_to_unicode, bpe, encode,
// __call__); the text clean-up before it is models/clip_text_clean.h.
#include "models/clip_tokenizer.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "models/clip_text_clean.h"
#include "models/tokenizer.h"

namespace hdv::models {
namespace {

enum PatternClass : uint8_t {
  kOtherSymbol,  // [^\s\p{L}\p{N}]
  kLetter,       // [\p{L}]
  kNumber,       // [\p{N}]
  kUnmatched,    // matched by no alternative (whitespace): findall skips it
};

struct PatternRange {
  char32_t first;
  char32_t last;
  PatternClass cls;
};

#include "models/clip_pattern_tables.inc"

PatternClass pattern_class(char32_t c) {
  auto it = std::upper_bound(std::begin(kPatternRanges), std::end(kPatternRanges), c,
                             [](char32_t value, const PatternRange& row) { return value < row.first; });
  if (it == std::begin(kPatternRanges)) return kOtherSymbol;
  --it;
  return c <= it->last ? it->cls : kOtherSymbol;
}

constexpr std::string_view kStartOfText = "<start_of_text>";
constexpr std::string_view kEndOfText = "<end_of_text>";

// Length of the contraction ('s 't 're 've 'm 'll 'd) at s[i], or 0. IGNORECASE: "ſ" folds to 's'.
size_t contraction_at(const std::u32string& s, size_t i) {
  if (s[i] != U'\'' || i + 1 >= s.size()) return 0;
  const char32_t a = s[i + 1];
  const char32_t b = i + 2 < s.size() ? s[i + 2] : 0;
  if (a == U's' || a == 0x17F || a == U't' || a == U'm' || a == U'd') return 2;
  if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
  return 0;
}

std::vector<std::string> split_clean(const std::u32string& s) {
  std::vector<std::string> words;
  const std::u32string sot = decode_utf8(kStartOfText), eot = decode_utf8(kEndOfText);
  size_t i = 0;
  while (i < s.size()) {
    size_t length = 0;
    if (s.compare(i, sot.size(), sot) == 0) {
      length = sot.size();
    } else if (s.compare(i, eot.size(), eot) == 0) {
      length = eot.size();
    } else if ((length = contraction_at(s, i)) != 0) {
    } else {
      const PatternClass cls = pattern_class(s[i]);
      if (cls == kUnmatched) {
        ++i;
        continue;
      }
      length = 1;
      if (cls != kNumber) {
        while (i + length < s.size() && pattern_class(s[i + length]) == cls) ++length;
      }
    }
    words.push_back(encode_utf8(std::u32string_view(s).substr(i, length)));
    i += length;
  }
  return words;
}

// open_clip bytes_to_unicode(): printable bytes map to themselves, the rest to U+0100 onwards.
const std::array<std::string, 256>& byte_symbols() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> symbols;
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t c = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      symbols[static_cast<size_t>(b)] = encode_utf8(std::u32string(1, c));
    }
    return symbols;
  }();
  return table;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw core::IoError(fmt::format("{}: cannot open the CLIP BPE merges for reading (missing file or no permission); "
                                    "expected OpenCLIP's bpe_simple_vocab_16e6.txt (gunzipped) or a Hugging Face "
                                    "CLIP merges.txt",
                                    path.string()));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

ClipTokenizer::ClipTokenizer(std::vector<std::string> merges, std::string_view source) : merges_(std::move(merges)) {
  if (merges_.empty()) throw core::FormatError(fmt::format("{}: no merges", source));
  if (static_cast<int64_t>(merges_.size()) > kMaxMerges) {
    throw core::FormatError(fmt::format("{}: {} merges, at most {} expected", source, merges_.size(), kMaxMerges));
  }
  // bytes_to_unicode()'s dict order: the printable bytes first, then the others.
  std::vector<std::string> byte_order;
  for (int pass = 0; pass < 2; ++pass) {
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      if (printable == (pass == 0)) byte_order.push_back(byte_symbols()[static_cast<size_t>(b)]);
    }
  }
  for (const std::string& symbol : byte_order) tokens_.push_back(symbol);
  for (const std::string& symbol : byte_order) tokens_.push_back(symbol + "</w>");
  for (size_t rank = 0; rank < merges_.size(); ++rank) {
    const std::string& merge = merges_[rank];
    const size_t space = merge.find(' ');
    if (space == 0 || space == std::string::npos || space + 1 == merge.size() ||
        merge.find(' ', space + 1) != std::string::npos) {
      throw core::FormatError(fmt::format("{}: merge {} (line {} of a merges file) is \"{}\"; expected two symbols "
                                          "separated by one space",
                                          source, rank, rank + 2, merge));
    }
    decode_utf8(merge, fmt::format("{}: merge {}", source, rank));
    if (!ranks_.emplace(merge, static_cast<int64_t>(rank)).second) {
      throw core::FormatError(fmt::format("{}: merge {} \"{}\" repeats an earlier one", source, rank, merge));
    }
    tokens_.push_back(merge.substr(0, space) + merge.substr(space + 1));
  }
  tokens_.emplace_back(kStartOfText);
  tokens_.emplace_back(kEndOfText);
  for (size_t id = 0; id < tokens_.size(); ++id) ids_[tokens_[id]] = static_cast<int64_t>(id);  // last wins, as dict(zip())
}

ClipTokenizer ClipTokenizer::from_file(const std::filesystem::path& merges_path) {
  const std::string content = read_file(merges_path);
  if (content.size() >= 2 && static_cast<unsigned char>(content[0]) == 0x1F &&
      static_cast<unsigned char>(content[1]) == 0x8B) {
    throw core::FormatError(fmt::format("{}: gzip-compressed; gunzip it first (hdvila-train import --clip-bpe reads "
                                        ".gz files through the venv's Python)",
                                        merges_path.string()));
  }
  return from_text(content, merges_path.string());
}

ClipTokenizer ClipTokenizer::from_text(std::string_view content, std::string_view source) {
  // OpenCLIP's file opens with "\"bpe_simple_vocab_16e6.txt#version: 0.2", HF's with "#version: 0.2".
  size_t start = content.find('\n');
  if (content.substr(0, start).find("#version") == std::string_view::npos) {
    throw core::FormatError(fmt::format("{}: first line has no \"#version\" header; expected a CLIP BPE merges "
                                        "file (\"#version: 0.2\", then one \"first second\" pair per line)",
                                        source));
  }
  std::vector<std::string> merges;
  start = start == std::string_view::npos ? content.size() : start + 1;
  while (start < content.size() && static_cast<int64_t>(merges.size()) < kMaxMerges) {
    size_t end = content.find('\n', start);
    if (end == std::string_view::npos) end = content.size();
    std::string line(content.substr(start, end - start));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) merges.push_back(std::move(line));
    start = end + 1;
  }
  return ClipTokenizer(std::move(merges), source);
}

std::string ClipTokenizer::merges_text() const {
  std::string text = "#version: 0.2\n";
  for (const std::string& merge : merges_) text += merge + '\n';
  return text;
}

std::string ClipTokenizer::clean(std::string_view text) { return encode_utf8(clip_clean_text(text)); }

std::vector<std::string> ClipTokenizer::split_words(std::string_view text) {
  return split_clean(clip_clean_text(text));
}

void ClipTokenizer::bpe(const std::string& word, std::vector<std::string>& out) const {
  if (word == kStartOfText || word == kEndOfText) {
    out.push_back(word);
    return;
  }
  std::vector<std::string> symbols;
  for (unsigned char byte : word) symbols.push_back(byte_symbols()[byte]);
  symbols.back() += "</w>";
  std::string key;
  while (symbols.size() > 1) {
    int64_t best_rank = std::numeric_limits<int64_t>::max();
    std::string best;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      key = symbols[i] + ' ' + symbols[i + 1];
      auto it = ranks_.find(key);
      if (it != ranks_.end() && it->second < best_rank) {
        best_rank = it->second;
        best = key;
      }
    }
    if (best.empty()) break;
    const size_t space = best.find(' ');
    const std::string first = best.substr(0, space), second = best.substr(space + 1);
    std::vector<std::string> merged;
    merged.reserve(symbols.size());
    for (size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size() && symbols[i] == first && symbols[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(std::move(symbols[i]));
        ++i;
      }
    }
    symbols = std::move(merged);
  }
  out.insert(out.end(), std::make_move_iterator(symbols.begin()), std::make_move_iterator(symbols.end()));
}

std::vector<std::string> ClipTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> tokens;
  for (const std::string& word : split_words(text)) bpe(word, tokens);
  return tokens;
}

std::vector<int64_t> ClipTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  for (const std::string& token : tokenize(text)) {
    auto it = ids_.find(token);
    if (it == ids_.end()) {
      throw core::Error(fmt::format("CLIP tokenizer: token \"{}\" is not in the vocabulary (merges incomplete?)", token));
    }
    ids.push_back(it->second);
  }
  return ids;
}

std::vector<int64_t> ClipTokenizer::encode_for_model(std::string_view text, int64_t context_length) const {
  if (context_length < 2) {
    throw core::Error(fmt::format("CLIP tokenizer: context_length={} must be >= 2 (start and end tokens)", context_length));
  }
  std::vector<int64_t> ids = {sot_id()};
  const std::vector<int64_t> body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(eot_id());
  if (static_cast<int64_t>(ids.size()) > context_length) {
    ids.resize(static_cast<size_t>(context_length));
    ids.back() = eot_id();
  }
  ids.resize(static_cast<size_t>(context_length), 0);
  return ids;
}

const std::string& ClipTokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw core::Error(fmt::format("CLIP tokenizer: id {} is out of range [0, {})", id, vocab_size()));
  }
  return tokens_[static_cast<size_t>(id)];
}

int64_t ClipTokenizer::token_to_id(std::string_view token) const {
  auto it = ids_.find(std::string(token));
  if (it == ids_.end()) throw core::Error(fmt::format("CLIP tokenizer: token \"{}\" is not in the vocabulary", token));
  return it->second;
}

}  // namespace hdv::models
