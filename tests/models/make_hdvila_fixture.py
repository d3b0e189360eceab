#!/usr/bin/env python3
"""Writes the fixture of tests/models/test_hdvila_import.cpp: HD-VILA checkpoints with the official
names, shapes and dtypes, random values.

The official state-dict layout (microsoft/XPretrain hd-vila, the HDVILA module saved by ModelSaver
with torch.save) is rebuilt here from its description in docs/notes/hdvila-checkpoint-mapping.md §2,
not from the official code: cnn. / cnn_low. (mmdetection ResNets, torchvision names), grid_encoder*.0,
timesformer. (pos_embed, time_embed, blocks, an unused norm), transformer.bert. (embeddings, encoder
layers, pooler1; stage 2 adds visual_embeddings and pooler2), transformer.t_proj / v_proj, and in
stage 2 transformer.cls (MLM head with decoder.bias sharing cls.predictions.bias's storage, and
seq_relationship). Stored as apex O2 leaves them: float16 weights, float32 BatchNorm, int64
num_batches_tracked. Values are non-trivial (no zeros or ones), so a swapped name would show.

Writes into DIR:
  config.json, config-lr3.json   a small VL config of the official shape (BERT layers = 2 x text
                                 layers, embed_dim = hidden), with video.lr_last_stage 4 and 3
  stage2.pt, stage1.pt           flat dicts, as released (stage 1: half the BERT layers, no
                                 cross-modal modules)
  restore.pt                     {"global_step", "model_state_dict", "optim_state_dict", "amp_state_dict"}
  module.pt                      stage 2 with every name under "module."
  renamed.pt, shape.pt, dtype.pt stage 2 with one key renamed, one shape changed, a weight stored as int32
  not-hdvila.pt                  a torchvision-like state dict
  expected-stage2.safetensors    the stage-2 values under our names (float32), the two zero biases included
  expected-stage1.safetensors    the stage-1 values under our names
  manifest-stage1.json, manifest-stage2.json   the names, shapes and dtypes of the released
                                 hdvila-base checkpoints (926 and 1,135 keys), no values

Usage: make_hdvila_fixture.py --out DIR [--seed 0]
"""
import argparse
import json
import pathlib

import torch
from safetensors.torch import save_file

SMALL = dict(backbone=[1, 2, 1, 1], base=4, in_ch=3, vocab=512, text_hidden=32, bert_layers=4, heads=2,
             intermediate=64, positions=64, video_hidden=32, depth=2, grid=(1, 2), frames=3, max_grid=100)
# hdvila-base: BERT-large, ResNet-50, the TimeSformer of HDVILA.__init__ (H=10, W=16, T=7, depth 4).
BASE = dict(backbone=[3, 4, 6, 3], base=64, in_ch=3, vocab=30522, text_hidden=1024, bert_layers=24, heads=16,
            intermediate=4096, positions=512, video_hidden=1024, depth=4, grid=(10, 16), frames=7, max_grid=100)

HALF, FLOAT, LONG = "F16", "F32", "I64"


