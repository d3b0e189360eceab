#!/usr/bin/env bash
# Fault drills (issue 27, item 4; docs/reliability.md "Fault drills") with the real programs on
# tiny models: each case breaks something on purpose and asserts the exact outcome.
#   corrupt-pretrain   the newest pretrain checkpoint truncated, or one byte of its tensor table, its
#                      metadata JSON, its step or its tensor data changed: --resume auto refuses it
#                      naming the file and the problem (the header validation, or the hdvila_crc32
#                      checksum for what it cannot see), exit 1, and leaves the run folder as it was;
#                      the stored checksum is the CRC-32 docs/formats.md defines (Python's zlib)
#   corrupt-gan        the same for a GAN run's checkpoint (truncated; a tensor data bit flipped)
#   disk-full-checkpoint  the file size limit (ulimit -f) reached while writing a pretrain checkpoint:
#                      one error line naming the file, exit 1, the previous checkpoint byte-identical,
#                      no file under the new name, no temporary left; the run then resumes
#   disk-full-generate the limit reached while writing an image (the job fails, recorded in
#                      results.jsonl), results.jsonl (exit 1 naming it; the previous results.jsonl
#                      stays whole) and the contact sheet
#   sigint-pretrain    SIGINT mid-run: a checkpoint at the step boundary, exit 1 with "interrupted at
#                      step N; checkpoint written"; --resume auto logs the uninterrupted run's losses
#   sigterm-directions SIGTERM during `hdvila-train directions`: exit 1 naming the partial table,
#                      --resume finishes it, equal to an uninterrupted run's table
#   sigterm-generate   SIGTERM during a batch of hdvila-generate jobs: results.jsonl lists whole
#                      jobs only, each with its image; a rerun of the batch gives the same images
#   rank-killed        SIGKILL one of 2 ranks (Gloo) mid-run: the other exits 1 naming the lost rank
#                      within --timeout; the run resumes from its last checkpoint with the losses of
#                      an uninterrupted 2-rank run
# Run in a ulimit-ed shell: bash -c 'trap "" XFSZ; ulimit -f N; exec ...' (write() then fails with
# EFBIG instead of the process being killed by SIGXFSZ).
# usage: fault_drills.sh CASE BIN_DIR PYTHON [DATA_DIR]   (DATA_DIR: the tiny SynthVid split)
set -u
case_name=$1
bin=$2
python=$3
data=${4:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"; jobs -p | xargs -r kill -9 2>/dev/null' EXIT

fail() { echo "FAIL: $*"; exit 1; }

# with_file_limit KB command...: the command under a file size limit, SIGXFSZ ignored.
with_file_limit() { local kb=$1; shift; bash -c 'trap "" XFSZ; ulimit -f "$0"; exec "$@"' "$kb" "$@"; }

# expect_refused LOG STATUS LINE: the command's output is exactly one line, LINE, and it exited STATUS.
expect_refused() {
  local log=$1 want_rc=$2 rc=$3 line=$4
  [[ $rc -eq $want_rc ]] || { cat "$log"; fail "exit $rc, expected $want_rc"; }
  [[ $(wc -l <"$log") -eq 1 ]] || { cat "$log"; fail "expected exactly one output line"; }
  [[ $(cat "$log") == "$line" ]] || { echo "got:      $(cat "$log")"; echo "expected: $line"; fail "wrong error line"; }
}

# The byte offset of the first occurrence of a fixed string in a file.
offset_of() { grep -obaF -m1 -- "$2" "$1" | head -n 1 | cut -d: -f1; }
# Overwrite one byte at an offset.
put_byte() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
# The data section of a safetensors file starts at 8 + the header length (little-endian u64).
data_start() { "$python" -c 'import struct,sys; print(8 + struct.unpack("<Q", open(sys.argv[1],"rb").read(8))[0])' "$1"; }
# Flip the lowest bit of the byte at an offset.
flip_bit() { "$python" -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(o); b = f.read(1)[0]; f.seek(o); f.write(bytes([b ^ 1]))' "$1" "$2"; }

# The CRC-32 of a safetensors file as docs/formats.md defines hdvila_crc32 ("stored" prints the
# file's own value instead), computed apart from the C++ code.
crc_of() {
  "$python" - "$1" "${2:-}" <<'EOF'
import json, struct, sys, zlib
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__", {})
if sys.argv[2] == "stored":
    print(meta["hdvila_crc32"]); sys.exit()
text = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in sorted(meta.items()) if k != "hdvila_crc32")
for name, e in sorted(header.items(), key=lambda kv: (*kv[1]["data_offsets"], kv[0].encode())):
    fields = [name, e["dtype"], ",".join(map(str, e["shape"])), "{},{}".format(*e["data_offsets"])]
    text += b"".join(f.encode() + b"\0" for f in fields)
print("%08x" % zlib.crc32(raw[8 + n:], zlib.crc32(text)))
EOF
}
checksum_error() {
  echo "error: @: checksum mismatch: hdvila_crc32 says $(crc_of "$1" stored), the file's metadata, tensor table and data give $(crc_of "$1") (the file is corrupt: changed since it was written)"
}

# A listing of a folder: names, sizes and checksums, to show a refused run changed nothing.
snapshot() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# No temporary files of core/atomic_file.h (".NAME.tmp-PID-N") anywhere under a folder.
no_temporaries() {
  local left
  left=$(find "$1" -name '.*.tmp-*')
  [[ -z $left ]] || fail "temporary files left behind: $left"
}

# Do two metrics.jsonl hold the same steps with the same values of the given keys (within 1e-5)?
same_losses() {
  "$python" - "$@" <<'EOF'
import json, sys
keys = sys.argv[3:]
a, b = ([(r["step"], *(r[k] for k in keys)) for r in map(json.loads, open(f))] for f in sys.argv[1:3])
assert [r[0] for r in a] == [r[0] for r in b], f"steps differ: {[r[0] for r in a]} vs {[r[0] for r in b]}"
worst = max(abs(x - y) / max(1.0, abs(x)) for ra, rb in zip(a, b) for x, y in zip(ra[1:], rb[1:]))
print(f"{len(a)} steps, max relative loss difference {worst:.3g}")
sys.exit(0 if worst <= 1e-5 else 1)
EOF
}

port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pretrain=(pretrain --data "$data" --split train --preset hdvila-tiny --python "$python" --threads 1 --workers 1
          --batch-norm frozen --log-every 1 --quiet --batch-size 4)

# A folder of 16 x 16 PNGs (coloured squares on black), as tests/training/test_gan.sh trains on.
gan_images() { "$python" "$src/tests/training/make_square_images.py" "$1" || fail "could not write the image folder"; }

# wait_for_lines FILE N: until FILE exists with at least N lines (at most 30 s).
wait_for_lines() {
  for _ in $(seq 1 3000); do
    [[ -f $1 ]] && [[ $(wc -l <"$1") -ge $2 ]] && return
    sleep 0.01
  done
}
gan=(gan --data-kind folder --preset stylegan2-tiny --resolution 16 --batch 4 --seed 2 --log-every 1 --threads 1 --quiet)

# corrupt_case NAME RUN CHECKPOINT EXPECTED_ERROR MUTATION... : copies the run, applies the
# mutation to the copy's CHECKPOINT (a path relative to the run), resumes it with RESUME_ARGS and
# expects exit 1 with exactly EXPECTED_ERROR (where @ stands for the checkpoint's path), the
# folder unchanged.
corrupt_case() {
  local name=$1 run=$2 rel=$3 expected=$4
  shift 4
  local copy="$work/$name"
  rm -rf "$copy"; cp -r "$run" "$copy"
  "$@" "$copy/$rel"
  [[ $expected == checksum ]] && expected=$(checksum_error "$copy/$rel")
  local before; before=$(snapshot "$copy")
  "$bin/hdvila-train" "${resume_args[@]}" --out "$copy" --resume auto >"$work/$name.log" 2>&1
  local rc=$?
  expect_refused "$work/$name.log" 1 $rc "${expected//@/$copy/$rel}"
  [[ $(snapshot "$copy") == "$before" ]] || fail "$name: the refused resume changed the run folder"
  no_temporaries "$copy"
  echo "ok   $name: $(cat "$work/$name.log")"
}

truncate_half() { truncate -s $(( $(stat -c %s "$1") / 2 )) "$1"; }
flip_metadata_json() { put_byte "$1" "$(( $(offset_of "$1" 'format_version\":') + 16 ))" 'X'; }  # the ':' after the key
flip_tensor_table() { put_byte "$1" "$(( $(offset_of "$1" '"data_offsets":[') + 16 ))" '9'; }      # the first tensor's begin
flip_step() { flip_bit "$1" "$(( $(offset_of "$1" '\"step\":') + 9 ))"; }                  # step 3 -> 2
flip_data() { local s; s=$(data_start "$1"); flip_bit "$1" $(( s + ($(stat -c %s "$1") - s) / 2 )); }

case $case_name in
corrupt-pretrain)
  "$bin/hdvila-train" "${pretrain[@]}" --steps 3 --checkpoint-every 1 --keep-checkpoints 1 --out "$work/run" \
    || fail "the run failed"
  resume_args=("${pretrain[@]}" --steps 5 --checkpoint-every 1 --keep-checkpoints 1)
  ck=checkpoints/step-00000003.safetensors
  size=$(stat -c %s "$work/run/$ck")
  corrupt_case truncated "$work/run" $ck \
    "error: @: invalid safetensors file: tensor \"optim.bert.embeddings.word_embeddings.weight.exp_avg\": data_offsets [8370492, 12277308] reach past the end of the data section ($(( size / 2 - $(data_start "$work/run/$ck") )) bytes; file truncated?)" \
    truncate_half
  # The file's checksum is what docs/formats.md says (computed here with Python's zlib).
  [[ $(crc_of "$work/run/$ck") == $(crc_of "$work/run/$ck" stored) ]] || fail "hdvila_crc32 is not the documented CRC-32"
  corrupt_case metadata-byte "$work/run" $ck checksum flip_metadata_json
  corrupt_case tensor-table-byte "$work/run" $ck \
    "error: @: invalid safetensors file: tensor \"model.bert.embeddings.word_embeddings.weight\": dtype F32 x shape [30522, 32] does not match the 3906807 bytes of data_offsets [9, 3906816]" \
    flip_tensor_table
  corrupt_case step-bit "$work/run" $ck checksum flip_step
  corrupt_case data-bit "$work/run" $ck checksum flip_data
  ;;

