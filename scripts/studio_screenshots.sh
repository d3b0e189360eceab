#!/usr/bin/env bash
# Re-takes the screenshots of docs/studio.md with `hdvila-studio --script` under Xvfb, using the
# small random test models of tests/app/make_studio_models.sh (16-px generator, hdvila-tiny VL
# model, its direction table): the pictures show the studio's panels at work, not image quality.
# usage: scripts/studio_screenshots.sh [BUILD_DIR]   (writes docs/images/studio-*.png)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
bin=$build/bin
python=${HDV_VENV:-$HOME/.cache/hdvila/venv}/bin/python
work=$build/studio-shots
images=$root/docs/images
rm -rf "$work" && mkdir -p "$work/empty-assets"
bash "$root/tests/app/make_studio_models.sh" "$work/models" "$bin" "$python"
m=$work/models
load='{"action": "load_models", "generator": "'$m/generator.safetensors'", "vl_model": "'$m/vl-model.safetensors'", "directions": "'$m/directions.safetensors'"}'
studio() {  # studio NAME SCRIPT_JSON
  printf '%s\n' "$2" > "$work/$1.json"
  HDV_ASSETS=$work/empty-assets xvfb-run -a -s "-screen 0 1600x1200x24" \
    "$bin/hdvila-studio" --threads 2 --width 1280 --height 800 --script "$work/$1.json" --quiet
}

# A global-direction edit: source | edited split in the image area.
studio edit '['"$load"',
  {"action": "sample", "seed": 3},
  {"action": "save_image", "path": "'$work/source.png'"},
  {"action": "set_prompt", "target": "a red shirt"},
  {"action": "set_slider", "name": "strength", "value": 8},
  {"action": "press", "button": "edit"},
  {"action": "wait_idle"},
  {"action": "screenshot", "path": "'$images/studio-edit.png'"}]'

# An inversion running: progress bar and Cancel; then cancelled.
studio invert '['"$load"',
  {"action": "open", "path": "'$work/source.png'"},
  {"action": "set_slider", "name": "invert_steps", "value": 5000},
  {"action": "set_slider", "name": "invert_vl_weight", "value": 0},
  {"action": "press", "button": "invert"},
  {"action": "sleep", "seconds": 2},
  {"action": "screenshot", "path": "'$images/studio-invert.png'"},
  {"action": "press", "button": "cancel"}]'

# Super-resolution x4 of the current image down-scaled: input, bicubic and the candidates.
studio sr '['"$load"',
  {"action": "sample", "seed": 5},
  {"action": "set_slider", "name": "sr_candidates", "value": 4},
  {"action": "press", "button": "super_resolve"},
  {"action": "wait_idle"},
  {"action": "screenshot", "path": "'$images/studio-sr.png'"}]'

# No models (none bundled yet), and an error shown in the window.
printf 'not an image' > "$work/corrupt.png"
studio start '[{"action": "open", "path": "'$work/corrupt.png'"},
  {"action": "expect_error", "contains": "cannot decode image"},
  {"action": "screenshot", "path": "'$images/studio-start.png'"}]'

# docs/results.md's studio picture, with the demo's contact sheet (make demo) when it is there.
if [[ -f $build/demo/contact_sheet.png ]]; then
  HDV_ASSETS=$work/empty-assets xvfb-run -a -s "-screen 0 1600x1200x24" "$bin/hdvila-studio" \
    --image "$build/demo/contact_sheet.png" --screenshot "$images/studio-demo.png" \
    --width 1100 --height 640 --frames 4 --quiet
fi
echo "screenshots in $images"
