#!/usr/bin/env bash
# Writes assets/samples/: SynthVid keyframes (64×64, the bundled generator's size) named by their
# labels, and their 16×16 and 8×8 reductions for ×4 and ×8 super-resolution, all made by
# `hdvila-train synth` + `hdvila-train frames` from a seed the training data never used.
# usage: scripts/make_samples.sh [BUILD_DIR] [COUNT]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
count=${2:-6}
train=$build/bin/hdvila-train
out=$root/assets/samples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$train" synth --out "$work/sv" --clips 40 --seed 2027 --size 128 --split train --second-object-prob 0 --quiet
mkdir -p "$out"
# One clip per class, in label order, until COUNT samples: name = colour-texture-class.
python3 - "$work/sv/train/labels.jsonl" "$count" >"$work/picked.tsv" <<'PY'
import json, sys
seen, picked = set(), []
for line in open(sys.argv[1]):
    label = json.loads(line)
    obj = label["objects"][0]
    if obj["class"] in seen or obj["size"] != "large":
        continue
    seen.add(obj["class"])
    name = f'{obj["colour"]}-{obj["texture"]}-{obj["class"].replace(" ", "-")}'
    picked.append((label["clip_id"], name))
    if len(picked) == int(sys.argv[2]):
        break
for clip, name in picked:
    print(f"{clip}\t{name}")
PY
while IFS=$'\t' read -r clip name; do
  video=$work/sv/train/video_clips/${clip%.*.mp4}/$clip
  for size in 64 16 8; do
    rm -rf "$work/frame"
    "$train" frames --video "$video" --count 1 --size "${size}x${size}" --out "$work/frame" --quiet >/dev/null
    suffix=$([[ $size = 64 ]] && echo "" || echo "-${size}px")
    cp "$(ls "$work"/frame/frame_*.png | head -1)" "$out/$name$suffix.png"
  done
  echo "assets/samples/$name.png (+ -16px, -8px)"
done <"$work/picked.tsv"
