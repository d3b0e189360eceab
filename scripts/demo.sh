#!/usr/bin/env bash
# `make demo`: text-guided editing and super-resolution with the bundled default models, offline.
#
# Runs hdvila-generate on a job file (assets/samples/demo-jobs.jsonl): colour and texture edits of
# the sample frames (inverted, then latent optimisation), global-direction edits of generated
# images, and ×4 / ×8 super-resolution of the low-resolution samples with and without a prompt. Then it checks every edit with the
# attribute oracle, writes a contact sheet and a studio screenshot, and says where everything is.
# usage: demo.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
bin=$build/bin
out=$build/demo
models=$root/assets/models
step() { printf '\n== %s\n' "$*"; }

for f in vl-model generator directions oracle; do
  if [[ ! -f $models/$f.safetensors ]]; then
    echo "error: $models/$f.safetensors: the bundled model is missing (a partial clone? re-train with scripts/train_defaults.sh)" >&2
    exit 1
  fi
done
rm -rf "$out"
mkdir -p "$out"

step "1/3 hdvila-generate: $(grep -c '"mode"' "$root/assets/samples/demo-jobs.jsonl") jobs from assets/samples/demo-jobs.jsonl"
start=$(date +%s)
# The job file names its inputs relative to the repository root.
# Two workers: the 64-px generator's ops are too small to use two threads each, so two jobs run side by side.
(cd "$root" && "$bin/hdvila-generate" --jobs assets/samples/demo-jobs.jsonl --out "$out" --workers 2)
echo "finished in $(( $(date +%s) - start )) s"

step "2/3 what the attribute oracle reads in each edit"
python3 - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
asked = hit = 0
for r in rows:
    if r.get("mode") not in ("edit", "edit-optimise") or not r.get("ok"):
        continue
    words = r["prompt"].split()
    for attribute, values in (("colour", ["red", "orange", "yellow", "green", "blue", "purple", "pink", "white"]),
                              ("texture", ["striped", "dotted", "plain"])):
        wanted = [w for w in words if w in values]
        if not wanted or not r.get("oracle"):
            continue
        got = r["oracle"][attribute]["value"]
        source = r["source_oracle"][attribute]["value"] if r.get("source_oracle") else "?"
        asked += 1
        hit += got == wanted[0]
        print(f'  {r["output"]:<24} "{r["prompt"]}": {attribute} {source} -> {got}  {"ok" if got == wanted[0] else "MISSED"}')
if asked:
    print(f"{hit} of {asked} edits ({100.0 * hit / asked:.0f}%) carry the requested attribute by the oracle")
for r in rows:
    if r.get("mode") == "sr" and r.get("ok"):
        best = r["candidates"][0]
        texture = r["oracle"]["texture"]["value"] if r.get("oracle") else "?"
        print(f'  {r["output"]:<24} sr {("“" + r["prompt"] + "”") if r.get("prompt") else "(no prompt)"}: '
              f'texture read {texture}, LR MSE {best["lr_mse"]:.4f}')
PY

step "3/3 the studio window with the bundled models (hdvila-studio --screenshot)"
if [[ -n ${DISPLAY:-} ]]; then runner=(); else runner=(xvfb-run -a -s "-screen 0 1280x1024x24"); fi
"${runner[@]}" "$bin/hdvila-studio" --image "$out/red-pullover.png" --screenshot "$out/studio.png" \
  --width 1100 --height 640 --frames 4 --quiet || echo "(no display available for the studio screenshot)"

cat <<MSG

outputs in $out:
  contact_sheet.png    one row per job: its input (if any), source, result, candidates, bicubic
  results.jsonl        timings, channels, scores and the oracle's reading of every output
  studio.png           the studio window
open them interactively:  $bin/hdvila-studio --image $out/red-pullover.png
MSG
