#!/usr/bin/env bash
# Wall time of the scoring/table commands on one worker of N threads against N workers of one
# thread (--workers), with the bundled models: hdvila-train directions, sr-eval and edit-eval
# (latent optimisation). Prints the median of REPEATS runs (default 3) of each.
# usage: bench/workers.sh SYNTHVID_DIR [THREADS]   (BUILD=build, REPEATS=3)
#   SYNTHVID_DIR: a SynthVid folder with a test split (hdvila-train synth ... --split test)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${1:?usage: bench/workers.sh SYNTHVID_DIR [THREADS]}
threads=${2:-2}
build=${BUILD:-$root/build}
repeats=${REPEATS:-3}
train=$build/bin/hdvila-train
m=$root/assets/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# median wall seconds of `repeats` runs of the command
median_time() {
  local times=()
  for ((r = 0; r < repeats; ++r)); do
    rm -f "$tmp"/out.*
    local t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "error: failed: $*" >&2; exit 1; }
    times+=("$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {print a - b}')")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR] = $1} END {printf "%.1f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

run() {
  local name=$1
  shift
  local one many
  one=$(median_time "$train" "$@" --threads "$threads")
  many=$(median_time "$train" "$@" --threads "$threads" --workers "$threads")
  printf '| %s | %s s | %s s | %.2f× |\n' "$name" "$one" "$many" "$(awk -v a="$one" -v b="$many" 'BEGIN {print a / b}')"
}

echo "| command ($repeats runs, median) | 1 worker × $threads threads | $threads workers × 1 thread | ratio |"
echo "|---|---|---|---|"
run "directions --images 4 (928 channels)" directions --generator "$m/generator.safetensors" \
  --vl-model "$m/vl-model.safetensors" --out "$tmp/out.directions.safetensors" --images 4 --quiet
run "sr-eval --images 4 --scale 4 --steps 50" sr-eval --data "$data" --images 4 --scale 4 --steps 50 --quiet
run "edit-eval --method optimise --steps 100 --images 1 (8 colours)" edit-eval --generator "$m/generator.safetensors" \
  --vl-model "$m/vl-model.safetensors" --oracle "$m/oracle.safetensors" --method optimise --steps 100 --images 1 --quiet
