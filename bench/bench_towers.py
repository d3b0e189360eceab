#!/usr/bin/env python3
"""Python counterpart of bench/bench_towers.cpp: hdvila-small's text and video towers written in
plain PyTorch, the same work, the same printout.

    bench_towers.py run   [--weights FILE] [--threads N] [--runs N] [--warmup N] [--batch 1,8]
                          [--tower text|video|both] [--text-impl plain|transformers]
    bench_towers.py check WEIGHTS INPUTS OUTPUTS [--text-impl plain|transformers]

run:   times encode_text on [B, 32] token ids (20 real, then padding) and encode_video on
       keyframes [B, 2, 3, 128, 128] + neighbours [B, 2, 6, 3, 32, 32]; inference_mode, eval mode.
check: loads the weights hdv_bench_towers saved (--save-weights), runs its inputs (--inputs) and
       prints the largest absolute difference to its outputs (--outputs); exit 1 above 1e-4.

Modules carry the C++ modules' parameter names (models/*.h), so one safetensors file loads into
both. Architecture (models/vl_model.h, video_encoder.h, timesformer.h, resnet.h, bert.h):
  text:  BERT embeddings -> text_layers post-LN blocks (SDPA, exact GELU) -> masked mean-pool ->
         pooler dense + tanh -> text_proj -> L2-normalise. --text-impl transformers runs
         transformers.BertModel (same config, text_layers layers) instead of the plain blocks.
  video: torchvision Bottleneck ResNets (HR to C5, LR to C4) on ImageNet-normalised [-1, 1]
         pixels; HR tokens = GELU(max_pool2(hr_proj(C5))); HR reference = GELU(grid_encoder_low(
         bilinear(C4))); LR frames = GELU(grid_encoder_low(LR C4)); [LR x3, ref, LR x3] + pos/time
         embeddings through divided space-time blocks; middle step; fuse([HR, temporal]) + GELU;
         mean over tokens and segments -> video_proj -> L2-normalise.
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn
from torchvision.models.resnet import Bottleneck

# hdvila-small (models/presets.cpp)
VOCAB, HIDDEN, LAYERS, TEXT_LAYERS, HEADS, FFN, MAX_POS, TYPES, BERT_EPS = 30522, 384, 8, 6, 12, 1536, 512, 2, 1e-12
RESNET_LAYERS, RESNET_BASE = (1, 1, 1, 1), 16
VIDEO_HIDDEN, VIDEO_DEPTH, VIDEO_HEADS, FRAMES, GRID_H, GRID_W = 256, 2, 4, 7, 2, 2
EMBED_DIM, MAX_TEXT_LEN, SEGMENTS, REAL_TOKENS = 256, 32, 2, 20



class BertEmbeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, HIDDEN)
        self.position_embeddings = nn.Embedding(MAX_POS, HIDDEN)
        self.token_type_embeddings = nn.Embedding(TYPES, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=BERT_EPS)

    def forward(self, input_ids):  # [B, L] -> [B, L, H]
        positions = torch.arange(input_ids.shape[1])
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(HIDDEN, HIDDEN), nn.Linear(HIDDEN, HIDDEN), nn.Linear(HIDDEN, HIDDEN)

    def forward(self, x, bias):  # [B, L, H], bias [B, 1, 1, L] -> [B, L, H]
        b, l, h = x.shape
        split = lambda t: t.view(b, l, HEADS, h // HEADS).transpose(1, 2)
        out = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=bias)
        return out.transpose(1, 2).reshape(b, l, h)


class DenseLayerNorm(nn.Module):  # BertSelfOutput / BertOutput: dense, residual add, post-LN
    def __init__(self, width_in):
        super().__init__()
        self.dense = nn.Linear(width_in, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=BERT_EPS)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.self = BertSelfAttention()
        self.output = DenseLayerNorm(HIDDEN)

    def forward(self, x, bias):
        return self.output(self.self(x, bias), x)


class BertIntermediate(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(HIDDEN, FFN)

    def forward(self, x):
        return F.gelu(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = BertAttention()
        self.intermediate = BertIntermediate()
        self.output = DenseLayerNorm(FFN)

    def forward(self, x, bias):
        attended = self.attention(x, bias)
        return self.output(self.intermediate(attended), attended)


class BertEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer() for _ in range(TEXT_LAYERS))


class BertPooler(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(HIDDEN, HIDDEN)


class Bert(nn.Module):
    """The text layers of models/bert.h (layers [0, text_layers) only; the cross-modal ones are not run)."""

    def __init__(self):
        super().__init__()
        self.embeddings = BertEmbeddings()
        self.encoder = BertEncoder()
        self.pooler = BertPooler()

    def forward(self, input_ids, attention_mask):  # -> text states [B, L, H]
        x = self.embeddings(input_ids)
        bias = torch.zeros(attention_mask.shape, dtype=x.dtype).masked_fill_(attention_mask == 0, torch.finfo(x.dtype).min)
        bias = bias[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x


class TransformersBert(nn.Module):
    """transformers.BertModel with the same config and text_layers layers, under the same names."""

    def __init__(self):
        super().__init__()
        from transformers import BertConfig, BertModel
        config = BertConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=TEXT_LAYERS, num_attention_heads=HEADS,
                            intermediate_size=FFN, max_position_embeddings=MAX_POS, type_vocab_size=TYPES,
                            layer_norm_eps=BERT_EPS, hidden_act="gelu", attn_implementation="sdpa")
        model = BertModel(config, add_pooling_layer=True)
        self.embeddings, self.encoder, self.pooler = model.embeddings, model.encoder, model.pooler
        self.model = [model]  # not a submodule: its parameters are the three above

    def forward(self, input_ids, attention_mask):
        return self.model[0](input_ids=input_ids, attention_mask=attention_mask).last_hidden_state



class ResNet(nn.Module):
    """models/resnet.h: torchvision's Bottleneck ResNet (v1.5) returning C4 and C5, no classifier."""

    def __init__(self, last_stage):
        super().__init__()
        base = RESNET_BASE
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = base
        for stage in range(1, last_stage + 1):
            width, stride = base << (stage - 1), 1 if stage == 1 else 2
            downsample = None
            if stride != 1 or inplanes != width * 4:
                downsample = nn.Sequential(nn.Conv2d(inplanes, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4))
            blocks = [Bottleneck(inplanes, width, stride, downsample)]
            inplanes = width * 4
            blocks += [Bottleneck(inplanes, width) for _ in range(1, RESNET_LAYERS[stage - 1])]
            setattr(self, f"layer{stage}", nn.Sequential(*blocks))
        self.last_stage = last_stage

    def forward(self, x):  # [B, 3, H, W] -> (C4, C5 or None)
        x = self.layer2(self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x))))))
        c4 = self.layer3(x)
        return c4, (self.layer4(c4) if self.last_stage >= 4 else None)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.qkv, self.proj, self.heads = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim), heads

    def forward(self, x):  # [N, L, C] -> [N, L, C]
        n, l, c = x.shape
        q, k, v = self.qkv(x).reshape(n, l, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, l, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SpaceTimeBlock(nn.Module):
    """models/timesformer.h: TimeSformer's divided space-time block (pre-LN eps 1e-6, no CLS token)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.temporal_norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.temporal_attn = Attention(dim, heads)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * 4)

    def forward(self, x):  # [B, T, S, C] -> [B, T, S, C]
        b, t, s, c = x.shape
        xt = x.permute(0, 2, 1, 3).reshape(b * s, t, c)  # each position over time
        temporal = self.temporal_attn(self.temporal_norm1(xt))
        y = x + self.temporal_fc(temporal.reshape(b, s, t, c).permute(0, 2, 1, 3))
        ys = y.reshape(b * t, s, c)  # each time step over space
        y = y + self.attn(self.norm1(ys)).reshape(b, t, s, c)
        return y + self.mlp(self.norm2(y))


IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def imagenet_normalize(images):  # [-1, 1] -> ImageNet-normalised
    return ((images + 1.0) * 0.5 - IMAGENET_MEAN) / IMAGENET_STD


class VideoEncoder(nn.Module):
    """models/video_encoder.h, mode "hybrid"."""

    def __init__(self):
        super().__init__()
        c4, c5, hidden = RESNET_BASE * 16, RESNET_BASE * 32, VIDEO_HIDDEN
        self.hr_backbone = ResNet(last_stage=4)
        self.hr_proj = nn.Conv2d(c5, hidden, 1, bias=False)
        self.lr_backbone = ResNet(last_stage=3)
        self.grid_encoder_low = nn.Conv2d(c4, hidden, 1)
        self.blocks = nn.ModuleList(SpaceTimeBlock(hidden, VIDEO_HEADS) for _ in range(VIDEO_DEPTH))
        self.pos_embed = nn.Parameter(torch.zeros(1, GRID_H * GRID_W, hidden))
        self.time_embed = nn.Parameter(torch.zeros(1, FRAMES, hidden))
        self.fuse = nn.Conv2d(2 * hidden, hidden, 1)

    def temporal(self, frames):  # [B, T, C, h, w] -> middle step [B, C, h, w]
        b, t, c, h, w = frames.shape
        x = frames.permute(0, 1, 3, 4, 2).reshape(b, t, h * w, c)
        x = x + self.pos_embed.unsqueeze(1) + self.time_embed.unsqueeze(2)  # the grid is the learned one
        for block in self.blocks:
            x = block(x)
        return x[:, t // 2].reshape(b, h, w, c).permute(0, 3, 1, 2)

    def forward(self, keyframe, neighbours):  # [B, 3, H, W], [B, T-1, 3, H/4, W/4] -> tokens [B, h*w, C]
        b = keyframe.shape[0]
        c4, c5 = self.hr_backbone(imagenet_normalize(keyframe))
        hr_tokens = F.gelu(F.max_pool2d(self.hr_proj(c5), 2))
        c4 = F.interpolate(c4, size=hr_tokens.shape[-2:], mode="bilinear", align_corners=False)
        hr_reference = F.gelu(self.grid_encoder_low(c4))
        n = neighbours.shape[1]
        low = F.gelu(self.grid_encoder_low(self.lr_backbone(imagenet_normalize(neighbours.flatten(0, 1)))[0]))
        low = low.reshape(b, n, *low.shape[1:])
        sequence = torch.cat([low[:, : n // 2], hr_reference.unsqueeze(1), low[:, n // 2:]], 1)
        tokens = F.gelu(self.fuse(torch.cat([hr_tokens, self.temporal(sequence)], 1)))
        return tokens.flatten(2).transpose(1, 2)



class VLTowers(nn.Module):
    """models/vl_model.h: encode_text and encode_video (the cross-modal layers and heads are not built)."""

    def __init__(self, text_impl="plain"):
        super().__init__()
        self.bert = Bert() if text_impl == "plain" else TransformersBert()
        self.video = VideoEncoder()
        self.text_proj = nn.Linear(HIDDEN, EMBED_DIM)
        self.video_proj = nn.Linear(VIDEO_HIDDEN, EMBED_DIM)

    def encode_text(self, input_ids, attention_mask):  # [B, L] -> [B, embed_dim]
        states = self.bert(input_ids, attention_mask)
        weights = (attention_mask != 0).to(states.dtype).unsqueeze(-1)
        pooled = (states * weights).sum(1) / weights.sum(1).clamp_min(1e-9)
        return F.normalize(self.text_proj(torch.tanh(self.bert.pooler.dense(pooled))), dim=-1)

    def encode_video(self, keyframes, neighbours):  # [B, S, 3, H, W], [B, S, T-1, 3, h, w] -> [B, embed_dim]
        b, s = keyframes.shape[:2]
        tokens = self.video(keyframes.flatten(0, 1), neighbours.flatten(0, 1))
        pooled = tokens.mean(1).reshape(b, s, -1).mean(1)
        return F.normalize(self.video_proj(pooled), dim=-1)


def load_weights(model, path):
    """Copies every tensor of `model` from the C++ side's file; the file's extra tensors (cross-modal
    layers, heads) are listed, a missing or misshaped one is an error."""
    tensors = load_file(path)
    own = dict(model.state_dict())
    if isinstance(model.bert, TransformersBert):  # HF keeps a position_ids buffer we do not save
        own = {k: v for k, v in own.items() if not k.endswith("position_ids") and not k.endswith("token_type_ids")}
    missing = [k for k in own if k not in tensors]
    wrong = [f"{k} {tuple(tensors[k].shape)} != {tuple(v.shape)}" for k, v in own.items() if k in tensors and tensors[k].shape != v.shape]
    if missing or wrong:
        sys.exit(f"error: {path}: missing {missing}, wrong shape {wrong}")
    with torch.no_grad():
        for k, v in own.items():
            v.copy_(tensors[k])
    unused = sorted({".".join(k.split(".")[:4 if k.startswith("bert.encoder.layer.") else 1]) + ".*"
                     for k in tensors if k not in own})
    return len(own), unused


def make_inputs(batch, generator):
    input_ids = torch.zeros(batch, MAX_TEXT_LEN, dtype=torch.long)
    input_ids[:, :REAL_TOKENS] = torch.randint(1000, VOCAB, (batch, REAL_TOKENS), generator=generator)
    input_ids[:, 0], input_ids[:, REAL_TOKENS - 1] = 101, 102
    attention_mask = torch.zeros(batch, MAX_TEXT_LEN, dtype=torch.long)
    attention_mask[:, :REAL_TOKENS] = 1
    keyframes = torch.rand(batch, SEGMENTS, 3, 64 * GRID_H, 64 * GRID_W, generator=generator) * 2 - 1
    neighbours = torch.rand(batch, SEGMENTS, FRAMES - 1, 3, 16 * GRID_H, 16 * GRID_W, generator=generator) * 2 - 1
    return input_ids, attention_mask, keyframes, neighbours


def time_tower(name, batch, forward, runs, warmup):
    for _ in range(warmup):
        forward()
    ms = []
    for _ in range(runs):
        start = time.perf_counter()
        forward()
        ms.append((time.perf_counter() - start) * 1e3)
    print(f"python {name:<5} batch {batch}: {runs} runs, median {statistics.median(ms):.2f} ms, min {min(ms):.2f} ms", flush=True)


def build(text_impl, weights):
    torch.manual_seed(0)
    model = VLTowers(text_impl).eval()
    if weights:
        count, unused = load_weights(model, weights)
        print(f"python loaded {count} tensors from {weights} (not used here: {', '.join(unused)})")
    return model


def run(args):
    torch.set_num_threads(args.threads or os.cpu_count())
    model = build(args.text_impl, args.weights)
    batches = [int(b) for b in args.batch.split(",")]
    print(f"python hdvila-small (text {args.text_impl}), {torch.get_num_threads()} thread(s), batches {args.batch}, "
          f"{args.warmup} warm-up + {args.runs} timed runs, inference_mode, torch {torch.__version__}", flush=True)
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for batch in batches:
            ids, mask, keyframes, neighbours = make_inputs(batch, generator)
            if args.tower != "video":
                time_tower("text", batch, lambda: model.encode_text(ids, mask), args.runs, args.warmup)
            if args.tower != "text":
                time_tower("video", batch, lambda: model.encode_video(keyframes, neighbours), args.runs, args.warmup)


def check(args):
    torch.set_num_threads(args.threads or os.cpu_count())
    model = build(args.text_impl, args.weights)
    inputs, outputs = load_file(args.inputs), load_file(args.outputs)
    worst = 0.0
    with torch.inference_mode():
        for name, expected in outputs.items():
            tower, batch = name.split(".")
            if tower == "text":
                got = model.encode_text(inputs[f"{name}.input_ids"], inputs[f"{name}.attention_mask"])
            else:
                got = model.encode_video(inputs[f"{name}.keyframes"], inputs[f"{name}.neighbours"])
            diff = (got - expected).abs().max().item()
            worst = max(worst, diff)
            print(f"python check {tower:<5} batch {batch[1:]}: shape {list(got.shape)}, max abs diff to C++ {diff:.2e}")
    verdict = "PASS" if worst < 1e-4 else "FAIL"
    print(f"python check: {verdict} (largest max abs diff {worst:.2e}, tolerance 1e-4)")
    if worst >= 1e-4:
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="time the towers")
    p_run.add_argument("--weights", help="safetensors written by hdv_bench_towers --save-weights (default: random init)")
    p_run.add_argument("--runs", type=int, default=30)
    p_run.add_argument("--warmup", type=int, default=5)
    p_run.add_argument("--batch", default="1,8")
    p_run.add_argument("--tower", choices=["text", "video", "both"], default="both")
    p_check = sub.add_parser("check", help="compare with the C++ side's outputs")
    p_check.add_argument("weights")
    p_check.add_argument("inputs")
    p_check.add_argument("outputs")
    for p in (p_run, p_check):
        p.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = all cores)")
        p.add_argument("--text-impl", choices=["plain", "transformers"], default="plain")
    args = parser.parse_args()
    run(args) if args.command == "run" else check(args)


if __name__ == "__main__":
    main()
