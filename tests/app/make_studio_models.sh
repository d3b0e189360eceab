#!/usr/bin/env bash
# Writes small random models for the studio tests and the docs' screenshots (no committed blobs):
#   OUT/generator.safetensors   random 16-px "stylegan2-tiny" generator (tests/generation/make_generator_fixture.py)
#   OUT/vl-model.safetensors    hdvila-tiny VL model: a random 2-layer HF BERT text tower imported by
#                               `hdvila-train import`, everything else randomly initialised (seed 0)
#   OUT/directions.safetensors  its global-direction table (`hdvila-train directions`)
# Every step is seeded, so the models are the same on every run.
#
# Usage: make_studio_models.sh OUT BIN_DIR PYTHON
set -euo pipefail
out=$1 bin=$2 python=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
# Written afresh (hdvila-train directions refuses to overwrite a table without --resume).
rm -f "$out/generator.safetensors" "$out/vl-model.safetensors" "$out/directions.safetensors"
"$python" "$here/../generation/make_generator_fixture.py" --out "$out/generator-fixture" > /dev/null
mv "$out/generator-fixture/generator.safetensors" "$out/generator.safetensors"
rm -rf "$out/generator-fixture"
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$python" - "$out/hf-tiny" <<'PY'
import pathlib, sys, torch
from transformers import BertConfig, BertModel
out = pathlib.Path(sys.argv[1]); out.mkdir(exist_ok=True)
torch.manual_seed(0)
config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=64)
config.to_json_file(out / "config.json")
torch.save(BertModel(config).state_dict(), out / "pytorch_model.bin")
PY
"$bin/hdvila-train" import --preset hdvila-tiny --bert "$out/hf-tiny" --python "$python" --seed 0 \
  --out "$out/vl-model.safetensors" --quiet
rm -rf "$out/hf-tiny"
# The tiny VL model's ResNet needs >= 64-px inputs; 2 images and 64 style samples keep it fast.
"$bin/hdvila-train" directions --generator "$out/generator.safetensors" --vl-model "$out/vl-model.safetensors" \
  --python "$python" --out "$out/directions.safetensors" --images 2 --stats-samples 64 --image-size 64 --quiet
