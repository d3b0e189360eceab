#!/usr/bin/env python3
"""Writes the parity fixture for tests/generation/test_generator.cpp (generation/generator.h).

The reference is bench/stylegan2_ref.py (weight-modulated, grouped convolutions and separable
FIR filters; the C++ side modulates activations and uses 2-D FIR kernels). Random weights with
non-trivial biases, noise strengths and w_avg, so every tensor matters.

Writes, in fp32:
  DIR/generator.safetensors  a "generator" checkpoint (hdvila metadata) of preset stylegan2-tiny
  DIR/io.safetensors         "z" [3, 32], "image" G(z) with psi 1, "image_psi" with psi 0.6,
                             "w" the mapping output [3, 32]

Usage:
  make_generator_fixture.py --out DIR [--seed 0]
"""
import argparse
import os
import pathlib
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
import stylegan2_ref  # noqa: E402


def save_atomically(tensors, path, metadata=None):
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    cfg = stylegan2_ref.preset("stylegan2-tiny")
    model = stylegan2_ref.Generator(cfg)
    with torch.no_grad():
        for name, p in model.params.items():
            if name.endswith("bias") or name.endswith("noise_strength"):
                p.copy_(0.2 * torch.randn_like(p) + (1.0 if "affine" in name else 0.0))
        model.bufs["mapping.w_avg"] = 0.3 * torch.randn(cfg["w_dim"])
        z = torch.randn(3, cfg["z_dim"])
        w = model.mapping(z)
        image = model(z)
        image_psi = model(z, psi=0.6)
    args.out.mkdir(parents=True, exist_ok=True)
    save_atomically(model.state(), args.out / "generator.safetensors", stylegan2_ref.metadata(cfg, "stylegan2-tiny"))
    save_atomically({"z": z, "w": w, "image": image, "image_psi": image_psi}, args.out / "io.safetensors")
    print(f"wrote {args.out}/generator.safetensors and io.safetensors (image {list(image.shape)})")


if __name__ == "__main__":
    main()
