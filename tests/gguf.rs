//! The GGUF loader against llama.cpp's gguf-py 0.19.0 (tests/golden/gguf/make.py): the eleven
//! dequantizers bit for bit, a small file written by `GGUFWriter`, the default SmolLM2 model
//! tensor by tensor, and hostile files (truncations, lying lengths and counts) as errors.

use std::sync::OnceLock;

use clue_wasm::loader::dequant::{self, GgmlType};
use clue_wasm::loader::gguf::{self, GgufError, MetadataValue, TensorInfo};
use serde_json::Value;
use sha2::{Digest, Sha256};

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
);
const SMALL: &[u8] = include_bytes!("golden/gguf/small.gguf");

fn golden(text: &str) -> Value {
    serde_json::from_str(text).expect("golden JSON is valid")
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("golden hex"))
        .collect()
}

/// Little-endian f32 values written by make.py as hex.
fn f32s(text: &str) -> Vec<f32> {
    hex(text)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Bit-for-bit equality, except that a NaN only has to be a NaN: numpy converts f16 NaNs
/// keeping a signalling payload, while `half` (like F16C hardware and ggml) quiets them.
fn assert_same_values(actual: &[f32], expected: &[f32], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: value count");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let same = a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan());
        assert!(
            same,
            "{what}: value {i} is {a:e} ({:#010x}), expected {e:e} ({:#010x})",
            a.to_bits(),
            e.to_bits()
        );
    }
}

/// The default model's bytes, read once per test binary.
fn smollm2() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        std::fs::read(MODEL).unwrap_or_else(|err| {
            panic!("{MODEL}: {err}; run scripts/setup to fetch the default model")
        })
    })
}

fn smollm2_golden() -> Value {
    golden(include_str!("golden/gguf/smollm2.json"))
}

#[test]
fn every_type_dequantizes_like_gguf_py() {
    let cases = golden(include_str!("golden/gguf/dequant.json"));
    let cases = cases.as_array().unwrap();
    let mut seen = Vec::new();
    for case in cases {
        let name = case["type"].as_str().unwrap();
        let dtype = GgmlType::from_id(case["id"].as_u64().unwrap() as u32).unwrap();
        assert_eq!(dtype.to_string(), name);
        let raw = hex(case["raw"].as_str().unwrap());
        let values = dequant::dequantize(dtype, &raw).unwrap();
        assert_same_values(&values, &f32s(case["expected"].as_str().unwrap()), name);
        seen.push(dtype);
    }
    use GgmlType::*;
    let all = [
        F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K,
    ];
    assert_eq!(seen.len(), all.len());
    for dtype in all {
        assert!(seen.contains(&dtype) && dtype.is_dequantizable(), "{dtype}");
    }
}

/// Checks a parsed value against make.py's encoding: {"type", "value" | "bits" | "items"}.
fn assert_value(actual: &MetadataValue, expected: &Value, key: &str) {
    let bits = || u64::from_str_radix(expected["bits"].as_str().unwrap(), 16).unwrap();
    let int = || expected["value"].as_i64();
    let uint = || expected["value"].as_u64();
    let ok = match (expected["type"].as_str().unwrap(), actual) {
        ("UINT8", MetadataValue::U8(v)) => uint() == Some(u64::from(*v)),
        ("INT8", MetadataValue::I8(v)) => int() == Some(i64::from(*v)),
        ("UINT16", MetadataValue::U16(v)) => uint() == Some(u64::from(*v)),
        ("INT16", MetadataValue::I16(v)) => int() == Some(i64::from(*v)),
        ("UINT32", MetadataValue::U32(v)) => uint() == Some(u64::from(*v)),
        ("INT32", MetadataValue::I32(v)) => int() == Some(i64::from(*v)),
        ("UINT64", MetadataValue::U64(v)) => uint() == Some(*v),
        ("INT64", MetadataValue::I64(v)) => int() == Some(*v),
        ("FLOAT32", MetadataValue::F32(v)) => u64::from(v.to_bits()) == bits(),
        ("FLOAT64", MetadataValue::F64(v)) => v.to_bits() == bits(),
        ("BOOL", MetadataValue::Bool(v)) => expected["value"].as_bool() == Some(*v),
        ("STRING", MetadataValue::String(v)) => expected["value"].as_str() == Some(v),
        ("ARRAY", MetadataValue::Array(items)) => {
            let expected_items = expected["items"].as_array().unwrap();
            assert_eq!(items.len(), expected_items.len(), "{key}: array length");
            for (item, expected_item) in items.iter().zip(expected_items) {
                assert_value(item, expected_item, key);
            }
            true
        }
        _ => false,
    };
    assert!(ok, "{key}: parsed {actual:?}, expected {expected}");
}

