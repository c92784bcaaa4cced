"""Golden token ids for src/loader/tokenizer from llama.cpp (llama-cpp-python 0.3.36).

    python3.11 -m venv venv
    CMAKE_ARGS="-DGGML_NATIVE=OFF" venv/bin/pip install -r tests/golden/tokenizer/requirements.txt
    venv/bin/python tests/golden/tokenizer/make.py

llama-cpp-python compiles llama.cpp from source while installing (several minutes). Every
tokenizer is loaded with `vocab_only=True`; `llama_tokenize(text, add_special, parse_special)`
gives the ids. Writes, next to this script:

  smollm2.jsonl.gz  the default model (models/SmolLM2-135M-Instruct.Q4_1.gguf, fetched by
                    scripts/setup). First line: the vocabulary facts llama.cpp derives (size, BOS,
                    EOS, add_bos, the end-of-generation ids, the ids it treats as control
                    tokens). Then one line per case: every CHQ and Summary of the 1,000 MeQSum
                    rows (row index, column, SHA-256 of the UTF-8 text, ids with
                    parse_special=false), and the hand-made strings of HANDMADE with
                    parse_special false and true (text, ids, and llama.cpp's detokenization of
                    the ids with special tokens rendered).
  tiny/*.gguf       small handmade vocabularies written with gguf-py: byte-level BPE with merges
                    learned here without pre-tokenization (so that where each pre-tokenizer
                    splits changes the ids), one file per `tokenizer.ggml.pre` (smollm, gpt-2,
                    default, llama-bpe, qwen2), and a SentencePiece-style (`llama`) vocabulary with
                    scores, byte-fallback tokens and characters left out of it.
  tiny.jsonl.gz     per tiny vocabulary the same vocabulary facts, then the ids of the hand-made
                    strings and of the first 100 MeQSum questions (parse_special false and
                    true), with the detokenization for the SentencePiece one.
"""

import ctypes
import gzip
import hashlib
import json
import pathlib
import random
import re

import openpyxl
from gguf import GGUFWriter, TokenType

import llama_cpp

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
MEQSUM = ROOT / "data" / "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"

CHATML = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n<|im_start|>user\nSummarize: I have had a headache for 3 days, BP 140/90 mmHg."
    "<|im_end|>\n<|im_start|>assistant\n"
)

HANDMADE = [
    "",
    "Hello world",
    " leading space",
    "trailing space ",
    "multiple   spaces    here",
    "   ",
    "tabs\tand\nnewlines\n\nend",
    "\n\n\n",
    "line\r\nbreak\rcarriage",
    "BP 120/80 mmHg, 37.5°C",
    "Pt c/o SOB x3d; Rx: amoxicillin 500mg PO TID ×7d; f/u 2wk.",
    "1234567890",
    "3.14159 and 1,000,000 and 007",
    "½ tablet twice daily, x² + y³",
    "١٢٣ Arabic-Indic digits and ４５６ fullwidth",
    "naïve café résumé",
    "Ünïcödé – “quotes” ‘single’ … em—dash",
    "日本語のテキストです。",
    "Здравствуйте, доктор!",
    "مرحبا بالطبيب",
    "I feel 😷🤒 today 👍🏽",
    "family: 👨‍👩‍👧 flag: 🏳️‍🌈",
    "I'm sure it's what they've said, don't you think? We'll see; I'd go.",
    "IT'S LOUD AND THEY'RE HERE",
    "!!!???...",
    "e-mail: john.doe@example.com (http://x.y/z?a=1&b=2)",
    "C++ <b>bold</b> a->b => c",
    "\u00a0non-breaking\u00a0space and\u2003em space and\u3000ideographic",
    "zero\u200bwidth\u200djoiner",
    "control \x01\x7f chars",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "--------------------",
    "    indented code():\n        return 42\n",
    "<|im_end|>",
    "<|im_start|>",
    "<|endoftext|>",
    "<reponame>",
    "text<|im_end|>more text",
    "<|im_start|><|im_start|>user",
    "<|im_ partial <|im_end",
    "see [[note]] here",
    CHATML,
]


