"""StyleGAN2 generator in PyTorch Python: the reference for generation/generator.h.

Same architecture and state-dict names as the C++ generator (NVlabs stylegan2-ada-pytorch names,
"skip" generator), but computed the other way round wherever there is a choice, so that parity
checks the maths rather than a transliteration:
  * modulated convolutions modulate and demodulate the *weights* and run one grouped convolution
    per batch (NVlabs' fused_modconv path); the C++ side scales activations instead;
  * the FIR blur after the transposed convolution and the skip up-sampling are written as
    separable 1-D convolutions on a padded, zero-stuffed image.
Used by tests/generation/make_generator_fixture.py (parity) and bench/bench_generator.py (speed).
"""
import json
import math

import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)


def channels_at(cfg, res):
    return min(cfg["channel_base"] // res, cfg["channel_max"])


def preset(name):
    cfg = dict(resolution=128, z_dim=512, w_dim=512, mapping_layers=8, mapping_lr_mul=0.01,
               channel_base=32768, channel_max=512, img_channels=3, w_avg_beta=0.995, conv_clamp=256.0)
    if name == "stylegan2-f-1024":
        cfg["resolution"] = 1024
    elif name in ("stylegan2-small-128", "stylegan2-small-64"):
        cfg.update(resolution=128 if name.endswith("128") else 64, z_dim=256, w_dim=256,
                   channel_base=4096, channel_max=256)
    elif name == "stylegan2-lite-64":
        cfg.update(resolution=64, z_dim=256, w_dim=256, channel_base=2048, channel_max=128)
    elif name == "stylegan2-tiny":
        cfg.update(resolution=16, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32)
    else:
        raise ValueError(f"unknown preset {name}")
    return cfg


def lrelu(x, clamp):
    y = F.leaky_relu(x, 0.2) * SQRT2
    return y.clamp(-clamp, clamp) if clamp > 0 else y


def fir_1d():
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    return taps / taps.sum()


def blur_separable(x, pad0, pad1, gain):
    """Pads both axes by (pad0, pad1) and convolves with [1,3,3,1]/8 ⊗ itself, times gain."""
    c = x.shape[1]
    taps = (fir_1d() * math.sqrt(gain)).to(x)
    x = F.pad(x, [pad0, pad1, pad0, pad1])
    x = F.conv2d(x, taps.flip(0).view(1, 1, 1, 4).repeat(c, 1, 1, 1), groups=c)
    x = F.conv2d(x, taps.flip(0).view(1, 1, 4, 1).repeat(c, 1, 1, 1), groups=c)
    return x


def upsample_skip(img):
    n, c, h, w = img.shape
    z = torch.zeros(n, c, h, 2, w, 2, dtype=img.dtype)
    z[:, :, :, 0, :, 0] = img
    return blur_separable(z.view(n, c, 2 * h, 2 * w), 2, 1, 4.0)


class Generator(torch.nn.Module):
    """Holds the parameters in a flat dict under the C++ names; forward(z) -> image."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.params = torch.nn.ParameterDict()
        self.bufs = {}
        self.layers = []  # (prefix, res, in, out, kernel, up, torgb, ws_index)
        g = self._add
        for i in range(cfg["mapping_layers"]):
            fin = cfg["z_dim"] if i == 0 else cfg["w_dim"]
            g(f"mapping.fc{i}.weight", torch.randn(cfg["w_dim"], fin) / cfg["mapping_lr_mul"])
            g(f"mapping.fc{i}.bias", torch.zeros(cfg["w_dim"]))
        self.bufs["mapping.w_avg"] = torch.zeros(cfg["w_dim"])
        log2 = int(math.log2(cfg["resolution"]))
        ws_index = 0
        for k in range(2, log2 + 1):
            res = 2 ** k
            cin = 0 if res == 4 else channels_at(cfg, res // 2)
            cout = channels_at(cfg, res)
            b = f"synthesis.b{res}"
            if res == 4:
                g(f"{b}.const", torch.randn(cout, 4, 4))
            else:
                self._layer(f"{b}.conv0", res, cin, cout, 3, True, False, ws_index)
                ws_index += 1
            self._layer(f"{b}.conv1", res, cout, cout, 3, False, False, ws_index)
            ws_index += 1
            self._layer(f"{b}.torgb", res, cout, cfg["img_channels"], 1, False, True, ws_index)
        self.num_ws = ws_index + 1

    def _add(self, name, value):
        self.params[name.replace(".", "__")] = torch.nn.Parameter(value)

    def p(self, name):
        return self.params[name.replace(".", "__")]

    def _layer(self, prefix, res, cin, cout, kernel, up, torgb, ws_index):
        w_dim = self.cfg["w_dim"]
        self._add(f"{prefix}.affine.weight", torch.randn(cin, w_dim))
        self._add(f"{prefix}.affine.bias", torch.ones(cin))
        self._add(f"{prefix}.weight", torch.randn(cout, cin, kernel, kernel))
        self._add(f"{prefix}.bias", torch.zeros(cout))
        if not torgb:
            self._add(f"{prefix}.noise_strength", torch.zeros([]))
            self.bufs[f"{prefix}.noise_const"] = torch.randn(res, res)
        self.layers.append((prefix, res, cin, cout, kernel, up, torgb, ws_index))

    def state(self):
        out = {name.replace("__", "."): p.detach() for name, p in self.params.items()}
        out.update(self.bufs)
        return out

    def load(self, tensors):
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(tensors[name.replace("__", ".")])
            for name in self.bufs:
                self.bufs[name] = tensors[name].clone()

    def mapping(self, z):
        cfg = self.cfg
        x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
        lr = cfg["mapping_lr_mul"]
        for i in range(cfg["mapping_layers"]):
            w = self.p(f"mapping.fc{i}.weight")
            x = F.linear(x, w * (lr / math.sqrt(w.shape[1])), self.p(f"mapping.fc{i}.bias") * lr)
            x = F.leaky_relu(x, 0.2) * SQRT2
        return x

    def modconv(self, x, w_latent, layer):
        prefix, res, cin, cout, kernel, up, torgb, _ = layer
        n = x.shape[0]
        aw = self.p(f"{prefix}.affine.weight")
        s = F.linear(w_latent, aw / math.sqrt(aw.shape[1]), self.p(f"{prefix}.affine.bias"))
        if torgb:
            s = s / math.sqrt(cin * kernel * kernel)
        weight = self.p(f"{prefix}.weight")[None] * s[:, None, :, None, None]  # [N, out, in, k, k]
        if not torgb:
            weight = weight * (weight.square().sum([2, 3, 4]) + 1e-8).rsqrt()[:, :, None, None, None]
        xg = x.reshape(1, n * cin, x.shape[2], x.shape[3])
        if up:
            wt = weight.transpose(1, 2).reshape(n * cin, cout, kernel, kernel)
            y = F.conv_transpose2d(xg, wt, stride=2, groups=n)
            y = blur_separable(y, 1, 1, 4.0)
        else:
            y = F.conv2d(xg, weight.reshape(n * cout, cin, kernel, kernel), padding=kernel // 2, groups=n)
        y = y.reshape(n, cout, y.shape[2], y.shape[3])
        clamp = self.cfg["conv_clamp"]
        if torgb:
            y = y + self.p(f"{prefix}.bias").view(1, -1, 1, 1)
            return y.clamp(-clamp, clamp) if clamp > 0 else y
        y = y + self.bufs[f"{prefix}.noise_const"].view(1, 1, res, res) * self.p(f"{prefix}.noise_strength")
        return lrelu(y + self.p(f"{prefix}.bias").view(1, -1, 1, 1), clamp * SQRT2 if clamp > 0 else 0)

    def synthesize(self, ws):
        n = ws.shape[0]
        x = None
        img = None
        for layer in self.layers:
            prefix, res = layer[0], layer[1]
            if prefix.endswith(".conv1") and res == 4:
                x = self.p("synthesis.b4.const")[None].expand(n, -1, -1, -1)
            if layer[6]:
                y = self.modconv(x, ws[:, layer[7]], layer)
                img = y if img is None else upsample_skip(img) + y
            else:
                x = self.modconv(x, ws[:, layer[7]], layer)
        return img

    def forward(self, z, psi=1.0):
        w = self.mapping(z)
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if psi != 1.0:
            avg = self.bufs["mapping.w_avg"]
            ws = avg + (ws - avg) * psi
        return self.synthesize(ws)


def metadata(cfg, preset_name=""):
    info = {"kind": "generator", "format_version": 1, "preset": preset_name, "step": 0, "config": cfg}
    return {"format": "pt", "hdvila": json.dumps(info)}
