#!/usr/bin/env python3
"""Writes StyleGAN2 files as other projects save them, for tests/generation/test_stylegan_import.cpp.

No real weights can be downloaded here, so the files hold random weights in the same record
structure and under the same names as the real ones:

  nvlabs-small.pkl   a stylegan2-ada-pytorch network pickle: pickle.dump of {"G", "D", "G_ema",
                     "augment_pipe", "training_set_kwargs"} where each network is a
                     torch_utils.persistence record (_reconstruct_persistent_obj(meta) with type,
                     version, module_src, class_name and the module's __dict__ as state), nested
                     Generator -> mapping (embed, fc0.., w_avg) / synthesis (b4.., conv0/conv1/
                     torgb, resample_filter, noise_const); conditional (c_dim 4), 32 px, conv_clamp
                     256, init_kwargs as NVlabs writes them. A throw-away torch_utils package is
                     put on sys.path so that pickle can name the function; nothing reads it back.
  nvlabs-f1024.pkl   the same for config F at 1024 px (z 512, w 512, 8 mapping layers,
                     channel_base 32768, channel_max 512), unconditional.   (only with --config-f)
  rosinality.pt      rosinality/stylegan2-pytorch's torch.save({"g_ema", "args", ...}) of a 32-px
                     generator (style.N, input.input, conv1, to_rgb1, convs.N, to_rgbs.N,
                     noises.noise_N, blur/upsample kernels), no latent_avg, no conv clamp.
  evil.pkl           a pickle whose G_ema reduces to os.system("touch DIR/pwned").
  evil-storage.pkl   a network pickle whose storage bytes are a pickle that would run os.system.
  io-<name>.safetensors  z, c (one-hot, conditional only), "image" = G(z, c) and "image_psi" (psi
                     0.7) by bench/stylegan2_ref.py on the same weights, with "w_avg".

Usage: make_stylegan_pkl_fixture.py --out DIR [--config-f] [--seed 0]
"""
import argparse
import argparse as argparse_module
import collections
import math
import os
import pathlib
import pickle
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
import stylegan2_ref  # noqa: E402


def install_persistence_module(root):
    """A torch_utils.persistence module, so that pickle can reference its function by name."""
    package = root / "torch_utils"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "persistence.py").write_text(
        "def _reconstruct_persistent_obj(meta):\n"
        "    raise RuntimeError('test fixture: records are read by scripts/convert_stylegan_pkl.py')\n")
    sys.path.insert(0, str(root))
    from torch_utils import persistence
    return persistence


def persistent(persistence, cls, module_src):
    """cls whose pickle is the NVlabs persistence record."""
    class Record(cls):
        def __reduce__(self):
            meta = dict(type="class", version=6, module_src=module_src, class_name=cls.__name__,
                        state=dict(self.__dict__))
            return (persistence._reconstruct_persistent_obj, (meta,), None)
    Record.__name__ = cls.__name__
    return Record


def fir_filter():
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    outer = torch.outer(taps, taps)
    return outer / outer.sum()


