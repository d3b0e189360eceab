// CLIP's text clean-up, as OpenCLIP runs it before tokenizing (see clip_text_clean.h).
//
// References: open_clip/tokenizer.py (basic_clean, whitespace_clean, _clean_lower), ftfy 6
// ftfy/__init__.py (fix_text, fix_and_explain) and ftfy/fixes.py, CPython Lib/html/__init__.py
// (unescape), CPython Objects/unicodeobject.c (lower, handle_capital_sigma), Unicode UAX #15
// (canonical composition).
#include "models/clip_text_clean.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "models/tokenizer.h"
#include "models/unicode_text.h"

namespace hdv::models {
namespace {

enum CaseClass : uint8_t { kNotCased, kCased, kCaseIgnorable };

struct CodeRange {
  char32_t first;
  char32_t last;
};

struct CaseRange {
  char32_t first;
  char32_t last;
  CaseClass cls;
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

bool is_python_space(char32_t c) { return find_range(kPythonSpaceRanges, c) != nullptr; }

CaseClass case_class(char32_t c) {
  const CaseRange* row = find_range(kCaseRanges, c);
  return row ? row->cls : kNotCased;
}

constexpr char32_t kHangulFirst = 0xAC00, kHangulCount = 11172;
constexpr char32_t kJamoL = 0x1100, kJamoV = 0x1161, kJamoT = 0x11A7;

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
  const std::u32string d = nfd(text);
  std::u32string out;
  out.reserve(d.size());
  size_t starter = std::u32string::npos;  // index in `out` of the last starter
  for (char32_t c : d) {
    const uint8_t ccc = canonical_combining_class(c);
    if (starter != std::u32string::npos) {
      // c is blocked from the starter by a character between them of class 0 or >= its own.
      const bool adjacent = out.size() - 1 == starter;
      const uint8_t previous = adjacent ? 0 : canonical_combining_class(out.back());
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

}  // namespace

std::u32string clip_clean_text(std::string_view text) {
  std::u32string s = fix_text(decode_utf8(text, "CLIP text"));
  s = strip_python_space(html_unescape(html_unescape(s)));
  return python_lower(join_words(s));
}

}  // namespace hdv::models