def official_layout(g, stage):
    """[(name, shape, dtype)] of an HD-VILA checkpoint of geometry g, in state_dict order."""
    out = []

    def add(name, shape, dtype=HALF):
        out.append((name, list(shape), dtype))

    def bn(prefix, c):
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            add(f"{prefix}.{leaf}", [c], FLOAT)
        add(f"{prefix}.num_batches_tracked", [], LONG)

    base = g["base"]
    for net in ("cnn", "cnn_low"):
        add(f"{net}.conv1.weight", [base, g["in_ch"], 7, 7])
        bn(f"{net}.bn1", base)
        c_in = base
        for s, blocks in enumerate(g["backbone"], start=1):
            w = base * 2 ** (s - 1)
            for b in range(blocks):
                p = f"{net}.layer{s}.{b}"
                add(f"{p}.conv1.weight", [w, c_in, 1, 1])
                bn(f"{p}.bn1", w)
                add(f"{p}.conv2.weight", [w, w, 3, 3])
                bn(f"{p}.bn2", w)
                add(f"{p}.conv3.weight", [4 * w, w, 1, 1])
                bn(f"{p}.bn3", 4 * w)
                if b == 0:
                    add(f"{p}.downsample.0.weight", [4 * w, c_in, 1, 1])
                    bn(f"{p}.downsample.1", 4 * w)
                c_in = 4 * w
    hv, ht = g["video_hidden"], g["text_hidden"]
    c4, c5 = base * 16, base * 32
    add("grid_encoder.0.weight", [hv, c5, 1, 1])
    add("grid_encoder_low.0.weight", [hv, c4, 1, 1])
    add("timesformer.pos_embed", [1, g["grid"][0] * g["grid"][1], hv])
    add("timesformer.time_embed", [1, g["frames"], hv])
    for i in range(g["depth"]):
        p = f"timesformer.blocks.{i}"
        for norm in ("norm1", "temporal_norm1", "norm2"):
            add(f"{p}.{norm}.weight", [hv])
            add(f"{p}.{norm}.bias", [hv])
        for attn in ("attn", "temporal_attn"):
            add(f"{p}.{attn}.qkv.weight", [3 * hv, hv])
            add(f"{p}.{attn}.qkv.bias", [3 * hv])
            add(f"{p}.{attn}.proj.weight", [hv, hv])
            add(f"{p}.{attn}.proj.bias", [hv])
        add(f"{p}.temporal_fc.weight", [hv, hv])
        add(f"{p}.temporal_fc.bias", [hv])
        add(f"{p}.mlp.fc1.weight", [4 * hv, hv])
        add(f"{p}.mlp.fc1.bias", [4 * hv])
        add(f"{p}.mlp.fc2.weight", [hv, 4 * hv])
        add(f"{p}.mlp.fc2.bias", [hv])
    add("timesformer.norm.weight", [hv])
    add("timesformer.norm.bias", [hv])
    add("grid_encoder_combine.0.weight", [hv, 2 * hv, 1, 1])

    e = "transformer.bert.embeddings"
    add(f"{e}.word_embeddings.weight", [g["vocab"], ht])
    add(f"{e}.position_embeddings.weight", [g["positions"], ht])
    add(f"{e}.token_type_embeddings.weight", [2, ht])
    add(f"{e}.LayerNorm.weight", [ht])
    add(f"{e}.LayerNorm.bias", [ht])
    if stage == 2:
        v = "transformer.bert.visual_embeddings"
        add(f"{v}.position_embeddings.weight", [512, ht])
        add(f"{v}.row_position_embeddings.weight", [g["max_grid"], ht])
        add(f"{v}.col_position_embeddings.weight", [g["max_grid"], ht])
        add(f"{v}.token_type_embeddings.weight", [1, ht])
        add(f"{v}.LayerNorm.weight", [ht])
        add(f"{v}.LayerNorm.bias", [ht])
    layers = g["bert_layers"] if stage == 2 else g["bert_layers"] // 2
    for i in range(layers):
        p = f"transformer.bert.encoder.layer.{i}"
        for part in ("query", "key", "value"):
            add(f"{p}.attention.self.{part}.weight", [ht, ht])
            add(f"{p}.attention.self.{part}.bias", [ht])
        add(f"{p}.attention.output.dense.weight", [ht, ht])
        add(f"{p}.attention.output.dense.bias", [ht])
        add(f"{p}.attention.output.LayerNorm.weight", [ht])
        add(f"{p}.attention.output.LayerNorm.bias", [ht])
        add(f"{p}.intermediate.dense.weight", [g["intermediate"], ht])
        add(f"{p}.intermediate.dense.bias", [g["intermediate"]])
        add(f"{p}.output.dense.weight", [ht, g["intermediate"]])
        add(f"{p}.output.dense.bias", [ht])
        add(f"{p}.output.LayerNorm.weight", [ht])
        add(f"{p}.output.LayerNorm.bias", [ht])
    add("transformer.bert.pooler1.dense.weight", [ht, ht])
    add("transformer.bert.pooler1.dense.bias", [ht])
    if stage == 2:
        add("transformer.bert.pooler2.dense.weight", [ht, ht])
        add("transformer.bert.pooler2.dense.bias", [ht])
    add("transformer.t_proj.weight", [ht, ht])
    add("transformer.t_proj.bias", [ht])
    add("transformer.v_proj.weight", [ht, hv])
    add("transformer.v_proj.bias", [ht])
    if stage == 2:
        c = "transformer.cls.predictions"
        add(f"{c}.bias", [g["vocab"]])
        add(f"{c}.transform.dense.weight", [ht, ht])
        add(f"{c}.transform.dense.bias", [ht])
        add(f"{c}.transform.LayerNorm.weight", [ht])
        add(f"{c}.transform.LayerNorm.bias", [ht])
        add(f"{c}.decoder.weight", [g["vocab"], ht])
        add(f"{c}.decoder.bias", [g["vocab"]])
        add("transformer.cls.seq_relationship.weight", [2, ht])
        add("transformer.cls.seq_relationship.bias", [2])
    return out


