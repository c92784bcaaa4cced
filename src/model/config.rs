//! The decoder's hyper-parameters, field for field as in Hugging Face's `config.json` (Llama,
//! Qwen2, Qwen3, Gemma 2, Gemma 3, Phi-3 without LongRoPE or a sliding window), and what they
//! imply per layer: which layers attend through
//! a sliding window, with which rotary frequencies. Anything a config asks for that the decoder
//! does not compute (another RoPE scaling, partial rotary dimensions, a sliding window outside
//! Gemma) is an error naming the field, never ignored.

use serde::{Deserialize, Serialize};

use super::decoder::ModelError;

/// The decoder families this runtime computes; `config.json`'s `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Llama 1–3, SmolLM and other Llama-style dense decoders.
    #[default]
    Llama,
    /// Qwen2 / Qwen2.5: Llama with biases on the query, key and value projections.
    Qwen2,
    /// Qwen3: Llama with RMSNorm on each query and key head (QK-norm), no biases.
    Qwen3,
    /// Gemma 2: norms around attention and MLP, GeGLU, scaled embeddings, soft-capped
    /// attention scores and logits, a sliding window on every other layer.
    Gemma2,
    /// Gemma 3 (the text model, `gemma3_text`): Gemma 2's block with QK-norm instead of
    /// soft-capping, five sliding-window layers to one global, each kind with its RoPE base.
    #[serde(alias = "gemma3_text")]
    Gemma3,
    /// Phi-3: Llama with fused q/k/v and gate/up projections, NeoX RoPE with LongRoPE's
    /// per-frequency factors.
    Phi3,
}

impl Architecture {
    /// The name llama.cpp gives the architecture (`general.architecture`).
    pub fn gguf_name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
            Architecture::Qwen3 => "qwen3",
            Architecture::Gemma2 => "gemma2",
            Architecture::Gemma3 => "gemma3",
            Architecture::Phi3 => "phi3",
        }
    }

    /// The architecture llama.cpp calls `name`.
    pub fn from_gguf_name(name: &str) -> Option<Architecture> {
        [
            Architecture::Llama,
            Architecture::Qwen2,
            Architecture::Qwen3,
            Architecture::Gemma2,
            Architecture::Gemma3,
            Architecture::Phi3,
        ]
        .into_iter()
        .find(|a| a.gguf_name() == name)
    }

    /// The rotary layout of this architecture's GGUF files. llama.cpp's converter permutes the
    /// rows of Llama's `q_proj`/`k_proj` so that its "normal" RoPE, which rotates adjacent pairs,
    /// reproduces Hugging Face's rotate-half; the others are converted unpermuted and run with
    /// NeoX RoPE, which rotates halves.
    pub fn gguf_rope_layout(self) -> RopeLayout {
        match self {
            Architecture::Llama => RopeLayout::Interleaved,
            _ => RopeLayout::Halves,
        }
    }

    /// Gemma's block: a norm after attention and after the MLP as well as before each.
    pub fn sandwich_norms(self) -> bool {
        matches!(self, Architecture::Gemma2 | Architecture::Gemma3)
    }

    /// RMSNorm on every query and key head before RoPE.
    pub fn qk_norm(self) -> bool {
        matches!(self, Architecture::Qwen3 | Architecture::Gemma3)
    }

    /// q/k/v, and gate/up, stored as one matrix each (`qkv_proj`, `gate_up_proj`).
    pub fn fused_projections(self) -> bool {
        self == Architecture::Phi3
    }
}

/// Which coordinates of a head the rotary embedding rotates together, a property of how the
/// checkpoint stores `q_proj` and `k_proj`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RopeLayout {
    /// Pairs `(x0, x1), (x2, x3), …` (llama.cpp's "normal" RoPE; Llama GGUF files, whose q/k
    /// rows the converter permuted).
    Interleaved,
    /// Pairs `(x_i, x_{i+d/2})`, Hugging Face's `rotate_half` (every HF checkpoint; NeoX RoPE).
    #[default]
    Halves,
}