corrupt-gan)
  gan_images "$work/images"
  gan+=(--data "$work/images")
  "$bin/hdvila-train" "${gan[@]}" --steps 2 --checkpoint-every 1 --sample-every 50 --out "$work/run" || fail "the run failed"
  resume_args=("${gan[@]}" --steps 4 --checkpoint-every 1 --sample-every 50)
  ck=checkpoints/step-00000002.safetensors
  size=$(stat -c %s "$work/run/$ck")
  corrupt_case truncated "$work/run" $ck \
    "error: @: invalid safetensors file: tensor \"optim.G.synthesis.b4.conv1.weight.exp_avg_sq\": data_offsets [635228, 672092] reach past the end of the data section ($(( size / 2 - $(data_start "$work/run/$ck") )) bytes; file truncated?)" \
    truncate_half
  corrupt_case data-bit "$work/run" $ck checksum flip_data
  ;;

disk-full-checkpoint)
  # A 3-step run with checkpoints (the uninterrupted reference); its step-3 checkpoint removed, the
  # run resumed from step 2 under a 12 MB file size limit: the step-3 checkpoint (17 MB) does not
  # fit (the model file, 8.4 MB, would).
  args=("${pretrain[@]}" --steps 3 --checkpoint-every 1 --keep-checkpoints 3 --seed 4)
  "$bin/hdvila-train" "${args[@]}" --out "$work/run" || fail "the run failed"
  cp "$work/run/metrics.jsonl" "$work/straight.jsonl"
  rm "$work/run/checkpoints/step-00000003.safetensors"
  cp "$work/run/checkpoints/step-00000002.safetensors" "$work/step2.copy"
  cp "$work/run/model.safetensors" "$work/model.copy"
  with_file_limit 12000 "$bin/hdvila-train" "${args[@]}" --out "$work/run" --resume auto >"$work/full.log" 2>&1
  expect_refused "$work/full.log" 1 $? \
    "error: $work/run/checkpoints/step-00000003.safetensors: write failed: File too large"
  cmp -s "$work/step2.copy" "$work/run/checkpoints/step-00000002.safetensors" || fail "the previous checkpoint changed"
  cmp -s "$work/model.copy" "$work/run/model.safetensors" || fail "model.safetensors changed"
  [[ ! -e $work/run/checkpoints/step-00000003.safetensors ]] || fail "a step-3 checkpoint exists"
  no_temporaries "$work/run"
  echo "ok   checkpoint: $(cat "$work/full.log")"
  # With room again, the run continues from step 2 and logs the uninterrupted run's losses.
  "$bin/hdvila-train" "${args[@]}" --out "$work/run" --resume auto || fail "the resume failed"
  same_losses "$work/straight.jsonl" "$work/run/metrics.jsonl" loss || fail "losses after the resume differ"
  ;;

