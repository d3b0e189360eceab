#!/usr/bin/env bash
# `make demo`: the most complete end-to-end job this version has.
#
# The bundled default models (VL model, generator, edit directions, oracle) are not trained yet,
# so the text-guided editing and super-resolution demo cannot run. Until they exist, this demo
# drives the foundation end to end: write a video, read it back by time span, decode and resize
# frames, save PNGs and a contact sheet, tokenize captions with the real BERT vocabulary, and
# screenshot the studio window.
# usage: demo.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
bin=$build/bin
out=$build/demo
venv=${HDV_VENV:-$HOME/.cache/hdvila/venv}
mkdir -p "$out"
step() { printf '\n== %s\n' "$*"; }

cat <<'MSG'
hdvila demo
note: the bundled models (text-guided editing and super-resolution) are not part of this version
      yet; this runs the most complete end-to-end job that exists: video -> frames -> images,
      tokenizer and the studio window.
MSG

step "1/5 write a 4-second test-pattern video (hdvila-train test-pattern)"
"$bin/hdvila-train" test-pattern --out "$out/pattern.mp4" --seconds 4 --fps 25 --size 320x180

step "2/5 read it back (hdvila-train video-info)"
"$bin/hdvila-train" video-info "$out/pattern.mp4"

step "3/5 decode 7 frames of the span 00:00:01.000-00:00:03.000, resized (hdvila-train frames)"
"$bin/hdvila-train" frames --video "$out/pattern.mp4" --span 00:00:01.000-00:00:03.000 --count 7 \
  --size 256x144 --out "$out/frames"

step "4/5 tokenize captions with the bert-base-uncased vocabulary (hdvila-train tokenize)"
vocab=$("$venv/bin/python" "$root/tests/models/make_tokenizer_fixture.py" --print-vocab-path)
for caption in "A red striped shirt moves to the left." "一件红色的衬衫向左移动" "Ein blaues Kleid, café-style!"; do
  printf '%s\n  -> ' "$caption"
  "$bin/hdvila-train" tokenize --vocab "$vocab" --text "$caption" --tokens
done

step "5/5 the studio window (hdvila-studio --screenshot)"
if [[ -x $bin/hdvila-studio ]]; then
  if [[ -n ${DISPLAY:-} ]]; then runner=(); else runner=(xvfb-run -a -s "-screen 0 1280x1024x24"); fi
  "${runner[@]}" "$bin/hdvila-studio" --image "$out/frames/contact_sheet.png" --screenshot "$out/studio.png" \
    --width 1100 --height 640 --frames 4 --quiet || echo "(no display available for the studio screenshot)"
fi

cat <<MSG

outputs in $out:
  pattern.mp4                 the test-pattern video
  frames/contact_sheet.png    the decoded frames side by side
  studio.png                  the studio window showing the contact sheet
open it interactively:  $bin/hdvila-studio --image $out/frames/contact_sheet.png
MSG
