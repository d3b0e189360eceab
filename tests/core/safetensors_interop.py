#!/usr/bin/env python3
"""Interop fixture for tests/core/test_safetensors.cpp, using the PyPI `safetensors` package.

    safetensors_interop.py write FILE   writes the reference tensors of every dtype
    safetensors_interop.py check FILE   verifies a file written by the C++ side

The reference recipe mirrors reference_tensor() in the C++ test, computed independently here.
"""
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def reference(dtype_name: str) -> torch.Tensor:
    base = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
    recipes = {
        "f64": lambda: base * 0.25 - 3.0,
        "f32": lambda: (base * 0.5 - 4.0).to(torch.float32),
        "f16": lambda: (base * 0.125 - 1.0).to(torch.float16),
        "bf16": lambda: (base * 2.0 - 20.0).to(torch.bfloat16),
        "i64": lambda: (base * 1000000007 - 5).to(torch.int64),
        "i32": lambda: (base * 100000 - 7).to(torch.int32),
        "i16": lambda: (base * 1000 - 9).to(torch.int16),
        "i8": lambda: (base * 10 - 100).to(torch.int8),
        "u8": lambda: (base * 10).to(torch.uint8),
        "bool": lambda: base.remainder(3).eq(0),
        # Unsigned values past the signed range; U64's odd elements have the top bit set.
        "u16": lambda: (base * 2731).to(torch.int64).to(torch.uint16),
        "u32": lambda: (base * 150000000 + 7).to(torch.int64).to(torch.uint32),
        "u64": lambda: torch.where(torch.arange(24).reshape(2, 3, 4) % 2 == 1,
                                   (base.to(torch.int64) * 384307168202282325) | (-(2**63)),
                                   base.to(torch.int64) * 384307168202282325).view(torch.uint64),
        # 8-bit floats: values each format holds exactly (E5M2 has 2 mantissa bits, E8M0 powers of 2).
        "f8_e4m3": lambda: (base * 0.25 - 2.0).to(torch.float8_e4m3fn),
        "f8_e5m2": lambda: (base.remainder(8) - 4.0).to(torch.float8_e5m2),
        "f8_e4m3fnuz": lambda: (base * 0.25 - 2.0).to(torch.float8_e4m3fnuz),
        "f8_e5m2fnuz": lambda: (base.remainder(8) - 4.0).to(torch.float8_e5m2fnuz),
        "f8_e8m0": lambda: torch.pow(2.0, base - 12.0).to(torch.float8_e8m0fnu),
        # F4: two 4-bit floats per byte; the file's shape counts them ([2, 3, 8]).
        "f4": lambda: (base * 10 + 3).to(torch.uint8).view(torch.float4_e2m1fn_x2),
        "c64": lambda: torch.complex((base * 0.5 - 3.0).to(torch.float32), (base * 0.25).to(torch.float32)),
    }
    return recipes[dtype_name]()


NAMES = ["f64", "f32", "f16", "bf16", "i64", "i32", "i16", "i8", "u8", "bool",
         "u16", "u32", "u64", "f8_e4m3", "f8_e5m2", "f8_e4m3fnuz", "f8_e5m2fnuz", "f8_e8m0", "f4", "c64"]

SIGNED_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def bits(t: torch.Tensor) -> torch.Tensor:
    """The tensor's bytes as integers: torch.equal has no kernels for the unsigned and 8-bit types."""
    return t.view(SIGNED_OF_SIZE[t.element_size()])


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        save_file({name: reference(name) for name in NAMES}, path, metadata={"writer": "python"})
        return 0
    with safe_open(path, framework="pt") as f:
        keys = sorted(f.keys())
        if keys != sorted(NAMES):
            print(f"tensor names differ: {keys}", file=sys.stderr)
            return 1
        if f.metadata().get("writer") != "cpp":
            print(f"metadata differs: {f.metadata()}", file=sys.stderr)
            return 1
        for name in NAMES:
            got, want = f.get_tensor(name), reference(name)
            if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(bits(got), bits(want)):
                print(f"{name}: got {got.dtype} {tuple(got.shape)} {got.flatten()[:6]}, want {want.dtype}", file=sys.stderr)
                return 1
    print(f"checked {len(NAMES)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