/// Checks a tensor info against make.py's listing (name, type id, shape in GGUF order, offset);
/// returns the name and the row-major shape the listing implies.
fn assert_tensor_listing<'w>(
    file: &gguf::Gguf<'_>,
    info: &TensorInfo,
    want: &'w Value,
) -> (&'w str, Vec<usize>) {
    let name = want["name"].as_str().unwrap();
    assert_eq!(info.name, name);
    assert_eq!(file.tensor(name), Ok(info));
    let type_id = want["type"].as_u64().unwrap();
    assert_eq!(u64::from(info.dtype.id()), type_id, "{name}");
    let shape: Vec<u64> = want["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect();
    assert_eq!(info.shape, shape, "{name}");
    assert_eq!(info.offset, want["offset"].as_u64().unwrap(), "{name}");
    let row_major = shape.iter().rev().map(|&d| d as usize).collect();
    assert_eq!(info.row_major_shape().as_ref(), Ok(&row_major), "{name}");
    (name, row_major)
}

#[test]
fn small_file_reads_exactly_what_gguf_writer_wrote() {
    let expected = golden(include_str!("golden/gguf/small.json"));
    assert_eq!(SMALL.len() as u64, expected["file_size"].as_u64().unwrap());
    let file = gguf::parse(SMALL).unwrap();
    assert_eq!(
        u64::from(file.version),
        expected["version"].as_u64().unwrap()
    );
    assert_eq!(file.alignment, expected["alignment"].as_u64().unwrap());
    assert_eq!(file.data_offset, expected["data_offset"].as_u64().unwrap());

    let entries = expected["metadata"].as_array().unwrap();
    let keys: Vec<&str> = entries.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(file.metadata.keys().collect::<Vec<_>>(), keys);
    for entry in entries {
        let key = entry["key"].as_str().unwrap();
        assert_value(file.metadata.get(key).unwrap(), entry, key);
    }
    assert_eq!(
        file.metadata.str("test.string"),
        Ok("ChatML <|im_start|> – ünïcödé ✓")
    );
    assert_eq!(
        file.metadata.u64("test.u64"),
        Ok(18_000_000_000_000_000_000)
    );
    assert_eq!(file.metadata.u64("test.u8"), Ok(200));
    assert_eq!(file.metadata.f32("test.f64"), Ok(std::f32::consts::E));
    assert_eq!(file.metadata.bool("test.bool_true"), Ok(true));
    assert_eq!(
        file.metadata.strings("test.array_string"),
        Ok(vec!["Ġthe", "", "<|im_end|>", "ü"])
    );
    assert_eq!(
        file.metadata.i32s("test.array_i32"),
        Ok(vec![1, -2, 3, 2_000_000_000])
    );

    let tensors = expected["tensors"].as_array().unwrap();
    assert_eq!(file.tensors.len(), tensors.len());
    for (info, want) in file.tensors.iter().zip(tensors) {
        let (name, row_major) = assert_tensor_listing(&file, info, want);
        assert_eq!(
            info.byte_size(),
            Ok(want["n_bytes"].as_u64().unwrap()),
            "{name}"
        );
        assert_eq!(
            file.tensor_bytes(info).unwrap().len() as u64,
            want["n_bytes"].as_u64().unwrap()
        );
        let (shape, values) = file.tensor_f32(name).unwrap();
        assert_eq!(shape, row_major, "{name}");
        assert_same_values(&values, &f32s(want["values"].as_str().unwrap()), name);
    }
    let cube = file.tensor("q4_1.cube").unwrap();
    assert_eq!(
        (cube.shape.as_slice(), cube.dtype),
        ([32, 3, 2].as_slice(), GgmlType::Q4_1)
    );
}

#[test]
fn smollm2_metadata_and_tensor_types() {
    let file = gguf::parse(smollm2()).unwrap();
    let expected = smollm2_golden();
    assert_eq!(
        u64::from(file.version),
        expected["version"].as_u64().unwrap()
    );
    assert_eq!(file.data_offset, expected["data_offset"].as_u64().unwrap());
    assert_eq!(file.alignment, 32);
    for (key, want) in expected["scalars"].as_object().unwrap() {
        assert_value(file.metadata.get(key).unwrap(), want, key);
    }
    for (key, want) in expected["arrays"].as_object().unwrap() {
        let Some(MetadataValue::Array(items)) = file.metadata.get(key) else {
            panic!("{key} is not an array");
        };
        assert_eq!(items.len() as u64, want["len"].as_u64().unwrap(), "{key}");
        let first = want["first"].as_array().unwrap();
        match want["element"].as_str().unwrap() {
            "STRING" => {
                let strings = file.metadata.strings(key).unwrap();
                let expected: Vec<&str> = first.iter().map(|v| v.as_str().unwrap()).collect();
                assert_eq!(strings[..expected.len()], expected, "{key}");
            }
            "INT32" => {
                let ints = file.metadata.i32s(key).unwrap();
                let expected: Vec<i32> = first.iter().map(|v| v.as_i64().unwrap() as i32).collect();
                assert_eq!(ints[..expected.len()], expected, "{key}");
            }
            other => panic!("{key}: no check for arrays of {other}"),
        }
    }
    let m = &file.metadata;
    assert_eq!(m.str("general.architecture"), Ok("llama"));
    assert_eq!(m.u64("llama.context_length"), Ok(8192));
    assert_eq!(m.u64("llama.embedding_length"), Ok(576));
    assert_eq!(m.u64("llama.block_count"), Ok(30));
    assert_eq!(m.u64("llama.attention.head_count"), Ok(9));
    assert_eq!(m.u64("llama.attention.head_count_kv"), Ok(3));
    assert_eq!(m.f32("llama.rope.freq_base"), Ok(100_000.0));
    assert_eq!(m.str("tokenizer.ggml.model"), Ok("gpt2"));
    assert_eq!(m.str("tokenizer.ggml.pre"), Ok("smollm"));
    let template = m.str("tokenizer.chat_template").unwrap();
    assert!(
        template.contains("<|im_start|>") && template.contains("<|im_end|>"),
        "{template}"
    );
    let tokens = m.strings("tokenizer.ggml.tokens").unwrap();
    assert_eq!(
        (tokens.len(), &tokens[..3]),
        (
            49152,
            ["<|endoftext|>", "<|im_start|>", "<|im_end|>"].as_slice()
        )
    );
    assert_eq!(m.i32s("tokenizer.ggml.token_type").unwrap().len(), 49152);
    assert_eq!(m.strings("tokenizer.ggml.merges").unwrap()[0], "Ġ t");

    // Q4_1 matrices, a Q8_0 token embedding (the tied output head), F32 norm vectors.
    assert_eq!(file.tensors.len(), 272);
    for info in &file.tensors {
        let expected_type = if info.name == "token_embd.weight" {
            GgmlType::Q8_0
        } else if info.name.ends_with("norm.weight") {
            GgmlType::F32
        } else {
            GgmlType::Q4_1
        };
        assert_eq!(info.dtype, expected_type, "{}", info.name);
        let dims = if info.dtype == GgmlType::F32 { 1 } else { 2 };
        assert_eq!(info.shape.len(), dims, "{}", info.name);
    }
    let embd = file.tensor("token_embd.weight").unwrap();
    assert_eq!(embd.shape, [576, 49152]);
    assert_eq!(embd.row_major_shape(), Ok(vec![49152, 576]));
}

#[test]
fn smollm2_every_tensor_dequantizes_like_gguf_py() {
    let bytes = smollm2();
    let expected = smollm2_golden();
    assert_eq!(
        format!("{:x}", Sha256::digest(bytes)),
        expected["sha256"].as_str().unwrap(),
        "{MODEL} is not the file the goldens were made from; run scripts/setup"
    );
    let file = gguf::parse(bytes).unwrap();
    let tensors = expected["tensors"].as_array().unwrap();
    assert_eq!(file.tensors.len(), tensors.len());
    for (info, want) in file.tensors.iter().zip(tensors) {
        let (name, row_major) = assert_tensor_listing(&file, info, want);
        let (shape, values) = file.tensor_f32(name).unwrap();
        assert_eq!(shape, row_major, "{name}");
        assert_same_values(
            &values[..16],
            &f32s(want["first16"].as_str().unwrap()),
            name,
        );
        let mut hash = Sha256::new();
        for value in &values {
            hash.update(value.to_le_bytes());
        }
        assert_eq!(
            format!("{:x}", hash.finalize()),
            want["sha256"].as_str().unwrap(),
            "{name}: SHA-256 of all values"
        );
    }
}

/// Where the last tensor's data ends: a cut before it must fail, a cut after it (in the
/// trailing padding) still leaves a whole file.
fn data_end(bytes: &[u8]) -> usize {
    let file = gguf::parse(bytes).unwrap();
    file.tensors
        .iter()
        .map(|info| (file.data_offset + info.offset + info.byte_size().unwrap()) as usize)
        .max()
        .unwrap()
}

/// The errors a file cut short may give, whichever field the cut falls in.
fn assert_short_file_error(err: GgufError, cut: usize) {
    let message = err.to_string();
    let short = matches!(
        err,
        GgufError::Truncated { .. }
            | GgufError::StringPastEnd { .. }
            | GgufError::CountPastEnd { .. }
            | GgufError::DataPastEnd { .. }
            | GgufError::TensorPastEnd { .. }
    );
    assert!(short, "cut at {cut}: {message}");
    assert!(
        message.contains("remain") || message.contains("past the end"),
        "cut at {cut}: {message}"
    );
}

#[test]
fn small_file_cut_anywhere_is_an_error_until_the_data_ends() {
    let end = data_end(SMALL);
    assert!(end < SMALL.len(), "the writer pads after the last tensor");
    for cut in 0..SMALL.len() {
        match gguf::parse(&SMALL[..cut]) {
            Err(err) if cut < end => assert_short_file_error(err, cut),
            Ok(file) if cut >= end => assert_eq!(file.tensors.len(), 6),
            other => panic!("cut at {cut} (the data ends at {end}): {other:?}"),
        }
    }
}

#[test]
fn smollm2_cut_in_the_first_4_kib_and_at_20_later_points_is_an_error() {
    let bytes = smollm2();
    let end = data_end(bytes);
    assert_eq!(end, bytes.len());
    for cut in 0..4096 {
        assert_short_file_error(gguf::parse(&bytes[..cut]).unwrap_err(), cut);
    }
    // A fixed linear congruential sequence: the same 20 cuts on every run.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..20 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let cut = 4096 + (state >> 11) as usize % (bytes.len() - 4096);
        assert_short_file_error(gguf::parse(&bytes[..cut]).unwrap_err(), cut);
    }
    // The last byte of the last tensor.
    assert_short_file_error(
        gguf::parse(&bytes[..bytes.len() - 1]).unwrap_err(),
        bytes.len() - 1,
    );
}

