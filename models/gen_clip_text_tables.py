#!/usr/bin/env python3
"""Generates the Unicode and text-cleaning data of CLIP's tokenizer: models/clip_text_tables.inc
(for models/clip_text_clean.cpp) and models/clip_pattern_tables.inc (for models/clip_tokenizer.cpp).

OpenCLIP's tokenizer (open_clip/tokenizer.py) cleans a text with ftfy.fix_text, html.unescape
twice, Python's str.split()/strip() and str.lower(), then splits it with the `regex` module's
pattern `'s|'t|...|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+` (IGNORECASE). Every table here is read
from the module that runs that step, so the C++ port agrees with the Python of the venv that ran
this script (run it with the venv's interpreter, which has `regex` and `ftfy`):

- per code point, the pattern's class: letter, number, other, or none of them (whitespace
  and a few marks that IGNORECASE folds to letters, which findall skips) (tested with the
  `regex` module itself, IGNORECASE as open_clip compiles it);
- Python's whitespace (str.isspace) and the Cased / Case_Ignorable properties that str.lower()
  consults for a capital sigma (probed through str.lower());
- the primary composites (for NFC; lower-case mappings, canonical decompositions and combining
  classes are the BERT tables' of models/unicode_tables.inc, used through models/unicode_text.h);
- ftfy 6's character tables: Latin ligatures, half/full-width forms, removed control characters,
  its HTML entity table, and the Windows-1252 meaning of the C1 controls;
- Python's html.unescape tables (HTML5 named references, invalid numeric references).

Usage: ~/.cache/hdvila/venv/bin/python models/gen_clip_text_tables.py
         [--out models/clip_text_tables.inc] [--pattern-out models/clip_pattern_tables.inc]
"""
import argparse
import html
import html.entities
import os
import sys
import unicodedata

import ftfy
import ftfy.chardata
import regex

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_unicode_tables as shared  # noqa: E402  (the BERT tables' generator: runs, rows, lower-case, NFD data)


def pattern_classes():
    """[first, last, class] runs of the tokenizer pattern's character class per code point."""
    letter = regex.compile(r"[\p{L}]", regex.IGNORECASE)
    number = regex.compile(r"[\p{N}]", regex.IGNORECASE)
    other = regex.compile(r"[^\s\p{L}\p{N}]", regex.IGNORECASE)
    values = []
    for cp in shared.code_points():
        c = chr(cp)
        hits = [name for name, pat in (("kLetter", letter), ("kNumber", number), ("kOtherSymbol", other))
                if pat.fullmatch(c)]
        if len(hits) > 1:
            sys.exit(f"gen_clip_text_tables: U+{cp:04X} is in several pattern classes {hits}")
        if not hits:
            hits = ["kUnmatched"]  # regex whitespace, and e.g. U+0345 whose case fold is a letter
        if hits[0] != "kOtherSymbol":
            values.append((cp, hits[0]))
    return shared.runs(values)


def python_space_ranges():
    return shared.runs([(cp, 1) for cp in shared.code_points() if chr(cp).isspace()])


def case_ranges():
    """Cased / Case_Ignorable as str.lower() sees them, probed through the final-sigma rule."""
    values = []
    for cp in shared.code_points():
        c = chr(cp)
        if c == "\u03a3":
            continue
        cased_not_ignorable = (c + "\u03a3").lower()[-1] == "\u03c2"
        skipped = ("A" + c + "\u03a3").lower()[-1] == "\u03c2" and ("A\u03a3" + c).lower()[1] == "\u03c2"
        if cased_not_ignorable:
            values.append((cp, "kCased"))
        elif skipped:
            values.append((cp, "kCaseIgnorable"))
    return shared.runs(values)


def compositions():
    """Primary composites {first, second, composite}, sorted by (first, second)."""
    out = []
    for cp, first, second in shared.decompositions():
        if second == 0:
            continue
        if unicodedata.normalize("NFC", chr(cp)) == chr(cp):
            out.append((first, second, cp))
    return sorted(out)


def u32(s):
    return 'U"' + "".join(f"\\U{ord(c):08X}" for c in s) + '"'


def string_rows(mapping):
    return [f"{{0x{cp:X}, {u32(v)}}}," for cp, v in sorted(mapping.items())]


