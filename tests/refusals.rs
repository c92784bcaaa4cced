//! Nothing silently wrong: every GGUF metadata key or tensor that would change what a model
//! computes, and that the runtime does not implement, is an error naming it. Each test takes a
//! tiny valid file (written here with `loader::gguf::write`), changes one thing, and checks the
//! error; the unchanged file loads, so each refusal is the change's doing.

use burn::tensor::Device;
use clue_wasm::loader::dequant::{GgmlType, sample_blocks};
use clue_wasm::loader::gguf::{self, MetadataValue, TensorToWrite};
use clue_wasm::model::{Decoder, DecoderConfig, RopeScaling, config_from_gguf, decoder_from_gguf};

/// A tiny model's metadata and tensors, editable before writing.
struct Model {
    metadata: Vec<(String, MetadataValue)>,
    tensors: Vec<(String, Vec<u64>, GgmlType, Vec<u8>)>,
}

const HIDDEN: u64 = 64;
const HEAD_DIM: u64 = 16;
const VOCAB: u64 = 32;

impl Model {
    /// One block of `arch` (llama, qwen2, qwen3, gemma2, gemma3 or phi3), F32 weights.
    fn new(arch: &str) -> Model {
        let key = |name: &str| format!("{arch}.{name}");
        let mut metadata = vec![
            (
                "general.architecture".to_owned(),
                MetadataValue::String(arch.into()),
            ),
            (key("context_length"), MetadataValue::U32(128)),
            (key("embedding_length"), MetadataValue::U32(HIDDEN as u32)),
            (key("block_count"), MetadataValue::U32(1)),
            (key("feed_forward_length"), MetadataValue::U32(96)),
            (key("attention.head_count"), MetadataValue::U32(4)),
            (key("attention.head_count_kv"), MetadataValue::U32(2)),
            (
                key("attention.layer_norm_rms_epsilon"),
                MetadataValue::F32(1e-5),
            ),
            (key("rope.freq_base"), MetadataValue::F32(10_000.0)),
            (key("vocab_size"), MetadataValue::U32(VOCAB as u32)),
        ];
        if arch.starts_with("gemma") {
            metadata.push((key("attention.sliding_window"), MetadataValue::U32(8)));
        }
        let mut model = Model {
            metadata,
            tensors: Vec::new(),
        };
        let gemma = arch.starts_with("gemma");
        model.add("token_embd.weight", &[HIDDEN, VOCAB]);
        model.add("output_norm.weight", &[HIDDEN]);
        let kv = 2 * HEAD_DIM;
        let mut block = vec![
            ("attn_norm.weight", vec![HIDDEN]),
            ("attn_output.weight", vec![HIDDEN, HIDDEN]),
            ("ffn_norm.weight", vec![HIDDEN]),
            ("ffn_down.weight", vec![96, HIDDEN]),
        ];
        if arch == "phi3" {
            block.push(("attn_qkv.weight", vec![HIDDEN, HIDDEN + 2 * kv]));
            block.push(("ffn_up.weight", vec![HIDDEN, 2 * 96]));
        } else {
            block.push(("attn_q.weight", vec![HIDDEN, HIDDEN]));
            block.push(("attn_k.weight", vec![HIDDEN, kv]));
            block.push(("attn_v.weight", vec![HIDDEN, kv]));
            block.push(("ffn_gate.weight", vec![HIDDEN, 96]));
            block.push(("ffn_up.weight", vec![HIDDEN, 96]));
        }
        if gemma {
            block.push(("post_attention_norm.weight", vec![HIDDEN]));
            block.push(("post_ffw_norm.weight", vec![HIDDEN]));
        }
        if arch == "qwen2" {
            block.push(("attn_q.bias", vec![HIDDEN]));
            block.push(("attn_k.bias", vec![kv]));
            block.push(("attn_v.bias", vec![kv]));
        }
        if arch == "qwen3" || arch == "gemma3" {
            block.push(("attn_q_norm.weight", vec![HEAD_DIM]));
            block.push(("attn_k_norm.weight", vec![HEAD_DIM]));
        }
        for (name, shape) in block {
            model.add(&format!("blk.0.{name}"), &shape);
        }
        model
    }

