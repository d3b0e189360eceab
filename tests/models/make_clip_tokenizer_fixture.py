#!/usr/bin/env python3
"""Writes the parity fixture for tests/models/test_clip_tokenizer.cpp.

Generates --count varied sentences deterministically from --seed: the mixed sentences of the BERT
tokenizer fixture (make_tokenizer_fixture.py: captions, accents, punctuation, numbers, URLs, CJK,
kana, Hangul, emoji, Greek, Cyrillic, other scripts, control characters, odd spaces, full-width
forms, combining marks) and CLIP-specific ones (contractions in any case, curly quotes, Latin
ligatures, HTML entities with and without ';', numeric references, ANSI escapes, capital sigmas,
decomposed accents for NFC, <start_of_text>/<end_of_text> written in the text, texts far over the
77-token context). Each is tokenized with OpenCLIP's own tokenizer (open_clip.tokenizer
SimpleTokenizer, the merges shipped inside the open_clip_torch package), one JSON object per line:

  {"text": ..., "clean": ..., "ids": [...], "model_ids": [...]}

clean = open_clip.tokenizer._clean_lower(text); ids = encode(text); model_ids = tokenizer(text)[0]
(77 ids: start, tokens, end, zero padding; truncated with the end token kept).

Sentences that ftfy's mojibake repair (fix_encoding) would change are left out and counted: the
C++ port does not replicate that step (models/clip_tokenizer.h).

The gunzipped merges are written to --merges-out so the C++ test reads the same file.

Usage: make_clip_tokenizer_fixture.py --out FIXTURE.jsonl --merges-out merges.txt [--count 1200] [--seed 0]
"""
import argparse
import gzip
import json
import os
import pathlib
import random
import sys

import ftfy
from open_clip import tokenizer as oct

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tokenizer_fixture as bert_fixture  # noqa: E402  (its sentence generator)

FIXED = [
    "",
    "a photo of a cat.",
    "A PHOTO OF A DOG!",
    "it's they're we've I'm you'll he'd don't IT'S THEY'RE WE'VE I'M YOU'LL HE'D DON'T",
    "'s 't 're 've 'm 'll 'd ''s 'sun 'tis rock'n'roll",
    "\u201chere\u2019s a test\u201d \u2018single\u2019 \u201ebottom\u201f \u02bcmodifier",
    "\ufb01nance \ufb02uffy \ufb03 \ufb04 \ufb05 \ufb06 \u0132 \u0133 \u01c4 \u01c5 \u01c6 \u0149",
    "&amp; &lt;b&gt; &quot;quoted&quot; &#39;apos&#39; &eacute;t&eacute; &EACUTE; &nbsp;x &hellip;",
    "&amp &lt &copy2024 &notit; &notin; &#x1F600; &#128512; &#0; &#x110000; &#150; &#xD800; &unknown;",
    "&amp;amp; double &amp;lt;escape&amp;gt; &#38;#38;",
    "a < b &amp; c",
    "line one &amp;\nline two < here &amp;\nline three &amp;",
    "\x1b[31mred\x1b[0m \x1b[1;32mbold green\x1b[m done",
    "ΟΔΟΣ ΟΔΟΣ. Σίσυφος ΣΊΣΥΦΟΣ Σ ΑΣ Σα ΑΣ'Α ΑΣ.Α",
    "e\u0301le\u0300ve cafe\u0301 n\u0303 A\u030a \u1100\u1161\u11a8 \u0915\u093c",
    "ＦＵＬＬ－ＷＩＤＴＨ　ＴＥＸＴ１２３！ ｶﾀｶﾅ ﾊﾝｶｸ",
    "tab\tsep\r\nwin\rmac\u2028ls\u2029ps\x85nel\x00nul\x07bel\ufeffbom\ufffcobj",
    "\x80\x91quoted\x92 \x93double\x94 \x96dash\x97 \x99 \x9f \x81",
    "<start_of_text> hello <end_of_text> <START_OF_TEXT> <start_of_text>x",
    "İstanbul straße DŽUNGLA ǅungla ΐ ﬀ",
    "3.14159 1,000,000 $42.50 50% #hashtag @user ½ ² ³ ٣ ४ 〇 Ⅻ",
    "I ❤️ emoji 😀🎉👍🏽 🥰 👨‍👩‍👧 🇫🇷 🏳️‍🌈",
    " ".join(["word"] * 100),
    "supercalifragilisticexpialidocious " * 10,
    "ͅ ι ſ 's 'ſ K k Å Å",
]

CONTRACTION_WORDS = ["it's", "that's", "don't", "can't", "won't", "they're", "we've", "I'm", "you'll", "she'd",
                     "o'clock", "rock'n'roll", "'tis", "ma'am", "y'all", "Bob's", "the dogs'"]
CURLY = ["\u2018", "\u2019", "\u201a", "\u201b", "\u201c", "\u201d", "\u201e", "\u201f", "\u02bc"]
LIGATURES = ["\ufb00", "\ufb01", "\ufb02", "\ufb03", "\ufb04", "\ufb05", "\ufb06", "\u0132", "\u0133", "\u01c4",
             "\u01c5", "\u01c6", "\u01c7", "\u01c8", "\u01c9", "\u01ca", "\u01cb", "\u01cc", "\u01f1", "\u01f2",
             "\u01f3", "\u0149"]
