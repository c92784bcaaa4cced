"""Golden values for src/loader (GGUF parsing and dequantization) from llama.cpp's gguf-py 0.19.0.

    python3.11 -m venv venv && venv/bin/pip install -r tests/golden/gguf/requirements.txt
    venv/bin/python tests/golden/gguf/make.py

Writes, next to this script:
  dequant.json  for each of the 11 types the loader dequantizes: raw block bytes (hex) and the
                f32 values gguf.quants.dequantize makes of them (hex of their little-endian
                bytes, so the comparison is bit for bit). Blocks come from gguf.quants.quantize
                where the package can quantize the type, plus random bytes whose f16 scale fields
                are set to finite values (normal, subnormal, zero, negative).
  small.gguf    a GGUF v3 file written by gguf.GGUFWriter: metadata of every value type (nested
                arrays included), alignment 64, six tensors of six types (one of them 3-D).
  small.json    the listing of small.gguf: version, alignment, data offset, every metadata entry
                as written (floats as bit patterns; gguf.GGUFReader reads each one back the same,
                but for the nested array, which its reader flattens), every tensor as
                gguf.GGUFReader reads it (name, type id, shape in GGUF order ne[0] first, offset
                in the data section, size, dequantized values).
  smollm2.json  for the default model (models/SmolLM2-135M-Instruct.Q4_1.gguf, fetched by
                scripts/setup): its SHA-256, the scalar metadata, the length and first three
                elements of each array, and per tensor its type, shape, offset, first 16
                dequantized values and the SHA-256 of all its dequantized values (f32,
                little-endian, row-major).
"""

import hashlib
import json
import pathlib

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter, GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
rng = np.random.default_rng(20260601)

# Byte offsets of the f16 scale fields inside one block of each quantized type (ggml-common.h).
SCALE_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
QUANTIZABLE = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]


def f32_hex(values):
    return np.ascontiguousarray(values, dtype="<f4").tobytes().hex()


def random_blocks(qtype, n_blocks):
    """Random block bytes with sane f16 scales: normal, then one subnormal, zero and negative."""
    _, type_size = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for b in range(n_blocks):
        for field in SCALE_FIELDS[qtype]:
            scale = {1: 2.0 ** -20, 2: 0.0, 3: -0.75}.get(b, rng.normal(0.0, 0.05))
            blocks[b, field:field + 2] = np.frombuffer(np.float16(scale).tobytes(), np.uint8)
    return blocks


def dequant_cases():
    cases = []
    # Plain floats: random values plus zeros, infinities, NaN, subnormals and extremes.
    f32 = np.concatenate([
        rng.normal(0.0, 3.0, 56).astype(np.float32),
        np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -3.4e38, 1.17e-38], np.float32)])
    cases.append((T.F32, f32.view(np.uint8)))
    # Every class of 16-bit pattern appears among 512 random ones (NaN, infinities, subnormals).
    for qtype in (T.F16, T.BF16):
        bits = np.concatenate([rng.integers(0, 1 << 16, 508, dtype=np.uint16),
                               np.array([0x0000, 0x8000, 0x7C00, 0x0001], np.uint16)])
        cases.append((qtype, bits.astype("<u2").view(np.uint8)))
    for qtype in QUANTIZABLE:
        values = rng.normal(0.0, 1.0, (4, 32)).astype(np.float32)
        quantized = quantize(values, qtype).reshape(4, -1)
        cases.append((qtype, np.concatenate([quantized, random_blocks(qtype, 4)]).ravel()))
    for qtype in (T.Q4_K, T.Q5_K, T.Q6_K):
        cases.append((qtype, random_blocks(qtype, 4).ravel()))
    out = []
    for qtype, raw in cases:
        raw = np.ascontiguousarray(raw, dtype=np.uint8)
        if qtype == T.F32:
            expected = raw.view(np.float32)
        else:
            expected = dequantize(raw, qtype)
        out.append({"type": qtype.name, "id": int(qtype), "raw": raw.tobytes().hex(),
                    "expected": f32_hex(expected)})
    return out


def encode_value(value, vtype, sub_types):
    """One metadata value as JSON; floats as the hex of their IEEE bits."""
    if vtype == GGUFValueType.ARRAY:
        return {"type": "ARRAY", "items": [encode_value(v, sub_types[0], sub_types[1:]) for v in value]}
    if vtype == GGUFValueType.FLOAT32:
        return {"type": "FLOAT32", "bits": f"{int(np.float32(value).view(np.uint32)):08x}"}
    if vtype == GGUFValueType.FLOAT64:
        return {"type": "FLOAT64", "bits": f"{int(np.float64(value).view(np.uint64)):016x}"}
    if vtype == GGUFValueType.BOOL:
        return {"type": "BOOL", "value": bool(value)}
    if vtype == GGUFValueType.STRING:
        return {"type": "STRING", "value": value}
    return {"type": vtype.name, "value": int(value)}


