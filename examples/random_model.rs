//! Writes a random-weight GGUF with Qwen2.5-0.5B-Instruct's exact shapes and the tensor types
//! llama.cpp's Q4_K_M gives that model, for the page's WebGPU memory test (no real model can be
//! fetched there): 24 layers of width 896, 14 query and 2 key/value heads of 64, an MLP of 4,864,
//! 151,936 tokens with a tied head. llama.cpp (src/llama-quant.cpp) picks Q4_K, and Q6_K for
//! `attn_v` and `ffn_down` in the layers `use_more_bits` names and for the tied embedding; rows of
//! 896 values are not whole 256-value blocks, so Q4_K falls back to Q5_0 and Q6_K to Q8_0
//! there (`ffn_down`'s rows of 4,864 keep the K types). Blocks are random with sane scales; the
//! tokenizer is the small Qwen2 vocabulary of the tokenizer tests (its ids are all below the
//! model's 151,936).
//!
//!     cargo run --example random_model -- OUT.gguf

use clue_wasm::loader::dequant::{GgmlType, sample_blocks};
use clue_wasm::loader::gguf::{self, MetadataValue, TensorToWrite};

const HIDDEN: u64 = 896;
const LAYERS: u64 = 24;
const HEADS: u64 = 14;
const KV_HEADS: u64 = 2;
const HEAD_DIM: u64 = 64;
const FFN: u64 = 4864;
const VOCAB: u64 = 151_936;

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers and every third between.
fn use_more_bits(layer: u64, layers: u64) -> bool {
    layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
}

/// The type llama.cpp stores a matrix with rows of `ne0` values in, wanting `wanted`.
fn with_fallback(wanted: GgmlType, ne0: u64) -> GgmlType {
    if ne0.is_multiple_of(wanted.block_values()) {
        wanted
    } else {
        match wanted {
            GgmlType::Q4_K => GgmlType::Q5_0,
            GgmlType::Q6_K => GgmlType::Q8_0,
            other => other,
        }
    }
}

fn main() -> Result<(), String> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: random_model OUT.gguf")?;
    let tokenizer_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/tokenizer/tiny/qwen2.gguf"
    );
    let tokenizer_bytes =
        std::fs::read(tokenizer_path).map_err(|e| format!("{tokenizer_path}: {e}"))?;
    let tokenizer = gguf::parse(&tokenizer_bytes).map_err(|e| format!("{tokenizer_path}: {e}"))?;

    let key = |name: &str| format!("qwen2.{name}");
    let mut metadata = vec![
        (
            "general.architecture".to_owned(),
            MetadataValue::String("qwen2".into()),
        ),
        (
            "general.name".to_owned(),
            MetadataValue::String("random weights, Qwen2.5-0.5B shapes, Q4_K_M types".into()),
        ),
        (key("context_length"), MetadataValue::U32(32_768)),
        (key("embedding_length"), MetadataValue::U32(HIDDEN as u32)),
        (key("block_count"), MetadataValue::U32(LAYERS as u32)),
        (key("feed_forward_length"), MetadataValue::U32(FFN as u32)),
        (
            key("attention.head_count"),
            MetadataValue::U32(HEADS as u32),
        ),
        (
            key("attention.head_count_kv"),
            MetadataValue::U32(KV_HEADS as u32),
        ),
        (
            key("attention.layer_norm_rms_epsilon"),
            MetadataValue::F32(1e-6),
        ),
        (key("rope.freq_base"), MetadataValue::F32(1_000_000.0)),
        (key("vocab_size"), MetadataValue::U32(VOCAB as u32)),
    ];
    metadata.extend(
        tokenizer
            .metadata
            .entries()
            .filter(|(k, _)| k.starts_with("tokenizer."))
            .map(|(k, v)| (k.to_owned(), v.clone())),
    );

    // (name, GGUF shape ne0 first, type)
    let mut specs: Vec<(String, Vec<u64>, GgmlType)> = vec![
        (
            "token_embd.weight".into(),
            vec![HIDDEN, VOCAB],
            with_fallback(GgmlType::Q6_K, HIDDEN),
        ),
        ("output_norm.weight".into(), vec![HIDDEN], GgmlType::F32),
    ];
    let (q, kv) = (HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM);
    for layer in 0..LAYERS {
        let more = use_more_bits(layer, LAYERS);
        let default = with_fallback(GgmlType::Q4_K, HIDDEN);
        let v = with_fallback(if more { GgmlType::Q6_K } else { GgmlType::Q4_K }, HIDDEN);
        let down = with_fallback(if more { GgmlType::Q6_K } else { GgmlType::Q4_K }, FFN);
        let p = |name: &str| format!("blk.{layer}.{name}");
        specs.extend([
            (p("attn_norm.weight"), vec![HIDDEN], GgmlType::F32),
            (p("attn_q.weight"), vec![HIDDEN, q], default),
            (p("attn_q.bias"), vec![q], GgmlType::F32),
            (p("attn_k.weight"), vec![HIDDEN, kv], default),
            (p("attn_k.bias"), vec![kv], GgmlType::F32),
            (p("attn_v.weight"), vec![HIDDEN, kv], v),
            (p("attn_v.bias"), vec![kv], GgmlType::F32),
            (p("attn_output.weight"), vec![q, HIDDEN], default),
            (p("ffn_norm.weight"), vec![HIDDEN], GgmlType::F32),
            (p("ffn_gate.weight"), vec![HIDDEN, FFN], default),
            (p("ffn_up.weight"), vec![HIDDEN, FFN], default),
            (p("ffn_down.weight"), vec![FFN, HIDDEN], down),
        ]);
    }
    let data: Vec<Vec<u8>> = specs
        .iter()
        .enumerate()
        .map(|(i, (_, shape, dtype))| {
            let values: u64 = shape.iter().product();
            sample_blocks(
                *dtype,
                (values / dtype.block_values()) as usize,
                i as u32 + 1,
            )
        })
        .collect();
    let tensors: Vec<TensorToWrite<'_>> = specs
        .iter()
        .zip(&data)
        .map(|((name, shape, dtype), bytes)| TensorToWrite {
            name: name.clone(),
            shape: shape.clone(),
            dtype: *dtype,
            bytes,
        })
        .collect();
    let bytes = gguf::write(&metadata, &tensors);
    std::fs::write(&out, &bytes).map_err(|e| format!("{out}: {e}"))?;
    let tensor_bytes: usize = data.iter().map(Vec::len).sum();
    println!(
        "{{\"file\": {out:?}, \"bytes\": {}, \"tensor_bytes\": {tensor_bytes}}}",
        bytes.len()
    );
    Ok(())
}
