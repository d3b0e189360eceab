#!/usr/bin/env python3
"""Writes CLIP's BPE merges as a safetensors file for `hdvila-train import --clip`.

The C++ side reads plain merges files itself; this helper covers the two cases it cannot:
a gzip-compressed file (OpenCLIP's bpe_simple_vocab_16e6.txt.gz), and no merges file at all,
where it takes the one shipped inside the installed open_clip_torch package (nothing is
downloaded). The output holds one uint8 tensor, "tokenizer.bpe_merges": the merges file's
UTF-8 text, "#version" header line included, exactly as a CLIP checkpoint stores it.

Usage: clip_bpe_merges.py --in SOURCE --out OUT.safetensors
  SOURCE ending in .gz or .txt: that merges file; any other file (the weights being imported):
  the merges of the installed open_clip package.
"""
import argparse
import gzip
import os
import sys

import numpy as np
from safetensors.numpy import save_file


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", dest="source", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    if args.source.endswith(".gz") or args.source.endswith(".txt"):
        path = args.source
    else:
        try:
            from open_clip import tokenizer
        except ImportError as e:
            sys.exit(f"clip_bpe_merges: no merges file given and open_clip is not importable ({e}); "
                     "pip install open_clip_torch, or pass --clip-bpe FILE")
        path = tokenizer.default_bpe()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        sys.exit(f"clip_bpe_merges: {path}: not UTF-8 text ({e})")
    tmp = args.out + ".tmp"
    save_file({"tokenizer.bpe_merges": np.frombuffer(data, dtype=np.uint8)}, tmp,
              metadata={"source": os.path.abspath(path)})
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