def build_nvlabs_classes(persistence):
    src = "# networks.py of the training code (never executed by the importer)\nimport os\nos.system('echo pwned')\n"
    P = lambda cls: persistent(persistence, cls, src)  # noqa: E731

    @P
    class FullyConnectedLayer(torch.nn.Module):
        def __init__(self, fin, fout):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(fout, fin))
            self.bias = torch.nn.Parameter(torch.zeros(fout))

    @P
    class SynthesisLayer(torch.nn.Module):
        def __init__(self, cin, cout, w_dim, res, kernel=3):
            super().__init__()
            self.affine = FullyConnectedLayer(w_dim, cin)
            self.weight = torch.nn.Parameter(torch.zeros(cout, cin, kernel, kernel))
            self.register_buffer("noise_const", torch.zeros(res, res))
            self.noise_strength = torch.nn.Parameter(torch.zeros([]))
            self.bias = torch.nn.Parameter(torch.zeros(cout))
            self.register_buffer("resample_filter", fir_filter())

    @P
    class ToRGBLayer(torch.nn.Module):
        def __init__(self, cin, cout, w_dim):
            super().__init__()
            self.affine = FullyConnectedLayer(w_dim, cin)
            self.weight = torch.nn.Parameter(torch.zeros(cout, cin, 1, 1))
            self.bias = torch.nn.Parameter(torch.zeros(cout))

    @P
    class SynthesisBlock(torch.nn.Module):
        def __init__(self, cin, cout, w_dim, res, img_channels):
            super().__init__()
            if cin == 0:
                self.const = torch.nn.Parameter(torch.zeros(cout, 4, 4))
            else:
                self.conv0 = SynthesisLayer(cin, cout, w_dim, res)
            self.conv1 = SynthesisLayer(cout, cout, w_dim, res)
            self.torgb = ToRGBLayer(cout, img_channels, w_dim)
            self.register_buffer("resample_filter", fir_filter())

    @P
    class SynthesisNetwork(torch.nn.Module):
        def __init__(self, cfg):
            super().__init__()
            log2 = int(math.log2(cfg["resolution"]))
            for k in range(2, log2 + 1):
                res = 2 ** k
                cin = 0 if res == 4 else stylegan2_ref.channels_at(cfg, res // 2)
                setattr(self, f"b{res}", SynthesisBlock(cin, stylegan2_ref.channels_at(cfg, res), cfg["w_dim"], res,
                                                        cfg["img_channels"]))

    @P
    class MappingNetwork(torch.nn.Module):
        def __init__(self, cfg, c_dim):
            super().__init__()
            if c_dim > 0:
                self.embed = FullyConnectedLayer(c_dim, cfg["w_dim"])
            for i in range(cfg["mapping_layers"]):
                fin = cfg["z_dim"] + (cfg["w_dim"] if c_dim > 0 else 0) if i == 0 else cfg["w_dim"]
                setattr(self, f"fc{i}", FullyConnectedLayer(fin, cfg["w_dim"]))
            self.register_buffer("w_avg", torch.zeros(cfg["w_dim"]))

    @P
    class Generator(torch.nn.Module):
        def __init__(self, cfg, c_dim, num_fp16_res):
            super().__init__()
            self.z_dim, self.c_dim, self.w_dim = cfg["z_dim"], c_dim, cfg["w_dim"]
            self.img_resolution, self.img_channels = cfg["resolution"], cfg["img_channels"]
            self.synthesis = SynthesisNetwork(cfg)
            self.mapping = MappingNetwork(cfg, c_dim)
            clamp = cfg["conv_clamp"] if cfg["conv_clamp"] > 0 else None
            self._init_args = ()
            self._init_kwargs = dict(
                z_dim=cfg["z_dim"], c_dim=c_dim, w_dim=cfg["w_dim"], img_resolution=cfg["resolution"],
                img_channels=cfg["img_channels"],
                mapping_kwargs=dict(num_layers=cfg["mapping_layers"]),
                synthesis_kwargs=dict(channel_base=cfg["channel_base"], channel_max=cfg["channel_max"],
                                      num_fp16_res=num_fp16_res, conv_clamp=clamp))

    return Generator


def random_state(cfg, c_dim, generator):
    """Every tensor of the reference generator random (biases, noise strengths and w_avg too)."""
    ref = stylegan2_ref.Generator(cfg)
    state = ref.state()
    out = {}
    for name, value in state.items():
        if name.endswith("affine.bias"):
            value = 1.0 + 0.1 * torch.randn(value.shape, generator=generator)
        elif name.endswith(".bias") or name.endswith("noise_strength") or name.endswith("w_avg"):
            value = 0.1 * torch.randn(value.shape, generator=generator)
        else:
            value = torch.randn(value.shape, generator=generator) * (1.0 / cfg["mapping_lr_mul"]
                                                                    if name.startswith("mapping.fc") else 1.0)
        out[name] = value
    if c_dim > 0:
        out["mapping.embed.weight"] = torch.randn(cfg["w_dim"], c_dim, generator=generator)
        out["mapping.embed.bias"] = 0.1 * torch.randn(cfg["w_dim"], generator=generator)
        fc0 = out["mapping.fc0.weight"]
        out["mapping.fc0.weight"] = torch.randn(fc0.shape[0], cfg["z_dim"] + cfg["w_dim"],
                                                generator=generator) / cfg["mapping_lr_mul"]
    return out


def normalize(x):
    return x * (x.square().mean(1, keepdim=True) + 1e-8).rsqrt()


def reference_images(cfg, state, z, c, psi):
    """G(z, c) by bench/stylegan2_ref.py; the label embedding (NVlabs MappingNetwork) is added here."""
    ref = stylegan2_ref.Generator(cfg)
    ref.load({k: v for k, v in state.items() if not k.startswith("mapping.embed") and k != "mapping.fc0.weight"}
             | {"mapping.fc0.weight": state["mapping.fc0.weight"][:, :cfg["z_dim"]]})
    with torch.no_grad():
        x = normalize(z)
        if c is not None:
            ew = state["mapping.embed.weight"]
            y = normalize(F.linear(c, ew / math.sqrt(ew.shape[1]), state["mapping.embed.bias"]))
            x = torch.cat([x, y], 1)
        lr = cfg["mapping_lr_mul"]
        for i in range(cfg["mapping_layers"]):
            w = state[f"mapping.fc{i}.weight"]
            x = F.leaky_relu(F.linear(x, w * (lr / math.sqrt(w.shape[1])), state[f"mapping.fc{i}.bias"] * lr),
                             0.2) * math.sqrt(2.0)
        ws = x[:, None].repeat(1, ref.num_ws, 1)
        avg = state["mapping.w_avg"]
        return ref.synthesize(ws), ref.synthesize(avg + (ws - avg) * psi)


def fill(module, state):
    with torch.no_grad():
        names = set()
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            names.add(name)
            if name.endswith("resample_filter"):
                continue
            tensor.copy_(state[name])
        missing = set(state) - names
        assert not missing, missing


def write_io(path, z, c, image, image_psi, w_avg):
    tensors = {"z": z, "image": image, "image_psi": image_psi, "w_avg": w_avg}
    if c is not None:
        tensors["c"] = c
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))