# Official -> ours, written out here independently of models/hdvila_import.cpp.
def our_name(name, lr_last_stage):
    dead = ("timesformer.norm.", "transformer.bert.visual_embeddings.position_embeddings.",
            "transformer.bert.pooler2.", "transformer.cls.seq_relationship.", "transformer.cls.predictions.decoder.bias")
    if name.startswith(dead) or (lr_last_stage == 3 and name.startswith("cnn_low.layer4.")):
        return None
    exact = {
        "grid_encoder.0.weight": "video.hr_proj.weight",
        "grid_encoder_low.0.weight": "video.grid_encoder_low.weight",
        "grid_encoder_combine.0.weight": "video.fuse.weight",
        "timesformer.pos_embed": "video.pos_embed",
        "timesformer.time_embed": "video.time_embed",
        "transformer.cls.predictions.decoder.weight": "mlm.decoder.weight",
        "transformer.cls.predictions.bias": "mlm.bias",
        "transformer.bert.visual_embeddings.row_position_embeddings.weight": "visual_embeddings.row_embeddings.weight",
        "transformer.bert.visual_embeddings.col_position_embeddings.weight": "visual_embeddings.col_embeddings.weight",
        "transformer.bert.visual_embeddings.token_type_embeddings.weight": "visual_embeddings.type_embeddings.weight",
    }
    if name in exact:
        return exact[name]
    prefixes = [("cnn_low.", "video.lr_backbone."), ("cnn.", "video.hr_backbone."),
                ("timesformer.blocks.", "video.blocks."), ("transformer.bert.pooler1.", "bert.pooler."),
                ("transformer.bert.visual_embeddings.LayerNorm.", "visual_embeddings.LayerNorm."),
                ("transformer.bert.", "bert."), ("transformer.t_proj.", "text_proj."),
                ("transformer.v_proj.", "video_proj."), ("transformer.cls.predictions.transform.", "mlm.transform.")]
    for official, ours in prefixes:
        if name.startswith(official):
            return ours + name[len(official):]
    raise ValueError(name)


def random_values(layout, generator):
    torch_dtype = {HALF: torch.float16, FLOAT: torch.float32, LONG: torch.int64}
    state = {}
    for name, shape, dtype in layout:
        if dtype == LONG:
            value = torch.randint(1, 1000, shape, generator=generator)
        elif name.endswith("running_var"):
            value = torch.rand(shape, generator=generator) + 0.5
        elif name.endswith(("LayerNorm.weight", "norm1.weight", "norm2.weight", ".norm.weight")) or \
                (".bn" in name or "downsample.1" in name) and name.endswith("weight"):
            value = 1 + 0.1 * torch.randn(shape, generator=generator)
        else:
            value = 0.05 * torch.randn(shape, generator=generator)
        state[name] = value.to(torch_dtype[dtype])
    if "transformer.cls.predictions.bias" in state:  # one parameter, two names, shared storage
        state["transformer.cls.predictions.decoder.bias"] = state["transformer.cls.predictions.bias"]
    return state