disk-full-generate)
  "$python" "$src/tests/generation/make_generator_fixture.py" --out "$work/gen" >/dev/null || fail "no generator fixture"
  g=(--generator "$work/gen/generator.safetensors" --threads 1)
  # An image: the bundled 64-px generator's sample (about 11 KB) under a 4 KB limit. The job fails
  # and results.jsonl (one short line) records it, naming the file.
  with_file_limit 4 "$bin/hdvila-generate" --mode sample --seed 1 --threads 1 --out "$work/image" >"$work/image.log" 2>&1
  rc=$?
  [[ $rc -eq 1 ]] || { cat "$work/image.log"; fail "image: exit $rc, expected 1"; }
  grep -qx "error: flags: $work/image/output.png: write failed: File too large" "$work/image.log" \
    || { cat "$work/image.log"; fail "image: no error line naming output.png"; }
  "$python" - "$work/image/results.jsonl" "$work/image/output.png" <<'EOF' || fail "image: results.jsonl does not record the failure"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
assert len(records) == 1 and records[0]["ok"] is False, records
assert records[0]["error"] == f"{sys.argv[2]}: write failed: File too large", records[0]["error"]
EOF
  [[ ! -e $work/image/output.png ]] || fail "image: output.png exists"
  no_temporaries "$work/image"
  echo "ok   image: $(grep '^error' "$work/image.log")"
  # results.jsonl: rewritten after every job; the third job's record (a long output name) takes it
  # past 1 KB. The batch stops naming the file; the previous results.jsonl (2 jobs) stays whole.
  long=third-job-with-a-long-output-name-that-makes-its-record-longer
  printf '%s\n' '{"mode": "sample", "seed": 1, "output": "a"}' '{"mode": "sample", "seed": 2, "output": "b"}' \
    "{\"mode\": \"sample\", \"seed\": 3, \"output\": \"$long\"}" '{"mode": "sample", "seed": 4, "output": "d"}' >"$work/jobs.jsonl"
  with_file_limit 1 "$bin/hdvila-generate" --jobs "$work/jobs.jsonl" "${g[@]}" --out "$work/results" --quiet >"$work/results.log" 2>&1
  expect_refused "$work/results.log" 1 $? "error: $work/results/results.jsonl: flush failed: File too large"
  "$python" - "$work/results/results.jsonl" <<'EOF' || fail "results: the previous results.jsonl is not whole"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
