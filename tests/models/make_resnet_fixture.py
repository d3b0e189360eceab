#!/usr/bin/env python3
"""Writes the parity fixture for tests/models/test_resnet.cpp (models/resnet.h).

Reference: torchvision/models/resnet.py, `resnet50(weights=None)` — random weights, nothing is
downloaded. The BatchNorm layers are made non-trivial before export, so that eval-mode BN (what
the C++ side runs) exercises every imported tensor: running statistics are first calibrated on
random batches (so activations keep a sane scale through 50 layers instead of blowing up), then
perturbed, and the affine weight/bias are randomised.

Writes, in fp32:
  DIR/resnet50.safetensors  the full torchvision state_dict (fc.* and num_batches_tracked
                            included, exactly as torchvision names them)
  DIR/io.safetensors        "images" [2, 3, 128, 160] input, "c4" the output of layer3
                            [2, 1024, 8, 10], "c5" the output of layer4 [2, 2048, 4, 5]

Usage:
  make_resnet_fixture.py --out DIR [--seed 0]
"""
import argparse
import os
import pathlib

import torch
import torchvision
from safetensors.torch import save_file

IMAGES_SHAPE = (2, 3, 128, 160)


def randomise_batchnorm(model, generator):
    """Calibrates running stats on random images, then perturbs them and the affine params."""
    model.train()
    for bn in model.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 3, 96, 128, generator=generator))
        for bn in model.modules():
            if isinstance(bn, torch.nn.BatchNorm2d):
                bn.momentum = 0.1  # torchvision's value, so the exported module is standard
                c = bn.num_features
                bn.running_mean.add_(0.1 * torch.randn(c, generator=generator) * bn.running_var.sqrt())
                bn.running_var.mul_(torch.empty(c).uniform_(0.7, 1.4, generator=generator))
                bn.weight.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=generator))
                bn.bias.copy_(0.1 * torch.randn(c, generator=generator))


def save_atomically(tensors, path):
    """Writes to a temporary name and renames, so a killed run never leaves a complete-looking file."""
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=pathlib.Path, help="fixture folder (created)")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights, statistics and input")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    model = torchvision.models.resnet50(weights=None).float()
    randomise_batchnorm(model, generator)
    model.eval()

    images = torch.randn(*IMAGES_SHAPE, generator=generator)
    with torch.no_grad():
        # torchvision's _forward_impl, stopped before avgpool/fc, keeping C4 and C5.
        x = model.maxpool(model.relu(model.bn1(model.conv1(images))))
        x = model.layer2(model.layer1(x))
        c4 = model.layer3(x)
        c5 = model.layer4(c4)

    args.out.mkdir(parents=True, exist_ok=True)
    save_atomically(model.state_dict(), args.out / "resnet50.safetensors")
    save_atomically({"images": images, "c4": c4, "c5": c5}, args.out / "io.safetensors")
    print(f"wrote {args.out}/resnet50.safetensors and io.safetensors "
          f"(torchvision {torchvision.__version__}; c4 {list(c4.shape)}, c5 {list(c5.shape)})")


if __name__ == "__main__":
    main()
