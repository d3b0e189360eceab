#!/usr/bin/env python3
"""Rewrites an HD-VILA checkpoint (microsoft/XPretrain hd-vila, torch.save) as safetensors.

`hdvila-train import --hdvila FILE.pt` runs this with the venv's Python (C++ never unpickles).
Accepted, read with torch.load(weights_only=True), so nothing in the file runs:
  - the released / ModelSaver file: a flat {name: tensor} dict (hdvila_stage2.pt, model_step_N.pt);
  - a training-restore file (restore.pt): {"global_step", "model_state_dict", "optim_state_dict", ...},
    of which only model_state_dict is kept; a "state_dict" or "model" wrapper likewise;
  - names under a "module." prefix (a DistributedDataParallel wrapper) when every name has it.
Stored dtypes are kept (the released weights are float16, BatchNorm float32); the C++ importer
converts. Tensors sharing storage (cls.predictions.bias and its decoder.bias alias) are cloned.

Usage: convert_hdvila_pt.py --in hdvila_stage2.pt --out hdvila_stage2.safetensors
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from convert_bin_to_safetensors import check_state_dict, fail, load_weights_only, save_atomically  # noqa: E402

SCRIPT = "convert_hdvila_pt.py"
WRAPPERS = ("model_state_dict", "state_dict", "model")
MARKER = "transformer.bert.embeddings.word_embeddings.weight"


def unwrap(source, state):
    """The flat model state dict inside `state`, and a note of what was unwrapped."""
    notes = []
    if isinstance(state, dict):
        for key in WRAPPERS:
            if isinstance(state.get(key), dict):
                others = sorted(str(k) for k in state if k != key)
                notes.append(f'took "{key}"' + (f" (ignored: {', '.join(others)})" if others else ""))
                state = state[key]
                break
    check_state_dict(SCRIPT, source, state)
    if state and all(str(name).startswith("module.") for name in state):
        state = {name[len("module."):]: value for name, value in state.items()}
        notes.append('removed the "module." prefix of every name')
    if MARKER not in state:
        fail(SCRIPT, f"{source}: not an HD-VILA checkpoint: no tensor \"{MARKER}\" among its {len(state)} "
                     f"(first names: {', '.join(list(map(str, state))[:5])})")
    return state, notes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in", dest="source", required=True, type=pathlib.Path, help="HD-VILA .pt to read")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="safetensors file to write")
    args = parser.parse_args()

    state, notes = unwrap(args.source, load_weights_only(SCRIPT, args.source))
    count = save_atomically(state, args.out, {"format": "pt", "source": "hd-vila"})
    print(f"{SCRIPT}: wrote {count} tensors to {args.out}" + "".join(f"; {note}" for note in notes))


if __name__ == "__main__":
    main()
