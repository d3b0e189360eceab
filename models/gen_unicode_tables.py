#!/usr/bin/env python3
"""Generates models/unicode_tables.inc, the Unicode data behind models/unicode_text.cpp (used by the
WordPiece tokenizer, models/tokenizer.cpp, and CLIP's text clean-up, models/clip_text_clean.cpp).

The BERT basic tokenizer (HF transformers `BasicTokenizer`, HF tokenizers `BertNormalizer`)
needs, per code point: the general-category groups it tests (Cc, Cf, Co, Zs, Zl, Zp, Mn, P*),
the canonical combining class and one-level canonical decomposition (for NFD), and the lower-case
mapping (`str.lower()` applied to one character). Everything comes from Python's own
`unicodedata` module, so the tables carry the Unicode version of the Python that ran this.

Usage: python3 models/gen_unicode_tables.py [--out models/unicode_tables.inc]
"""
import argparse
import sys
import unicodedata


# Category groups the tokenizer distinguishes; names match `CharClass` in unicode_text.h.
CLASS_OF_CATEGORY = {
    "Cc": "kControl",
    "Cf": "kFormat",
    "Co": "kPrivateUse",
    "Zs": "kSpaceSeparator",
    "Zl": "kLineSeparator",
    "Zp": "kLineSeparator",
    "Mn": "kNonspacingMark",
    "Pc": "kPunctuation",
    "Pd": "kPunctuation",
    "Ps": "kPunctuation",
    "Pe": "kPunctuation",
    "Pi": "kPunctuation",
    "Pf": "kPunctuation",
    "Po": "kPunctuation",
}


def code_points():
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        yield cp


def runs(values):
    """Merges (cp, value) pairs, sorted by cp, into [first, last, value] runs of equal value."""
    out = []
    for cp, value in values:
        if out and out[-1][1] == cp - 1 and out[-1][2] == value:
            out[-1][1] = cp
        else:
            out.append([cp, cp, value])
    return out


def class_ranges():
    values = []
    for cp in code_points():
        name = CLASS_OF_CATEGORY.get(unicodedata.category(chr(cp)))
        if name is not None:
            values.append((cp, name))
    return runs(values)


def combining_class_ranges():
    values = [(cp, unicodedata.combining(chr(cp))) for cp in code_points()]
    return [r for r in runs([(cp, ccc) for cp, ccc in values if ccc != 0])]


def lowercase_runs():
    """Single-character mappings as [first, last, delta, stride] arithmetic runs."""
    mappings = []
    special = []
    for cp in code_points():
        lower = chr(cp).lower()
        if lower == chr(cp):
            continue
        if len(lower) == 1:
            mappings.append((cp, ord(lower) - cp))
        else:
            special.append((cp, [ord(c) for c in lower]))
    out = []
    for cp, delta in mappings:
        if out:
            first, last, run_delta, stride = out[-1]
            if run_delta == delta:
                if first == last and cp - last in (1, 2):
                    out[-1] = [first, cp, delta, cp - last]
                    continue
                if first != last and cp - last == stride:
                    out[-1][1] = cp
                    continue
        out.append([cp, cp, delta, 1])
    return out, special


def check_lowercase_runs(run_list):
    """Exits unless the runs reproduce str.lower() for every single-character mapping."""
    mapped = {}
    for first, last, delta, stride in run_list:
        for cp in range(first, last + 1, stride):
            mapped[cp] = cp + delta
    for cp in code_points():
        lower = chr(cp).lower()
        want = ord(lower) if len(lower) == 1 else cp
        if mapped.get(cp, cp) != want:
            sys.exit(f"gen_unicode_tables: lowercase runs disagree with str.lower() at U+{cp:04X}")


def decompositions():
    """One-level canonical decompositions [cp, first, second] (second 0 for singletons)."""
    entries = []
    for cp in code_points():
        fields = unicodedata.decomposition(chr(cp)).split()
        if not fields or fields[0].startswith("<"):
            continue  # none, or a compatibility decomposition (not part of NFD)
        if len(fields) > 2:
            sys.exit(f"gen_unicode_tables: U+{cp:04X} decomposes into {len(fields)} code points")
        parts = [int(f, 16) for f in fields] + [0]
        entries.append((cp, parts[0], parts[1]))
    return entries


def rows(items, width=100):
    """Items separated by spaces, wrapped into indented lines of at most `width` characters."""
    lines = []
    line = "   "
    for item in items:
        if len(line) + 1 + len(item) > width:
            lines.append(line)
            line = "   "
        line += " " + item
    if line.strip():
        lines.append(line)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="models/unicode_tables.inc")
    args = parser.parse_args()

    classes = class_ranges()
    combining = combining_class_ranges()
    lower, lower_special = lowercase_runs()
    check_lowercase_runs(lower)
    decomposed = decompositions()
    special_rows = []
    for cp, seq in lower_special:
        if len(seq) != 2:
            sys.exit(f"gen_unicode_tables: U+{cp:04X} lower-cases to {len(seq)} code points; "
                     "unicode_text.cpp handles 2")
        special_rows.append(f"{{0x{cp:X}, 0x{seq[0]:X}, 0x{seq[1]:X}}},")

    text = f"""// Unicode tables of models/unicode_text.cpp (the WordPiece tokenizer and CLIP's text clean-up).
// GENERATED by models/gen_unicode_tables.py from Python {sys.version.split()[0]} unicodedata
// (Unicode {unicodedata.unidata_version}); do not edit, rerun the script.
// Included by unicode_text.cpp inside its anonymous namespace, after the row types are declared.

constexpr std::string_view kUnicodeVersion = "{unicodedata.unidata_version}";

// General-category groups as [first, last] ranges; code points not listed are kOther.
constexpr ClassRange kClassRanges[] = {{
{rows([f"{{0x{a:X}, 0x{b:X}, {c}}}," for a, b, c in classes])}
}};

// Non-zero canonical combining classes as [first, last] ranges.
constexpr CombiningClassRange kCombiningClassRanges[] = {{
{rows([f"{{0x{a:X}, 0x{b:X}, {c}}}," for a, b, c in combining])}
}};

// str.lower() of one character: first, first+stride, ... <= last map to code point + delta.
constexpr LowercaseRun kLowercaseRuns[] = {{
{rows([f"{{0x{a:X}, 0x{b:X}, {d}, {s}}}," for a, b, d, s in lower])}
}};

// str.lower() results longer than one code point.
constexpr LowercasePair kLowercasePairs[] = {{
{rows(special_rows)}
}};

// One-level canonical decompositions {{code point, first, second}} (second 0: singleton);
// NFD applies them recursively. Hangul syllables are decomposed arithmetically instead.
constexpr Decomposition kDecompositions[] = {{
{rows([f"{{0x{c:X}, 0x{a:X}, 0x{b:X}}}," for c, a, b in decomposed])}
}};
"""
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"{args.out}: {len(classes)} class ranges, {len(combining)} combining-class ranges, "
          f"{len(lower)} lowercase runs, {len(decomposed)} decompositions "
          f"(Unicode {unicodedata.unidata_version})", file=sys.stderr)


if __name__ == "__main__":
    main()