/// Hand-built GGUF files, field by field.
struct Builder(Vec<u8>);

impl Builder {
    fn new(version: u32, tensors: u64, entries: u64) -> Builder {
        Builder(b"GGUF".to_vec())
            .u32(version)
            .u64(tensors)
            .u64(entries)
    }
    fn bytes(mut self, bytes: &[u8]) -> Builder {
        self.0.extend_from_slice(bytes);
        self
    }
    fn u32(self, value: u32) -> Builder {
        self.bytes(&value.to_le_bytes())
    }
    fn u64(self, value: u64) -> Builder {
        self.bytes(&value.to_le_bytes())
    }
    fn string(self, text: &[u8]) -> Builder {
        self.u64(text.len() as u64).bytes(text)
    }
    /// A metadata entry: key, value type, value bytes.
    fn entry(self, key: &str, type_id: u32, value: &[u8]) -> Builder {
        self.string(key.as_bytes()).u32(type_id).bytes(value)
    }
    fn tensor(self, name: &str, shape: &[u64], type_id: u32, offset: u64) -> Builder {
        let mut b = self.string(name.as_bytes()).u32(shape.len() as u32);
        for &dim in shape {
            b = b.u64(dim);
        }
        b.u32(type_id).u64(offset)
    }
    /// Pads to `alignment`, then appends `data_bytes` zero bytes of tensor data.
    fn data(mut self, alignment: usize, data_bytes: usize) -> Builder {
        let padded = self.0.len().next_multiple_of(alignment);
        self.0.resize(padded + data_bytes, 0);
        self
    }
    fn error(&self) -> String {
        gguf::parse(&self.0).unwrap_err().to_string()
    }
}