def meqsum_rows():
    """CHQ and Summary of every non-blank row after the header, as calamine reads them."""
    sheet = openpyxl.load_workbook(MEQSUM, read_only=True).worksheets[0]
    rows = [row for row in sheet.iter_rows(values_only=True) if any(
        cell is not None and str(cell).strip() for cell in row)]
    header = [str(cell).strip() if cell is not None else "" for cell in rows[0]]
    chq, summary = header.index("CHQ"), header.index("Summary")
    return [(str(row[chq]), str(row[summary])) for row in rows[1:]]


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Vocab:
    """A tokenizer loaded by llama.cpp without weights."""

    def __init__(self, path):
        self.llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm.model)

    def ids(self, text, special):
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def detokenize(self, ids):
        """llama_detokenize with special tokens rendered, nothing removed."""
        array = (llama_cpp.llama_token * max(len(ids), 1))(*ids)
        size = 4 * len(ids) * 16 + 16
        buffer = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(self.vocab, array, len(ids), buffer, size, False, True)
        assert n >= 0, n
        return buffer.raw[:n].decode("utf-8", errors="replace")

    def facts(self):
        v = self.vocab
        n = llama_cpp.llama_vocab_n_tokens(v)
        none = lambda token: None if token < 0 else token
        control = [t for t in range(n) if llama_cpp.llama_vocab_get_attr(v, t) & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL]
        return {
            "vocab_size": n,
            "bos": none(llama_cpp.llama_vocab_bos(v)),
            "eos": none(llama_cpp.llama_vocab_eos(v)),
            "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(v)),
            "end_of_generation": [t for t in range(n) if llama_cpp.llama_vocab_is_eog(v, t)],
            "control": control,
            "prompt_ids": self.llm.tokenize(b"Hi", add_bos=True, special=True),
        }


def handmade_cases(vocab, with_text_back):
    for text in HANDMADE:
        for special in (False, True):
            ids = vocab.ids(text, special)
            case = {"source": "handmade", "text": text, "special": special, "ids": ids}
            if with_text_back:
                case["detokenized"] = vocab.detokenize(ids)
            yield case


def write_smollm2(rows):
    vocab = Vocab(MODEL)
    lines = [{"model_sha256": hashlib.sha256(MODEL.read_bytes()).hexdigest(), **vocab.facts()}]
    for index, (chq, summary) in enumerate(rows):
        for column, text in (("chq", chq), ("summary", summary)):
            lines.append({"source": "meqsum", "row": index, "column": column,
                          "sha256": sha256(text), "special": False, "ids": vocab.ids(text, False)})
    lines.extend(handmade_cases(vocab, with_text_back=True))
    write_lines(HERE / "smollm2.jsonl.gz", lines)


def write_lines(path, lines):
    """JSON Lines, gzip-compressed with a fixed timestamp so reruns give the same bytes."""
    with gzip.GzipFile(path, "wb", mtime=0) as out:
        for line in lines:
            out.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))


# --- tiny vocabularies -------------------------------------------------------------------------

