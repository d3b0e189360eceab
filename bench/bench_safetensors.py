#!/usr/bin/env python3
"""Python counterpart of bench/bench_safetensors.cpp: the same file, the same work.

    bench_safetensors.py make FILE        write the benchmark file (BERT-base-like: 199 tensors, ~440 MB F32)
    bench_safetensors.py run FILE [--runs N] [--mode open|touch]

open: safe_open, then every tensor's dtype and shape via get_slice (no data read).
touch: safe_open, get_tensor for every tensor and sum it (every byte read).
"""
import argparse
import statistics
import time

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def make(path: str) -> None:
    g = torch.Generator().manual_seed(0)
    tensors = {"embeddings.word_embeddings.weight": torch.randn(30522, 768, generator=g)}
    for layer in range(12):
        p = f"encoder.layer.{layer}."
        for name, shape in [("attention.self.query", (768, 768)), ("attention.self.key", (768, 768)),
                            ("attention.self.value", (768, 768)), ("attention.output.dense", (768, 768)),
                            ("intermediate.dense", (3072, 768)), ("output.dense", (768, 3072))]:
            tensors[p + name + ".weight"] = torch.randn(*shape, generator=g)
            tensors[p + name + ".bias"] = torch.randn(shape[0], generator=g)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[p + ln + ".weight"] = torch.ones(768)
            tensors[p + ln + ".bias"] = torch.zeros(768)
    save_file(tensors, path, metadata={"format": "pt"})


def run(path: str, runs: int, mode: str) -> None:
    torch.set_num_threads(1)
    seconds, total = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        total = 0
        with safe_open(path, framework="pt") as f:
            for key in f.keys():
                if mode == "touch":
                    t = f.get_tensor(key)
                    t.sum().item()
                    total += t.numel() * t.element_size()
                else:
                    s = f.get_slice(key)
                    total += s.get_shape()[0] if s.get_shape() else 0
                    s.get_dtype()
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    print(f"python {mode}: {len(seconds)} runs, {total / 1e6 if mode == 'touch' else 0:.1f} MB, median {statistics.median(seconds) * 1e3:.2f} ms, "
          f"min {seconds[0] * 1e3:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["make", "run"])
    parser.add_argument("file")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--mode", choices=["open", "touch"], default="touch")
    args = parser.parse_args()
    make(args.file) if args.command == "make" else run(args.file, args.runs, args.mode)


if __name__ == "__main__":
    main()