#[test]
fn a_hand_built_file_parses() {
    let b = Builder::new(3, 1, 1)
        .entry(
            "general.architecture",
            8,
            &[&5u64.to_le_bytes()[..], b"llama"].concat(),
        )
        .tensor("w", &[4, 2], 0, 0)
        .data(32, 32);
    let file = gguf::parse(&b.0).unwrap();
    assert_eq!(file.metadata.str("general.architecture"), Ok("llama"));
    assert_eq!(file.tensor_f32("w"), Ok((vec![2, 4], vec![0.0; 8])));
    assert_eq!(
        file.tensor("v").unwrap_err().to_string(),
        "no tensor named \"v\""
    );
    // Version 2 has the same layout.
    let mut v2 = b.0.clone();
    v2[4] = 2;
    assert_eq!(gguf::parse(&v2).unwrap().version, 2);
}

#[test]
fn tensor_offset_past_the_end() {
    let b = Builder::new(3, 1, 0).tensor("w", &[8], 0, 64).data(32, 32);
    assert_eq!(
        b.error(),
        "tensor \"w\": its 32 bytes at offset 64 of the data section run past the end of the \
         file (the data section holds 32 bytes)"
    );
    let b = Builder::new(3, 1, 0)
        .tensor("w", &[8], 0, u64::MAX - 31)
        .data(32, 32);
    assert!(
        b.error().contains("run past the end of the file"),
        "{}",
        b.error()
    );
}