ENTITIES = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#39;", "&#x27;", "&nbsp;", "&eacute;", "&Eacute;",
            "&EACUTE;", "&ntilde;", "&NTILDE;", "&nTILDE;", "&hellip;", "&mdash;", "&euro;", "&copy;", "&reg;",
            "&trade;", "&amp", "&lt", "&copy", "&not", "&notin;", "&notit;", "&#8217;", "&#x2019;", "&#150;",
            "&#0;", "&#65;", "&#x41", "&#12345678;", "&bogus;", "&;", "&#;", "&#x;", "&amp;amp;", "&frac12;",
            "&Jscr;", "&HilbertSpace;", "&checkmark;", "&SZLIG;"]
GREEK_UPPER = ["ΟΔΟΣ", "ΣΟΦΟΣ", "ΑΣ", "ΣΑΣ", "ΤΗΣ ΓΗΣ", "ΛΌΓΟΣ.", "Σ", "ΌΣΟΣ'", "ΑΣ\u0301"]
SCRIPTS = ["Здравствуй, мир!", "שָׁלוֹם", "مَرْحَبًا بِكُمْ", "नमस्ते दुनिया", "สวัสดีครับ", "Xin chào thế giới",
           "გამარჯობა", "ᚠᛇᚻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝐁𝐨𝐥𝐝", "ⓒⓘⓡⓒⓛⓔ", "𒀀𒀁", "Ελληνικά", "日本語のテキスト", "漢字と仮名",
           "한국어 문장", "ภาษาไทย", "አማርኛ", "ᏣᎳᎩ", "ꦧꦱꦗꦮ"]


def clip_fragment(rng):
    kind = rng.randrange(9)
    if kind == 0:
        return bert_fixture.random_case(rng, rng.choice(CONTRACTION_WORDS))
    if kind == 1:
        q = rng.choice(CURLY)
        return q + bert_fixture.caption(rng) + rng.choice(CURLY)
    if kind == 2:
        return "".join(rng.choice(LIGATURES + list("abcfilst")) for _ in range(rng.randint(2, 8)))
    if kind == 3:
        return "".join(rng.choice(ENTITIES + ["x", " ", "a"]) for _ in range(rng.randint(1, 5)))
    if kind == 4:
        return rng.choice(GREEK_UPPER)
    if kind == 5:
        return rng.choice(SCRIPTS)
    if kind == 6:
        return f"\x1b[{rng.randint(0, 99)}m" + rng.choice(bert_fixture.ENGLISH_OBJECTS) + "\x1b[0m"
    if kind == 7:
        return rng.choice(["<start_of_text>", "<end_of_text>", "<|startoftext|>", "<|endoftext|>", "<end_of"])
    return bert_fixture.with_combining(rng, rng.choice(bert_fixture.ACCENTED))


def clip_sentence(rng):
    style = rng.randrange(10)
    if style < 3:
        return bert_fixture.sentence(rng)
    if style == 3:  # far over the context: truncation keeps the end token
        return " ".join(bert_fixture.caption(rng) for _ in range(rng.randint(8, 20)))
    pieces = [rng.choice([clip_fragment, bert_fixture.fragment])(rng) for _ in range(rng.randint(1, 8))]
    glue = [rng.choice(bert_fixture.SPACES) if rng.random() < 0.8 else "" for _ in pieces]
    return "".join(p + g for p, g in zip(pieces, glue))


def main():
    parser = argparse.ArgumentParser(description="CLIP tokenizer parity fixture (see module doc).")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="fixture to write (JSON lines)")
    parser.add_argument("--merges-out", type=pathlib.Path, required=True, help="write the gunzipped merges here")
    parser.add_argument("--count", type=int, default=1200, help="sentences (>= %d)" % len(FIXED))
    parser.add_argument("--seed", type=int, default=0, help="random seed of the sentences")
    args = parser.parse_args()
    if args.count < len(FIXED):
        parser.error(f"--count must be >= {len(FIXED)}")

    args.merges_out.parent.mkdir(parents=True, exist_ok=True)
    tmp_merges = args.merges_out.with_name(args.merges_out.name + ".tmp")
    tmp_merges.write_bytes(gzip.open(oct.default_bpe()).read())
    os.replace(tmp_merges, args.merges_out)

    tokenizer = oct.SimpleTokenizer()
    rng = random.Random(args.seed)
    texts, skipped = [], 0
    candidates = iter(FIXED)
    while len(texts) < args.count:
        text = next(candidates, None)
        if text is None:
            text = clip_sentence(rng)
        if ftfy.fix_text(text) != ftfy.fix_text(text, fix_encoding=False):
            skipped += 1
            continue
        texts.append(text)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    truncated = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for text in texts:
            ids = tokenizer.encode(text)
            truncated += len(ids) + 2 > oct.DEFAULT_CONTEXT_LENGTH
            model_ids = tokenizer(text)[0].tolist()
            f.write(json.dumps({"text": text, "clean": oct._clean_lower(text), "ids": ids,
                                "model_ids": model_ids}) + "\n")
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(texts)} sentences (seed {args.seed}; {truncated} truncated to "
          f"{oct.DEFAULT_CONTEXT_LENGTH}; {skipped} left out as mojibake ftfy would repair)", file=sys.stderr)


if __name__ == "__main__":
    main()
