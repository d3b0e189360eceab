#!/usr/bin/env python3
"""Rewrites a PyTorch checkpoint (Hugging Face `pytorch_model.bin`) as safetensors.

The C++ code never unpickles: models/bert_import.h reads safetensors only, and calls this script
(convert_bin_with_python) with the venv's Python when a model ships only a .bin. Loading uses
torch.load(weights_only=True), which refuses arbitrary pickled objects. Tensors that share memory
(tied embeddings) are cloned, because safetensors stores each tensor on its own. The output is
written to a temporary name and renamed, so a failed run never leaves a file that looks complete.

Usage: convert_bin_to_safetensors.py --in pytorch_model.bin --out model.safetensors
"""
import argparse
import os
import pathlib
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in", dest="source", required=True, type=pathlib.Path, help="pytorch_model.bin to read")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="safetensors file to write")
    args = parser.parse_args()

    import torch
    from safetensors.torch import save_file

    if not args.source.is_file():
        sys.exit(f"convert_bin_to_safetensors.py: error: {args.source}: no such file")
    try:
        state = torch.load(args.source, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - reported with the file name, then exit 1
        sys.exit(f"convert_bin_to_safetensors.py: error: {args.source}: cannot load as a weights-only "
                 f"PyTorch checkpoint: {error}")
    if not isinstance(state, dict):
        sys.exit(f"convert_bin_to_safetensors.py: error: {args.source}: expected a state dict (name -> tensor), "
                 f"got {type(state).__name__}")
    not_tensors = [name for name, value in state.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        sys.exit(f"convert_bin_to_safetensors.py: error: {args.source}: entries that are not tensors: "
                 f"{', '.join(map(str, not_tensors[:10]))}")

    tensors = {name: value.detach().clone().contiguous() for name, value in state.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_name(args.out.name + f".tmp{os.getpid()}")
    try:
        save_file(tensors, str(temporary), metadata={"format": "pt"})
        os.replace(temporary, args.out)
    finally:
        if temporary.exists():
            temporary.unlink()
    print(f"convert_bin_to_safetensors.py: wrote {len(tensors)} tensors to {args.out}")


if __name__ == "__main__":
    main()