/// How the rotary frequencies are scaled for contexts beyond the pretraining length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rope_type", rename_all = "lowercase")]
pub enum RopeScaling {
    /// Positions divided by `factor` (Hugging Face's `linear`; llama.cpp's `freq_scale`).
    Linear {
        /// The divisor.
        factor: f64,
    },
    /// Llama 3.1's frequency-dependent scaling: wavelengths above
    /// `original_max_position_embeddings / low_freq_factor` are divided by `factor`, those
    /// below `… / high_freq_factor` kept, and the band between interpolated.
    Llama3 {
        /// The divisor of the low frequencies.
        factor: f64,
        /// Sets the longest wavelength kept unscaled… from below.
        low_freq_factor: f64,
        /// …and the shortest scaled fully, from above.
        high_freq_factor: f64,
        /// The pretraining context.
        original_max_position_embeddings: f64,
    },
    /// One divisor per rotary frequency, as llama.cpp's converter stores Llama 3's scaling
    /// (the `rope_freqs.weight` tensor): angle `i` at position `p` is `p·θ^(-2i/d) / f_i`.
    Frequencies {
        /// `head_dim / 2` divisors.
        divisors: Vec<f64>,
    },
}

impl RopeScaling {
    /// Reads `config.json`'s `rope_scaling` (`rope_type`, or the older `type`); `null` is none.
    fn from_json(value: &serde_json::Value) -> Result<Option<RopeScaling>, ModelError> {
        if value.is_null() {
            return Ok(None);
        }
        let invalid = |message: String| ModelError::Config {
            field: "rope_scaling",
            message,
        };
        let kind = value
            .get("rope_type")
            .or_else(|| value.get("type"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| invalid("has no `rope_type`".into()))?;
        let number = |key: &str| {
            value
                .get(key)
                .and_then(|v| v.as_f64())
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| invalid(format!("{kind:?} needs a positive `{key}`")))
        };
        match kind {
            "default" => Ok(None),
            "linear" => Ok(Some(RopeScaling::Linear {
                factor: number("factor")?,
            })),
            "llama3" => {
                let scaling = RopeScaling::Llama3 {
                    factor: number("factor")?,
                    low_freq_factor: number("low_freq_factor")?,
                    high_freq_factor: number("high_freq_factor")?,
                    original_max_position_embeddings: number("original_max_position_embeddings")?,
                };
                if let RopeScaling::Llama3 {
                    low_freq_factor,
                    high_freq_factor,
                    ..
                } = scaling
                    && low_freq_factor >= high_freq_factor
                {
                    return Err(invalid(
                        "\"llama3\" needs low_freq_factor < high_freq_factor".into(),
                    ));
                }
                Ok(Some(scaling))
            }
            other => Err(invalid(format!(
                "type {other:?} is not supported (linear, llama3)"
            ))),
        }
    }

    /// The divisor of rotary frequency `i` of `half` (`inverse_frequency = θ^(-i/half)`), as
    /// transformers' `_compute_llama3_parameters` and llama.cpp's converter compute it.
    pub fn divisor(&self, i: usize, inverse_frequency: f64) -> f64 {
        match *self {
            RopeScaling::Linear { factor } => factor,
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings: original,
            } => {
                let wavelength = 2.0 * std::f64::consts::PI / inverse_frequency;
                let low_freq_wavelength = original / low_freq_factor;
                let high_freq_wavelength = original / high_freq_factor;
                if wavelength < high_freq_wavelength {
                    1.0
                } else if wavelength > low_freq_wavelength {
                    factor
                } else {
                    let smooth = (original / wavelength - low_freq_factor)
                        / (high_freq_factor - low_freq_factor);
                    1.0 / ((1.0 - smooth) / factor + smooth)
                }
            }
            RopeScaling::Frequencies { ref divisors } => divisors[i],
        }
    }
}

/// What a layer's attention sees: every earlier position, or the last `window` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerType {
    /// Every earlier position.
    FullAttention,
    /// Positions less than `sliding_window` before the query.
    SlidingAttention,
}