#[test]
fn shape_whose_element_count_overflows_u64() {
    let b = Builder::new(3, 1, 0)
        .tensor("w", &[1 << 32, 1 << 32, 2], 0, 0)
        .data(32, 0);
    assert_eq!(
        b.error(),
        "tensor \"w\": the size of shape [4294967296, 4294967296, 2] (F32) overflows u64"
    );
}

#[test]
fn unknown_quantization_type_id() {
    let b = Builder::new(3, 1, 0)
        .tensor("blk.0.attn_q.weight", &[32], 99, 0)
        .data(32, 32);
    assert_eq!(
        b.error(),
        "tensor \"blk.0.attn_q.weight\": unknown ggml type id 99 at byte 63"
    );
    // Id 4 was Q4_2, removed from ggml in 2023.
    let b = Builder::new(3, 1, 0).tensor("w", &[32], 4, 0).data(32, 32);
    assert_eq!(b.error(), "tensor \"w\": unknown ggml type id 4 at byte 45");
}

#[test]
fn known_type_that_is_not_dequantized() {
    let b = Builder::new(3, 1, 0)
        .tensor("w", &[256], 10, 0)
        .data(32, 96);
    let file = gguf::parse(&b.0).unwrap();
    assert_eq!(file.tensor_bytes(&file.tensors[0]).unwrap().len(), 84);
    assert_eq!(
        file.tensor_f32("w").unwrap_err().to_string(),
        "tensor \"w\": dequantizing Q2_K (type id 10) is not supported"
    );
}

