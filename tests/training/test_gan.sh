#!/usr/bin/env bash
# End-to-end GAN training checks with the real hdvila-train on a generated folder of 16×16 PNGs
# (coloured squares on black), preset stylegan2-tiny:
#   outputs  a short run writes config.json, metrics.jsonl, samples/, checkpoints/ (last K kept)
#            and generator.safetensors (kind "generator"); --help exits 0, a bad value 2, a second
#            run into the same folder without --resume 2
#   resume   SIGTERM a run: it checkpoints and exits 1; --resume auto then logs exactly the
#            losses of an uninterrupted run
# usage: test_gan.sh CASE BIN_DIR PYTHON
set -u
case_name=$1
bin=$2
python=$3
work=$(mktemp -d)
trap 'rm -rf "$work"; jobs -p | xargs -r kill -9 2>/dev/null' EXIT

fail() { echo "FAIL: $*"; exit 1; }

"$python" "$(dirname "$0")/make_square_images.py" "$work/images" || fail "could not write the image folder"

common=(--data "$work/images" --data-kind folder --preset stylegan2-tiny --resolution 16 --batch 4 --seed 2
        --log-every 1 --threads 2 --quiet)

case $case_name in
outputs)
  "$bin/hdvila-train" gan --help >"$work/help.txt" || fail "--help did not exit 0"
  grep -q -- '--r1-gamma' "$work/help.txt" || fail "--help does not list --r1-gamma"
  "$bin/hdvila-train" gan "${common[@]}" --out "$work/bad" --lr abc 2>"$work/bad.log"
  rc=$?
  [[ $rc -eq 2 ]] || fail "--lr abc exited $rc, expected 2"
  grep -q '^error: --lr' "$work/bad.log" || { cat "$work/bad.log"; fail "no error line naming --lr"; }
  # A batch of 0 from a config file with --kimg (which divides by the batch): the batch is named.
  printf '{"batch": 0}' >"$work/batch0.json"
  "$bin/hdvila-train" gan --data "$work/images" --data-kind folder --preset stylegan2-tiny --resolution 16 --quiet \
    --config "$work/batch0.json" --kimg 1 --out "$work/batch0" 2>"$work/batch0.log"
  rc=$?
  [[ $rc -eq 1 ]] || { cat "$work/batch0.log"; fail "batch 0 with --kimg exited $rc, expected 1"; }
  grep -qx 'error: batch=0 must be a multiple of 4 (the minibatch-std group)' "$work/batch0.log" \
    || { cat "$work/batch0.log"; fail "no error line naming batch=0"; }
  "$bin/hdvila-train" gan "${common[@]}" --steps 6 --sample-every 3 --checkpoint-every 2 --keep 2 --out "$work/run" \
    || fail "the run failed"
  for f in config.json metrics.jsonl generator.safetensors samples/step-00000003.png samples/step-00000006.png \
           checkpoints/step-00000004.safetensors checkpoints/step-00000006.safetensors; do
    [[ -f $work/run/$f ]] || fail "missing $f"
  done
  [[ ! -e $work/run/checkpoints/step-00000002.safetensors ]] || fail "--keep 2 kept step 2"
  "$bin/hdvila-train" inspect "$work/run/generator.safetensors" | grep -q 'kind generator,' \
    || fail "generator.safetensors is not a generator checkpoint"
  "$python" - "$work/run" <<'EOF' || fail "metrics.jsonl / config.json / samples are not as expected"
import json, sys
from PIL import Image
from safetensors import safe_open
run = sys.argv[1]
records = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6], records
for key in ("loss_G", "loss_D", "r1", "img_per_s", "elapsed_s", "kimg"):
    assert all(key in r for r in records), key
config = json.load(open(f"{run}/config.json"))
assert config["run"]["batch"] == 4 and config["run"]["resolution"] == 16, config["run"]
assert abs(config["run"]["r1_gamma"] - 0.0002 * 256 / 4) < 1e-12, config["run"]["r1_gamma"]
grid = Image.open(f"{run}/samples/step-00000006.png")
assert grid.size == (64, 64), grid.size  # 16 samples, 4 x 4 tiles of 16 px
with safe_open(f"{run}/checkpoints/step-00000006.safetensors", "np") as f:
    meta = json.loads(f.metadata()["hdvila"])
    assert meta["kind"] == "gan-train-state" and meta["step"] == 6, meta
    names = set(f.keys())
assert {"G.mapping.fc0.weight", "D.b4.out.weight", "G_ema.mapping.fc0.weight", "run.rng"} <= names
print("losses:", [(r["loss_G"], r["loss_D"]) for r in records][-1])
EOF
  "$bin/hdvila-train" gan "${common[@]}" --steps 6 --out "$work/run" 2>"$work/again.log"
  rc=$?
  [[ $rc -eq 2 ]] || { cat "$work/again.log"; fail "a second run into the folder exited $rc, expected 2"; }
  grep -q 'already holds checkpoints' "$work/again.log" || fail "no hint to --resume"
  ;;

resume)
  args=("${common[@]}" --steps 30 --checkpoint-every 50 --sample-every 50)
  "$bin/hdvila-train" gan "${args[@]}" --out "$work/straight" || fail "uninterrupted run failed"
  "$bin/hdvila-train" gan "${args[@]}" --out "$work/stopped" 2>"$work/stopped.log" &
  victim=$!
  for _ in $(seq 1 3000); do
    [[ -f $work/stopped/metrics.jsonl ]] && [[ $(wc -l <"$work/stopped/metrics.jsonl") -ge 8 ]] && break
    sleep 0.02
  done
  kill -TERM "$victim"
  wait "$victim"
  rc=$?
  [[ $rc -eq 1 ]] || { cat "$work/stopped.log"; fail "SIGTERM: exit $rc, expected 1"; }
  grep -q '^error: interrupted at step [0-9]*; checkpoint written' "$work/stopped.log" \
    || { cat "$work/stopped.log"; fail "no 'interrupted' error line"; }
  ls "$work/stopped/checkpoints/"
  "$bin/hdvila-train" gan "${args[@]}" --out "$work/stopped" --resume auto || fail "resume failed"
  "$python" - "$work/straight/metrics.jsonl" "$work/stopped/metrics.jsonl" <<'EOF' || fail "losses after resume differ"
import json, sys
a, b = ([(r["step"], r["loss_G"], r["loss_D"], r["r1"]) for r in map(json.loads, open(f))] for f in sys.argv[1:3])
assert [r[0] for r in a] == [r[0] for r in b] == list(range(1, 31)), "steps differ"
worst = max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra[1:], rb[1:]))
print(f"30 steps, max loss difference after resume {worst:.3g}")
sys.exit(0 if worst <= 1e-6 else 1)
EOF
  ;;

*)
  fail "unknown case $case_name"
  ;;
esac
echo "ok $case_name"