/// The decoder's hyper-parameters, field for field as in Hugging Face's `config.json`
/// (`LlamaConfig`, `Qwen2Config`, `Qwen3Config`, `Gemma2Config`, `Gemma3TextConfig`), plus
/// what the GGUF loader knows about how its file stores the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecoderConfig {
    /// Which decoder family (`model_type`).
    #[serde(rename = "model_type", default)]
    pub architecture: Architecture,
    /// Number of token ids.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP's gate and up projections.
    pub intermediate_size: usize,
    /// Number of decoder blocks.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention); defaults to the query heads.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Width of one head; defaults to `hidden_size / num_attention_heads`.
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// Base of the rotary frequencies (of the global layers, for Gemma 3).
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// Rotary frequency scaling (of the global layers, for Gemma 3).
    #[serde(default, deserialize_with = "rope_scaling_from_json")]
    pub rope_scaling: Option<RopeScaling>,
    /// Gemma 3: base of the rotary frequencies of the sliding-window layers (unscaled).
    #[serde(default)]
    pub rope_local_base_freq: Option<f64>,
    /// Multiplies every rotary cosine and sine, so attention scores by its square (LongRoPE's
    /// and YaRN's `attention_factor`; llama.cpp's `rope.scaling.attn_factor`). Not in
    /// `config.json`: the GGUF loader sets it for Phi-3.
    #[serde(default)]
    pub rope_attention_factor: Option<f64>,
    /// The epsilon inside RMSNorm's square root.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// The context length the model was trained for. The rotary angles are computed for the
    /// positions a sequence actually reaches, so this only bounds sequences.
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Whether the output head reuses the token embedding.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Llama: biases on the q, k, v and o projections. Qwen2 always has q, k, v biases.
    #[serde(default)]
    pub attention_bias: bool,
    /// Llama: biases in the MLP; not supported, so it must be false.
    #[serde(default)]
    pub mlp_bias: bool,
    /// Gemma: queries are scaled by `1/sqrt(query_pre_attn_scalar)` instead of
    /// `1/sqrt(head_dim)`.
    #[serde(default)]
    pub query_pre_attn_scalar: Option<f64>,
    /// Positions a sliding-window layer attends to (Gemma); Qwen2's is used only with
    /// `use_sliding_window`, which is not supported.
    #[serde(default)]
    pub sliding_window: Option<usize>,
    /// Qwen2: whether `sliding_window` applies; not supported, so it must be false.
    #[serde(default)]
    pub use_sliding_window: bool,
    /// Gemma 3: every `sliding_window_pattern`-th layer is global, the others slide
    /// (default 6); `layer_types` overrides it.
    #[serde(default)]
    pub sliding_window_pattern: Option<usize>,
    /// Each layer's attention, when the config lists them (newer transformers).
    #[serde(default)]
    pub layer_types: Option<Vec<LayerType>>,
    /// Gemma 2: attention scores become `cap·tanh(score/cap)`.
    #[serde(default)]
    pub attn_logit_softcapping: Option<f64>,
    /// Gemma 2: logits become `cap·tanh(logit/cap)`.
    #[serde(default)]
    pub final_logit_softcapping: Option<f64>,
    /// The MLP's activation: `silu` for Llama and Qwen, `gelu_pytorch_tanh` for Gemma.
    #[serde(default)]
    pub hidden_act: Option<String>,
    /// Gemma's name for the MLP's activation (its configs carry both); it takes precedence.
    #[serde(default)]
    pub hidden_activation: Option<String>,
    /// Phi-style partial rotary embeddings; only 1 (every dimension rotated) is supported.
    #[serde(default)]
    pub partial_rotary_factor: Option<f64>,
    /// How the checkpoint's q/k rows pair coordinates for RoPE; not in `config.json` (Hugging
    /// Face checkpoints always rotate halves): the GGUF loader sets it from
    /// [`Architecture::gguf_rope_layout`].
    #[serde(default)]
    pub rope_layout: RopeLayout,
    /// Added to every RMSNorm weight: Gemma's checkpoints store `w` for a scale of `1 + w`,
    /// which llama.cpp's converter folds into the file (so 0 for GGUF). Not in `config.json`:
    /// [`DecoderConfig::from_json`] sets it for Gemma.
    #[serde(default)]
    pub norm_weight_offset: f64,
}

