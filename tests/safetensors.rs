//! Hugging Face safetensors checkpoints: a tiny random decoder written in f32, f16 and bf16, in
//! one file and in two shards with an index, gives the same logits as its in-memory weights;
//! a whole model directory loads; malformed files and indexes are errors that name the file.

use std::collections::HashMap;

use clue_wasm::loader::safetensors::{INDEX_FILE, SafetensorsError, SafetensorsWeights};
use clue_wasm::loader::weights::{WeightError, WeightSource};
use clue_wasm::loader::{gguf, tokenizer::Tokenizer};
use clue_wasm::model::{
    Backend, Decoder, DecoderConfig, LoadError, LoadedModel, LogitsAt, open, read_f32,
};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, serialize};

mod common;

use common::TestWeights as Weights;

/// A prompt of in-vocabulary ids.
const PROMPT: [u32; 7] = [5, 17, 42, 96, 0, 33, 71];

/// A tiny GGUF whose vocabulary becomes the model directory's `tokenizer.json`.
const TOKENIZER_GGUF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/tokenizer/tiny/qwen2.gguf"
);

fn tiny_config(model_type: &str, vocab: usize) -> String {
    format!(
        r#"{{"model_type": "{model_type}", "vocab_size": {vocab}, "hidden_size": 64,
             "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "rope_theta": 500.0, "rms_norm_eps": 1e-5,
             "max_position_embeddings": 40, "tie_word_embeddings": false}}"#
    )
}

/// Serialization of the shared random weights into safetensors, as a checkpoint would hold them.
trait Checkpoint: Sized {
    /// The same weights after a round trip through `dtype`'s precision.
    fn rounded(&self, dtype: Dtype) -> Self;
    fn serialize(&self, dtype: Dtype, keep: impl Fn(&str) -> bool) -> Vec<u8>;
}

impl Checkpoint for Weights {
    fn rounded(&self, dtype: Dtype) -> Weights {
        let round = |v: f32| match dtype {
            Dtype::F16 => half::f16::from_f32(v).to_f32(),
            Dtype::BF16 => half::bf16::from_f32(v).to_f32(),
            _ => v,
        };
        Weights(
            self.0
                .iter()
                .map(|(name, (shape, values))| {
                    (
                        name.clone(),
                        (shape.clone(), values.iter().map(|&v| round(v)).collect()),
                    )
                })
                .collect(),
        )
    }

    /// The tensors whose names satisfy `keep`, serialized as one safetensors file in `dtype`.
    fn serialize(&self, dtype: Dtype, keep: impl Fn(&str) -> bool) -> Vec<u8> {
        let bytes: Vec<(&str, &[usize], Vec<u8>)> = self
            .0
            .iter()
            .filter(|(name, _)| keep(name))
            .map(|(name, (shape, values))| {
                let data = match dtype {
                    Dtype::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    Dtype::F16 => values
                        .iter()
                        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                        .collect(),
                    Dtype::BF16 => values
                        .iter()
                        .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
                        .collect(),
                    other => panic!("the test writes no {other}"),
                };
                (name.as_str(), shape.as_slice(), data)
            })
            .collect();
        let views = bytes.iter().map(|(name, shape, data)| {
            let view = TensorView::new(dtype, shape.to_vec(), data).expect("a consistent view");
            (*name, view)
        });
        serialize(views, None).expect("the tensors serialize")
    }
}

fn config(model_type: &str) -> DecoderConfig {
    DecoderConfig::from_json(tiny_config(model_type, 97).as_bytes()).expect("the tiny config")
}

fn device() -> burn::tensor::Device {
    pollster::block_on(open(Backend::Cpu)).expect("the CPU device opens")
}

/// The logits of every position of `PROMPT`.
fn logits(model: &Decoder) -> Vec<f32> {
    let logits = model
        .forward(&PROMPT, &mut model.new_cache(), LogitsAt::All)
        .expect("the forward pass runs");
    pollster::block_on(read_f32(Backend::Cpu, logits)).expect("the logits read back")
}

fn load(config: &DecoderConfig, weights: &dyn WeightSource) -> Vec<f32> {
    logits(&Decoder::load(config, weights, &device()).expect("the model loads"))
}

