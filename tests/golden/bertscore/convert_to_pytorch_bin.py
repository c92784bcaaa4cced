"""Writes the BERTScore test model as pytorch_model.bin, the format older checkpoints ship in
(SciBERT, Bio_ClinicalBERT), so a test can check that both formats load to the same embeddings.

    /root/.cache/bertscore-venv/bin/python tests/golden/bertscore/convert_to_pytorch_bin.py OUT_DIR
        [--model models/all-MiniLM-L6-v2]

OUT_DIR gets pytorch_model.bin (torch.save of the state dict, as transformers'
save_pretrained(safe_serialization=False) writes it: a zip-format pickle of a dict from the
checkpoint's tensor names to tensors) and copies of the model's config and tokenizer files,
so it is a complete Hugging Face model directory without model.safetensors. The script reads
the file back and stops with an error unless every tensor equals the safetensors one bit for
bit.
"""

import argparse
import pathlib
import shutil
import sys

import torch
from safetensors.torch import load_file

ROOT = pathlib.Path(__file__).resolve().parents[3]
SIDE_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "vocab.txt"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--model", type=pathlib.Path, default=ROOT / "models" / "all-MiniLM-L6-v2")
    args = parser.parse_args()

    state = load_file(args.model / "model.safetensors")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / "pytorch_model.bin"
    torch.save(state, out)
    for name in SIDE_FILES:
        shutil.copyfile(args.model / name, args.out_dir / name)

    reloaded = torch.load(out, map_location="cpu", weights_only=True)
    if reloaded.keys() != state.keys() or not all(
            reloaded[k].dtype == state[k].dtype and torch.equal(reloaded[k], state[k])
            for k in state):
        sys.exit(f"{out}: the tensors read back differ from {args.model / 'model.safetensors'}")
    print(f"{out}: {len(state)} tensors")


if __name__ == "__main__":
    main()
