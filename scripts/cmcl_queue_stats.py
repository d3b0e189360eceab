#!/usr/bin/env python3
"""How hard a CMCL run's queues are, read from its checkpoints (docs/training.md, the loss rise).

Entry i of the text queue and of the video queue were enqueued together, from the same clip, by the
key encoders. For each checkpoint this prints the mean positive similarity t_i.v_i, the mean of the
hardest negative max_{j != i} t_i.v_j, the share of entries whose hardest negative beats the
positive, and the text->video InfoNCE loss of the queue against itself at tau 0.07: the loss of a
queue that is not stale at all.

usage: venv/bin/python scripts/cmcl_queue_stats.py RUN/checkpoints/step-*.safetensors
"""
import sys

import numpy as np
from safetensors.numpy import load_file

TAU = 0.07


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    for path in paths:
        state = load_file(path)
        if "queue.video" not in state:
            print(f"error: {path}: no queue.video (not a CMCL pretrain checkpoint)", file=sys.stderr)
            return 1
        video, text = state["queue.video"].astype(np.float64), state["queue.text"].astype(np.float64)
        if video.shape[0] < video.shape[1]:  # stored [D, K]
            video, text = video.T, text.T
        similarity = text @ video.T
        positive = np.diag(similarity).copy()
        np.fill_diagonal(similarity, -np.inf)
        hardest = similarity.max(1)
        logits = np.concatenate([positive[:, None], similarity], 1) / TAU
        top = logits.max(1, keepdims=True)
        loss = (top[:, 0] + np.log(np.exp(logits - top).sum(1)) - positive / TAU).mean()
        print(f"{path}: positive {positive.mean():.3f}  hardest negative {hardest.mean():.3f}  "
              f"hardest beats positive {100 * (hardest > positive).mean():.1f}%  in-queue t->v loss {loss:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