    /// Adds an F32 tensor of small values.
    fn add(&mut self, name: &str, shape: &[u64]) {
        let count: u64 = shape.iter().product();
        let bytes = sample_blocks(GgmlType::F32, count as usize, name.len() as u32);
        self.tensors
            .push((name.to_owned(), shape.to_vec(), GgmlType::F32, bytes));
    }

    fn set(&mut self, key: &str, value: MetadataValue) -> &mut Model {
        self.metadata.retain(|(k, _)| k != key);
        self.metadata.push((key.to_owned(), value));
        self
    }

    /// Stores tensor `name` as `dtype` (random blocks of the right size).
    fn retype(&mut self, name: &str, dtype: GgmlType) {
        let tensor = self
            .tensors
            .iter_mut()
            .find(|(n, ..)| n == name)
            .expect("a tensor of the model");
        let count: u64 = tensor.1.iter().product();
        tensor.2 = dtype;
        tensor.3 = sample_blocks(dtype, (count / dtype.block_values()) as usize, 3);
    }

    fn bytes(&self) -> Vec<u8> {
        let tensors: Vec<TensorToWrite<'_>> = self
            .tensors
            .iter()
            .map(|(name, shape, dtype, bytes)| TensorToWrite {
                name: name.clone(),
                shape: shape.clone(),
                dtype: *dtype,
                bytes,
            })
            .collect();
        gguf::write(&self.metadata, &tensors)
    }

    /// Loads the model on the CPU: the decoder or the error's text.
    fn load(&self) -> Result<Decoder, String> {
        let bytes = self.bytes();
        let file = gguf::parse(&bytes).map_err(|e| e.to_string())?;
        decoder_from_gguf(&file, &Device::flex()).map_err(|e| e.to_string())
    }

    fn config(&self) -> DecoderConfig {
        let bytes = self.bytes();
        config_from_gguf(&gguf::parse(&bytes).unwrap()).expect("a valid config")
    }

    /// Asserts that loading fails with an error containing every one of `names`.
    fn refused(&self, names: &[&str]) {
        match self.load() {
            Ok(_) => panic!("loaded, but {names:?} should have been refused"),
            Err(error) => {
                for name in names {
                    assert!(error.contains(name), "{error:?} does not name {name:?}");
                }
            }
        }
    }
}

#[test]
fn the_unchanged_models_load() {
    for arch in ["llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"] {
        let model = Model::new(arch);
        if let Err(error) = model.load() {
            panic!("{arch}: {error}");
        }
    }
}

#[test]
fn an_unknown_tensor_is_refused_by_name() {
    let mut model = Model::new("llama");
    model.add("blk.0.attn_rot_embd.weight", &[HEAD_DIM]);
    model.refused(&["blk.0.attn_rot_embd.weight"]);
    // A tensor the architecture does not have: Qwen3's q bias.
    let mut qwen3 = Model::new("qwen3");
    qwen3.add("blk.0.attn_q.bias", &[HIDDEN]);
    qwen3.refused(&["blk.0.attn_q.bias", "qwen3"]);
    // An output bias.
    let mut llama = Model::new("llama");
    llama.add("output.bias", &[VOCAB]);
    llama.refused(&["output.bias"]);
}

#[test]
fn rope_scaling_types_other_than_linear_are_refused() {
    for kind in ["yarn", "longrope", "dynamic"] {
        let mut model = Model::new("llama");
        model.set(
            "llama.rope.scaling.type",
            MetadataValue::String(kind.into()),
        );
        model.refused(&[kind, "llama.rope.scaling.type"]);
    }
    let mut attn = Model::new("qwen2");
    attn.set("qwen2.rope.scaling.attn_factor", MetadataValue::F32(1.2));
    attn.refused(&["qwen2.rope.scaling.attn_factor"]);
}