def byte_level_alphabet():
    """GPT-2's byte -> character table."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, shifted = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shifted)
            shifted += 1
    return table


def learn_merges(sequences, count):
    """Greedy BPE over whole strings (no pre-tokenization): the most frequent adjacent pair,
    ties broken by the pair's text, merged `count` times."""
    sequences = [list(s) for s in sequences]
    merges = []
    for _ in range(count):
        pairs = {}
        for seq in sequences:
            for a, b in zip(seq, seq[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
        if not pairs:
            break
        best = max(pairs.items(), key=lambda item: (item[1], item[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        merged = best[0] + best[1]
        for i, seq in enumerate(sequences):
            out, j = [], 0
            while j < len(seq):
                if j + 1 < len(seq) and (seq[j], seq[j + 1]) == best:
                    out.append(merged)
                    j += 2
                else:
                    out.append(seq[j])
                    j += 1
            sequences[i] = out
    return merges


SPECIALS = [
    ("<|im_start|>", TokenType.CONTROL),
    ("<|im_end|>", TokenType.CONTROL),
    # A normal entry whose text llama.cpp recognises as an end-of-generation token: it is
    # made a control token.
    ("<|endoftext|>", TokenType.NORMAL),
    ("[[note]]", TokenType.USER_DEFINED),
]

HPARAMS = {
    "context_length": 64, "embedding_length": 8, "block_count": 1, "feed_forward_length": 16,
    "head_count": 2, "head_count_kv": 2,
}


def writer(path, name):
    w = GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_context_length(HPARAMS["context_length"])
    w.add_embedding_length(HPARAMS["embedding_length"])
    w.add_block_count(HPARAMS["block_count"])
    w.add_feed_forward_length(HPARAMS["feed_forward_length"])
    w.add_head_count(HPARAMS["head_count"])
    w.add_head_count_kv(HPARAMS["head_count_kv"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(4)
    return w


def finish(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_byte_level(path, pre, corpus):
    table = byte_level_alphabet()
    encoded = ["".join(table[b] for b in piece.encode("utf-8"))
               for text in corpus for piece in pieces_at_spaces(text)]
    merges = learn_merges(encoded, 400)
    tokens = [text for text, _ in SPECIALS] + [table[b] for b in range(256)]
    types = [kind for _, kind in SPECIALS] + [TokenType.NORMAL] * 256
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
            types.append(TokenType.NORMAL)
    w = writer(path, f"tiny {pre}")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([f"{a} {b}" for a, b in merges])
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    finish(w)


def write_sentencepiece(path, corpus):
    marked = ["\u2581" + text.replace(" ", "\u2581") for text in corpus]
    counts = {}
    for text in marked:
        for ch in text:
            counts[ch] = counts.get(ch, 0) + 1
    # Characters seen once stay out of the vocabulary: they fall back to <0xXX> bytes.
    chars = sorted(ch for ch, n in counts.items() if n >= 2)
    merges = learn_merges([[ch for ch in text] for text in marked], 300)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.BYTE] * 256
    scores = [0.0, 0.0, 0.0] + [0.0] * 256
    for text, kind in SPECIALS:
        tokens.append(text)
        types.append(kind)
        scores.append(0.0)
    for rank, (a, b) in enumerate(merges):
        if a + b not in tokens:
            tokens.append(a + b)
            types.append(TokenType.NORMAL)
            scores.append(-float(rank))
    for i, ch in enumerate(chars):
        if ch not in tokens:
            tokens.append(ch)
            types.append(TokenType.NORMAL)
            scores.append(-1000.0 - i)
    w = writer(path, "tiny spm")
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_scores(scores)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    finish(w)


def synthetic_text(count):
    """Extra training text for the tiny merges: digit runs, punctuation before words, blank
    lines and contractions are where the pre-tokenizers differ, so merges across those places
    make each one's ids differ from the others'."""
    rng = random.Random(20260601)
    words = ["dose", "mg", "mmHg", "note", "pain", "BP", "IT'S", "it's", "they're", "We'll", "x"]
    marks = ["(", "$", '"', "[", "<", "...", "!!", "/", "-", "'"]
    spaces = [" ", " ", " ", "  ", "\n", "\n\n", " \n", "\t", "   "]
    phrases = []
    for _ in range(count):
        parts = []
        for _ in range(8):
            kind = rng.randrange(4)
            if kind == 0:
                parts.append(str(rng.randrange(10 ** rng.randrange(1, 6))))
            elif kind == 1:
                parts.append(rng.choice(marks) + rng.choice(words))
            elif kind == 2:
                parts.append(rng.choice(words) + rng.choice(marks))
            else:
                parts.append(rng.choice(marks) + str(rng.randrange(1000)))
            parts.append(rng.choice(spaces))
        phrases.append("".join(parts))
    return phrases


def pieces_at_spaces(text):
    """Runs of white space with the word after them: merges may cross every boundary a
    pre-tokenizer draws inside such a run, none between two of them."""
    return re.findall(r"\s*\S+|\s+", text)


def write_tiny(rows):
    questions = [chq for chq, _ in rows[:100]]
    corpus = [text for text in HANDMADE if text] + [chq for chq, _ in rows[100:160]]
    corpus += synthetic_text(300)
    tiny = HERE / "tiny"
    tiny.mkdir(exist_ok=True)
    lines = []
    names = [("smollm", "smollm"), ("gpt-2", "gpt2"), ("default", "default"),
             ("llama-bpe", "llama-bpe"), ("qwen2", "qwen2"), (None, "spm")]
    for pre, name in names:
        path = tiny / f"{name}.gguf"
        if pre is None:
            write_sentencepiece(path, corpus)
        else:
            write_byte_level(path, pre, corpus)
        vocab = Vocab(path)
        lines.append({"vocab": name, **vocab.facts()})
        for case in handmade_cases(vocab, with_text_back=pre is None):
            lines.append({"vocab": name, **case})
        for index, text in enumerate(questions):
            for special in (False, True):
                lines.append({"vocab": name, "source": "meqsum", "row": index, "column": "chq",
                              "sha256": sha256(text), "special": special,
                              "ids": vocab.ids(text, special)})
    write_lines(HERE / "tiny.jsonl.gz", lines)


def main():
    rows = meqsum_rows()
    assert len(rows) == 1000, len(rows)
    write_smollm2(rows)
    write_tiny(rows)


if __name__ == "__main__":
    main()
