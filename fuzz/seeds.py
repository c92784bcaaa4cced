"""Writes the seed corpus of each fuzz target into fuzz/corpus/<target>/ (run by scripts/fuzz).

Seeds are the bad-input corpus (tests/bad_input/) and the valid files the tests already hold:
the tiny GGUF models and tokenizers, the tiny BERT's safetensors, pickles, config and vocab, the
demo datasets, the chat templates of the golden set. Targets whose first byte picks a variant
(datasets, tokenizer, config) get that byte prepended. Standard library only.
"""

import glob
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def files(pattern):
    return sorted(glob.glob(os.path.join(ROOT, pattern)))


def write(target, name, data):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name.replace("/", "_")), "wb") as f:
        f.write(data)


def rel(path):
    return os.path.relpath(path, ROOT)


def main():
    for path in files("tests/bad_input/gguf/*") + files("tests/golden/tokenizer/tiny/*.gguf") + files(
        "tests/golden/archs/*Q4_0.gguf"
    ) + files("tests/golden/gguf/*.gguf"):
        write("gguf", rel(path), read(rel(path)))
    for path in files("tests/bad_input/pytorch/*") + files("tests/golden/bertscore/tiny-bert/**/pytorch_model.bin"):
        write("pickle", rel(path), read(rel(path)))
    for path in files("tests/bad_input/safetensors/*") + files("tests/golden/bertscore/tiny-bert/*.safetensors"):
        write("safetensors", rel(path), read(rel(path)))
    for path in files("tests/bad_input/data/meqsum/*") + ["src/data/demo/meqsum.xlsx"]:
        write("xlsx", rel(path), read(rel(path)))

    # datasets: byte = task index (0 = detect, then mednli … longhealth) + 7 × format (json, jsonl, csv)
    tasks = [None, "mednli", "meqsum", "probsum", "medisumqa", "medisumcode", "longhealth"]
    formats = {".json": 0, ".jsonl": 1, ".csv": 2}
    for path in files("src/data/demo/*") + files("tests/bad_input/data/*/*"):
        stem, ext = os.path.splitext(path)
        if ext not in formats:
            continue
        task = os.path.basename(os.path.dirname(path)) if "bad_input" in path else os.path.basename(stem)
        choice = tasks.index(task) + 7 * formats[ext]
        write("datasets", rel(path), bytes([choice]) + read(rel(path)))

    for path in files("tests/bad_input/predictions/*"):
        write("predictions", rel(path), read(rel(path)))
    write("predictions", "valid.jsonl", b'{"id": "1", "prediction": "entailment"}\n{"id": 2, "task": "mednli", "prediction": "x"}\n')

    for path in files("tests/bad_input/template/*"):
        write("chat_template", rel(path), read(rel(path)))
    templates = json.loads(read("tests/golden/chat_templates/templates.json"))["models"]
    for name, model in templates.items():
        write("chat_template", name, model["chat_template"].encode())

    for path in files("tests/bad_input/tokenizer/*"):
        write("tokenizer", rel(path), b"\0" + read(rel(path)))
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tokenizer = {
        "version": "1.0",
        "added_tokens": [
            {"id": 5, "content": "<|im_start|>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
            {"id": 6, "content": "<think>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": False},
        ],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": None,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3, "\u0120ab": 4, "<|im_start|>": 5, "<think>": 6},
                  "merges": ["a b", "\u0120 ab"]},
    }
    write("tokenizer", "valid-bpe.json", b"\0" + json.dumps(tokenizer).encode())
    for path in files("tests/bad_input/vocab/*") + files("tests/golden/bertscore/tiny-bert/vocab.txt"):
        write("tokenizer", rel(path), b"\1" + read(rel(path)))
    for path in files("tests/bad_input/config/*"):
        write("config", rel(path), (b"\1" if "bert" in path else b"\0") + read(rel(path)))
    qwen2 = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64, "intermediate_size": 96,
             "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
             "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "vocab_size": 32, "tie_word_embeddings": True}
    write("config", "qwen2-config.json", b"\0" + json.dumps(qwen2).encode())
    write("config", "tiny-bert-config.json", b"\1" + read("tests/golden/bertscore/tiny-bert/config.json"))
    for target in sorted(os.listdir(OUT)):
        print(f"{target}: {len(os.listdir(os.path.join(OUT, target)))} seeds")


if __name__ == "__main__":
    main()
