//! A decoder's config from a GGUF file: the hyper-parameters from llama.cpp's metadata keys
//! (`{arch}.block_count`, …), and Llama 3's frequency factors from its `rope_freqs.weight`
//! tensor. Every `{arch}.*` key is either read, known not to change the computation, or refused
//! by name: a key this runtime does not know might change what the model computes.

use crate::loader::gguf::{Gguf, GgufError, GgufWeights, MetadataValue};
use crate::loader::weights::TensorNaming;

use burn::tensor::Device;

use super::config::{Architecture, DecoderConfig, LayerType, RopeScaling};
use super::decoder::{Decoder, ModelError};

/// llama.cpp's tensor of Llama 3 frequency factors.
const ROPE_FREQS: &str = "rope_freqs.weight";

/// LongRoPE's factors for contexts up to the original one, and beyond it (Phi-3).
const ROPE_FACTORS_SHORT: &str = "rope_factors_short.weight";
const ROPE_FACTORS_LONG: &str = "rope_factors_long.weight";

/// The tensors the config of `architecture` reads rather than the decoder (llama.cpp reads
/// `rope_freqs` for Llama only, LongRoPE's factors for Phi-3 only; elsewhere they stay unread, and
/// so refused).
fn config_tensors(architecture: Architecture) -> &'static [&'static str] {
    match architecture {
        Architecture::Llama => &[ROPE_FREQS],
        Architecture::Phi3 => &[ROPE_FACTORS_SHORT, ROPE_FACTORS_LONG],
        _ => &[],
    }
}

/// `{arch}.*` keys this runtime reads or checks, for every architecture.
const KNOWN_KEYS: [&str; 17] = [
    "context_length",
    "embedding_length",
    "block_count",
    "feed_forward_length",
    "vocab_size",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.value_length",
    "attention.layer_norm_rms_epsilon",
    "rope.freq_base",
    "rope.dimension_count",
    "rope.scaling.type",
    "rope.scaling.factor",
    "rope.scaling.attn_factor",
    // Descriptive: the context the scaling was computed from, whether it was fine-tuned.
    "rope.scaling.original_context_length",
    "rope.scaling.finetuned",
];

/// Keys known only for Gemma.
const GEMMA_KEYS: [&str; 5] = [
    "attention.sliding_window",
    "attention.sliding_window_pattern",
    "rope.freq_base_swa",
    "attn_logit_softcapping",
    "final_logit_softcapping",
];

/// Phi-3's key that llama.cpp reads and then ignores (its sliding window is disabled there).
const PHI3_KEYS: [&str; 1] = ["attention.sliding_window"];

/// Mixture-of-experts keys: llama.cpp's converter writes them as 0 for dense models.
const EXPERT_KEYS: [&str; 2] = ["expert_count", "expert_used_count"];

/// The tensor names of an architecture's GGUF files.
fn tensor_naming(architecture: Architecture) -> TensorNaming {
    if architecture.sandwich_norms() {
        TensorNaming::Sandwich
    } else if architecture.fused_projections() {
        TensorNaming::Fused
    } else {
        TensorNaming::PreNorm
    }
}

