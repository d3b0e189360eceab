"""Benchmark counterpart of bench/bench_generator.cpp: the same StyleGAN2 generator in PyTorch
Python (bench/stylegan2_ref.py), loading the C++ side's weights, timed the same way.

  bench_generator.py run --weights FILE [--batch 1,8] [--runs 20] [--warmup 3] [--threads 2] [--train]

--train also times forward + backward (psi 1, loss = mean of the squared image, gradients cleared
between runs) in fp32 and under torch.autocast("cpu", torch.bfloat16), as the C++ side does.

Equivalence of the two implementations is the ctest Generator.MatchesPythonReference.
"""
import argparse
import json
import statistics
import sys
import time

import torch
from safetensors import safe_open
from safetensors.torch import load_file

import stylegan2_ref


def load(path):
    with safe_open(path, "pt") as f:
        info = json.loads(f.metadata()["hdvila"])
    model = stylegan2_ref.Generator(info["config"])
    model.load(load_file(path))
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--train", action="store_true")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model = load(args.weights)
    print(f"python {args.weights}, {torch.get_num_threads()} thread(s), {args.warmup} warm-up + {args.runs} timed runs, inference_mode")
    torch.manual_seed(0)
    batches = [int(b) for b in args.batch.split(",")]
    if args.train:
        for bf16 in (False, True):
            for batch in batches:
                z = torch.randn(batch, model.cfg["z_dim"])

                def step():
                    for p in model.parameters():
                        p.grad = None
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                        image = model(z, psi=1.0)
                    image.float().square().mean().backward()

                for _ in range(args.warmup):
                    step()
                ms = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    step()
                    ms.append((time.perf_counter() - t0) * 1000)
                print(f"python train pass {'bf16' if bf16 else 'fp32'} batch {batch}: {args.runs} runs, "
                      f"median {statistics.median(ms):.2f} ms, min {min(ms):.2f} ms")
    with torch.inference_mode():
        for batch in [int(b) for b in args.batch.split(",")]:
            z = torch.randn(batch, model.cfg["z_dim"])
            for _ in range(args.warmup):
                model(z, psi=0.7)
            ms = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                model(z, psi=0.7)
                ms.append((time.perf_counter() - t0) * 1000)
            print(f"python generator batch {batch}: {args.runs} runs, median {statistics.median(ms):.2f} ms, min {min(ms):.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
