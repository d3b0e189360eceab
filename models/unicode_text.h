// Unicode character data shared by the text tokenizers (models/tokenizer.h: BERT's WordPiece,
// models/clip_text_clean.h: CLIP's clean-up), from Python's unicodedata as generated into
// models/unicode_tables.inc by models/gen_unicode_tables.py (Unicode 14.0.0).
#pragma once

#include <cstdint>
#include <string>

namespace hdv::models {

// General-category groups the BERT rules test; code points not in the tables are kOther.
enum CharClass : uint8_t {
  kOther,
  kControl,         // Cc
  kFormat,          // Cf
  kPrivateUse,      // Co
  kSpaceSeparator,  // Zs
  kLineSeparator,   // Zl, Zp
  kNonspacingMark,  // Mn
  kPunctuation,     // Pc Pd Ps Pe Pi Pf Po
};

CharClass char_class(char32_t c);

// The canonical combining class of c (0 for starters).
uint8_t canonical_combining_class(char32_t c);

// NFD (UAX #15): full canonical decomposition (arithmetic for Hangul), then every run of
// non-starters stably sorted by combining class.
std::u32string nfd(const std::u32string& text);

// Appends Python's str.lower() of the single character c (one or two code points).
void append_lower(char32_t c, std::u32string& out);

}  // namespace hdv::models
