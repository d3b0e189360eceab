#!/usr/bin/env bash
# The pre-training ablations of docs/training.md at an equal budget (the same steps, batch and
# schedule for every arm): the hybrid video tower against LR-only (texture needs the HR keyframe)
# and against HR-only, a single frame (motion needs the LR neighbours and the temporal module).
# Each arm is stage-1 CMCL from all-MiniLM-L6-v2, then zero-shot retrieval on the test and
# compositional splits; the hybrid arm keeps its checkpoints' models (--keep-models) so the loss
# curve can be read against retrieval along the run.
#
# usage: scripts/pretrain_ablations.sh DATA WORK [STEPS] [ARMS]
#   DATA   a SynthVid folder from `hdvila-train synth` (train, test and compositional splits)
#   WORK   where the runs go: WORK/ablation-<arm>/ with test.json and compositional.json
#   STEPS  optimiser steps per arm (default 800)
#   ARMS   comma-separated video modes (default hybrid,lr-only,hr-only)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${HDV_BIN:-$root/build/bin}
if [[ $# -lt 2 ]]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
data=$1 work=$2 steps=${3:-800} arms=${4:-hybrid,lr-only,hr-only}
mkdir -p "$work"
init=$work/small-init.safetensors
[[ -f $init ]] || "$bin/hdvila-train" import --minilm --out "$init"
IFS=, read -r -a modes <<<"$arms"
for mode in "${modes[@]}"; do
  out=$work/ablation-$mode
  keep=()
  [[ $mode == hybrid ]] && keep=(--keep-models --keep-checkpoints 8)
  start=$(date +%s)
  "$bin/hdvila-train" pretrain --data "$data" --split train --init "$init" --out "$out" --mode cmcl \
    --temperature 0.07 --queue-size 4096 --steps "$steps" --video-mode "$mode" --log-every 50 \
    --checkpoint-every 200 "${keep[@]}"
  echo "$mode: trained in $(( $(date +%s) - start )) s" | tee "$out/wall.txt"
  for split in test compositional; do
    "$bin/hdvila-train" eval --model "$out" --data "$data" --split "$split" --json "$out/$split.json"
  done
done
