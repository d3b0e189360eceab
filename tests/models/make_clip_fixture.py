#!/usr/bin/env python3
"""Writes the CLIP model parity fixtures for tests/models/test_clip_model.cpp.

For each case, a CLIP with random weights (torch.manual_seed) built by open_clip_torch, or by
Hugging Face transformers for the "hf" case, offline (pretrained=None: nothing is downloaded):

  <out>/<case>/weights.safetensors     the state dict as the project saves it (OpenCLIP names, or
                                       CLIPModel names with config.json beside for "hf")
  <out>/<case>/reference.safetensors   pixels [2, 3, S, S] (normalised), ids [4, 77] (OpenCLIP's
                                       tokenizer on fixed sentences), image [2, D] and text [4, D]:
                                       encode_image / encode_text (get_image_features /
                                       get_text_features for "hf"), fp32, not normalised

Cases: vit-b-32 (open_clip "ViT-B-32", GELU), small (a 64-px ViT with 2 + 2 layers of width 128,
QuickGELU), hf (a small transformers CLIPModel, quick_gelu), and with --b16 vit-b-16.

Usage: make_clip_fixture.py --out DIR [--b16] [--cases vit-b-32,small,hf]
"""
import argparse
import json
import os
import pathlib

import torch
from safetensors.torch import save_file

import open_clip
from open_clip import tokenizer as oct

SENTENCES = ["a photo of a cat.", "A man with a RED hat, smiling!", "",
             "it's a long sentence " * 20]


def save(path, tensors, metadata=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def openclip_case(out, model, image_size, seed):
    model.eval()
    state = {k: v for k, v in model.state_dict().items()}
    save(out / "weights.safetensors", state)
    g = torch.Generator().manual_seed(seed + 1)
    pixels = torch.randn(2, 3, image_size, image_size, generator=g)
    ids = oct.tokenize(SENTENCES)
    with torch.no_grad():
        image = model.encode_image(pixels)
        text = model.encode_text(ids)
    save(out / "reference.safetensors", {"pixels": pixels, "ids": ids, "image": image, "text": text})


def hf_case(out, seed):
    import transformers
    torch.manual_seed(seed)
    config = transformers.CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=128, intermediate_size=512, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                         eos_token_id=2),
        vision_config=dict(hidden_size=128, intermediate_size=512, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=16, hidden_act="quick_gelu"),
        projection_dim=64)
    model = transformers.CLIPModel(config).eval()
    with torch.no_grad():  # transformers initialises LayerNorms to 1/0 and biases to 0: make them random
        for name, p in model.named_parameters():
            if p.dim() == 1 and name != "logit_scale":
                p.add_(torch.randn_like(p) * 0.1)
    out.mkdir(parents=True, exist_ok=True)
    save(out / "weights.safetensors", model.state_dict())
    with open(out / "config.json", "w") as f:
        json.dump(config.to_dict(), f)
    g = torch.Generator().manual_seed(seed + 1)
    pixels = torch.randn(2, 3, 64, 64, generator=g)
    ids = oct.tokenize(SENTENCES)
    with torch.no_grad():
        image = model.get_image_features(pixel_values=pixels)
        text = model.get_text_features(input_ids=ids)
    if not isinstance(image, torch.Tensor):  # transformers >= 5 may return an output object
        image, text = image.pooler_output, text.pooler_output
    save(out / "reference.safetensors", {"pixels": pixels, "ids": ids, "image": image, "text": text})


def main():
    parser = argparse.ArgumentParser(description="CLIP model parity fixtures (see module doc).")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--b16", action="store_true", help="also the ViT-B/16 case (about 600 MB)")
    parser.add_argument("--cases", default="vit-b-32,small,hf", help="comma-separated cases to write")
    args = parser.parse_args()
    cases = set(args.cases.split(","))

    if "vit-b-32" in cases:
        torch.manual_seed(0)
        openclip_case(args.out / "vit-b-32", open_clip.create_model("ViT-B-32", pretrained=None), 224, 0)
    if "small" in cases:
        torch.manual_seed(1)
        small = open_clip.CLIP(embed_dim=64, quick_gelu=True,
                               vision_cfg=dict(image_size=64, patch_size=16, width=128, layers=2, head_width=64),
                               text_cfg=dict(context_length=77, vocab_size=49408, width=128, heads=2, layers=2))
        openclip_case(args.out / "small", small, 64, 1)
    if "hf" in cases:
        hf_case(args.out / "hf", 2)
    if args.b16 or "vit-b-16" in cases:
        torch.manual_seed(3)
        openclip_case(args.out / "vit-b-16", open_clip.create_model("ViT-B-16", pretrained=None), 224, 3)
    print(f"{args.out}: CLIP fixtures written", flush=True)


if __name__ == "__main__":
    main()