assert [(r["output"], r["ok"]) for r in records] == [("a", True), ("b", True)], records
EOF
  [[ -f $work/results/a.png && -f $work/results/b.png && ! -e $work/results/d.png ]] || fail "results: images"
  no_temporaries "$work/results"
  echo "ok   results.jsonl: $(cat "$work/results.log")"
  # The contact sheet (2 rows, about 1.4 KB) past 1 KB, after both jobs and results.jsonl.
  printf '%s\n' '{"mode": "sample", "seed": 1, "output": "a"}' '{"mode": "sample", "seed": 2, "output": "b"}' >"$work/two.jsonl"
  with_file_limit 1 "$bin/hdvila-generate" --jobs "$work/two.jsonl" "${g[@]}" --out "$work/sheet" --quiet >"$work/sheet.log" 2>&1
  expect_refused "$work/sheet.log" 1 $? "error: $work/sheet/contact_sheet.png: flush failed: File too large"
  [[ ! -e $work/sheet/contact_sheet.png ]] || fail "sheet: contact_sheet.png exists"
  no_temporaries "$work/sheet"
  echo "ok   contact sheet: $(cat "$work/sheet.log")"
  ;;

sigint-pretrain)
  args=("${pretrain[@]}" --mode cmcl --queue-size 10 --steps 16 --lr 1e-3 --video-lr 1e-2 --seed 3 --checkpoint-every 50)
  "$bin/hdvila-train" "${args[@]}" --out "$work/straight" || fail "uninterrupted run failed"
  "$bin/hdvila-train" "${args[@]}" --out "$work/stopped" >"$work/stopped.log" 2>&1 &
  victim=$!
  wait_for_lines "$work/stopped/metrics.jsonl" 5
  kill -INT "$victim" 2>/dev/null || fail "the run finished before it could be interrupted"
  wait "$victim"
  rc=$?
  [[ $rc -eq 1 ]] || { cat "$work/stopped.log"; fail "SIGINT: exit $rc, expected 1"; }
  line=$(cat "$work/stopped.log")
  [[ $line =~ ^error:\ interrupted\ at\ step\ ([0-9]+)\;\ checkpoint\ written,\ continue\ with\ --resume\ auto$ ]] \
    || fail "SIGINT: expected one 'interrupted at step N' line, got: $line"
  step=${BASH_REMATCH[1]}
  [[ $step -lt 16 ]] || fail "the run was not interrupted"
  [[ $(ls "$work/stopped/checkpoints") == "$(printf 'step-%08d.safetensors' "$step")" ]] \
    || fail "checkpoints after SIGINT at step $step: $(ls "$work/stopped/checkpoints")"
  [[ $(wc -l <"$work/stopped/metrics.jsonl") -eq $step ]] || fail "metrics.jsonl does not end at step $step"
  no_temporaries "$work/stopped"
  echo "ok   $line"
  "$bin/hdvila-train" "${args[@]}" --out "$work/stopped" --resume auto || fail "resume failed"
  same_losses "$work/straight/metrics.jsonl" "$work/stopped/metrics.jsonl" loss || fail "losses after the resume differ"
  ;;