#[test]
fn linear_scaling_is_read_with_or_without_its_type() {
    let mut typed = Model::new("llama");
    typed
        .set(
            "llama.rope.scaling.type",
            MetadataValue::String("linear".into()),
        )
        .set("llama.rope.scaling.factor", MetadataValue::F32(4.0));
    assert_eq!(
        typed.config().rope_scaling,
        Some(RopeScaling::Linear { factor: 4.0 })
    );
    // llama.cpp reads an absent type as linear.
    let mut untyped = Model::new("llama");
    untyped.set("llama.rope.scaling.factor", MetadataValue::F32(2.0));
    assert_eq!(
        untyped.config().rope_scaling,
        Some(RopeScaling::Linear { factor: 2.0 })
    );
    let mut none = Model::new("llama");
    none.set(
        "llama.rope.scaling.type",
        MetadataValue::String("none".into()),
    )
    .set("llama.rope.scaling.factor", MetadataValue::F32(2.0));
    assert_eq!(none.config().rope_scaling, None);
}

#[test]
fn soft_capping_and_windows_outside_gemma_are_refused() {
    for key in [
        "llama.attn_logit_softcapping",
        "llama.final_logit_softcapping",
        "llama.attention.sliding_window",
        "llama.rope.freq_base_swa",
    ] {
        let mut model = Model::new("llama");
        model.set(key, MetadataValue::F32(30.0));
        model.refused(&[key]);
    }
}

#[test]
fn gemma_variants_the_runtime_lacks_are_refused() {
    let mut gemma3 = Model::new("gemma3");
    gemma3.set("gemma3.attn_logit_softcapping", MetadataValue::F32(50.0));
    gemma3.refused(&["attn_logit_softcapping"]);
    let mut gemma2 = Model::new("gemma2");
    gemma2.set("gemma2.rope.freq_base_swa", MetadataValue::F32(500.0));
    gemma2.refused(&["gemma2.rope.freq_base_swa"]);
}

#[test]
fn gemma_defaults_follow_llama_cpp() {
    let gemma2 = Model::new("gemma2").config();
    assert_eq!(gemma2.attn_logit_softcapping, Some(50.0));
    assert_eq!(gemma2.final_logit_softcapping, Some(30.0));
    let mut no_window = Model::new("gemma3");
    no_window
        .metadata
        .retain(|(k, _)| k != "gemma3.attention.sliding_window");
    let config = no_window.config();
    assert_eq!(config.sliding_window, None);
    assert!(no_window.load().is_ok());
    let mut flags = Model::new("gemma3");
    flags.set(
        "gemma3.attention.sliding_window_pattern",
        MetadataValue::Array(vec![MetadataValue::Bool(false)]),
    );
    assert_eq!(
        flags.config().layer_types,
        Some(vec![clue_wasm::model::LayerType::FullAttention])
    );
}

#[test]
fn partial_rotary_experts_and_split_files_are_refused() {
    let mut partial = Model::new("llama");
    partial.set("llama.rope.dimension_count", MetadataValue::U32(8));
    partial.refused(&["llama.rope.dimension_count", "partial rotary"]);
    let mut experts = Model::new("llama");
    experts.set("llama.expert_count", MetadataValue::U32(8));
    experts.refused(&["llama.expert_count", "mixture-of-experts"]);
    let mut split = Model::new("llama");
    split.set("split.count", MetadataValue::U16(3));
    split.refused(&["split.count", "3 files"]);
    let mut value_width = Model::new("qwen3");
    value_width.set("qwen3.attention.value_length", MetadataValue::U32(8));
    value_width.refused(&["qwen3.attention.value_length"]);
    let mut per_layer = Model::new("llama");
    per_layer.set(
        "llama.attention.head_count_kv",
        MetadataValue::Array(vec![MetadataValue::U32(2)]),
    );
    per_layer.refused(&["llama.attention.head_count_kv"]);
    let mut unknown = Model::new("llama");
    unknown.set("llama.attention.causal", MetadataValue::Bool(false));
    unknown.refused(&["llama.attention.causal"]);
}

#[test]
fn unknown_architectures_are_refused_by_name() {
    let mut model = Model::new("llama");
    model.set(
        "general.architecture",
        MetadataValue::String("mamba".into()),
    );
    model.refused(&["general.architecture", "mamba"]);
}