# Metadata of every value type, each with its type chain (an array's element types follow it).
A, S = GGUFValueType.ARRAY, GGUFValueType.STRING
SMALL_METADATA = [
    ("test.u8", 200, (GGUFValueType.UINT8,)),
    ("test.i8", -100, (GGUFValueType.INT8,)),
    ("test.u16", 65000, (GGUFValueType.UINT16,)),
    ("test.i16", -32000, (GGUFValueType.INT16,)),
    ("test.u32", 4_000_000_000, (GGUFValueType.UINT32,)),
    ("test.i32", -2_000_000_000, (GGUFValueType.INT32,)),
    ("test.f32", 0.1, (GGUFValueType.FLOAT32,)),
    ("test.bool_true", True, (GGUFValueType.BOOL,)),
    ("test.bool_false", False, (GGUFValueType.BOOL,)),
    ("test.string", "ChatML <|im_start|> – ünïcödé ✓", (S,)),
    ("test.empty_string", "", (S,)),
    ("test.u64", 18_000_000_000_000_000_000, (GGUFValueType.UINT64,)),
    ("test.i64", -9_000_000_000_000_000_000, (GGUFValueType.INT64,)),
    ("test.f64", 2.718281828459045, (GGUFValueType.FLOAT64,)),
    ("test.array_i32", [1, -2, 3, 2_000_000_000], (A, GGUFValueType.INT32)),
    ("test.array_u8", [0, 1, 255], (A, GGUFValueType.UINT8)),
    ("test.array_f32", [0.5, -1.25, 3.0e-7], (A, GGUFValueType.FLOAT32)),
    ("test.array_bool", [True, False, True], (A, GGUFValueType.BOOL)),
    ("test.array_string", ["Ġthe", "", "<|im_end|>", "ü"], (A, S)),
    # gguf-py writes nested arrays correctly but its reader flattens them (each inner array
    # comes back as one-element arrays), so the expected listing is built from these values.
    ("test.array_nested", [["a", "b"], ["c"]], (A, A, S)),
    ("general.alignment", 64, (GGUFValueType.UINT32,)),
]


def small_tensors():
    """Six tensors of six types; numpy shapes are row-major, the reverse of GGUF's ne order."""
    q6k = random_blocks(T.Q6_K, 2)
    bf16 = quantize(rng.normal(0, 1, (2, 8)).astype(np.float32), T.BF16)
    return [
        ("norm.weight", rng.normal(0, 1, 5).astype(np.float32), None),
        ("f16.matrix", rng.normal(0, 1, (3, 4)).astype(np.float16), None),
        ("bf16.matrix", bf16, T.BF16),
        ("q8_0.matrix", quantize(rng.normal(0, 1, (2, 64)).astype(np.float32), T.Q8_0), T.Q8_0),
        ("q4_1.cube", quantize(rng.normal(0, 1, (2, 3, 32)).astype(np.float32), T.Q4_1), T.Q4_1),
        ("q6_k.matrix", q6k.reshape(2, -1), T.Q6_K),
    ]


def write_small(path):
    writer = GGUFWriter(path, arch="clue-test")
    for key, value, types in SMALL_METADATA:
        if key == "general.alignment":
            writer.add_custom_alignment(value)
        elif types[:2] == (A, A):
            writer.add_array(key, value)
        else:
            writer.add_key_value(key, value, types[0], sub_type=types[1] if len(types) > 1 else None)
    for name, data, raw_dtype in small_tensors():
        writer.add_tensor(name, data, raw_dtype=raw_dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def encode_field(field):
    return encode_value(field.contents(), field.types[0], field.types[1:])


def tensor_values(tensor):
    return dequantize(tensor.data, tensor.tensor_type).astype(np.float32).ravel()


def describe_small(path):
    reader = GGUFReader(path)
    written = [("general.architecture", "clue-test", (S,))] + SMALL_METADATA
    metadata = [{"key": key, **encode_value(value, types[0], types[1:])}
                for key, value, types in written]
    read = {key: field for key, field in reader.fields.items() if not key.startswith("GGUF.")}
    assert list(read) == [key for key, _, _ in written]
    for entry in metadata:
        if entry["key"] != "test.array_nested":
            assert encode_field(read[entry["key"]]) == {k: v for k, v in entry.items() if k != "key"}
    tensors = [{
        "name": t.name,
        "type": int(t.tensor_type),
        "shape": [int(d) for d in t.shape],
        "offset": int(t.data_offset - reader.data_offset),
        "n_bytes": int(t.n_bytes),
        "values": f32_hex(tensor_values(t)),
    } for t in reader.tensors]
    return {"version": int(reader.fields["GGUF.version"].contents()),
            "alignment": int(reader.alignment), "data_offset": int(reader.data_offset),
            "file_size": path.stat().st_size, "metadata": metadata, "tensors": tensors}


def describe_model(path):
    reader = GGUFReader(path)
    scalars, arrays = {}, {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        if field.types[0] == GGUFValueType.ARRAY:
            arrays[key] = {"element": field.types[1].name, "len": len(field.data),
                           "first": field.contents(slice(0, 3))}
        else:
            scalars[key] = encode_field(field)
    tensors = []
    for t in reader.tensors:
        values = tensor_values(t)
        tensors.append({
            "name": t.name,
            "type": int(t.tensor_type),
            "shape": [int(d) for d in t.shape],
            "offset": int(t.data_offset - reader.data_offset),
            "first16": f32_hex(values[:16]),
            "sha256": hashlib.sha256(values.astype("<f4").tobytes()).hexdigest(),
        })
    return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "version": int(reader.fields["GGUF.version"].contents()),
            "data_offset": int(reader.data_offset), "scalars": scalars, "arrays": arrays,
            "tensors": tensors}


def dump(name, value):
    (HERE / name).write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n")


def main():
    dump("dequant.json", dequant_cases())
    small = HERE / "small.gguf"
    write_small(small)
    dump("small.json", describe_small(small))
    dump("smollm2.json", describe_model(MODEL))


if __name__ == "__main__":
    main()
