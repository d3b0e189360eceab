#!/usr/bin/env python3
"""Reads a StyleGAN2 generator from a pickle without running anything from the file.

Two kinds of file:
  --layout nvlabs      a stylegan2-ada-pytorch / stylegan3 network pickle (network-snapshot-*.pkl,
                       ffhq.pkl, ...): a dict whose 'G_ema' is a torch_utils.persistence record;
  --layout rosinality  a rosinality/stylegan2-pytorch checkpoint (.pt, torch.save): a dict whose
                       'g_ema' is a state dict, optionally with 'latent_avg'.

Pickles can run code while they load (a __reduce__ names any callable). This script loads them
with an unpickler that resolves only an allow-list of globals: the NVlabs persistence record
(rebuilt here as an inert record: the module source it carries is never executed), torch's tensor
and storage rebuild functions, OrderedDict / set / EasyDict / argparse.Namespace. Any other global
refuses the whole file before it is called, naming the global. Storages inside NVlabs pickles are
nested legacy torch.save streams; they are read with torch.load(weights_only=True).

The generator's parameters and buffers are written, under their names in the file, to a
safetensors file whose metadata "stylegan_source" (JSON) records the layout, the class name and
the constructor arguments (NVlabs init_kwargs). hdvila-train import --stylegan-pkl maps them onto
hdvila's generator (generation/stylegan_import.h); that step checks names, shapes and geometry.
The output is written to a temporary name and renamed.

Usage: convert_stylegan_pkl.py --in FILE --out raw.safetensors [--layout auto|nvlabs|rosinality]
"""
import argparse
import collections
import io
import json
import os
import pathlib
import pickle
import sys

PROGRAM = "convert_stylegan_pkl.py"
# torch.save's legacy (pre-zip) stream starts with a protocol-2 pickle of this magic number.
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


class RefusedGlobal(pickle.UnpicklingError):
    pass


class PersistentRecord:
    """What torch_utils.persistence._reconstruct_persistent_obj(meta) would rebuild, inert."""

    def __init__(self, meta):
        if not isinstance(meta, dict):
            raise pickle.UnpicklingError(f"a persistence record holds {type(meta).__name__}, expected a dict")
        self.class_name = str(meta.get("class_name", "?"))
        self.version = meta.get("version")
        self.state = meta.get("state") or {}
        if not isinstance(self.state, dict):
            raise pickle.UnpicklingError(f"the persistence record of {self.class_name} has a state of type "
                                         f"{type(self.state).__name__}, expected a dict")


class Record:
    """An allow-listed plain class (argparse.Namespace): its attributes, nothing called."""

    def __init__(self, *args, **kwargs):
        self.__dict__.setdefault("fields", {}).update(kwargs)

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.__dict__.setdefault("fields", {}).update(state)


class EasyDict(dict):
    """dnnlib.EasyDict: a dict; attribute access is not needed here."""


def load_from_bytes(data):
    """A storage (a nested legacy torch.save stream), read by torch's weights-only unpickler."""
    import torch
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - the reason is torch's line naming the refused global
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = next((line for line in lines if "GLOBAL" in line or "global" in line), lines[-1] if lines else "")
        raise RefusedGlobal(f"a tensor storage in the file is not a plain storage and was refused (nothing from the "
                            f"file was run): {reason}") from None


def allowed_globals():
    import torch
    import torch._utils
    allowed = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): PersistentRecord,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("dnnlib.util", "EasyDict"): EasyDict,
        ("dnnlib", "EasyDict"): EasyDict,
        ("argparse", "Namespace"): Record,
        ("torch.storage", "_load_from_bytes"): load_from_bytes,
        ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
        ("torch", "Tensor"): torch.Tensor,
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("torch", "Size"): torch.Size,
    }
    rebuild_from_type = getattr(torch._tensor, "_rebuild_from_type_v2", None)
    if rebuild_from_type is not None:
        allowed[("torch._tensor", "_rebuild_from_type_v2")] = rebuild_from_type
    for name in ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool"):
        allowed[("torch", f"{name}Storage")] = getattr(torch, f"{name}Storage")
    for dtype in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"):
        allowed[("torch", dtype)] = getattr(torch, dtype)
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    _allowed = None

    def find_class(self, module, name):
        if RestrictedUnpickler._allowed is None:
            RestrictedUnpickler._allowed = allowed_globals()
        found = RestrictedUnpickler._allowed.get((module, name))
        if found is None:
            raise RefusedGlobal(f"refusing global {module}.{name}: it is not part of a StyleGAN2 network pickle "
                                f"(nothing from the file was run)")
        return found


