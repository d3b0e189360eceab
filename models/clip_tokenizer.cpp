// CLIP byte-level BPE tokenizer matching OpenCLIP's SimpleTokenizer (see clip_tokenizer.h).
//
// References: open_clip/tokenizer.py (bytes_to_unicode, basic_clean, whitespace_clean, bpe),
// ftfy 6 ftfy/__init__.py (fix_text, fix_and_explain) and ftfy/fixes.py, CPython Lib/html/__init__.py
// (unescape), CPython Objects/unicodeobject.c (lower, handle_capital_sigma), Unicode UAX #15
// (canonical composition).
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
#include "models/tokenizer.h"

namespace hdv::models {
namespace {

enum PatternClass : uint8_t {
  kOtherSymbol,  // [^\s\p{L}\p{N}]
  kLetter,       // [\p{L}]
  kNumber,       // [\p{N}]
  kUnmatched,    // matched by no alternative (whitespace): findall skips it
};

enum CaseClass : uint8_t { kNotCased, kCased, kCaseIgnorable };

struct PatternRange {
  char32_t first;
  char32_t last;
  PatternClass cls;
};

struct CodeRange {
  char32_t first;
  char32_t last;
};

struct CaseRange {
  char32_t first;
  char32_t last;
  CaseClass cls;
};

struct LowercaseRun {
  char32_t first;
  char32_t last;
  int32_t delta;
  uint8_t stride;
};

struct LowercasePair {
  char32_t cp;
  char32_t first;
  char32_t second;
};

struct CombiningClassRange {
  char32_t first;
  char32_t last;
  uint8_t ccc;
};

struct Decomposition {
  char32_t cp;
  char32_t first;
  char32_t second;
};

struct Composition {
  char32_t first;
  char32_t second;
  char32_t composite;
};

struct Replacement {
  char32_t cp;
  std::u32string_view text;
};

struct NamedReference {
  std::string_view name;
  std::u32string_view text;
};

#include "models/clip_text_tables.inc"

constexpr std::string_view kStartOfText = "<start_of_text>";
constexpr std::string_view kEndOfText = "<end_of_text>";

// ---- table look-ups

template <typename Row, size_t N>
const Row* find_range(const Row (&table)[N], char32_t c) {
  auto it = std::upper_bound(std::begin(table), std::end(table), c,
                             [](char32_t value, const Row& row) { return value < row.first; });
  if (it == std::begin(table)) return nullptr;
  --it;
  return c <= it->last ? &*it : nullptr;
}

template <size_t N>
const Replacement* find_replacement(const Replacement (&table)[N], char32_t c) {
  auto it = std::lower_bound(std::begin(table), std::end(table), c,
                             [](const Replacement& row, char32_t value) { return row.cp < value; });
  return it != std::end(table) && it->cp == c ? &*it : nullptr;
}

template <size_t N>
const NamedReference* find_name(const NamedReference (&table)[N], std::string_view name) {
  auto it = std::lower_bound(std::begin(table), std::end(table), name,
                             [](const NamedReference& row, std::string_view value) { return row.name < value; });
  return it != std::end(table) && it->name == name ? &*it : nullptr;
}

PatternClass pattern_class(char32_t c) {
  const PatternRange* row = find_range(kPatternRanges, c);
  return row ? row->cls : kOtherSymbol;
}

bool is_python_space(char32_t c) { return find_range(kPythonSpaceRanges, c) != nullptr; }

CaseClass case_class(char32_t c) {
  const CaseRange* row = find_range(kCaseRanges, c);
  return row ? row->cls : kNotCased;
}

uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const CombiningClassRange* row = find_range(kCombiningClassRanges, c);
  return row ? row->ccc : 0;
}

// ---- NFC (UAX #15: canonical decomposition, canonical ordering, canonical composition)

constexpr char32_t kHangulFirst = 0xAC00, kHangulCount = 11172;
constexpr char32_t kJamoL = 0x1100, kJamoV = 0x1161, kJamoT = 0x11A7;

void decompose(char32_t c, std::u32string& out) {
  if (c < 0xC0) {
    out.push_back(c);
    return;
  }
  if (c >= kHangulFirst && c < kHangulFirst + kHangulCount) {
    const char32_t index = c - kHangulFirst;
    out.push_back(kJamoL + index / 588);
    out.push_back(kJamoV + (index % 588) / 28);
    if (index % 28 != 0) out.push_back(kJamoT + index % 28);
    return;
  }
  auto it = std::lower_bound(std::begin(kDecompositions), std::end(kDecompositions), c,
                             [](const Decomposition& row, char32_t value) { return row.cp < value; });
  if (it == std::end(kDecompositions) || it->cp != c) {
    out.push_back(c);
    return;
  }
  decompose(it->first, out);
  if (it->second != 0) decompose(it->second, out);
}

// The primary composite of (a, b), or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kJamoL && a < kJamoL + 19 && b >= kJamoV && b < kJamoV + 21) {
    return kHangulFirst + ((a - kJamoL) * 21 + (b - kJamoV)) * 28;
  }
  if (a >= kHangulFirst && a < kHangulFirst + kHangulCount && (a - kHangulFirst) % 28 == 0 && b > kJamoT &&
      b < kJamoT + 28) {
    return a + (b - kJamoT);
  }
  auto it = std::lower_bound(std::begin(kCompositions), std::end(kCompositions), std::pair{a, b},
                             [](const Composition& row, std::pair<char32_t, char32_t> value) {
                               return row.first != value.first ? row.first < value.first : row.second < value.second;
                             });
  return it != std::end(kCompositions) && it->first == a && it->second == b ? it->composite : 0;
}