#[test]
fn quantization_types_without_a_reader_are_refused_by_name() {
    for dtype in [
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::IQ4_XS,
        GgmlType::IQ2_XXS,
    ] {
        // 256 columns: whole blocks of every type.
        let mut model = Model::new("llama");
        let down = model
            .tensors
            .iter_mut()
            .find(|(n, ..)| n == "blk.0.ffn_down.weight")
            .unwrap();
        down.1 = vec![256, HIDDEN];
        model.set("llama.feed_forward_length", MetadataValue::U32(256));
        for name in ["blk.0.ffn_gate.weight", "blk.0.ffn_up.weight"] {
            let t = model.tensors.iter_mut().find(|(n, ..)| n == name).unwrap();
            t.1 = vec![HIDDEN, 256];
            t.3 = sample_blocks(GgmlType::F32, (HIDDEN * 256) as usize, 1);
        }
        model.retype("blk.0.ffn_down.weight", dtype);
        model.refused(&[&dtype.to_string(), "mlp.down_proj.weight"]);
    }
}

#[test]
fn llama3_frequency_factors_are_computed_not_ignored() {
    let mut model = Model::new("llama");
    let factors: Vec<f32> = (0..HEAD_DIM / 2).map(|i| 1.0 + i as f32).collect();
    let bytes: Vec<u8> = factors.iter().flat_map(|f| f.to_le_bytes()).collect();
    model.tensors.push((
        "rope_freqs.weight".into(),
        vec![HEAD_DIM / 2],
        GgmlType::F32,
        bytes,
    ));
    let config = model.config();
    assert_eq!(
        config.rope_scaling,
        Some(RopeScaling::Frequencies {
            divisors: factors.iter().map(|&f| f64::from(f)).collect()
        })
    );
    assert!(model.load().is_ok(), "rope_freqs counts as read");
    // The wrong length is an error naming the tensor.
    let mut short = Model::new("llama");
    short.tensors.push((
        "rope_freqs.weight".into(),
        vec![3],
        GgmlType::F32,
        vec![0; 12],
    ));
    short.refused(&["rope_freqs.weight"]);
    // With a linear scaling as well: refused rather than guessed.
    model.set("llama.rope.scaling.factor", MetadataValue::F32(2.0));
    model.refused(&["frequency factors"]);
}

#[test]
fn phi3_long_factors_stop_sequences_at_the_original_context() {
    let mut model = Model::new("phi3");
    for name in ["rope_factors_short.weight", "rope_factors_long.weight"] {
        let ones: Vec<u8> = (0..HEAD_DIM / 2)
            .flat_map(|_| 1.0f32.to_le_bytes())
            .collect();
        model
            .tensors
            .push((name.into(), vec![HEAD_DIM / 2], GgmlType::F32, ones));
    }
    model.set(
        "phi3.rope.scaling.original_context_length",
        MetadataValue::U32(64),
    );
    model.set("phi3.rope.scaling.attn_factor", MetadataValue::F32(1.25));
    let config = model.config();
    assert_eq!(config.max_position_embeddings, 64);
    assert_eq!(config.rope_attention_factor, Some(1.25));
    assert!(model.load().is_ok());
}

#[test]
fn absurd_sizes_are_refused_before_anything_is_allocated() {
    // 65,536 heads of 65,536: each size is plausible, the matrices they imply are not. A file of
    // a few kilobytes must not make the loader allocate for them.
    let mut model = Model::new("llama");
    model
        .set("llama.attention.head_count", MetadataValue::U32(65_536))
        .set("llama.attention.head_count_kv", MetadataValue::U32(65_536))
        .set("llama.attention.key_length", MetadataValue::U32(65_536))
        .set("llama.attention.value_length", MetadataValue::U32(65_536))
        .set("llama.rope.dimension_count", MetadataValue::U32(65_536));
    model.refused(&["num_attention_heads"]);
}