def named_rows(mapping):
    # Sorted by UTF-8 bytes so that C++ can binary-search with std::string_view comparison.
    items = sorted(mapping.items(), key=lambda kv: kv[0].encode("utf-8"))
    for name, _ in items:
        if not name.isascii() or '"' in name or "\\" in name:
            sys.exit(f"gen_clip_text_tables: entity name {name!r} is not plain ASCII")
    return [f'{{"{name}", {u32(value)}}},' for name, value in items]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="models/clip_text_tables.inc")
    parser.add_argument("--pattern-out", default="models/clip_pattern_tables.inc")
    args = parser.parse_args()

    c1 = {b: bytes([b]).decode("sloppy-windows-1252") for b in range(0x80, 0xA0)}
    control = shared.runs([(cp, 1) for cp in sorted(ftfy.chardata.CONTROL_CHARS)])
    invalid_codepoints = shared.runs([(cp, 1) for cp in sorted(html._invalid_codepoints)])
    ftfy_entities = {k[1:-1]: v for k, v in ftfy.chardata.HTML_ENTITIES.items()}  # "&amp;" -> "amp"

    pattern_text = f"""// The CLIP tokenizer pattern's character classes (models/clip_tokenizer.cpp).
// GENERATED by models/gen_clip_text_tables.py from Python {sys.version.split()[0]} (Unicode {unicodedata.unidata_version})
// and regex {regex.__version__}; do not edit, rerun the script.
// Included by clip_tokenizer.cpp inside its anonymous namespace, after the row type is declared.

// The tokenizer pattern's class per code point ([first, last] runs); code points not listed are
// kOtherSymbol (matched by [^\\s\\p{{L}}\\p{{N}}]).
constexpr PatternRange kPatternRanges[] = {{
{shared.rows([f"{{0x{a:X}, 0x{b:X}, {c}}}," for a, b, c in pattern_classes()])}
}};
"""
    text = f"""// Unicode and text-cleaning tables for CLIP's text clean-up (models/clip_text_clean.cpp).
// GENERATED by models/gen_clip_text_tables.py from Python {sys.version.split()[0]} (Unicode {unicodedata.unidata_version}),
// regex {regex.__version__} and ftfy {ftfy.__version__}; do not edit, rerun the script.
// Included by clip_text_clean.cpp inside its anonymous namespace, after the row types are declared.

// Python's str.isspace() (what str.split() and str.strip() split on).
constexpr CodeRange kPythonSpaceRanges[] = {{
{shared.rows([f"{{0x{a:X}, 0x{b:X}}}," for a, b, _ in python_space_ranges()])}
}};

// Cased (and not Case_Ignorable) and Case_Ignorable code points, for str.lower()'s final sigma.
constexpr CaseRange kCaseRanges[] = {{
{shared.rows([f"{{0x{a:X}, 0x{b:X}, {c}}}," for a, b, c in case_ranges()])}
}};

// Primary composites {{first, second, composite}} sorted by (first, second): NFC's compositions.
constexpr Composition kCompositions[] = {{
{shared.rows([f"{{0x{a:X}, 0x{b:X}, 0x{c:X}}}," for a, b, c in compositions()])}
}};

// ftfy fix_latin_ligatures: Latin ligatures and digraphs spelled out.
constexpr Replacement kLigatures[] = {{
{shared.rows(string_rows(ftfy.chardata.LIGATURES))}
}};

// ftfy fix_character_width: half- and full-width forms (and U+3000) to their usual width.
constexpr Replacement kWidthForms[] = {{
{shared.rows(string_rows(ftfy.chardata.WIDTH_MAP))}
}};

// ftfy remove_control_chars: the control characters it deletes.
constexpr CodeRange kRemovedControls[] = {{
{shared.rows([f"{{0x{a:X}, 0x{b:X}}}," for a, b, _ in control])}
}};

// ftfy fix_c1_controls: U+0080..U+009F read as their (sloppy) Windows-1252 bytes.
constexpr char32_t kC1AsWindows1252[32] = {{
{shared.rows([f"0x{ord(c1[b]):X}," for b in range(0x80, 0xA0)])}
}};

// ftfy unescape_html: "&name;" references it decodes (HTML5 names and some all-caps ones),
// sorted by name.
constexpr NamedReference kFtfyEntities[] = {{
{shared.rows(named_rows(ftfy_entities))}
}};

// Python html.entities.html5 (names with and without the final ';'), sorted by name.
constexpr NamedReference kHtml5Entities[] = {{
{shared.rows(named_rows(html.entities.html5))}
}};

// html.unescape: numeric references replaced by another character (_invalid_charrefs).
constexpr Replacement kInvalidCharrefs[] = {{
{shared.rows(string_rows(html._invalid_charrefs))}
}};

// html.unescape: numeric references to these code points become "" (_invalid_codepoints).
constexpr CodeRange kInvalidCodepoints[] = {{
{shared.rows([f"{{0x{a:X}, 0x{b:X}}}," for a, b, _ in invalid_codepoints])}
}};
"""
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    with open(args.pattern_out, "w", encoding="utf-8") as f:
        f.write(pattern_text)
    print(f"{args.out}, {args.pattern_out}: written (Unicode {unicodedata.unidata_version}, regex {regex.__version__}, "
          f"ftfy {ftfy.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