#[test]
fn string_length_past_the_end() {
    let b = Builder::new(3, 0, 1).u64(1 << 60).bytes(b"general");
    assert_eq!(
        b.error(),
        "the key of metadata entry 0: string length 1152921504606846976 at byte 24 runs past \
         the end of the file (7 bytes remain)"
    );
    let b = Builder::new(3, 0, 1)
        .string(b"general.name")
        .u32(8)
        .u64(1 << 60)
        .bytes(b"x");
    assert_eq!(
        b.error(),
        "the value of metadata key \"general.name\": string length 1152921504606846976 at byte \
         48 runs past the end of the file (1 bytes remain)"
    );
}

#[test]
fn array_count_of_2_pow_40() {
    let b = Builder::new(3, 0, 1)
        .string(b"tokenizer.ggml.tokens")
        .u32(9)
        .u32(8)
        .u64(1 << 40)
        .string(b"a");
    assert_eq!(
        b.error(),
        "the value of metadata key \"tokenizer.ggml.tokens\": count 1099511627776 at byte 61 is \
         more array elements than the 9 remaining bytes can hold"
    );
}

#[test]
fn counts_in_the_header_are_checked_before_allocating() {
    assert_eq!(
        Builder::new(3, 0, 1 << 40).error(),
        "the header: count 1099511627776 at byte 16 is more metadata entries than the 0 \
         remaining bytes can hold"
    );
    assert_eq!(
        Builder::new(3, 1000, 0).error(),
        "the header: count 1000 at byte 8 is more tensor infos than the 0 remaining bytes can hold"
    );
    assert_eq!(
        Builder::new(3, 1 << 40, 0).error(),
        "the header: more than 1048576 tensors; the file is refused rather than loaded"
    );
}

#[test]
fn header_errors() {
    assert_eq!(
        gguf::parse(b"GGU").unwrap_err().to_string(),
        "truncated GGUF file: the header needs 4 bytes at byte 0, but only 3 remain"
    );
    assert_eq!(
        gguf::parse(b"GGML\x03\0\0\0").unwrap_err().to_string(),
        "not a GGUF file: it starts with [47, 47, 4d, 4c] instead of \"GGUF\""
    );
    let big_endian = [b"GGUF".as_slice(), &3u32.to_be_bytes()].concat();
    assert_eq!(
        gguf::parse(&big_endian).unwrap_err().to_string(),
        "a big-endian GGUF file (version field 0x03000000); only little-endian files are supported"
    );
    assert!(
        Builder::new(1, 0, 0)
            .error()
            .starts_with("GGUF version 1 is not supported"),
        "{}",
        Builder::new(1, 0, 0).error()
    );
    assert!(
        Builder::new(4, 0, 0)
            .error()
            .starts_with("GGUF version 4 is not supported")
    );
}