#[test]
fn factor_tensors_of_another_architecture_are_refused() {
    let factors = |n: u64| -> Vec<u8> { (0..n).flat_map(|_| 1.0f32.to_le_bytes()).collect() };
    // llama.cpp reads rope_freqs for Llama only and LongRoPE's factors for Phi-3 only.
    for (arch, name) in [
        ("qwen2", "rope_freqs.weight"),
        ("gemma3", "rope_freqs.weight"),
        ("phi3", "rope_freqs.weight"),
        ("llama", "rope_factors_short.weight"),
        ("llama", "rope_factors_long.weight"),
    ] {
        let mut model = Model::new(arch);
        model.tensors.push((
            name.into(),
            vec![HEAD_DIM / 2],
            GgmlType::F32,
            factors(HEAD_DIM / 2),
        ));
        model.refused(&[name]);
    }
    // Long factors without the context they start at.
    let mut phi3 = Model::new("phi3");
    phi3.tensors.push((
        "rope_factors_long.weight".into(),
        vec![HEAD_DIM / 2],
        GgmlType::F32,
        factors(HEAD_DIM / 2),
    ));
    phi3.refused(&["rope_factors_long.weight", "original_context_length"]);
}

#[test]
fn gemma2_files_llama_cpp_would_refuse_are_refused() {
    let mut head = Model::new("gemma2");
    head.add("output.weight", &[HIDDEN, VOCAB]);
    head.refused(&["output.weight"]);
    let mut zero = Model::new("gemma2");
    zero.set("gemma2.final_logit_softcapping", MetadataValue::F32(0.0));
    zero.refused(&["gemma2.final_logit_softcapping"]);
    // A sliding-window pattern is read, not ignored: 3 makes layer 0 of 1 slide, as 2 does.
    let mut pattern = Model::new("gemma2");
    pattern.set(
        "gemma2.attention.sliding_window_pattern",
        MetadataValue::U32(3),
    );
    assert_eq!(pattern.config().sliding_window_pattern, Some(3));
}

#[test]
fn the_header_alone_tells_what_a_model_needs_or_why_it_cannot_load() {
    use clue_wasm::model::ModelNeeds;
    let needs = |model: &Model| -> Result<ModelNeeds, String> {
        let bytes = model.bytes();
        let data_offset = gguf::parse(&bytes).unwrap().data_offset as usize;
        // Only the header: what a page's range request brings.
        let header = gguf::parse_header(&bytes[..data_offset], bytes.len() as u64)
            .map_err(|e| e.to_string())?;
        ModelNeeds::of(&header).map_err(|e| e.to_string())
    };
    let model = Model::new("qwen3");
    let read = needs(&model).expect("a valid header");
    let stored: usize = model.tensors.iter().map(|t| t.3.len()).sum();
    assert_eq!(read.tensor_bytes, stored as u64);
    assert_eq!(
        read.gpu_weight_bytes, stored as u64,
        "F32 rows of whole blocks stay as stored"
    );
    assert_eq!(read.cpu_weight_bytes, 4 * read.parameters);
    assert_eq!(
        read.kv_bytes_per_position,
        2 * 2 * 16 * 4,
        "1 layer, 2 kv heads of 16"
    );
    // What the load would refuse, refused before the download.
    let mut q2 = Model::new("llama");
    let down = q2
        .tensors
        .iter_mut()
        .find(|(n, ..)| n == "blk.0.ffn_down.weight")
        .unwrap();
    down.1 = vec![256, HIDDEN];
    down.2 = GgmlType::Q2_K;
    down.3 = sample_blocks(GgmlType::Q2_K, HIDDEN as usize, 1);
    let error = needs(&q2).unwrap_err();
    assert!(
        error.contains("blk.0.ffn_down.weight") && error.contains("Q2_K"),
        "{error}"
    );
    let mut mamba = Model::new("llama");
    mamba.set(
        "general.architecture",
        MetadataValue::String("mamba".into()),
    );
    assert!(needs(&mamba).unwrap_err().contains("mamba"));
    let mut key = Model::new("llama");
    key.set("llama.attention.causal", MetadataValue::Bool(false));
    assert!(needs(&key).unwrap_err().contains("llama.attention.causal"));
}