class RestrictedPickleModule:
    """A pickle module for torch.load(pickle_module=...) whose Unpickler is the restricted one."""
    Unpickler = RestrictedUnpickler
    UnpicklingError = pickle.UnpicklingError
    __name__ = "restricted_pickle"

    @staticmethod
    def load(file, **kwargs):
        return RestrictedUnpickler(file, **kwargs).load()


def flatten_persistent(record, prefix, out, path):
    """Parameters and buffers of a persistence record's module tree, by dotted name."""
    state = record.state
    for field in ("_parameters", "_buffers"):
        for name, value in (state.get(field) or {}).items():
            if value is None:
                continue
            if not hasattr(value, "detach"):
                raise ValueError(f"{path}: {prefix}{name} is a {type(value).__name__}, expected a tensor")
            out[prefix + name] = value.detach()
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise ValueError(f"{path}: module {prefix}{name} is a {type(child).__name__}, not a StyleGAN2 network "
                             f"record")
        flatten_persistent(child, f"{prefix}{name}.", out, path)


def plain(value):
    """init_kwargs as JSON: dicts, lists, numbers, strings; anything else as its repr."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def read_nvlabs(path):
    with open(path, "rb") as f:
        data = RestrictedUnpickler(f).load()
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the pickle holds a {type(data).__name__}, expected the dict of a StyleGAN2 "
                         f"network pickle (keys G, D, G_ema)")
    if "G_ema" not in data:
        raise ValueError(f"{path}: no 'G_ema' in the pickle (keys: {', '.join(map(str, data.keys())) or 'none'}); "
                         f"expected a stylegan2-ada-pytorch network pickle")
    g = data["G_ema"]
    if not isinstance(g, PersistentRecord):
        raise ValueError(f"{path}: 'G_ema' is a {type(g).__name__}, expected a torch_utils.persistence record")
    tensors = collections.OrderedDict()
    flatten_persistent(g, "", tensors, path)
    info = {"layout": "nvlabs", "class_name": g.class_name, "persistence_version": g.version,
            "init_kwargs": plain(g.state.get("_init_kwargs") or {})}
    return tensors, info


def read_rosinality(path):
    import torch
    data = torch.load(path, map_location="cpu", weights_only=False, pickle_module=RestrictedPickleModule)
    if not isinstance(data, dict) or "g_ema" not in data:
        keys = ", ".join(map(str, data.keys())) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: no 'g_ema' state dict (found: {keys or 'none'}); expected a rosinality "
                         f"stylegan2-pytorch checkpoint")
    state = data["g_ema"]
    tensors = collections.OrderedDict()
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{path}: g_ema.{name} is a {type(value).__name__}, expected a tensor")
        tensors[name] = value.detach()
    if isinstance(data.get("latent_avg"), torch.Tensor):
        tensors["latent_avg"] = data["latent_avg"].detach().reshape(-1)
    return tensors, {"layout": "rosinality"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in", dest="source", required=True, type=pathlib.Path)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--layout", choices=["auto", "nvlabs", "rosinality"], default="auto",
                        help="auto: a torch.save file (zip or legacy) is rosinality's, any other pickle NVlabs'")
    args = parser.parse_args()
    if not args.source.is_file():
        sys.exit(f"{PROGRAM}: error: {args.source}: no such file")
    if args.layout == "auto":
        with open(args.source, "rb") as f:
            head = f.read(16)
        args.layout = "rosinality" if head.startswith(b"PK\x03\x04") or head.startswith(LEGACY_MAGIC) else "nvlabs"

    import torch
    from safetensors.torch import save_file

    try:
        tensors, info = (read_nvlabs if args.layout == "nvlabs" else read_rosinality)(args.source)
    except RefusedGlobal as error:
        sys.exit(f"{PROGRAM}: error: {args.source}: {error}")
    except Exception as error:  # noqa: BLE001 - any failure to parse is reported with the file name, exit 1
        sys.exit(f"{PROGRAM}: error: {args.source}: cannot read as a {args.layout} StyleGAN2 file: {error}")
    if not tensors:
        sys.exit(f"{PROGRAM}: error: {args.source}: the generator holds no tensors")

    out = {name: value.to(torch.float32) if value.is_floating_point() else value for name, value in tensors.items()}
    out = {name: value.clone().contiguous() for name, value in out.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_name(args.out.name + f".tmp{os.getpid()}")
    try:
        save_file(out, str(temporary), metadata={"format": "pt", "stylegan_source": json.dumps(info)})
        os.replace(temporary, args.out)
    finally:
        if temporary.exists():
            temporary.unlink()
    print(f"{PROGRAM}: wrote {len(out)} tensors ({info['layout']}) to {args.out}")


if __name__ == "__main__":
    main()