#[test]
fn malformed_metadata_values() {
    let b = Builder::new(3, 0, 1).entry("k", 13, &[0]);
    assert_eq!(
        b.error(),
        "the value of metadata key \"k\": unknown metadata value type 13 at byte 33"
    );
    let b = Builder::new(3, 0, 1).entry("flag", 7, &[2]);
    assert_eq!(
        b.error(),
        "the value of metadata key \"flag\": bool byte 2 at byte 40 is neither 0 nor 1"
    );
    let b = Builder::new(3, 0, 1)
        .string(b"bad\xFFkey")
        .u32(0)
        .bytes(&[0]);
    assert_eq!(
        b.error(),
        "the key of metadata entry 0: the string at byte 32 is not valid UTF-8"
    );
    let b = Builder::new(3, 0, 2)
        .entry("k", 0, &[1])
        .entry("k", 0, &[2]);
    assert_eq!(b.error(), "metadata key \"k\" appears more than once");
    // An array of arrays of … 17 deep; the innermost holds no element.
    let mut b = Builder::new(3, 0, 1).string(b"deep").u32(9);
    for _ in 0..17 {
        b = b.u32(9).u64(1);
    }
    let b = b.u32(0).u64(0);
    assert_eq!(
        b.error(),
        "the value of metadata key \"deep\": arrays nested deeper than 16 levels at byte 220"
    );
}

#[test]
fn malformed_tensor_infos() {
    let b = Builder::new(3, 2, 0)
        .tensor("w", &[8], 0, 0)
        .tensor("w", &[8], 0, 32)
        .data(32, 64);
    assert_eq!(b.error(), "tensor \"w\" appears more than once");
    let b = Builder::new(3, 1, 0).tensor("w", &[8], 0, 16).data(32, 64);
    assert_eq!(
        b.error(),
        "tensor \"w\": offset 16 is not a multiple of the alignment 32"
    );
    let b = Builder::new(3, 1, 0)
        .tensor("w", &[1, 1, 1, 1, 1], 0, 0)
        .data(32, 32);
    assert_eq!(
        b.error(),
        "tensor \"w\": 5 dimensions at byte 33; at most 4 are allowed"
    );
    let b = Builder::new(3, 1, 0)
        .tensor("w", &[40, 2], 3, 0)
        .data(32, 64);
    assert_eq!(
        b.error(),
        "tensor \"w\": rows of 40 values are not a multiple of the Q4_1 block of 32 values"
    );
    // The infos end at byte 57; the data would start at 64, but the file ends at 60.
    let b = Builder::new(3, 1, 0).tensor("w", &[0], 0, 0).bytes(&[0; 3]);
    assert_eq!(
        b.error(),
        "the tensor data section starts at byte 64 (after alignment to 32), past the end of the \
         file (60 bytes)"
    );
}

#[test]
fn alignment_must_be_a_power_of_two() {
    for alignment in [0u32, 48] {
        let b = Builder::new(3, 0, 1).entry("general.alignment", 4, &alignment.to_le_bytes());
        assert_eq!(
            b.error(),
            format!("general.alignment is {alignment}; it must be a power of two up to 2^31")
        );
    }
    let b = Builder::new(3, 0, 1).entry(
        "general.alignment",
        8,
        &[&1u64.to_le_bytes()[..], b"x"].concat(),
    );
    assert_eq!(
        b.error(),
        "metadata key \"general.alignment\" holds string, expected a non-negative integer"
    );
    let b = Builder::new(3, 1, 1)
        .entry("general.alignment", 4, &8u32.to_le_bytes())
        .tensor("w", &[2], 0, 8)
        .data(8, 16);
    let file = gguf::parse(&b.0).unwrap();
    assert_eq!((file.alignment, file.data_offset % 8), (8, 0));
    assert_eq!(file.tensor_f32("w").unwrap().1, [0.0, 0.0]);
}