sigterm-directions)
  "$bin/hdvila-train" "${pretrain[@]}" --steps 1 --out "$work/vl" || fail "no VL model"
  "$python" "$src/tests/generation/make_generator_fixture.py" --out "$work/gen" >/dev/null || fail "no generator fixture"
  args=(directions --generator "$work/gen/generator.safetensors" --vl-model "$work/vl/model.safetensors"
        --images 2 --stats-samples 50 --batch 4 --threads 1 --quiet)
  "$bin/hdvila-train" "${args[@]}" --out "$work/straight.safetensors" >/dev/null || fail "uninterrupted run failed"
  "$bin/hdvila-train" "${args[@]}" --out "$work/table.safetensors" >"$work/stopped.log" 2>&1 &
  victim=$!
  for _ in $(seq 1 3000); do [[ -f $work/table.safetensors ]] && break; sleep 0.01; done
  kill -TERM "$victim" 2>/dev/null || fail "the run finished before it could be stopped"
  wait "$victim"
  rc=$?
  [[ $rc -eq 1 ]] || { cat "$work/stopped.log"; fail "SIGTERM: exit $rc, expected 1"; }
  line=$(cat "$work/stopped.log")
  [[ $line =~ ^error:\ stopped\ by\ signal\ 15:\ $work/table.safetensors\ holds\ [0-9]+\ finished\ style\ layers\ and\ [0-9]+\ channels\ of\ the\ next\;\ continue\ with\ the\ same\ flags\ and\ --resume$ ]] \
    || fail "SIGTERM: expected one 'stopped by signal 15' line, got: $line"
  "$bin/hdvila-train" inspect "$work/table.safetensors" | grep -q 'kind directions' || fail "the partial table is not a directions file"
  no_temporaries "$work"
  echo "ok   $line"
  "$bin/hdvila-train" "${args[@]}" --out "$work/table.safetensors" --resume >/dev/null || fail "resume failed"
  cmp -s "$work/straight.safetensors" "$work/table.safetensors" || fail "the resumed table differs from the uninterrupted one"
  ;;

sigterm-generate)
  "$python" "$src/tests/generation/make_generator_fixture.py" --out "$work/gen" >/dev/null || fail "no generator fixture"
  g=(--generator "$work/gen/generator.safetensors" --threads 1 --quiet)
  "$bin/hdvila-generate" --mode sample --seed 5 "${g[@]}" --out "$work/input" >/dev/null 2>&1 || fail "no input image"
  for i in 1 2 3 4 5 6; do
    echo "{\"mode\": \"invert\", \"input\": \"$work/input/output.png\", \"steps\": $((6 + i)), \"output\": \"inv$i\"}"
  done >"$work/jobs.jsonl"
  "$bin/hdvila-generate" --jobs "$work/jobs.jsonl" "${g[@]}" --out "$work/batch" >"$work/batch.log" 2>&1 &
  victim=$!
  wait_for_lines "$work/batch/results.jsonl" 2
  kill -TERM "$victim" 2>/dev/null || fail "the batch finished before it could be stopped"
  wait "$victim"
  rc=$?
  [[ $rc -eq 143 ]] || { cat "$work/batch.log"; fail "SIGTERM: exit $rc, expected 143 (killed by the signal)"; }
  # results.jsonl lists whole jobs only, each ok with its image; no other image; no temporary.
  "$python" - "$work/batch" <<'EOF' || fail "the output folder after SIGTERM is not consistent"