std::u32string nfc(const std::u32string& text) {
  if (std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x300; })) return text;
  std::u32string d;
  d.reserve(text.size());
  for (char32_t c : text) decompose(c, d);
  for (size_t i = 0; i < d.size();) {
    if (combining_class(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < d.size() && combining_class(d[end]) != 0) ++end;
    std::stable_sort(d.begin() + static_cast<std::ptrdiff_t>(i), d.begin() + static_cast<std::ptrdiff_t>(end),
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = end;
  }
  std::u32string out;
  out.reserve(d.size());
  size_t starter = std::u32string::npos;  // index in `out` of the last starter
  for (char32_t c : d) {
    const uint8_t ccc = combining_class(c);
    if (starter != std::u32string::npos) {
      // c is blocked from the starter by a character between them of class 0 or >= its own.
      const bool adjacent = out.size() - 1 == starter;
      const uint8_t previous = adjacent ? 0 : combining_class(out.back());
      if (adjacent || (previous != 0 && previous < ccc)) {
        if (const char32_t composite = compose_pair(out[starter], c)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (ccc == 0) starter = out.size();
    out.push_back(c);
  }
  return out;
}

// ---- ftfy.fix_text

bool is_ascii_alnum(char32_t c) { return (c >= U'0' && c <= U'9') || (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z'); }

std::string ascii_of(const std::u32string& s, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) out.push_back(static_cast<char>(s[i]));
  return out;
}

// html.unescape's numeric reference `digits` (base 10 or 16); `digits` is non-empty.
std::u32string numeric_reference(const std::string& digits, int base) {
  uint64_t value = 0;
  for (char ch : digits) {
    const int digit = ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(digit);
    if (value > 0x10FFFF) value = 0x110000;  // only "too large" matters from here on
  }
  if (value <= 0x10FFFF) {
    if (const Replacement* r = find_replacement(kInvalidCharrefs, static_cast<char32_t>(value))) return std::u32string(r->text);
  }
  if ((value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF) return U"\uFFFD";
  if (find_range(kInvalidCodepoints, static_cast<char32_t>(value)) != nullptr) return U"";
  return std::u32string(1, static_cast<char32_t>(value));
}

// Python html.unescape: numeric references, and named ones (with or without ';', the longest
// known prefix of a name without one).
std::u32string html_unescape(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != U'&' || i + 1 >= s.size()) {
      out.push_back(s[i++]);
      continue;
    }
    const size_t start = i + 1;
    if (s[start] == U'#') {
      // #[0-9]+;? | #[xX][0-9a-fA-F]+;?
      size_t j = start + 1;
      int base = 10;
      if (j < s.size() && (s[j] == U'x' || s[j] == U'X')) {
        base = 16;
        ++j;
      }
      const size_t digits_begin = j;
      const auto is_digit = [base](char32_t c) {
        return (c >= U'0' && c <= U'9') || (base == 16 && ((c >= U'a' && c <= U'f') || (c >= U'A' && c <= U'F')));
      };
      while (j < s.size() && is_digit(s[j])) ++j;
      if (j == digits_begin) {
        out.push_back(s[i++]);  // "&#" alone: no match; [^...#...] cannot start with '#'
        continue;
      }
      out += numeric_reference(ascii_of(s, digits_begin, j), base);
      if (j < s.size() && s[j] == U';') ++j;
      i = j;
      continue;
    }
    // [^\t\n\f <&#;]{1,32};?
    size_t j = start;
    while (j < s.size() && j - start < 32 && s[j] != U'\t' && s[j] != U'\n' && s[j] != U'\f' && s[j] != U' ' &&
           s[j] != U'<' && s[j] != U'&' && s[j] != U'#' && s[j] != U';') {
      ++j;
    }
    if (j == start) {
      out.push_back(s[i++]);
      continue;
    }
    if (j < s.size() && s[j] == U';') ++j;
    const std::u32string name = s.substr(start, j - start);
    const std::string name_utf8 = encode_utf8(name);
    if (const NamedReference* ref = find_name(kHtml5Entities, name_utf8)) {
      out += ref->text;
    } else {
      bool found = false;
      for (size_t x = name.size() - 1; x > 1; --x) {
        if (const NamedReference* ref = find_name(kHtml5Entities, encode_utf8(name.substr(0, x)))) {
          out += ref->text;
          out += name.substr(x);
          found = true;
          break;
        }
      }
      if (!found) {
        out.push_back(U'&');
        out += name;
      }
    }
    i = j;
  }
  return out;
}

// ftfy unescape_html: "&#?[0-9A-Za-z]{1,24};" replaced when ftfy's table knows it, or when it is
// a numeric reference html.unescape decodes whole.
std::u32string ftfy_unescape_html(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == U'&') {
      size_t j = i + 1;
      if (j < s.size() && s[j] == U'#') ++j;
      const size_t alnum_begin = j;
      while (j < s.size() && j - alnum_begin < 24 && is_ascii_alnum(s[j])) ++j;
      if (j > alnum_begin && j < s.size() && s[j] == U';') {
        const std::u32string match = s.substr(i, j + 1 - i);
        const std::string name = ascii_of(s, i + 1, j);
        if (const NamedReference* ref = find_name(kFtfyEntities, name)) {
          out += ref->text;
        } else if (s[i + 1] == U'#') {
          const std::u32string unescaped = html_unescape(match);
          out += unescaped.find(U';') != std::u32string::npos ? match : unescaped;
        } else {
          out += match;
        }
        i = j + 1;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

// One pass of ftfy's fixers after the HTML step (fix_encoding and fix_surrogates are not run: see
// clip_tokenizer.h), in fix_and_explain's order.
std::u32string ftfy_fixers(const std::u32string& text) {
  // fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes
  std::u32string s;
  s.reserve(text.size());
  for (char32_t c : text) {
    if (c >= 0x80 && c <= 0x9F) c = kC1AsWindows1252[c - 0x80];
    if (const Replacement* r = find_replacement(kLigatures, c)) {
      s += r->text;
      continue;
    }
    s.push_back(c);
  }
  std::u32string t;
  t.reserve(s.size());
  for (char32_t c : s) {
    if (const Replacement* r = find_replacement(kWidthForms, c)) {
      t += r->text;
      continue;
    }
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) c = U'\'';
    if (c >= 0x201C && c <= 0x201F) c = U'"';
    t.push_back(c);
  }
  // fix_line_breaks: \r\n, \r, U+2028, U+2029, U+0085 -> \n
  s.clear();
  for (size_t i = 0; i < t.size(); ++i) {
    const char32_t c = t[i];
    if (c == U'\r' && i + 1 < t.size() && t[i + 1] == U'\n') continue;
    s.push_back(c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x85 ? U'\n' : c);
  }
  // remove_terminal_escapes: \033\[[0-9;]*[a-zA-Z]
  t.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0x1B && i + 1 < s.size() && s[i + 1] == U'[') {
      size_t j = i + 2;
      while (j < s.size() && ((s[j] >= U'0' && s[j] <= U'9') || s[j] == U';')) ++j;
      if (j < s.size() && ((s[j] >= U'a' && s[j] <= U'z') || (s[j] >= U'A' && s[j] <= U'Z'))) {
        i = j;
        continue;
      }
    }
    t.push_back(s[i]);
  }
  // remove_control_chars
  s.clear();
  for (char32_t c : t) {
    if (find_range(kRemovedControls, c) == nullptr) s.push_back(c);
  }
  return nfc(s);
}

std::u32string fix_text(const std::u32string& text) {
  std::u32string out;
  bool unescape = true;  // ftfy's unescape_html="auto": off from the first line holding a '<' on
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(U'\n', pos);
    end = end == std::u32string::npos ? text.size() : end + 1;
    std::u32string segment = text.substr(pos, end - pos);
    if (segment.find(U'<') != std::u32string::npos) unescape = false;
    while (true) {
      const std::u32string original = segment;
      if (unescape) segment = ftfy_unescape_html(segment);
      segment = ftfy_fixers(segment);
      if (segment == original) break;
    }
    out += segment;
    pos = end;
  }
  return out;
}

// ---- whitespace and case

// " ".join(text.split()) (which also strips).
std::u32string join_words(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char32_t c : text) {
    if (is_python_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(U' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

void append_lower(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out.push_back(c >= U'A' && c <= U'Z' ? c + 32 : c);
    return;
  }
  for (const LowercasePair& pair : kLowercasePairs) {
    if (pair.cp == c) {
      out.push_back(pair.first);
      out.push_back(pair.second);
      return;
    }
  }
  const LowercaseRun* run = find_range(kLowercaseRuns, c);
  if (run != nullptr && (c - run->first) % run->stride == 0) {
    out.push_back(static_cast<char32_t>(static_cast<int32_t>(c) + run->delta));
    return;
  }
  out.push_back(c);
}

// Python str.lower(): a capital sigma preceded by a cased letter and not followed by one (case-
// ignorable characters skipped both ways) becomes final ς (CPython handle_capital_sigma).
std::u32string python_lower(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c != 0x3A3) {
      append_lower(c, out);
      continue;
    }
    ptrdiff_t j = static_cast<ptrdiff_t>(i) - 1;
    while (j >= 0 && case_class(text[static_cast<size_t>(j)]) == kCaseIgnorable) --j;
    bool final_sigma = j >= 0 && case_class(text[static_cast<size_t>(j)]) == kCased;
    if (final_sigma) {
      size_t k = i + 1;
      while (k < text.size() && case_class(text[k]) == kCaseIgnorable) ++k;
      final_sigma = k == text.size() || case_class(text[k]) != kCased;
    }
    out.push_back(final_sigma ? 0x3C2 : 0x3C3);
  }
  return out;
}

std::u32string strip_python_space(const std::u32string& s) {
  size_t begin = 0, end = s.size();
  while (begin < end && is_python_space(s[begin])) ++begin;
  while (end > begin && is_python_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

std::u32string clean_code_points(std::string_view text) {
  std::u32string s = fix_text(decode_utf8(text, "CLIP text"));
  s = strip_python_space(html_unescape(html_unescape(s)));
  return python_lower(join_words(s));
}

// ---- pre-tokenisation (the regex pattern)

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

// ---- byte-level BPE

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

std::string ClipTokenizer::clean(std::string_view text) { return encode_utf8(clean_code_points(text)); }

std::vector<std::string> ClipTokenizer::split_words(std::string_view text) {
  return split_clean(clean_code_points(text));
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
