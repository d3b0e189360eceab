#!/usr/bin/env bash
# Measures the numbers of the bundled models' cards (assets/models/README.md) on the bundled fp16
# files, with the SynthVid data of scripts/train_defaults.sh. Writes WORK_DIR/metrics/*.json and
# prints each table.
# usage: scripts/model_card_metrics.sh [WORK_DIR]   (default runs/defaults; BUILD=build, HDV_VENV,
#        WORKERS: the slow scorings run this many workers side by side, default 2, one thread each)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${1:-$root/runs/defaults}
build=${BUILD:-$root/build}
[[ $build = /* ]] || build=$root/$build
train=$build/bin/hdvila-train
python=${HDV_VENV:-$HOME/.cache/hdvila/venv}/bin/python
models=$root/assets/models
data=$work/synthvid
out=$work/metrics
workers=${WORKERS:-2}
mkdir -p "$out"
say() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }
for f in vl-model generator directions oracle; do
  [[ -f $models/$f.safetensors ]] || { echo "error: $models/$f.safetensors: missing; run scripts/train_defaults.sh" >&2; exit 1; }
done
[[ -f $data/synthvid.json ]] || { echo "error: $data: no SynthVid data; run scripts/train_defaults.sh" >&2; exit 1; }

say "VL model: zero-shot retrieval on the 1,000-clip test split"
"$train" eval --model "$models/vl-model.safetensors" --run-config "$work/vl-small/config.json" --data "$data" \
  --split test --json "$out/retrieval.json"

say "oracle: accuracy on the val split"
"$train" oracle --data "$data" --evaluate "$models/oracle.safetensors" --val-split val --json "$out/oracle.json"

say "generator: VL-FD against 1,000 val+test keyframes"
"$train" gan-fd --generator "$models/generator.safetensors" --vl-model "$models/vl-model.safetensors" --data "$data" \
  --split test --samples 1000 --json "$out/vl-fd.json"

say "edits by global directions: 8 colours, 200 generated sources each"
"$train" edit-eval --generator "$models/generator.safetensors" --vl-model "$models/vl-model.safetensors" \
  --oracle "$models/oracle.safetensors" --directions "$models/directions.safetensors" --attribute colour \
  --values red orange yellow green blue purple pink white --images 200 --json "$out/edit-colour.json"

say "edits by global directions: textures, 200 generated sources each"
"$train" edit-eval --generator "$models/generator.safetensors" --vl-model "$models/vl-model.safetensors" \
  --oracle "$models/oracle.safetensors" --directions "$models/directions.safetensors" --attribute texture \
  --values striped dotted --images 200 --json "$out/edit-texture.json"

say "edits by latent optimisation: 4 colours, 5 generated sources each, 300 steps (about 3 min)"
"$train" edit-eval --threads "$workers" --workers "$workers" --generator "$models/generator.safetensors" --vl-model "$models/vl-model.safetensors" \
  --oracle "$models/oracle.safetensors" --method optimise --steps 300 --values red blue green yellow --images 5 \
  --json "$out/edit-optimise.json"

say "super-resolution x4 on 40 held-out frames of SynthVid seed 2031 (about 15 min on 2 workers)"
[[ -f $work/synthvid-sr/synthvid.json ]] ||
  "$train" synth --out "$work/synthvid-sr" --seed 2031 --size 128 --split test --test-clips 300 --frames 8
"$train" sr-eval --threads "$workers" --workers "$workers" --data "$work/synthvid-sr" --images 40 --scale 4 \
  --json "$out/sr-x4.json" --sheet "$out/sr-x4.png"

say "super-resolution x8 (8 -> 64 px) on the first 20 of those frames (about 7 min on 2 workers)"
"$train" sr-eval --threads "$workers" --workers "$workers" --data "$work/synthvid-sr" --images 20 --scale 8 \
  --json "$out/sr-x8.json"