/// Two shards split by layer, and the index that maps every tensor to its shard.
fn sharded(weights: &Weights, dtype: Dtype) -> (Vec<(&'static str, Vec<u8>)>, String) {
    let first = |name: &str| !name.starts_with("model.layers.1.") && name != "lm_head.weight";
    let shards = [
        ("model-00001-of-00002.safetensors", true),
        ("model-00002-of-00002.safetensors", false),
    ];
    let weight_map: HashMap<&str, &str> = weights
        .0
        .keys()
        .map(|name| (name.as_str(), shards[usize::from(!first(name))].0))
        .collect();
    let index = serde_json::json!({"metadata": {"total_size": 0}, "weight_map": weight_map});
    let files = shards
        .iter()
        .map(|&(file, in_first)| {
            (
                file,
                weights.serialize(dtype, |name| first(name) == in_first),
            )
        })
        .collect();
    (files, index.to_string())
}

fn borrowed<'a>(files: &'a [(&'a str, Vec<u8>)]) -> Vec<(&'a str, &'a [u8])> {
    files
        .iter()
        .map(|(name, bytes)| (*name, bytes.as_slice()))
        .collect()
}

#[test]
fn f32_file_gives_the_in_memory_logits_exactly() {
    let config = config("llama");
    let weights = Weights::random(&config, 11);
    let bytes = weights.serialize(Dtype::F32, |_| true);
    let file = SafetensorsWeights::new(&[("model.safetensors", &bytes)], None).expect("parses");
    let (shape, values) = file
        .tensor("model.layers.0.self_attn.o_proj.weight")
        .expect("o_proj");
    assert_eq!(
        (shape, values),
        weights.0["model.layers.0.self_attn.o_proj.weight"],
        "shapes stay [out, in] and values are bit-identical"
    );
    assert_eq!(load(&config, &file), load(&config, &weights));
}

#[test]
fn half_precision_files_give_the_logits_of_the_rounded_weights() {
    let config = config("llama");
    let weights = Weights::random(&config, 12);
    let full = load(&config, &weights);
    for dtype in [Dtype::F16, Dtype::BF16] {
        let bytes = weights.serialize(dtype, |_| true);
        let file = SafetensorsWeights::new(&[("model.safetensors", &bytes)], None)
            .unwrap_or_else(|e| panic!("{dtype}: {e}"));
        let rounded = weights.rounded(dtype);
        for (name, tensor) in &rounded.0 {
            assert_eq!(
                &file.tensor(name).expect("present"),
                tensor,
                "{dtype} {name}"
            );
        }
        let from_file = load(&config, &file);
        assert_eq!(from_file, load(&config, &rounded), "{dtype}");
        assert_ne!(from_file, full, "{dtype} rounding changes the logits");
    }
}

#[test]
fn two_shards_with_an_index_give_the_logits_of_one_file() {
    // Qwen2, so the q/k/v biases are read from the shards too.
    let config = config("qwen2");
    let weights = Weights::random(&config, 13);
    for dtype in [Dtype::F32, Dtype::BF16] {
        let (files, index) = sharded(&weights, dtype);
        let shards = SafetensorsWeights::new(&borrowed(&files), Some(index.as_bytes()))
            .unwrap_or_else(|e| panic!("{dtype}: {e}"));
        assert!(shards.has("model.layers.1.self_attn.q_proj.bias"));
        assert!(!shards.has("model.layers.2.self_attn.q_proj.bias"));
        assert_eq!(
            load(&config, &shards),
            load(&config, &weights.rounded(dtype)),
            "{dtype}"
        );
        // Without the index, each tensor is found in the one shard that holds it.
        let unindexed = SafetensorsWeights::new(&borrowed(&files), None).expect("parses");
        assert_eq!(load(&config, &unindexed), load(&config, &shards), "{dtype}");
    }
}

/// A model directory as a browser's folder picker gives it: paths under the folder.
fn directory(weights: &Weights, config_json: &str, tokenizer_json: &str) -> Vec<(String, Vec<u8>)> {
    let (shards, index) = sharded(weights, Dtype::BF16);
    let mut files = vec![
        (
            "tiny/config.json".to_owned(),
            config_json.as_bytes().to_vec(),
        ),
        (
            "tiny/tokenizer.json".to_owned(),
            tokenizer_json.as_bytes().to_vec(),
        ),
        (format!("tiny/{INDEX_FILE}"), index.into_bytes()),
    ];
    files.extend(
        shards
            .into_iter()
            .map(|(name, bytes)| (format!("tiny/{name}"), bytes)),
    );
    files
}

#[test]
fn a_model_directory_loads_config_tokenizer_and_sharded_weights() {
    let bytes = std::fs::read(TOKENIZER_GGUF).expect("the tiny tokenizer GGUF");
    let gguf_tokenizer =
        Tokenizer::from_gguf(&gguf::parse(&bytes).expect("parses")).expect("a tokenizer");
    let tokenizer_json = gguf_tokenizer.to_tokenizer_json().expect("exports");
    let config_json = tiny_config("qwen2", gguf_tokenizer.vocab_size());
    let config = DecoderConfig::from_json(config_json.as_bytes()).expect("the config");
    let weights = Weights::random(&config, 14);
    let files = directory(&weights, &config_json, &tokenizer_json);

    let loaded = pollster::block_on(LoadedModel::from_hf_directory("tiny", &files, Backend::Cpu))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.file, "tiny");
    assert_eq!(
        logits(&loaded.model),
        load(&config, &weights.rounded(Dtype::BF16))
    );
    let text = "The patient reports chest pain since Monday.";
    assert_eq!(
        loaded.tokenizer.encode(text, false).expect("encodes"),
        gguf_tokenizer.encode(text, false).expect("encodes")
    );

    // Each required file, left out, is named in the error.
    for (missing, expected) in [
        ("tiny/config.json", "tiny: config.json is missing"),
        ("tiny/tokenizer.json", "tiny: tokenizer.json is missing"),
        (
            "tiny/model-00002-of-00002.safetensors",
            "is in model-00002-of-00002.safetensors, which is missing",
        ),
    ] {
        let partial: Vec<_> = files
            .iter()
            .filter(|(name, _)| name != missing)
            .cloned()
            .collect();
        let error = pollster::block_on(LoadedModel::from_hf_directory(
            "tiny",
            &partial,
            Backend::Cpu,
        ))
        .err()
        .unwrap_or_else(|| panic!("loads without {missing}"));
        assert!(matches!(error, LoadError::Directory { .. }), "{error:?}");
        assert!(error.to_string().contains(expected), "{error}");
    }
    let unweighted: Vec<_> = files
        .iter()
        .filter(|(name, _)| !name.ends_with(".safetensors"))
        .cloned()
        .collect();
    let error = pollster::block_on(LoadedModel::from_hf_directory(
        "tiny",
        &unweighted,
        Backend::Cpu,
    ))
    .err()
    .expect("no weights");
    assert_eq!(error.to_string(), "tiny: no *.safetensors weights");
}

fn parse_error(bytes: &[u8]) -> String {
    match SafetensorsWeights::new(&[("model.safetensors", bytes)], None) {
        Ok(_) => panic!("malformed bytes parsed"),
        Err(error @ SafetensorsError::File { .. }) => error.to_string(),
        Err(other) => panic!("unexpected error {other}"),
    }
}

#[test]
fn truncated_or_overlong_files_are_errors_naming_the_file() {
    let config = config("llama");
    let bytes = Weights::random(&config, 15).serialize(Dtype::F32, |_| true);
    for cut in [0, 5, 8, 20, bytes.len() - 1] {
        let error = parse_error(&bytes[..cut]);
        assert!(error.starts_with("model.safetensors: "), "{cut}: {error}");
    }
    // A header claiming more bytes than the file holds.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let mut overlong = bytes[..8].to_vec();
    overlong.extend((header_len + 1000).to_le_bytes());
    parse_error(&overlong);
    let mut claims_more = (header_len + 1).to_le_bytes().to_vec();
    claims_more.extend(&bytes[8..]);
    parse_error(&claims_more);
}

#[test]
fn an_unsupported_dtype_is_an_error_naming_tensor_file_and_dtype() {
    let ids: Vec<u8> = [1i64, 2, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::I64, vec![3], &ids).expect("a view");
    let bytes = serialize([("model.norm.weight", view)], None).expect("serializes");
    let file = SafetensorsWeights::new(&[("model.safetensors", &bytes)], None).expect("parses");
    assert!(file.has("model.norm.weight"));
    let error = file
        .tensor("model.norm.weight")
        .expect_err("I64 is refused");
    assert_eq!(
        error.to_string(),
        "weight `model.norm.weight`: model.safetensors: dtype I64 is not supported (F32, F16, BF16)"
    );
    assert!(matches!(
        file.tensor("lm_head.weight"),
        Err(WeightError::Missing { .. })
    ));
}

#[test]
fn index_and_shard_mismatches_are_errors_naming_both() {
    let config = config("llama");
    let weights = Weights::random(&config, 16);
    let (files, index) = sharded(&weights, Dtype::F32);
    let error = SafetensorsWeights::new(&borrowed(&files[..1]), Some(index.as_bytes()))
        .err()
        .expect("a shard is missing");
    assert!(
        matches!(&error, SafetensorsError::MissingShard { shard, .. }
            if shard == "model-00002-of-00002.safetensors"),
        "{error}"
    );

    // The index moves a tensor to the shard that does not hold it.
    let mut moved: serde_json::Value = serde_json::from_str(&index).expect("json");
    moved["weight_map"]["lm_head.weight"] = "model-00001-of-00002.safetensors".into();
    let error = SafetensorsWeights::new(&borrowed(&files), Some(moved.to_string().as_bytes()))
        .err()
        .expect("the tensor is elsewhere");
    assert_eq!(
        error.to_string(),
        "model.safetensors.index.json: tensor `lm_head.weight` is not in \
         model-00001-of-00002.safetensors, where the index puts it"
    );

    for broken in ["", "{}", r#"{"weight_map": [1]}"#] {
        let error = SafetensorsWeights::new(&borrowed(&files), Some(broken.as_bytes()))
            .err()
            .unwrap_or_else(|| panic!("{broken:?} is accepted"));
        assert!(
            matches!(error, SafetensorsError::Index(_)),
            "{broken:?}: {error}"
        );
    }

    // Without an index, the same tensor in two files is ambiguous.
    let twice = [
        ("a.safetensors", &files[0].1[..]),
        ("b.safetensors", &files[0].1[..]),
    ];
    let error = SafetensorsWeights::new(&twice, None)
        .err()
        .expect("a duplicate");
    assert!(
        matches!(error, SafetensorsError::Duplicate { .. }),
        "{error}"
    );
}