/// Reads the decoder's config from GGUF metadata. The vocabulary size comes from
/// `{arch}.vocab_size` or, as llama.cpp does, the length of `tokenizer.ggml.tokens`; the head
/// width from `{arch}.attention.key_length` when present. Llama 3's `rope_freqs.weight` is read
/// here.
pub fn config_from_gguf(file: &Gguf<'_>) -> Result<DecoderConfig, ModelError> {
    let meta = &file.metadata;
    let metadata = |e: GgufError| ModelError::Weight {
        name: "GGUF metadata".into(),
        message: e.to_string(),
    };
    let refuse = |field: &'static str, message: String| ModelError::Config { field, message };
    let architecture = check_metadata(file)?;
    let arch = architecture.gguf_name();
    let gemma = architecture.sandwich_norms();
    let key = |name: &str| format!("{arch}.{name}");
    let usize_of = |name: &str| -> Result<usize, ModelError> {
        let value = meta.u64(&key(name)).map_err(metadata)?;
        usize::try_from(value).map_err(|_| ModelError::Config {
            field: "GGUF metadata",
            message: format!("{} = {value} does not fit this platform", key(name)),
        })
    };
    let optional = |name: &str| meta.get(&key(name)).is_some();
    let optional_usize = |name: &str| optional(name).then(|| usize_of(name)).transpose();
    let optional_f64 = |name: &str| -> Result<Option<f64>, ModelError> {
        if optional(name) {
            Ok(Some(f64::from(meta.f32(&key(name)).map_err(metadata)?)))
        } else {
            Ok(None)
        }
    };
    for name in EXPERT_KEYS {
        if optional_usize(name)?.unwrap_or(0) > 0 {
            return Err(refuse(
                "GGUF metadata",
                format!(
                    "`{}` > 0: mixture-of-experts models are not supported",
                    key(name)
                ),
            ));
        }
    }
    let vocab_size = match optional_usize("vocab_size")? {
        Some(size) => size,
        None => match meta.get("tokenizer.ggml.tokens") {
            Some(MetadataValue::Array(tokens)) => tokens.len(),
            _ => {
                return Err(refuse(
                    "vocab_size",
                    format!(
                        "neither {} nor tokenizer.ggml.tokens is in the file",
                        key("vocab_size")
                    ),
                ));
            }
        },
    };
    let heads = usize_of("attention.head_count")?;
    let hidden = usize_of("embedding_length")?;
    let layers = usize_of("block_count")?;
    let head_dim = optional_usize("attention.key_length")?;
    let head_width = head_dim.unwrap_or(hidden / heads.max(1));
    if let Some(value_length) = optional_usize("attention.value_length")?
        && value_length != head_width
    {
        return Err(refuse(
            "GGUF metadata",
            format!(
                "{} = {value_length} differs from the key width {head_width}: not supported",
                key("attention.value_length")
            ),
        ));
    }
    if let Some(rotated) = optional_usize("rope.dimension_count")?
        && rotated != head_width
    {
        return Err(refuse(
            "GGUF metadata",
            format!(
                "{} = {rotated}: partial rotary embeddings (of a head of {head_width}) are not \
                 supported",
                key("rope.dimension_count")
            ),
        ));
    }
    let attention_factor = optional_f64("rope.scaling.attn_factor")?.filter(|&f| f != 1.0);
    if attention_factor.is_some() && architecture != Architecture::Phi3 {
        return Err(refuse(
            "rope_scaling",
            format!(
                "{} is not supported for {arch}",
                key("rope.scaling.attn_factor")
            ),
        ));
    }
    // llama.cpp reads an absent type as "linear": a factor alone scales the positions.
    let linear = |factor: Option<f64>| {
        factor
            .filter(|&f| f != 0.0 && f != 1.0)
            .map(|factor| RopeScaling::Linear { factor })
    };
    let mut rope_scaling = match meta.str(&key("rope.scaling.type")) {
        Ok("none") => None,
        Ok("linear") | Err(GgufError::MissingKey { .. }) => {
            linear(optional_f64("rope.scaling.factor")?)
        }
        Ok(other) => {
            return Err(refuse(
                "rope_scaling",
                format!(
                    "{other:?} ({}) is not supported (none, linear)",
                    key("rope.scaling.type")
                ),
            ));
        }
        Err(error) => return Err(metadata(error)),
    };
    let mut context = usize_of("context_length")?;
    let factors = |name: &str| -> Result<Option<RopeScaling>, ModelError> {
        if file.tensor(name).is_err() {
            return Ok(None);
        }
        let (shape, values) = file.tensor_f32(name).map_err(|e| ModelError::Weight {
            name: name.into(),
            message: e.to_string(),
        })?;
        if shape != [head_width / 2] {
            return Err(ModelError::WeightShape {
                name: name.into(),
                expected: vec![head_width / 2],
                found: shape,
            });
        }
        Ok(Some(RopeScaling::Frequencies {
            divisors: values.into_iter().map(f64::from).collect(),
        }))
    };
    let tensor_factors = match architecture {
        Architecture::Phi3 => {
            // LongRoPE: the short factors up to the original context. llama.cpp switches to the
            // long ones when its context exceeds that; this runtime does not, so sequences stop
            // there.
            if file.tensor(ROPE_FACTORS_LONG).is_ok() {
                let original =
                    optional_usize("rope.scaling.original_context_length")?.ok_or_else(|| {
                        refuse(
                            "rope_scaling",
                            format!(
                                "{ROPE_FACTORS_LONG} without {}",
                                key("rope.scaling.original_context_length")
                            ),
                        )
                    })?;
                context = context.min(original);
            }
            factors(ROPE_FACTORS_SHORT)?
        }
        Architecture::Llama => factors(ROPE_FREQS)?,
        _ => None,
    };
    if let Some(frequencies) = tensor_factors {
        if rope_scaling.is_some() {
            return Err(refuse(
                "rope_scaling",
                "frequency factors together with a linear scaling are not supported".into(),
            ));
        }
        rope_scaling = Some(frequencies);
    }
    let (mut sliding_window, mut layer_types, mut local_base) = (None, None, None);
    let (mut attn_softcap, mut final_softcap, mut query_scalar) = (None, None, None);
    let mut pattern = None;
    if gemma {
        sliding_window = optional_usize("attention.sliding_window")?.filter(|&w| w > 0);
        match meta.get(&key("attention.sliding_window_pattern")) {
            // Per layer: true where the layer slides.
            Some(MetadataValue::Array(flags)) => {
                let types = flags
                    .iter()
                    .map(|flag| match flag {
                        MetadataValue::Bool(true) => Ok(LayerType::SlidingAttention),
                        MetadataValue::Bool(false) => Ok(LayerType::FullAttention),
                        other => Err(refuse(
                            "GGUF metadata",
                            format!(
                                "{} holds a {}, not a bool",
                                key("attention.sliding_window_pattern"),
                                other.type_name()
                            ),
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                layer_types = Some(types);
            }
            Some(_) => pattern = optional_usize("attention.sliding_window_pattern")?,
            None => {}
        }
        final_softcap = optional_f64("final_logit_softcapping")?.filter(|&c| c > 0.0);
        attn_softcap = optional_f64("attn_logit_softcapping")?.filter(|&c| c > 0.0);
        let swa_base = optional_f64("rope.freq_base_swa")?;
        let base = optional_f64("rope.freq_base")?.unwrap_or(10_000.0);
        if architecture == Architecture::Gemma2 {
            // llama.cpp's Gemma 2 always slides and soft-caps, with these defaults; a cap of 0
            // would divide by zero there, and its head is always the embedding.
            for cap in ["attn_logit_softcapping", "final_logit_softcapping"] {
                if optional_f64(cap)? == Some(0.0) {
                    return Err(refuse(cap, format!("{} is 0", key(cap))));
                }
            }
            if file.tensor("output.weight").is_ok() {
                return Err(refuse(
                    "GGUF tensors",
                    "output.weight: llama.cpp's gemma2 always uses token_embd as its head and \
                     refuses it"
                        .into(),
                ));
            }
            sliding_window = sliding_window.or(Some(4096));
            attn_softcap = attn_softcap.or(Some(50.0));
            final_softcap = final_softcap.or(Some(30.0));
            if swa_base.is_some_and(|b| b != base) {
                return Err(refuse(
                    "GGUF metadata",
                    format!(
                        "{} differing from the global base is not supported for gemma2",
                        key("rope.freq_base_swa")
                    ),
                ));
            }
        } else {
            // llama.cpp's base for the sliding-window layers when the file does not say.
            local_base = Some(swa_base.unwrap_or(10_000.0));
        }
        // llama.cpp scales queries by 1/sqrt(head_dim), except for the 27B models (46 layers of
        // Gemma 2, 62 of Gemma 3), whose query_pre_attn_scalar is hidden / heads.
        let is_27b = matches!(
            (architecture, layers),
            (Architecture::Gemma2, 46) | (Architecture::Gemma3, 62)
        );
        query_scalar = Some(if is_27b {
            (hidden / heads.max(1)) as f64
        } else {
            head_width as f64
        });
    }
    let config = DecoderConfig {
        architecture,
        vocab_size,
        hidden_size: hidden,
        intermediate_size: usize_of("feed_forward_length")?,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        num_key_value_heads: optional_usize("attention.head_count_kv")?,
        head_dim,
        rope_theta: optional_f64("rope.freq_base")?.unwrap_or(10_000.0),
        rope_scaling,
        rope_local_base_freq: local_base,
        rope_attention_factor: attention_factor,
        rms_norm_eps: f64::from(
            meta.f32(&key("attention.layer_norm_rms_epsilon"))
                .map_err(metadata)?,
        ),
        max_position_embeddings: context,
        tie_word_embeddings: file.tensor("output.weight").is_err(),
        attention_bias: file.tensor("blk.0.attn_output.bias").is_ok(),
        mlp_bias: false,
        query_pre_attn_scalar: query_scalar,
        sliding_window,
        use_sliding_window: false,
        sliding_window_pattern: pattern,
        layer_types,
        attn_logit_softcapping: attn_softcap,
        final_logit_softcapping: final_softcap,
        hidden_act: None,
        hidden_activation: None,
        partial_rotary_factor: None,
        rope_layout: architecture.gguf_rope_layout(),
        norm_weight_offset: 0.0,
    };
    config.validate()?;
    Ok(config)
}

/// The file's architecture, once its metadata is known to hold nothing this runtime would have
/// to ignore: an architecture it computes, one file (not a split), and under `{arch}.` only keys
/// it reads or knows not to change the computation. Needs the header alone.
pub(super) fn check_metadata(file: &Gguf<'_>) -> Result<Architecture, ModelError> {
    let meta = &file.metadata;
    let refuse = |field: &'static str, message: String| ModelError::Config { field, message };
    let arch = meta
        .str("general.architecture")
        .map_err(|e| ModelError::Weight {
            name: "GGUF metadata".into(),
            message: e.to_string(),
        })?;
    let architecture = Architecture::from_gguf_name(arch).ok_or_else(|| {
        refuse(
            "general.architecture",
            format!("{arch:?} is not supported (llama, qwen2, qwen3, gemma2, gemma3, phi3)"),
        )
    })?;
    if let Ok(count) = meta.u64("split.count")
        && count > 1
    {
        return Err(refuse(
            "split.count",
            format!("the model is split over {count} files; merge them with llama-gguf-split"),
        ));
    }
    let prefix = format!("{arch}.");
    for name in meta.keys().filter_map(|k| k.strip_prefix(&prefix)) {
        let known = KNOWN_KEYS.contains(&name)
            || (architecture.sandwich_norms() && GEMMA_KEYS.contains(&name))
            || (architecture == Architecture::Phi3 && PHI3_KEYS.contains(&name))
            || EXPERT_KEYS.contains(&name);
        if !known {
            return Err(refuse(
                "GGUF metadata",
                format!(
                    "`{arch}.{name}` is not implemented by this runtime and may change what \
                     the model computes"
                ),
            ));
        }
    }
    Ok(architecture)
}

/// The decoder of a parsed GGUF file on `device`: its config, its weights, and a refusal naming
/// the first tensor of the file the decoder did not read (an unknown tensor might change what the
/// model computes).
pub fn decoder_from_gguf(file: &Gguf<'_>, device: &Device) -> Result<Decoder, ModelError> {
    let config = config_from_gguf(file)?;
    let weights = GgufWeights::new(file, tensor_naming(config.architecture));
    for &name in config_tensors(config.architecture) {
        if file.tensor(name).is_ok() {
            weights.mark_read(name);
        }
    }
    let decoder = Decoder::load(&config, &weights, device)?;
    if let Some(&name) = weights.unread().first() {
        return Err(ModelError::Config {
            field: "GGUF tensors",
            message: format!(
                "`{name}` is not used by the {} decoder of this runtime; refusing a model it \
                 would compute without",
                config.architecture.gguf_name()
            ),
        });
    }
    Ok(decoder)
}