def write_nvlabs(out, name, Generator, cfg, c_dim, num_fp16_res, batch, generator):
    state = random_state(cfg, c_dim, generator)
    G = Generator(cfg, c_dim, num_fp16_res)
    fill(G, state)
    data = {"G": G, "D": None, "G_ema": G, "augment_pipe": None,
            "training_set_kwargs": {"class_name": "training.dataset.ImageFolderDataset", "resolution": cfg["resolution"],
                                    "use_labels": c_dim > 0}}
    with open(out / f"{name}.pkl", "wb") as f:
        pickle.dump(data, f, protocol=4)
    z = torch.randn(batch, cfg["z_dim"], generator=generator)
    c = F.one_hot(torch.arange(batch) % c_dim, c_dim).float() if c_dim > 0 else None
    image, image_psi = reference_images(cfg, state, z, c, 0.7)
    write_io(out / f"io-{name}.safetensors", z, c, image, image_psi, state["mapping.w_avg"])


def to_rosinality(cfg, state):
    """NVlabs names -> rosinality/stylegan2-pytorch names and shapes."""
    out = collections.OrderedDict()
    for i in range(cfg["mapping_layers"]):
        out[f"style.{i + 1}.weight"] = state[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = state[f"mapping.fc{i}.bias"]
    out["input.input"] = state["synthesis.b4.const"][None]
    kernel = fir_filter() * 16  # rosinality's make_kernel before its own scaling; only kept, never read

    def styled(prefix, nv, noise_index, up):
        out[f"{prefix}.conv.weight"] = state[f"{nv}.weight"][None]
        out[f"{prefix}.conv.modulation.weight"] = state[f"{nv}.affine.weight"]
        out[f"{prefix}.conv.modulation.bias"] = state[f"{nv}.affine.bias"]
        if up:
            out[f"{prefix}.conv.blur.kernel"] = kernel * 4
        out[f"{prefix}.noise.weight"] = state[f"{nv}.noise_strength"].reshape(1)
        out[f"{prefix}.activate.bias"] = state[f"{nv}.bias"]
        noise = state[f"{nv}.noise_const"]
        out[f"noises.noise_{noise_index}"] = noise[None, None]

    def rgb(prefix, nv, up):
        out[f"{prefix}.conv.weight"] = state[f"{nv}.weight"][None]
        out[f"{prefix}.conv.modulation.weight"] = state[f"{nv}.affine.weight"]
        out[f"{prefix}.conv.modulation.bias"] = state[f"{nv}.affine.bias"]
        if up:
            out[f"{prefix}.upsample.kernel"] = kernel * 4
        out[f"{prefix}.bias"] = state[f"{nv}.bias"].reshape(1, -1, 1, 1)

    styled("conv1", "synthesis.b4.conv1", 0, False)
    rgb("to_rgb1", "synthesis.b4.torgb", False)
    log2 = int(math.log2(cfg["resolution"]))
    for i, k in enumerate(range(3, log2 + 1)):
        block = f"synthesis.b{2 ** k}"
        styled(f"convs.{2 * i}", f"{block}.conv0", 2 * i + 1, True)
        styled(f"convs.{2 * i + 1}", f"{block}.conv1", 2 * i + 2, False)
        rgb(f"to_rgbs.{i}", f"{block}.torgb", True)
    return out


def write_rosinality(out, cfg, generator):
    state = random_state(cfg, 0, generator)
    checkpoint = {"g_ema": to_rosinality(cfg, state), "g": to_rosinality(cfg, state), "d": {},
                  "args": argparse_module.Namespace(size=cfg["resolution"], latent=cfg["w_dim"], n_mlp=cfg["mapping_layers"])}
    torch.save(checkpoint, out / "rosinality.pt")
    z = torch.randn(3, cfg["z_dim"], generator=generator)
    image, image_psi = reference_images(cfg, state, z, None, 0.7)
    write_io(out / "io-rosinality.safetensors", z, None, image, image_psi, state["mapping.w_avg"])


class Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class EvilStorage:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (torch.storage._load_from_bytes, (pickle.dumps(Evil(self.command), protocol=2),))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--config-f", action="store_true", help="also the 1024-px config-F pickle (~120 MB)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    persistence = install_persistence_module(args.out / "python")
    Generator = build_nvlabs_classes(persistence)
    generator = torch.Generator().manual_seed(args.seed)

    small = stylegan2_ref.preset("stylegan2-tiny")
    small.update(resolution=32, z_dim=24, w_dim=32, mapping_layers=3, channel_base=512, channel_max=64,
                 conv_clamp=256.0)
    write_nvlabs(args.out, "nvlabs-small", Generator, small, 4, 0, 4, generator)
    if args.config_f:
        write_nvlabs(args.out, "nvlabs-f1024", Generator, stylegan2_ref.preset("stylegan2-f-1024"), 0, 4, 1, generator)
    ros = dict(small, conv_clamp=0.0, channel_base=1024, channel_max=32)
    write_rosinality(args.out, ros, generator)

    marker = args.out / "pwned"
    with open(args.out / "evil.pkl", "wb") as f:
        pickle.dump({"G_ema": Evil(f"touch {marker}")}, f, protocol=4)
    with open(args.out / "evil-storage.pkl", "wb") as f:
        pickle.dump({"G_ema": EvilStorage(f"touch {marker}")}, f, protocol=4)
    print(f"make_stylegan_pkl_fixture.py: wrote {args.out}")


if __name__ == "__main__":
    main()
