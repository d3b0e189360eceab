// Unicode character data shared by the text tokenizers (see unicode_text.h).
#include "models/unicode_text.h"

#include <algorithm>
#include <iterator>
#include <string_view>

namespace hdv::models {
namespace {

struct ClassRange {
  char32_t first;
  char32_t last;
  CharClass cls;
};

struct CombiningClassRange {
  char32_t first;
  char32_t last;
  uint8_t ccc;
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

struct Decomposition {
  char32_t cp;
  char32_t first;
  char32_t second;
};

#include "models/unicode_tables.inc"

// The row of a sorted, non-overlapping [first, last] table that holds c, or nullptr.
template <typename Row, size_t N>
const Row* find_row(const Row (&table)[N], char32_t c) {
  auto it = std::upper_bound(std::begin(table), std::end(table), c,
                             [](char32_t value, const Row& row) { return value < row.first; });
  if (it == std::begin(table)) return nullptr;
  --it;
  return c <= it->last ? &*it : nullptr;
}

// Appends the full canonical decomposition of c (UAX #15 D68, Hangul per Unicode §3.12).
void decompose(char32_t c, std::u32string& out) {
  if (c < 0xC0) {
    out.push_back(c);
    return;
  }
  constexpr char32_t kHangulFirst = 0xAC00, kHangulCount = 11172;
  if (c >= kHangulFirst && c < kHangulFirst + kHangulCount) {
    const char32_t index = c - kHangulFirst;
    out.push_back(0x1100 + index / 588);                      // leading consonant
    out.push_back(0x1161 + (index % 588) / 28);               // vowel
    if (index % 28 != 0) out.push_back(0x11A7 + index % 28);  // trailing consonant
    return;
  }
  auto it =
      std::lower_bound(std::begin(kDecompositions), std::end(kDecompositions), c,
                       [](const Decomposition& row, char32_t value) { return row.cp < value; });
  if (it == std::end(kDecompositions) || it->cp != c) {
    out.push_back(c);
    return;
  }
  decompose(it->first, out);
  if (it->second != 0) decompose(it->second, out);
}

}  // namespace

CharClass char_class(char32_t c) {
  const ClassRange* row = find_row(kClassRanges, c);
  return row ? row->cls : kOther;
}

uint8_t canonical_combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const CombiningClassRange* row = find_row(kCombiningClassRanges, c);
  return row ? row->ccc : 0;
}

std::u32string nfd(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) decompose(c, out);
  for (size_t i = 0; i < out.size();) {
    if (canonical_combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < out.size() && canonical_combining_class(out[end]) != 0) ++end;
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i),
                     out.begin() + static_cast<std::ptrdiff_t>(end), [](char32_t a, char32_t b) {
                       return canonical_combining_class(a) < canonical_combining_class(b);
                     });
    i = end;
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
  const LowercaseRun* run = find_row(kLowercaseRuns, c);
  if (run != nullptr && (c - run->first) % run->stride == 0) {
    out.push_back(static_cast<char32_t>(static_cast<int32_t>(c) + run->delta));
    return;
  }
  out.push_back(c);
}

}  // namespace hdv::models
