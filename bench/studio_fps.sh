#!/usr/bin/env bash
# Studio frame rate while model work runs (issue: "the UI keeps >= 30 FPS while an optimisation
# runs"). Drives the real hdvila-studio with the bundled models under xvfb-run: open a sample,
# invert it, run the latent-optimisation edit, wait; --frame-log records every frame and whether
# the worker was busy. Prints the studio's summary lines and writes the CSV.
#
#   bash bench/studio_fps.sh [BUILD_DIR] [OUT_DIR]      (defaults: build, /tmp/hdv-studio-fps)
#
# No Python counterpart: this measures our UI loop, not a model. Headless runs do not wait for
# vsync (a window does, at the display's rate); the loop sleeps 5 ms per frame while the worker is
# busy to leave the cores to it, so ~190 FPS is the ceiling here.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-/tmp/hdv-studio-fps}
sample=${HDV_FPS_SAMPLE:-assets/samples/purple-plain-pullover.png}
steps=${HDV_FPS_STEPS:-100}
mkdir -p "$out"
[ -x "$build/bin/hdvila-studio" ] || { echo "error: $build/bin/hdvila-studio not built (make build)" >&2; exit 1; }
[ -f "$sample" ] || { echo "error: $sample: no such sample (bash scripts/make_samples.sh)" >&2; exit 1; }
cat > "$out/fps.json" <<JSON
[{"action": "wait_idle", "timeout_s": 300},
 {"action": "set_slider", "name": "invert_steps", "value": $steps},
 {"action": "set_slider", "name": "optimise_steps", "value": $steps},
 {"action": "open", "path": "$PWD/$sample"},
 {"action": "press", "button": "invert"}, {"action": "wait_idle", "timeout_s": 600},
 {"action": "set_prompt", "target": "a blue pullover"},
 {"action": "press", "button": "optimise"}, {"action": "wait_idle", "timeout_s": 600},
 {"action": "save_image", "path": "$out/optimised.png"}]
JSON
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
start=$(date +%s)
xvfb-run -a -s "-screen 0 1280x800x24" "$build/bin/hdvila-studio" --script "$out/fps.json" \
  --frame-log "$out/frames.csv" 2> "$out/studio.log"
grep -E "frames while|frame log|optimis|invert" "$out/studio.log" | tail -8
echo "wall $(( $(date +%s) - start )) s; log $out/studio.log"
