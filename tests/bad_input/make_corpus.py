#!/usr/bin/env python3
"""Writes the bad-input corpus: small hostile or broken files for every reader of clue-wasm.

Each file is made here from nothing (Python's standard library only; no patient data, no model
weights) and lands under tests/bad_input/<reader>/..., where the directory names the reader
`tests/bad_input.rs` hands it to. The exact error each must give is kept in expected.txt (written
by `CLUE_BLESS=1 cargo test --test bad_input` and reviewed by hand); corpus.rs lists the files for
the wasm build, which cannot read a directory.

    python3 tests/bad_input/make_corpus.py

The files are committed, so the tests need no Python.
"""

import io
import json
import os
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = {}


def add(path, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    FILES[path] = data


# --- datasets -----------------------------------------------------------------------------------

MEDNLI = {
    "sentence1": "The patient was febrile to 39.2 C.",
    "sentence2": "The patient has a fever.",
    "gold_label": "entailment",
    "pairID": "bad-01",
}


def jsonl(*rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def with_(row, **changes):
    out = dict(row)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


add("data/mednli/empty.jsonl", "")
add("data/mednli/not-json.jsonl", jsonl(MEDNLI) + "{sentence1: unquoted}\n")
add("data/mednli/missing-label.jsonl", jsonl(MEDNLI, with_(MEDNLI, gold_label=None, pairID="bad-02")))
add("data/mednli/unknown-label.jsonl", jsonl(with_(MEDNLI, gold_label="entails")))
add("data/mednli/number-sentence.jsonl", jsonl(with_(MEDNLI, sentence1=39.2)))
add("data/mednli/truncated.jsonl", jsonl(MEDNLI)[:-20])
add("data/mednli/invalid-utf8.jsonl", jsonl(MEDNLI).encode() + b'{"sentence1": "\xff\xfe"}\n')
add("data/mednli/duplicate-id.jsonl", jsonl(MEDNLI, MEDNLI))
add("data/mednli/pretty-printed.jsonl", json.dumps(MEDNLI, indent=2))
add("data/mednli/deep-nesting.jsonl", "[" * 100000 + "]" * 100000 + "\n")


def xlsx(cells, shared=None, extra=None, compress=zipfile.ZIP_DEFLATED):
    """A minimal workbook whose first sheet holds `cells`: (ref, inline text or number)."""
    rows = {}
    for ref, value in cells:
        row = int("".join(c for c in ref if c.isdigit()))
        rows.setdefault(row, []).append((ref, value))
    xml = []
    for row in sorted(rows):
        cs = []
        for ref, value in rows[row]:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cs.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif isinstance(value, bool):
                cs.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
            else:
                cs.append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
        xml.append(f'<row r="{row}">{"".join(cs)}</row>')
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<sheetData>{"".join(xml)}</sheetData></worksheet>'
    )
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if extra:
        files.update(extra)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = compress
            z.writestr(info, text)
    return out.getvalue()


HEADER = [("A1", "File"), ("B1", "CHQ"), ("C1", "Summary")]
ROW = [("A2", "q1.txt"), ("B2", "Is it safe to take ibuprofen with lisinopril?"), ("C2", "ibuprofen with lisinopril")]
add("data/meqsum/huge-range.xlsx", xlsx(HEADER + ROW + [("XFD1048576", "far away")]))
add(
    "data/meqsum/shared-strings-bomb.xlsx",
    xlsx(HEADER + ROW, extra={"xl/sharedStrings.xml": "<sst>" + " " * 50_000_000 + "</sst>"}),
)
# Found by the xlsx fuzz target: calamine adds up a reference's letters and digits in 32 bits
# unchecked, so in a release build MWLQKWX2 lands in column B (CHQ) and A4294967298 in row 2,
# silently overwriting the real cells; a checked build panics.
add("data/meqsum/column-wraps.xlsx", xlsx(HEADER + ROW + [("MWLQKWX2", "a question nobody asked")]))
add("data/meqsum/row-wraps.xlsx", xlsx(HEADER + ROW + [("A4294967298", "forged.txt")]))
add("data/meqsum/not-zip.xlsx", "File,CHQ,Summary\nq1,a,b\n")
add("data/meqsum/missing-column.xlsx", xlsx([("A1", "File"), ("B1", "CHQ"), ("A2", "q1"), ("B2", "text")]))
add("data/meqsum/empty-cell.xlsx", xlsx(HEADER + [("A2", "q1.txt"), ("B2", "question")]))
add("data/meqsum/bool-cell.xlsx", xlsx(HEADER + [("A2", "q1.txt"), ("B2", True), ("C2", "s")]))
add("data/meqsum/header-only.xlsx", xlsx(HEADER))
zip_without_sheet = io.BytesIO()
with zipfile.ZipFile(zip_without_sheet, "w") as z:
    z.writestr(zipfile.ZipInfo("hello.txt", date_time=(2026, 1, 1, 0, 0, 0)), "not a workbook")
add("data/meqsum/zip-not-workbook.xlsx", zip_without_sheet.getvalue())

PROBSUM_HEADER = "File ID,Subjectives,Objectives,Assessment,Summary\n"
add("data/probsum/missing-column.csv", "File ID,Subjectives,Objectives,Assessment\nn1,s,o,a\n")
add("data/probsum/ragged.csv", PROBSUM_HEADER + "n1,s,o,a,sum\nn2,s,o\n")
add("data/probsum/empty-summary.csv", PROBSUM_HEADER + "n1,s,o,a,\n")
add("data/probsum/unclosed-quote.csv", PROBSUM_HEADER + 'n1,"s,o,a,sum\n')
add("data/probsum/header-only.csv", PROBSUM_HEADER)
add("data/probsum/invalid-utf8.csv", PROBSUM_HEADER.encode() + b"n1,\xc3\x28,o,a,s\n")

QUESTION = {
    "No": 1,
    "question": "Which drug was started?",
    "answer_a": "Aspirin",
    "answer_b": "Heparin",
    "answer_c": "Warfarin",
    "answer_d": "Apixaban",
    "answer_e": "None",
    "correct": "Heparin",
    "answer_location": {"text_0": {"start": [0.1], "end": [0.2]}},
}
PATIENT = {"texts": {"text_0": "Heparin was started on day 2."}, "questions": [QUESTION]}
add("data/longhealth/not-object.json", json.dumps([PATIENT]))
add("data/longhealth/no-texts.json", json.dumps({"patient_01": with_(PATIENT, texts=None)}))
add(
    "data/longhealth/correct-not-option.json",
    json.dumps({"patient_01": with_(PATIENT, questions=[with_(QUESTION, correct="Insulin")])}),
)
add(
    "data/longhealth/unknown-text.json",
    json.dumps(
        {"patient_01": with_(PATIENT, questions=[with_(QUESTION, answer_location={"text_9": {"start": [0], "end": [1]}})])}
    ),
)
add("data/longhealth/truncated.json", json.dumps({"patient_01": PATIENT})[:-30])
add("data/longhealth/number-question.json", json.dumps({"patient_01": with_(PATIENT, questions=[with_(QUESTION, question=7)])}))

QA = {"without_discharge_summary": "Admitted with pneumonia.", "Question": "Why?", "Answer": "Pneumonia."}
add("data/medisumqa/missing-answer.json", json.dumps([QA, with_(QA, Answer=None)]))
add("data/medisumqa/null-question.json", json.dumps([with_(QA, Question=[])]))
add("data/medisumqa/empty-array.json", "[]")

CODE = {
    "hadm_id": "adm-1",
    "text": "Discharge diagnosis: pneumonia.",
    "icd_codes": [{"code": "J18.9", "description": "Pneumonia, unspecified organism"}],
}
add("data/medisumcode/codes-not-list.jsonl", jsonl(with_(CODE, icd_codes="J18.9")))
add("data/medisumcode/missing-text.jsonl", jsonl(CODE, with_(CODE, hadm_id="adm-2", text=None)))
add("data/medisumcode/bom-and-garbage.jsonl", b"\xef\xbb\xbf" + b"\x00\x01\x02 binary\n")

# --- predictions --------------------------------------------------------------------------------

add("predictions/not-jsonl.jsonl", '{"id": "a", "prediction": "yes"}\nnot json\n')
add("predictions/missing-prediction.jsonl", '{"id": "a"}\n')
add("predictions/id-object.jsonl", '{"id": {"x": 1}, "prediction": "yes"}\n')
add("predictions/empty.jsonl", "\n\n")
# Samples files of `clue eval` are read by the same reader (one file, every task).
SAMPLE = {"task": "mednli", "id": "1", "prompt_sha256": "0" * 64, "prediction": "entailment", "completion": "entailment"}
add("predictions/samples-unknown-task.jsonl", jsonl(SAMPLE, with_(SAMPLE, id="2", task="radiology")))
add("predictions/samples-duplicate-id.jsonl", jsonl(SAMPLE, with_(SAMPLE, prediction="neutral")))
add("predictions/samples-prediction-array.jsonl", jsonl(with_(SAMPLE, prediction=["entailment"] * 1000)))
add("predictions/samples-task-object.jsonl", jsonl(with_(SAMPLE, task={"name": "mednli"})))

# --- the native completion cache (cache.jsonl) --------------------------------------------------
# A line that does not parse is skipped and named, never fatal; these are all such lines.
GENERATED = {"completion": "entailment", "completion_ids": [1, 2], "stop_reason": {"eos": 2},
             "prompt_tokens": 10, "prefill_ms": 1.0, "decode_ms": 2.0}
GOOD = json.dumps({"key": "k1", "generated": GENERATED})
add("cache/torn-line.jsonl", GOOD[: len(GOOD) // 2] + "\n")
add("cache/not-json.jsonl", "cache entry\n")
add("cache/ids-not-numbers.jsonl", json.dumps({"key": "k", "generated": dict(GENERATED, completion_ids=["1"])}) + "\n")
add("cache/negative-id.jsonl", json.dumps({"key": "k", "generated": dict(GENERATED, completion_ids=[-1])}) + "\n")
add("cache/huge-count.jsonl", json.dumps({"key": "k", "generated": dict(GENERATED, prompt_tokens=1e300)}) + "\n")
add("cache/unknown-stop.jsonl", json.dumps({"key": "k", "generated": dict(GENERATED, stop_reason="tired")}) + "\n")
add("cache/key-missing.jsonl", json.dumps({"generated": GENERATED}) + "\n")
add("cache/deep-nesting.jsonl", '{"key": "k", "generated": ' + "[" * 100_000 + "]" * 100_000 + "}\n")

# --- PyTorch checkpoints (pickles) -------------------------------------------------------------

PROTO = b"\x80\x02"


def legacy(obj_pickle):
    """A legacy torch.save stream: magic, protocol, system info, the object, no storages."""
    magic = PROTO + b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
    proto = PROTO + b"M\xe9\x03."
    sysinfo = PROTO + b"}."
    keys = PROTO + b"]."
    return magic + proto + sysinfo + obj_pickle + keys


def in_zip(pickle, extra=(), compress=zipfile.ZIP_STORED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        info = zipfile.ZipInfo("archive/data.pkl", date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = compress
        z.writestr(info, pickle)
        for name, data, method in extra:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            z.writestr(info, data)
    return out.getvalue()


# Memo doubling: a list, memoized, recalled twice into a new list, memoized again, ... 64 times:
# 2^64 nodes from a few hundred bytes.
doubling = bytearray(PROTO + b"]q\x00")
for i in range(64):
    doubling += b"(h" + bytes([i]) + b"h" + bytes([i]) + b"lq" + bytes([i + 1])
doubling += b"."
add("pytorch/memo-doubling.bin", in_zip(bytes(doubling)))
# DUP doubling: the top list duplicated and both wrapped, 64 times.
dup = bytearray(PROTO + b"]")
for _ in range(64):
    dup += b"2\x86"
dup += b"."
add("pytorch/dup-doubling.bin", legacy(bytes(dup)))
# MARK/LIST nesting 100,000 deep: dropping it recursively overflows the stack.
add("pytorch/deep-lists.bin", in_zip(PROTO + b"(" * 100_000 + b"l" * 100_000 + b"."))
# TUPLE1 nesting without marks.
add("pytorch/deep-tuples.bin", legacy(PROTO + b"N" + b"\x85" * 100_000 + b"."))


def state_dict_with(storage_numel, shape, stride, storage_type=b"FloatStorage"):
    """`{"w": _rebuild_tensor_v2(storage, 0, shape, stride, False, OrderedDict())}`."""
    def ints(values):
        out = b"("
        for v in values:
            out += b"J" + struct.pack("<i", v)
        return out + b"t"

    def text(s):
        return b"X" + struct.pack("<I", len(s)) + s

    pid = b"(" + text(b"storage") + b"ctorch\n" + storage_type + b"\n" + text(b"0") + text(b"cpu") + b"J" + struct.pack("<i", storage_numel) + b"tQ"
    call = b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"J\x00\x00\x00\x00" + ints(shape) + ints(stride) + b"\x89" + b"ccollections\nOrderedDict\n)RtR"
    return PROTO + b"}(" + text(b"w") + call + b"u."


# A stride-0 view asking for a billion elements of a one-element storage.
add(
    "pytorch/stride-zero.bin",
    in_zip(state_dict_with(1, [1 << 15, 1 << 15], [0, 0]), extra=[("archive/data/0", b"\x00" * 4, zipfile.ZIP_STORED)]),
)
# A view whose last element lies past its storage.
add(
    "pytorch/view-past-storage.bin",
    in_zip(state_dict_with(4, [4, 4], [4, 1]), extra=[("archive/data/0", b"\x00" * 16, zipfile.ZIP_STORED)]),
)
# Storage bytes fewer than the storage declares.
add(
    "pytorch/short-storage.bin",
    in_zip(state_dict_with(16, [4, 4], [4, 1]), extra=[("archive/data/0", b"\x00" * 8, zipfile.ZIP_STORED)]),
)
# A storage entry compressed 1000-fold: inflating it would take 40 MB from 40 KB.
add(
    "pytorch/zip-bomb.bin",
    in_zip(state_dict_with(16, [4, 4], [4, 1]), extra=[("archive/data/0", b"\x00" * 40_000_000, zipfile.ZIP_DEFLATED)]),
)
add("pytorch/unknown-opcode.bin", in_zip(PROTO + b"}\xff."))
add("pytorch/string-past-end.bin", legacy(PROTO + b"X\xff\xff\xff\x7fabc."))
add("pytorch/no-data-pkl.bin", zip_without_sheet.getvalue())
add("pytorch/empty.bin", b"")

# --- chat templates -----------------------------------------------------------------------------

add("template/nested-loops.jinja", "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}")
add(
    "template/doubling.jinja",
    "{% set ns = namespace(s='x' * 1000) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
)
add("template/huge-output.jinja", "{% for m in messages %}{{ m.content * 1000000 }}{% endfor %}")
add("template/recursive-macro.jinja", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
add("template/syntax.jinja", "{% for m in messages %}{{ m.content }")
add("template/unclosed-block.jinja", "{% if messages %}hello")

# --- configs ------------------------------------------------------------------------------------

DECODER = {
    "model_type": "llama",
    "vocab_size": 32,
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 128,
    "rms_norm_eps": 1e-5,
}
# Values above the limits but within 32 bits, so that wasm32 reads them as native does.
add("config/decoder-huge-context.json", json.dumps(with_(DECODER, max_position_embeddings=2**30)))
add("config/decoder-huge-hidden.json", json.dumps(with_(DECODER, hidden_size=2**30)))
add("config/decoder-huge-matrix.json", json.dumps(with_(DECODER, hidden_size=65536, vocab_size=1 << 20, num_attention_heads=512, num_key_value_heads=512)))
add("config/decoder-negative.json", json.dumps(with_(DECODER, num_hidden_layers=-1)))
add("config/decoder-not-json.json", "{model_type: llama}")
BERT = {
    "vocab_size": 30522,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
}
add("config/bert-huge-vocab.json", json.dumps(with_(BERT, vocab_size=1 << 31)))
add("config/bert-huge-matrix.json", json.dumps(with_(BERT, vocab_size=1 << 20, hidden_size=1 << 16, num_attention_heads=1)))
add("config/bert-zero-heads.json", json.dumps(with_(BERT, num_attention_heads=0)))

# --- GGUF ---------------------------------------------------------------------------------------


def gguf_string(s):
    return struct.pack("<Q", len(s)) + s


add("gguf/bad-magic.gguf", b"GGML" + b"\x00" * 60)
add("gguf/truncated-header.gguf", b"GGUF" + struct.pack("<I", 3) + b"\x00\x00")
add("gguf/huge-tensor-count.gguf", b"GGUF" + struct.pack("<IQQ", 3, 1 << 60, 0))
add("gguf/huge-metadata-count.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 60))
add(
    "gguf/huge-string.gguf",
    b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gguf_string(b"general.name") + struct.pack("<I", 8) + struct.pack("<Q", 1 << 62),
)
add(
    "gguf/huge-array.gguf",
    b"GGUF"
    + struct.pack("<IQQ", 3, 0, 1)
    + gguf_string(b"tokenizer.ggml.tokens")
    + struct.pack("<I", 9)
    + struct.pack("<IQ", 8, 1 << 61),
)
add(
    "gguf/nested-arrays.gguf",
    b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gguf_string(b"x") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 10000,
)
add("gguf/empty.gguf", b"")

# --- safetensors --------------------------------------------------------------------------------

add("safetensors/header-past-end.safetensors", struct.pack("<Q", 1000) + b"{}")
add("safetensors/huge-header.safetensors", struct.pack("<Q", 1 << 62) + b"{}")
add("safetensors/header-not-json.safetensors", struct.pack("<Q", 8) + b"not json")
header = json.dumps({"w": {"dtype": "F32", "shape": [1 << 10, 1 << 10], "data_offsets": [0, 16]}}).encode()
add("safetensors/shape-past-data.safetensors", struct.pack("<Q", len(header)) + header + b"\x00" * 16)
header = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 1 << 31]}}).encode()
add("safetensors/offsets-past-end.safetensors", struct.pack("<Q", len(header)) + header + b"\x00" * 16)

# --- tokenizers ---------------------------------------------------------------------------------

add("tokenizer/not-json.json", "{")
add("tokenizer/no-model.json", json.dumps({"version": "1.0", "added_tokens": []}))


def byte_level_bpe(vocab, merges):
    """A byte-level BPE tokenizer.json with this vocabulary and these merges."""
    return json.dumps(
        {
            "version": "1.0",
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "vocab": vocab, "merges": merges},
        }
    )


add("tokenizer/bpe-merge-unknown.json", byte_level_bpe({"a": 0, "b": 1}, ["a c"]))
# Found by the tokenizer fuzz target: a vocabulary id of 655,555,255 in a 1 KB file made room
# for 655 million tokens before finding that the ids between are missing.
add("tokenizer/sparse-vocab-id.json", byte_level_bpe({"a": 0, "b": 1, "<think>": 655555255}, []))
add(
    "tokenizer/added-token-huge-id.json",
    json.dumps(
        {
            "version": "1.0",
            "added_tokens": [
                {
                    "id": 4294967295,
                    "content": "<x>",
                    "single_word": False,
                    "lstrip": False,
                    "rstrip": False,
                    "normalized": False,
                    "special": True,
                }
            ],
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
        }
    ),
)
add("vocab/empty.txt", "")
add("vocab/not-utf8.txt", b"[PAD]\n\xff\xfe\n")


def main():
    for path, data in FILES.items():
        full = os.path.join(HERE, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    with open(os.path.join(HERE, "corpus.rs"), "w") as f:
        f.write("// Written by make_corpus.py: the corpus files, for the wasm build (which cannot read\n")
        f.write("// a directory). Do not edit.\n")
        f.write("pub const FILES: &[(&str, &[u8])] = &[\n")
        for path in sorted(FILES):
            f.write(f'    ("{path}", include_bytes!("{path}")),\n')
        f.write("];\n")
    print(f"{len(FILES)} files")


if __name__ == "__main__":
    main()
