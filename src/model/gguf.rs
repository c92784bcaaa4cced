//! A decoder from a GGUF file: the hyper-parameters from llama.cpp's metadata keys
//! (`{arch}.block_count`, …), the weights through `loader::weights`' name table, dequantized to
//! f32 one tensor at a time as the decoder asks for them.

use crate::loader::gguf::{Gguf, GgufError, MetadataValue};
use crate::loader::weights::gguf_name;

use super::llama::{Architecture, LlamaConfig, ModelError, WeightSource};
use super::quantized::QuantizedRows;

/// Reads the decoder's config from GGUF metadata (`general.architecture` = `llama` or `qwen2`).
/// The vocabulary size comes from `{arch}.vocab_size` or, as llama.cpp does, the length of
/// `tokenizer.ggml.tokens`; the head width from `{arch}.attention.key_length` when present.
pub fn config_from_gguf(file: &Gguf<'_>) -> Result<LlamaConfig, ModelError> {
    let meta = &file.metadata;
    let metadata = |e: GgufError| ModelError::Weight {
        name: "GGUF metadata".into(),
        message: e.to_string(),
    };
    let arch = meta.str("general.architecture").map_err(metadata)?;
    let architecture = match arch {
        "llama" => Architecture::Llama,
        "qwen2" => Architecture::Qwen2,
        other => {
            return Err(ModelError::Config {
                field: "general.architecture",
                message: format!("{other:?} is not supported (llama, qwen2)"),
            });
        }
    };
    let key = |name: &str| format!("{arch}.{name}");
    let usize_of = |name: &str| -> Result<usize, ModelError> {
        let value = meta.u64(&key(name)).map_err(metadata)?;
        usize::try_from(value).map_err(|_| ModelError::Config {
            field: "GGUF metadata",
            message: format!("{} = {value} does not fit this platform", key(name)),
        })
    };
    let optional = |name: &str| meta.get(&key(name)).is_some();
    let vocab_size = if optional("vocab_size") {
        usize_of("vocab_size")?
    } else {
        match meta.get("tokenizer.ggml.tokens") {
            Some(MetadataValue::Array(tokens)) => tokens.len(),
            _ => {
                return Err(ModelError::Config {
                    field: "vocab_size",
                    message: format!(
                        "neither {} nor tokenizer.ggml.tokens is in the file",
                        key("vocab_size")
                    ),
                });
            }
        }
    };
    // Scaled RoPE (Llama 3.1's, YaRN) changes the frequencies; refuse rather than run it wrong.
    if let Ok(scaling) = meta.str(&key("rope.scaling.type"))
        && scaling != "none"
    {
        return Err(ModelError::Config {
            field: "rope_scaling",
            message: format!(
                "{scaling:?} ({}) is not supported",
                key("rope.scaling.type")
            ),
        });
    }
    let heads = usize_of("attention.head_count")?;
    let config = LlamaConfig {
        architecture,
        vocab_size,
        hidden_size: usize_of("embedding_length")?,
        intermediate_size: usize_of("feed_forward_length")?,
        num_hidden_layers: usize_of("block_count")?,
        num_attention_heads: heads,
        num_key_value_heads: if optional("attention.head_count_kv") {
            Some(usize_of("attention.head_count_kv")?)
        } else {
            None
        },
        head_dim: if optional("attention.key_length") {
            Some(usize_of("attention.key_length")?)
        } else {
            None
        },
        rope_theta: if optional("rope.freq_base") {
            f64::from(meta.f32(&key("rope.freq_base")).map_err(metadata)?)
        } else {
            10_000.0
        },
        rope_scaling: None,
        rms_norm_eps: f64::from(
            meta.f32(&key("attention.layer_norm_rms_epsilon"))
                .map_err(metadata)?,
        ),
        max_position_embeddings: usize_of("context_length")?,
        tie_word_embeddings: file.tensor("output.weight").is_err(),
        attention_bias: file.tensor("blk.0.attn_output.bias").is_ok(),
        mlp_bias: false,
        rope_layout: architecture.gguf_rope_layout(),
    };
    config.validate()?;
    Ok(config)
}

/// A GGUF file as a [`WeightSource`]: Hugging Face names in, dequantized f32 out.
pub struct GgufWeights<'f, 'a> {
    file: &'f Gguf<'a>,
}

impl<'f, 'a> GgufWeights<'f, 'a> {
    /// Wraps a parsed file.
    pub fn new(file: &'f Gguf<'a>) -> GgufWeights<'f, 'a> {
        GgufWeights { file }
    }
}

impl WeightSource for GgufWeights<'_, '_> {
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
        let missing = || ModelError::MissingWeight {
            name: name.to_owned(),
        };
        let gguf = gguf_name(name).ok_or_else(missing)?;
        if self.file.tensor(&gguf).is_err() {
            return Err(missing());
        }
        self.file.tensor_f32(&gguf).map_err(|e| ModelError::Weight {
            name: name.to_owned(),
            message: e.to_string(),
        })
    }

    fn has(&self, name: &str) -> bool {
        gguf_name(name).is_some_and(|gguf| self.file.tensor(&gguf).is_ok())
    }

    fn quantized(&self, name: &str) -> Option<QuantizedRows> {
        let info = self.file.tensor(&gguf_name(name)?).ok()?;
        let [rows, cols] = info.row_major_shape().ok()?[..] else {
            return None;
        };
        let bytes = self.file.tensor_bytes(info).ok()?;
        QuantizedRows::from_gguf(info.dtype, rows, cols, bytes)
    }
}