fn default_rope_theta() -> f64 {
    10_000.0
}

fn default_rms_norm_eps() -> f64 {
    1e-6
}

fn default_max_position_embeddings() -> usize {
    2048
}

fn rope_scaling_from_json<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<RopeScaling>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    RopeScaling::from_json(&value).map_err(serde::de::Error::custom)
}

/// The largest of the sizes below that a config may give: far above any model a browser or
/// this tool runs.
const MAX_SIZE: usize = 1 << 24;

/// The longest context a config may declare (2^24 positions; the longest of released models
/// is 10M). Nothing is sized by it up front — RoPE angles and the KV cache grow with the
/// positions actually used — but sizes derived from it must not overflow.
const MAX_CONTEXT: usize = 1 << 24;

/// The most values one weight matrix may hold (2^31: 8 GiB of f32), checked on the products the
/// decoder forms, so that none overflows a 32-bit `usize` (wasm32).
const MAX_MATRIX_VALUES: u64 = 1 << 31;

/// What one layer's attention uses.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LayerAttention {
    /// Attends only to positions less than this many before the query.
    pub window: Option<usize>,
    /// Index into [`DecoderConfig::rotary_kinds`].
    pub rotary: usize,
}

/// One set of rotary frequencies: the base and the scaling.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RotaryKind {
    pub theta: f64,
    pub scaling: Option<RopeScaling>,
    /// Multiplies the cosines and sines.
    pub attention_factor: f64,
}