def expected(state, lr_last_stage):
    ours = {}
    for name, value in state.items():
        mapped = our_name(name, lr_last_stage)
        if mapped is not None:
            ours[mapped] = value.float() if value.is_floating_point() else value
    hv = state["grid_encoder_low.0.weight"].shape[0]
    ours["video.grid_encoder_low.bias"] = torch.zeros(hv)
    ours["video.fuse.bias"] = torch.zeros(hv)
    return ours


def small_config(g, lr_last_stage):
    return {
        "text": {"vocab_size": g["vocab"], "hidden": g["text_hidden"], "layers": g["bert_layers"], "heads": g["heads"],
                 "intermediate": g["intermediate"], "max_positions": g["positions"], "type_vocab_size": 2,
                 "hidden_dropout": 0.0, "attention_dropout": 0.0},
        "text_layers": g["bert_layers"] // 2,
        "video": {"backbone": {"layers": g["backbone"], "base_width": g["base"], "in_channels": g["in_ch"]},
                  "hidden": g["video_hidden"], "depth": g["depth"], "heads": g["heads"], "frames": g["frames"],
                  "drop_path": 0.0, "grid_height": g["grid"][0], "grid_width": g["grid"][1],
                  "lr_last_stage": lr_last_stage},
        "embed_dim": g["text_hidden"],
        "max_text_len": 16,
        "max_grid": g["max_grid"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(args.seed)

    for name, lr in (("config.json", 4), ("config-lr3.json", 3)):
        (out / name).write_text(json.dumps(small_config(SMALL, lr), indent=2) + "\n")

    stage2 = random_values(official_layout(SMALL, 2), generator)
    stage1 = {name: value.clone() for name, value in stage2.items()
              if name in {n for n, _, _ in official_layout(SMALL, 1)}}
    torch.save(stage2, out / "stage2.pt")
    torch.save(stage1, out / "stage1.pt")
    torch.save({"global_step": 1129660, "model_state_dict": stage2,
                "optim_state_dict": {"state": {}, "param_groups": [{"lr": 1e-4}]},
                "amp_state_dict": {"loss_scaler0": {"loss_scale": 65536.0}}}, out / "restore.pt")
    torch.save({"module." + name: value for name, value in stage2.items()}, out / "module.pt")

    renamed = dict(stage2)
    renamed["transformer.t_proj.weights"] = renamed.pop("transformer.t_proj.weight")
    torch.save(renamed, out / "renamed.pt")
    shape = dict(stage2)
    shape["transformer.t_proj.bias"] = torch.zeros(SMALL["text_hidden"] + 1, dtype=torch.float16)
    torch.save(shape, out / "shape.pt")
    dtype = dict(stage2)
    dtype["transformer.v_proj.weight"] = torch.ones_like(dtype["transformer.v_proj.weight"], dtype=torch.int32)
    torch.save(dtype, out / "dtype.pt")
    torch.save({"conv1.weight": torch.zeros(4, 3, 7, 7), "fc.weight": torch.zeros(10, 8)}, out / "not-hdvila.pt")

    save_file(expected(stage2, 4), str(out / "expected-stage2.safetensors"))
    save_file(expected(stage1, 4), str(out / "expected-stage1.safetensors"))
    save_file(expected(stage2, 3), str(out / "expected-stage2-lr3.safetensors"))

    for stage in (1, 2):
        layout = official_layout(BASE, stage)
        (out / f"manifest-stage{stage}.json").write_text(
            json.dumps([{"name": n, "shape": s, "dtype": d} for n, s, d in layout]) + "\n")
    print(f"make_hdvila_fixture.py: wrote {out} (stage 2: {len(stage2)} tensors, stage 1: {len(stage1)}; "
          f"hdvila-base manifests: {len(official_layout(BASE, 1))} and {len(official_layout(BASE, 2))} keys)")


if __name__ == "__main__":
    main()
