#!/usr/bin/env python3
"""Python counterpart of bench/bench_train_step.cpp: one stage-1 (CLIP mode) pre-training step of
hdvila-small in plain PyTorch, with the tower modules of bench/bench_towers.py; the same work, the
same printout.

    bench_train_step.py run   [--weights FILE] [--threads N] [--runs N] [--warmup N] [--batch 8,16]
    bench_train_step.py check WEIGHTS INPUTS OUTPUTS [--threads N]

run:   times the step (per batch size: --warmup untimed steps, then --runs timed ones) and prints the
       median ms per step, clips/s, the min and the median of each phase.
check: loads the weights hdv_bench_train_step saved (--save-weights), runs one step on each batch
       size of its inputs (--inputs) and compares the parameter counts, the loss, gradient norms,
       AdamW moment norms and update norms with its outputs (--outputs); exit 1 if any differs by
       more than 1e-4 relative. Which values and why: see bench_train_step.cpp.

The step (training/trainer.cpp at world size 1): zero the gradients; encode_text on [B, 32] ids and
encode_video on keyframes [B, 2, 3, 128, 128] + neighbours [B, 2, 6, 3, 32, 32] in train mode
(BatchNorm on batch statistics); symmetric InfoNCE with τ = 0.05 (training/objectives.cpp,
info_nce_loss); backward; read the loss; clip the global gradient norm at 5; one torch.optim.AdamW
step (lr 1e-4, betas 0.9 / 0.98, eps 1e-8, weight decay 1e-3 on parameters with dim > 1 only).
The towers have no dropout or drop-path; the C++ side sets both to 0 for this benchmark
(hdvila-small trains with dropout 0.1 in the text tower and drop-path 0.1 in the video tower).
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import bench_towers as towers  # same folder: the hdvila-small towers in plain PyTorch

TEMPERATURE, MAX_LOGIT_SCALE = 0.05, 100.0
LR, BETAS, EPS, WEIGHT_DECAY, GRAD_CLIP = 1e-4, (0.9, 0.98), 1e-8, 1e-3, 5.0
TOLERANCE = 1e-4  # relative

# Parameters whose gradient and update norms the check compares (bench_train_step.cpp, kTracedParameters).
TRACED = [
    "bert.embeddings.word_embeddings.weight",
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.5.output.LayerNorm.weight",
    "bert.pooler.dense.weight",
    "text_proj.weight",
    "video.hr_backbone.conv1.weight",
    "video.hr_backbone.bn1.weight",
    "video.lr_backbone.layer3.0.conv2.weight",
    "video.blocks.1.temporal_fc.weight",
    "video.time_embed",
    "video.fuse.weight",
    "video_proj.bias",
]


def info_nce_loss(text, video, log_scale):  # [N, D], [N, D], scalar ln(1/τ) -> scalar
    logits = log_scale.clamp_max(math.log(MAX_LOGIT_SCALE)).exp() * text @ video.t()
    target = torch.arange(text.shape[0])
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


class Trainee:
    """The towers in train mode with the C++ side's weights (or a random init) and their AdamW."""

    def __init__(self, weights):
        torch.manual_seed(0)
        self.model = towers.VLTowers("plain")
        if weights:
            self.loaded, self.unused = towers.load_weights(self.model, weights)
        self.model.train()
        self.named = list(self.model.named_parameters())
        self.params = [p for _, p in self.named]
        decay = [p for p in self.params if p.dim() > 1]
        no_decay = [p for p in self.params if p.dim() <= 1]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                                            {"params": no_decay, "weight_decay": 0.0}],
                                           lr=LR, betas=BETAS, eps=EPS)
        self.count = sum(p.numel() for g in self.optimizer.param_groups for p in g["params"])
        self.decayed = sum(p.numel() for g in self.optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"])


def train_step(t, inputs, log_scale, record=None):
    """One step; returns (forward, backward, clip + AdamW) seconds. `record` (a dict) receives the loss,
    the gradient norms before clipping, the traced parameters' AdamW moment and update norms and the
    norm of the update of the position-embedding rows beyond the inputs (weight decay alone)."""
    ids, mask, keyframes, neighbours = inputs
    start = time.perf_counter()
    t.optimizer.zero_grad(set_to_none=True)
    text = t.model.encode_text(ids, mask)
    video = t.model.encode_video(keyframes, neighbours)
    loss = info_nce_loss(text.float(), video.float(), log_scale)
    forward_end = time.perf_counter()
    loss.backward()
    loss_value = loss.item()
    backward_end = time.perf_counter()
    if record is not None:
        named = dict(t.named)
        record["loss"] = loss_value
        for name in TRACED:
            record[f"grad_norm.{name}"] = named[name].grad.norm().item()
        before = {name: named[name].detach().clone() for name in TRACED}
        unused_before = t.model.bert.embeddings.position_embeddings.weight.detach()[ids.shape[1]:].clone()
    update_start = time.perf_counter()
    norm = torch.nn.utils.clip_grad_norm_(t.params, GRAD_CLIP).item()
    if not (math.isfinite(norm) and math.isfinite(loss_value)):
        raise RuntimeError(f"non-finite loss {loss_value} or gradient norm {norm}")
    t.optimizer.step()
    update_end = time.perf_counter()
    if record is not None:
        record["grad_norm.total"] = norm
        for name in TRACED:
            record[f"update_norm.{name}"] = (named[name].detach() - before[name]).norm().item()
        used = ids.shape[1]  # rows of the position table beyond the inputs: no gradient, decay alone
        positions = t.model.bert.embeddings.position_embeddings.weight.detach()
        record["decay_norm.unused_position_embeddings"] = (positions[used:] - unused_before).norm().item()
        for name in TRACED:
            for moment in ("exp_avg", "exp_avg_sq"):
                record[f"{moment}_norm.{name}"] = t.optimizer.state[named[name]][moment].norm().item()
    return forward_end - start, backward_end - forward_end, update_end - update_start


def run(args):
    torch.set_num_threads(args.threads or os.cpu_count())
    batches = [int(b) for b in args.batch.split(",")]
    log_scale = torch.full((), math.log(1.0 / TEMPERATURE))
    print(f"python hdvila-small train step (no dropout), {torch.get_num_threads()} thread(s), batches {args.batch}, "
          f"{args.warmup} warm-up + {args.runs} timed steps, torch {torch.__version__}", flush=True)
    for batch in batches:
        t = Trainee(args.weights)
        inputs = towers.make_inputs(batch, torch.Generator().manual_seed(batch))
        for _ in range(args.warmup):
            train_step(t, inputs, log_scale)
        total, phases = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            phases.append(train_step(t, inputs, log_scale))
            total.append((time.perf_counter() - start) * 1e3)
        median = statistics.median(total)
        forward, backward, update = (statistics.median(p[i] * 1e3 for p in phases) for i in range(3))
        print(f"python train batch {batch}: {args.runs} runs, median {median:.2f} ms/step ({1e3 * batch / median:.2f} clips/s), "
              f"min {min(total):.2f} ms | forward {forward:.2f}, backward {backward:.2f}, clip+adamw {update:.2f} ms | "
              f"{t.count} trained parameters ({t.decayed} decayed)", flush=True)


def check(args):
    torch.set_num_threads(args.threads or os.cpu_count())
    inputs, outputs = load_file(args.inputs), load_file(args.outputs)
    log_scale = torch.full((), math.log(1.0 / TEMPERATURE))
    batches = sorted({int(name.split(".")[0][1:]) for name in outputs})
    worst, failures = 0.0, []
    for batch in batches:
        t = Trainee(args.weights)
        if batch == batches[0]:
            print(f"python loaded {t.loaded} tensors from {args.weights} (not used here: {', '.join(t.unused)}); "
                  f"{t.count} trained parameters ({t.decayed} decayed)")
        b = f"b{batch}"
        step_inputs = tuple(inputs[f"{b}.{k}"] for k in ("input_ids", "attention_mask", "keyframes", "neighbours"))
        record = {"parameters.trained": t.count, "parameters.decayed": t.decayed}
        train_step(t, step_inputs, log_scale, record)
        expected = {name[len(b) + 1:]: value.item() for name, value in outputs.items() if name.startswith(b + ".")}
        if set(expected) != set(record):
            sys.exit(f"error: {args.outputs}: {b} holds {sorted(expected)}, expected {sorted(record)}")
        batch_worst = 0.0
        for name, want in expected.items():
            rel = abs(record[name] - want) / max(abs(want), 1e-12)
            batch_worst = max(batch_worst, rel)
            if rel > TOLERANCE:
                failures.append(f"{b}.{name}: python {record[name]:.8g}, C++ {want:.8g} (relative {rel:.2e})")
        worst = max(worst, batch_worst)
        print(f"python check batch {batch}: loss {record['loss']:.6f} (C++ {expected['loss']:.6f}), gradient norm "
              f"{record['grad_norm.total']:.6f} (C++ {expected['grad_norm.total']:.6f}); {len(expected)} values, "
              f"largest relative difference {batch_worst:.2e}")
    for failure in failures:
        print(f"python check mismatch {failure}")
    verdict = "FAIL" if failures else "PASS"
    print(f"python check: {verdict} (largest relative difference {worst:.2e}, tolerance {TOLERANCE:g})")
    if failures:
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="time the training step")
    p_run.add_argument("--weights", help="safetensors written by hdv_bench_train_step --save-weights (default: random init)")
    p_run.add_argument("--runs", type=int, default=10)
    p_run.add_argument("--warmup", type=int, default=2)
    p_run.add_argument("--batch", default="8,16")
    p_check = sub.add_parser("check", help="compare one step with the C++ side's")
    p_check.add_argument("weights")
    p_check.add_argument("inputs")
    p_check.add_argument("outputs")
    for p in (p_run, p_check):
        p.add_argument("--threads", type=int, default=2, help="intra-op threads (0 = all cores)")
    args = parser.parse_args()
    run(args) if args.command == "run" else check(args)


if __name__ == "__main__":
    main()
