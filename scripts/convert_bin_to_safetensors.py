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


def fail(script, message):
    sys.exit(f"{script}: error: {message}")


def load_weights_only(script, source):
    """torch.load(weights_only=True) of `source`, with the file named in any error."""
    import torch

    if not source.is_file():
        fail(script, f"{source}: no such file")
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - reported with the file name, then exit 1
        fail(script, f"{source}: cannot load as a weights-only PyTorch checkpoint: {error}")


def check_state_dict(script, source, state):
    """Exits naming the file unless `state` is a dict of tensors."""
    import torch

    if not isinstance(state, dict):
        fail(script, f"{source}: expected a state dict (name -> tensor), got {type(state).__name__}")
    not_tensors = [name for name, value in state.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        fail(script, f"{source}: entries that are not tensors: {', '.join(map(str, not_tensors[:10]))}")


def save_atomically(tensors, out, metadata):
    """Writes `tensors` (cloned, contiguous) to `out` through a temporary name."""
    from safetensors.torch import save_file

    tensors = {name: value.detach().clone().contiguous() for name, value in tensors.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + f".tmp{os.getpid()}")
    try:
        save_file(tensors, str(temporary), metadata=metadata)
        os.replace(temporary, out)
    finally:
        if temporary.exists():
            temporary.unlink()
    return len(tensors)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in", dest="source", required=True, type=pathlib.Path, help="pytorch_model.bin to read")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="safetensors file to write")
    args = parser.parse_args()

    script = "convert_bin_to_safetensors.py"
    state = load_weights_only(script, args.source)
    check_state_dict(script, args.source, state)
    count = save_atomically(state, args.out, {"format": "pt"})
    print(f"{script}: wrote {count} tensors to {args.out}")


if __name__ == "__main__":
    main()