import json, os, sys
out = sys.argv[1]
records = [json.loads(line) for line in open(f"{out}/results.jsonl")]
assert 2 <= len(records) < 6, len(records)
assert [r["output"] for r in records] == [f"inv{i + 1}" for i in range(len(records))], records
assert all(r["ok"] and r["files"] == [r["output"] + ".png"] for r in records), records
pngs = sorted(f for f in os.listdir(out) if f.endswith(".png"))
assert pngs == sorted(r["output"] + ".png" for r in records), (pngs, records)
print(f"{len(records)} of 6 jobs finished before SIGTERM")
EOF
  no_temporaries "$work/batch"
  mkdir "$work/kept" && cp "$work"/batch/*.png "$work/kept/"
  # The batch run again into the same folder finishes every job; the images of the jobs finished
  # before the signal come out the same.
  "$bin/hdvila-generate" --jobs "$work/jobs.jsonl" "${g[@]}" --out "$work/batch" >/dev/null 2>&1 || fail "the rerun failed"
  [[ $(wc -l <"$work/batch/results.jsonl") -eq 6 ]] || fail "the rerun did not finish 6 jobs"
  for f in "$work"/kept/*.png; do cmp -s "$f" "$work/batch/$(basename "$f")" || fail "$(basename "$f") differs in the rerun"; done
  ;;

rank-killed)
  args=("${pretrain[@]:0:${#pretrain[@]}-2}" --steps 8 --checkpoint-every 2 --keep-checkpoints 5 --seed 3 --lr 1e-3 --timeout 10)
  launch() {  # launch RANK RUN_DIR PORT [extra flags]: one rank in the background (batch 2 per rank)
    local rank=$1 out=$2 port=$3; shift 3
    RANK=$rank WORLD_SIZE=2 LOCAL_RANK=$rank MASTER_ADDR=127.0.0.1 MASTER_PORT=$port OMP_NUM_THREADS=1 \
      "$bin/hdvila-train" "${args[@]}" --batch-size 2 --out "$out" "$@" >"$out.rank$rank.log" 2>&1 &
  }
  both() {  # both RUN_DIR [extra flags]: 2 ranks to the end; fails unless both exit 0
    local p; p=$(port)
    launch 0 "$1" "$p" "${@:2}"; local r0=$!
    launch 1 "$1" "$p" "${@:2}"; local r1=$!
    wait $r0 || { cat "$1".rank*.log; fail "rank 0 of $1 failed"; }
    wait $r1 || { cat "$1".rank*.log; fail "rank 1 of $1 failed"; }
  }
  both "$work/straight"
  p=$(port)
  launch 0 "$work/run" "$p"; rank0=$!
  launch 1 "$work/run" "$p"; rank1=$!
  wait_for_lines "$work/run/metrics.jsonl" 5  # until step 5 is logged (the checkpoint of step 4 is written)
  kill -9 "$rank1" 2>/dev/null || fail "rank 1 finished before it could be killed"
  start=$SECONDS
  wait "$rank0"; rc=$?
  took=$((SECONDS - start))
  [[ $rc -eq 1 ]] || { cat "$work/run.rank0.log"; fail "rank 0 exit status $rc, expected 1"; }
  line=$(grep '^error:' "$work/run.rank0.log")
  [[ $line =~ ^error:\ distributed\ .*\ failed\ on\ rank\ 0\ of\ 2:\ lost\ peer\ rank\ 1 ]] \
    || { cat "$work/run.rank0.log"; fail "rank 0's error does not name the lost peer rank 1"; }
  [[ $took -le 15 ]] || fail "rank 0 took ${took}s to fail, more than the 10 s timeout"
  echo "ok   rank 0 exited 1 after ${took}s: $line"
  for f in "$work"/run/checkpoints/*; do
    [[ $(basename "$f") =~ ^step-[0-9]{8}\.safetensors$ ]] || fail "unexpected file left behind: $f"
    "$bin/hdvila-train" inspect "$f" >/dev/null || fail "$f is not a valid checkpoint"
  done
  no_temporaries "$work/run"
  last=$(ls "$work/run/checkpoints" | tail -n 1)
  [[ $last > step-00000003.safetensors && $last < step-00000008.safetensors ]] || fail "last checkpoint $last"
  echo "ok   resuming from $last"
  both "$work/run" --resume auto
  same_losses "$work/straight/metrics.jsonl" "$work/run/metrics.jsonl" loss || fail "losses after the resume differ"
  ;;

*)
  fail "unknown case $case_name"
  ;;
esac
echo "ok $case_name"