impl DecoderConfig {
    /// Reads and validates a Hugging Face `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<DecoderConfig, ModelError> {
        let mut config: DecoderConfig = serde_json::from_slice(bytes)?;
        if config.architecture.sandwich_norms() {
            config.norm_weight_offset = 1.0;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks that the sizes are nonzero, bounded and consistent (heads divide the width, query
    /// heads are a multiple of key/value heads, a head has an even width) and that nothing is
    /// asked for that the decoder does not compute.
    pub fn validate(&self) -> Result<(), ModelError> {
        let invalid = |field: &'static str, message: String| ModelError::Config { field, message };
        for (field, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
            ("head_dim", self.head_dim()),
        ] {
            if value == 0 || value > MAX_SIZE {
                return Err(invalid(
                    field,
                    format!("({value}) must be between 1 and {MAX_SIZE}"),
                ));
            }
        }
        let (heads, kv_heads, head_dim) = (
            self.num_attention_heads as u64,
            self.kv_heads() as u64,
            self.head_dim() as u64,
        );
        let (hidden, vocab) = (self.hidden_size as u64, self.vocab_size as u64);
        for (field, values) in [
            ("num_attention_heads", heads * head_dim * hidden),
            ("num_key_value_heads", kv_heads * head_dim * hidden),
            ("vocab_size", vocab * hidden),
            (
                "intermediate_size",
                2 * self.intermediate_size as u64 * hidden,
            ),
        ] {
            if values > MAX_MATRIX_VALUES {
                return Err(invalid(
                    field,
                    format!(
                        "makes a weight matrix of {values} values, more than {MAX_MATRIX_VALUES}"
                    ),
                ));
            }
        }
        if self.max_position_embeddings == 0 || self.max_position_embeddings > MAX_CONTEXT {
            return Err(invalid(
                "max_position_embeddings",
                format!(
                    "({}) must be between 1 and {MAX_CONTEXT}",
                    self.max_position_embeddings
                ),
            ));
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(invalid(
                "num_attention_heads",
                format!(
                    "({}) must divide hidden_size ({}) when head_dim is absent",
                    self.num_attention_heads, self.hidden_size
                ),
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return Err(invalid(
                "head_dim",
                format!("({}) must be even", self.head_dim()),
            ));
        }
        if !self.num_attention_heads.is_multiple_of(self.kv_heads()) {
            return Err(invalid(
                "num_key_value_heads",
                format!(
                    "({}) must divide num_attention_heads ({})",
                    self.kv_heads(),
                    self.num_attention_heads
                ),
            ));
        }
        let positive = |field: &'static str, value: Option<f64>| match value {
            Some(v) if !(v.is_finite() && v > 0.0) => {
                Err(invalid(field, format!("({v}) must be positive")))
            }
            _ => Ok(()),
        };
        positive("rope_theta", Some(self.rope_theta))?;
        positive("rms_norm_eps", Some(self.rms_norm_eps))?;
        positive("rope_local_base_freq", self.rope_local_base_freq)?;
        positive("query_pre_attn_scalar", self.query_pre_attn_scalar)?;
        positive("attn_logit_softcapping", self.attn_logit_softcapping)?;
        positive("final_logit_softcapping", self.final_logit_softcapping)?;
        positive("rope_attention_factor", self.rope_attention_factor)?;
        if let Some(RopeScaling::Frequencies { divisors }) = &self.rope_scaling {
            if divisors.len() != self.head_dim() / 2 {
                return Err(invalid(
                    "rope_freqs",
                    format!(
                        "has {} frequency factors, a head of {} needs {}",
                        divisors.len(),
                        self.head_dim(),
                        self.head_dim() / 2
                    ),
                ));
            }
            if let Some(bad) = divisors.iter().find(|d| !(d.is_finite() && **d > 0.0)) {
                return Err(invalid(
                    "rope_freqs",
                    format!("holds the frequency factor {bad}, factors must be positive"),
                ));
            }
        }
        if self.mlp_bias {
            return Err(invalid("mlp_bias", "is not supported".into()));
        }
        if self.use_sliding_window {
            return Err(invalid(
                "use_sliding_window",
                "is not supported (a Qwen2 sliding window)".into(),
            ));
        }
        if let Some(factor) = self.partial_rotary_factor
            && factor != 1.0
        {
            return Err(invalid(
                "partial_rotary_factor",
                format!("({factor}) is not supported: every head dimension must rotate"),
            ));
        }
        let gemma = self.architecture.sandwich_norms();
        if !gemma {
            for (field, present) in [
                (
                    "sliding_window",
                    self.sliding_window.is_some() && self.uses_window_field(),
                ),
                (
                    "rope_attention_factor",
                    self.rope_attention_factor.is_some() && self.architecture != Architecture::Phi3,
                ),
                (
                    "attn_logit_softcapping",
                    self.attn_logit_softcapping.is_some(),
                ),
                (
                    "final_logit_softcapping",
                    self.final_logit_softcapping.is_some(),
                ),
                ("rope_local_base_freq", self.rope_local_base_freq.is_some()),
                (
                    "query_pre_attn_scalar",
                    self.query_pre_attn_scalar.is_some(),
                ),
            ] {
                if present {
                    return Err(invalid(
                        field,
                        format!("is not supported for {}", self.architecture.gguf_name()),
                    ));
                }
            }
        }
        if self.architecture == Architecture::Gemma3 && self.attn_logit_softcapping.is_some() {
            return Err(invalid(
                "attn_logit_softcapping",
                "attention soft-capping is not part of Gemma 3".into(),
            ));
        }
        // Gemma 2 always slides; a Gemma 3 without a window attends globally in every layer.
        if self.sliding_window == Some(0)
            || (self.architecture == Architecture::Gemma2 && self.sliding_window.is_none())
        {
            return Err(invalid(
                "sliding_window",
                format!("must be positive for {}", self.architecture.gguf_name()),
            ));
        }
        if self.sliding_window_pattern == Some(0) {
            return Err(invalid("sliding_window_pattern", "must be positive".into()));
        }
        if let Some(types) = &self.layer_types {
            if types.len() != self.num_hidden_layers {
                return Err(invalid(
                    "layer_types",
                    format!(
                        "lists {} layers, the model has {}",
                        types.len(),
                        self.num_hidden_layers
                    ),
                ));
            }
            if !gemma && types.contains(&LayerType::SlidingAttention) {
                return Err(invalid(
                    "layer_types",
                    format!(
                        "sliding attention is not supported for {}",
                        self.architecture.gguf_name()
                    ),
                ));
            }
        }
        let expected = if gemma { "gelu_pytorch_tanh" } else { "silu" };
        if let Some(act) = self.hidden_activation.as_ref().or(self.hidden_act.as_ref())
            && act != expected
            && !(gemma && act == "gelu_tanh")
        {
            return Err(invalid(
                "hidden_act",
                format!(
                    "{act:?} is not supported for {} ({expected})",
                    self.architecture.gguf_name()
                ),
            ));
        }
        Ok(())
    }

    /// Whether `sliding_window` would change anything: Qwen2 configs carry one that only
    /// `use_sliding_window` switches on.
    fn uses_window_field(&self) -> bool {
        self.architecture != Architecture::Qwen2
    }

    /// Number of key/value heads.
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Whether q, k and v have biases.
    pub(super) fn qkv_bias(&self) -> bool {
        self.attention_bias || self.architecture == Architecture::Qwen2
    }

    /// Whether the output projection has a bias (Llama's `attention_bias` covers it; Qwen2's
    /// never has one).
    pub(super) fn o_bias(&self) -> bool {
        self.attention_bias && self.architecture == Architecture::Llama
    }

    /// The factor queries are multiplied by before their product with the keys.
    pub(super) fn query_scale(&self) -> f64 {
        let scalar = self.query_pre_attn_scalar.unwrap_or(self.head_dim() as f64);
        1.0 / scalar.sqrt()
    }

    /// Whether the MLP's activation is GELU (tanh approximation) rather than SiLU.
    pub(super) fn gelu(&self) -> bool {
        self.architecture.sandwich_norms()
    }

    /// The distinct rotary frequency sets of the layers: the global one first, then Gemma 3's
    /// local one (base `rope_local_base_freq`, unscaled) when it has sliding layers.
    pub(super) fn rotary_kinds(&self) -> Vec<RotaryKind> {
        let mut kinds = vec![RotaryKind {
            theta: self.rope_theta,
            scaling: self.rope_scaling.clone(),
            attention_factor: self.rope_attention_factor.unwrap_or(1.0),
        }];
        if self.architecture == Architecture::Gemma3 {
            kinds.push(RotaryKind {
                theta: self.rope_local_base_freq.unwrap_or(10_000.0),
                scaling: None,
                attention_factor: 1.0,
            });
        }
        kinds
    }

    /// Each layer's window and rotary frequencies. With a pattern of `n` layers (Gemma 2: 2, Gemma
    /// 3: 6, or `sliding_window_pattern`) the last of each `n` is global and the others slide
    /// (llama.cpp's `set_swa_pattern`: layer `i` slides when `i mod n < n − 1`), unless
    /// `layer_types` lists them.
    pub(super) fn layer_attention(&self) -> Vec<LayerAttention> {
        (0..self.num_hidden_layers)
            .map(|layer| {
                let pattern = match self.architecture {
                    Architecture::Gemma2 => self.sliding_window_pattern.unwrap_or(2),
                    _ => self.sliding_window_pattern.unwrap_or(6),
                };
                let sliding = match &self.layer_types {
                    Some(types) => types[layer] == LayerType::SlidingAttention,
                    None => self.architecture.sandwich_norms() && layer % pattern < pattern - 1,
                };
                let window = if sliding { self.sliding_window } else { None };
                LayerAttention {
                    window,
                    rotary: usize::from(
                        window.is_some() && self.architecture == Architecture::Gemma3,
                    ),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Result<DecoderConfig, ModelError> {
        DecoderConfig::from_json(json.as_bytes())
    }

    const BASE: &str = r#""vocab_size": 97, "hidden_size": 64, "intermediate_size": 96,
        "num_hidden_layers": 6, "num_attention_heads": 4, "num_key_value_heads": 2"#;

    fn refused(json: &str) -> &'static str {
        match config(json) {
            Err(ModelError::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn config_reads_hugging_face_fields_and_defaults() {
        let config = config(&format!("{{{BASE}}}")).unwrap();
        assert_eq!(config.architecture, Architecture::Llama);
        assert_eq!(config.head_dim(), 16);
        assert_eq!(config.kv_heads(), 2);
        assert_eq!(config.rope_theta, 10_000.0);
        assert_eq!(config.rope_layout, RopeLayout::Halves);
        assert_eq!(config.norm_weight_offset, 0.0);
        assert_eq!(config.query_scale(), 0.25);
        assert!(!config.qkv_bias() && !config.gelu());
        let qwen = DecoderConfig::from_json(
            br#"{"model_type": "qwen2", "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8,
                "num_hidden_layers": 1, "num_attention_heads": 2}"#,
        )
        .unwrap();
        assert!(qwen.qkv_bias() && !qwen.o_bias());
        assert_eq!(qwen.architecture.gguf_rope_layout(), RopeLayout::Halves);
        assert_eq!(
            Architecture::Llama.gguf_rope_layout(),
            RopeLayout::Interleaved
        );
        for arch in ["llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"] {
            assert_eq!(
                Architecture::from_gguf_name(arch).unwrap().gguf_name(),
                arch
            );
        }
        assert_eq!(Architecture::from_gguf_name("phi2"), None);
    }

    #[test]
    fn llama3_scaling_matches_transformers() {
        // Llama 3.1 8B's rope_scaling; transformers' `_compute_llama3_parameters` keeps the
        // highest frequency, divides the lowest by 8 and interpolates between.
        let scaling = RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192.0,
        };
        let theta: f64 = 500_000.0;
        let half = 64;
        let inverse = |i: usize| theta.powf(-(i as f64) / half as f64);
        assert_eq!(scaling.divisor(0, inverse(0)), 1.0);
        assert_eq!(scaling.divisor(63, inverse(63)), 8.0);
        // Wavelength 2π/θ^(-i/64) lies between 2,048 and 8,192 for i = 29..=34.
        let i = 30;
        let wavelength = 2.0 * std::f64::consts::PI / inverse(i);
        assert!((2048.0..8192.0).contains(&wavelength));
        let smooth = (8192.0 / wavelength - 1.0) / 3.0;
        let expected = 1.0 / ((1.0 - smooth) / 8.0 + smooth);
        assert!((scaling.divisor(i, inverse(i)) - expected).abs() < 1e-12);
    }

    #[test]
    fn rope_scaling_types_are_read_or_refused_by_name() {
        let with = |scaling: &str| format!(r#"{{{BASE}, "rope_scaling": {scaling}}}"#);
        let linear = config(&with(r#"{"type": "linear", "factor": 4.0}"#)).unwrap();
        assert_eq!(
            linear.rope_scaling,
            Some(RopeScaling::Linear { factor: 4.0 })
        );
        let llama3 = config(&with(
            r#"{"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#,
        ))
        .unwrap();
        assert!(matches!(
            llama3.rope_scaling,
            Some(RopeScaling::Llama3 { factor: 32.0, .. })
        ));
        assert_eq!(config(&with("null")).unwrap().rope_scaling, None);
        for refused_kind in ["yarn", "dynamic", "longrope", "su"] {
            let error = config(&with(&format!(
                r#"{{"rope_type": "{refused_kind}", "factor": 4.0}}"#
            )))
            .unwrap_err()
            .to_string();
            assert!(
                error.contains("rope_scaling") && error.contains(refused_kind),
                "{error}"
            );
        }
        assert!(config(&with(r#"{"rope_type": "llama3", "factor": 8.0}"#)).is_err());
    }

    #[test]
    fn features_the_decoder_lacks_are_refused_by_name() {
        let with = |extra: &str| format!(r#"{{{BASE}, {extra}}}"#);
        assert_eq!(refused(&with(r#""mlp_bias": true"#)), "mlp_bias");
        assert_eq!(
            refused(&with(
                r#""model_type": "qwen2", "use_sliding_window": true"#
            )),
            "use_sliding_window"
        );
        assert_eq!(
            refused(&with(r#""partial_rotary_factor": 0.5"#)),
            "partial_rotary_factor"
        );
        assert_eq!(
            refused(&with(r#""sliding_window": 4096"#)),
            "sliding_window"
        );
        assert_eq!(
            refused(&with(r#""final_logit_softcapping": 30.0"#)),
            "final_logit_softcapping"
        );
        assert_eq!(
            refused(&with(
                r#""model_type": "gemma3", "sliding_window": 512, "attn_logit_softcapping": 50.0"#
            )),
            "attn_logit_softcapping"
        );
        assert_eq!(refused(&with(r#""hidden_act": "gelu""#)), "hidden_act");
        assert_eq!(
            refused(&with(r#""model_type": "gemma2""#)),
            "sliding_window"
        );
        assert_eq!(
            refused(&with(r#""model_type": "gemma3", "sliding_window": 0"#)),
            "sliding_window"
        );
        assert_eq!(
            refused(&format!(r#"{{{BASE}, "max_position_embeddings": 0}}"#)),
            "max_position_embeddings"
        );
        assert_eq!(
            refused(&format!(
                r#"{{{BASE}, "max_position_embeddings": 18446744073709551615}}"#
            )),
            "max_position_embeddings"
        );
        assert_eq!(
            refused(
                r#"{"vocab_size": 97, "hidden_size": 4294967296, "intermediate_size": 96,
                "num_hidden_layers": 6, "num_attention_heads": 4}"#
            ),
            "hidden_size"
        );
        // Qwen2 configs carry a sliding window that only use_sliding_window turns on.
        assert!(config(&with(r#""model_type": "qwen2", "sliding_window": 32768"#)).is_ok());
        assert!(config(r#"{"model_type": "mistral", "vocab_size": 1}"#).is_err());
    }

    #[test]
    fn gemma_layers_slide_as_transformers_places_them() {
        let gemma3 = config(&format!(
            r#"{{{BASE}, "model_type": "gemma3_text", "sliding_window": 512,
                "rope_local_base_freq": 10000.0, "rope_theta": 1000000.0}}"#
        ))
        .unwrap();
        assert_eq!(gemma3.architecture, Architecture::Gemma3);
        assert_eq!(gemma3.norm_weight_offset, 1.0);
        let layers = gemma3.layer_attention();
        let windows: Vec<_> = layers.iter().map(|l| l.window).collect();
        assert_eq!(
            windows,
            [Some(512), Some(512), Some(512), Some(512), Some(512), None]
        );
        let kinds = gemma3.rotary_kinds();
        assert_eq!(kinds[layers[5].rotary].theta, 1_000_000.0);
        assert_eq!(kinds[layers[0].rotary].theta, 10_000.0);

        let gemma2 = config(&format!(
            r#"{{{BASE}, "model_type": "gemma2", "sliding_window": 4096,
                "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0}}"#
        ))
        .unwrap();
        let windows: Vec<_> = gemma2.layer_attention().iter().map(|l| l.window).collect();
        assert_eq!(
            windows,
            [Some(4096), None, Some(4096), None, Some(4096), None]
        );
        assert_eq!(gemma2.rotary_kinds().len(), 1);

        // A pattern of 3: two sliding layers, then a global one (llama.cpp's rule), Gemma 2 too.
        let three = config(&format!(
            r#"{{{BASE}, "model_type": "gemma2", "sliding_window": 8, "sliding_window_pattern": 3}}"#
        ))
        .unwrap();
        let windows: Vec<_> = three.layer_attention().iter().map(|l| l.window).collect();
        assert_eq!(windows, [Some(8), Some(8), None, Some(8), Some(8), None]);

        let listed = config(&format!(
            r#"{{{BASE}, "model_type": "gemma3", "sliding_window": 8, "layer_types":
                ["full_attention", "sliding_attention", "full_attention", "sliding_attention",
                 "full_attention", "sliding_attention"]}}"#
        ))
        .unwrap();
        let windows: Vec<_> = listed.layer_attention().iter().map(|l| l.window).collect();
        assert_eq!(windows, [None, Some(8), None, Some(8), None, Some(8)]);
    }
}
