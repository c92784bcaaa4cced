//! The Llama decoder (Touvron et al. 2023, arXiv 2302.13971) and its Qwen2 variant, following
//! Hugging Face transformers' `modeling_llama.py` / `modeling_qwen2.py` and candle's `llama.rs`:
//! RMSNorm, rotary positions, grouped-query attention over a KV cache, a SwiGLU MLP.

use std::num::NonZeroUsize;
use std::sync::Arc;

use burn::tensor::{Bool, Device, Int, Tensor, TensorData, activation, module::linear};
use serde::{Deserialize, Serialize};

use super::cache::{KvCache, LayerCache};
use super::device::DeviceError;
use super::quantized::{self, QuantizedRows};

/// WebGPU guarantees storage bindings of 128 MiB (`maxStorageBufferBindingSize`); every tensor
/// a forward pass creates must fit in one.
const MAX_BINDING_BYTES: usize = 128 << 20;

/// Bytes of one f32.
const F32_BYTES: usize = 4;

/// Positions processed at once when prefilling, unless the model is told otherwise.
pub const DEFAULT_PREFILL_CHUNK: usize = 256;

/// Added to the attention score of a future position. Finite, because WGSL lets a shader
/// assume no infinities; after the softmax subtracts the row's maximum it underflows to 0.
const MASKED_SCORE: f32 = -1.0e30;

/// What went wrong building or running the model. Every variant comes from input (a config
/// file, weights, token ids, settings), never from a bug, and names what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// `config.json` is not valid JSON or lacks a required field.
    #[error("config.json: {0}")]
    ConfigJson(#[from] serde_json::Error),
    /// A config field has a value the decoder cannot run with.
    #[error("model config: `{field}` {message}")]
    Config {
        /// The field, as named in `config.json`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The weights lack a tensor the config requires.
    #[error("weight `{name}` is missing")]
    MissingWeight {
        /// The tensor's Hugging Face name.
        name: String,
    },
    /// A tensor's shape disagrees with the config.
    #[error("weight `{name}` has shape {found:?}, the config expects {expected:?}")]
    WeightShape {
        /// The tensor's Hugging Face name.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// The weight source could not produce a tensor (an unsupported encoding, a short file).
    #[error("weight `{name}`: {message}")]
    Weight {
        /// The tensor's Hugging Face name.
        name: String,
        /// What the source reported.
        message: String,
    },
    /// A token id is not in the vocabulary.
    #[error("token id {id} at position {position} is outside the vocabulary of {vocab_size}")]
    TokenOutOfRange {
        /// The id.
        id: u32,
        /// Its index in the ids given.
        position: usize,
        /// The model's vocabulary size.
        vocab_size: usize,
    },
    /// The sequence would not fit the model's context.
    #[error("{needed} positions exceed the model's context of {max}")]
    ContextOverflow {
        /// Positions the cache would hold.
        needed: usize,
        /// `max_position_embeddings`.
        max: usize,
    },
    /// An input that must hold tokens is empty.
    #[error("the {what} is empty")]
    EmptyInput {
        /// Which input.
        what: &'static str,
    },
    /// Logits were asked for from a position past the end of the input.
    #[error("logits requested from position {from} of a {len}-token input")]
    LogitsPosition {
        /// The position asked for.
        from: usize,
        /// The number of ids given.
        len: usize,
    },
    /// A generation setting is out of range.
    #[error("generation setting `{field}` {message}")]
    Settings {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The device failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// The decoder families this file runs; `config.json`'s `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Llama, SmolLM, Mistral-style dense decoders.
    #[default]
    Llama,
    /// Qwen2: Llama with biases on the query, key and value projections.
    Qwen2,
}

impl Architecture {
    /// The rotary layout of this architecture's GGUF files. llama.cpp's converter permutes the
    /// rows of Llama's `q_proj`/`k_proj` so that its "normal" RoPE, which rotates adjacent pairs,
    /// reproduces Hugging Face's rotate-half; Qwen2 is converted unpermuted and run with NeoX
    /// RoPE, which rotates halves.
    pub fn gguf_rope_layout(self) -> RopeLayout {
        match self {
            Architecture::Llama => RopeLayout::Interleaved,
            Architecture::Qwen2 => RopeLayout::Halves,
        }
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

/// The decoder's hyper-parameters, field for field as in Hugging Face's `config.json`
/// (`LlamaConfig`, `Qwen2Config`), plus the rotary layout, which the loader sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
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
    /// Base of the rotary frequencies.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// Rotary frequency scaling (Llama 3's, YaRN); not supported, so it must be absent.
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// The epsilon inside RMSNorm's square root.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// The context length: positions the rotary tables and the cache cover.
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
    /// How the checkpoint's q/k rows pair coordinates for RoPE; not in `config.json` (Hugging
    /// Face checkpoints always rotate halves): the GGUF loader sets it from
    /// [`Architecture::gguf_rope_layout`].
    #[serde(default)]
    pub rope_layout: RopeLayout,
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

impl LlamaConfig {
    /// Reads and validates a Hugging Face `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<LlamaConfig, ModelError> {
        let config: LlamaConfig = serde_json::from_slice(bytes)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks that the sizes are nonzero and consistent: heads divide the width, query heads
    /// are a multiple of key/value heads, a head has an even width (RoPE rotates pairs).
    pub fn validate(&self) -> Result<(), ModelError> {
        let invalid = |field: &'static str, message: String| ModelError::Config { field, message };
        for (field, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
            ("max_position_embeddings", self.max_position_embeddings),
        ] {
            if value == 0 {
                return Err(invalid(field, "must be positive".into()));
            }
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
        if self.head_dim() == 0 || !self.head_dim().is_multiple_of(2) {
            return Err(invalid(
                "head_dim",
                format!("({}) must be even and positive", self.head_dim()),
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
        if !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return Err(invalid(
                "rope_theta",
                format!("({}) must be positive", self.rope_theta),
            ));
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps > 0.0) {
            return Err(invalid(
                "rms_norm_eps",
                format!("({}) must be positive", self.rms_norm_eps),
            ));
        }
        if self.rope_scaling.as_ref().is_some_and(|s| !s.is_null()) {
            return Err(invalid("rope_scaling", "is not supported".into()));
        }
        if self.mlp_bias {
            return Err(invalid("mlp_bias", "is not supported".into()));
        }
        Ok(())
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
    fn qkv_bias(&self) -> bool {
        self.attention_bias || self.architecture == Architecture::Qwen2
    }

    /// Whether the output projection has a bias (Llama's `attention_bias` covers it; Qwen2's
    /// never has one).
    fn o_bias(&self) -> bool {
        self.attention_bias && self.architecture == Architecture::Llama
    }
}

/// Where the weights come from: a GGUF file, safetensors, random test values. Names and shapes
/// are Hugging Face's (`model.layers.0.self_attn.q_proj.weight`, `[out_features, in_features]`,
/// row-major), so each loader maps its own names once (see `loader::weights`).
pub trait WeightSource {
    /// The tensor's shape and its values as f32, row-major; [`ModelError::MissingWeight`] when
    /// absent.
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), ModelError>;
    /// Whether the tensor exists.
    fn has(&self, name: &str) -> bool;
    /// The matrix as stored, when it is quantized in a format the CPU backend multiplies
    /// directly (see `model::quantized`); `None` otherwise (the default).
    fn quantized(&self, _name: &str) -> Option<QuantizedRows> {
        None
    }
}

/// Which positions of a forward pass get logits: the vocabulary projection is the largest
/// matrix product, so it runs only where log-probabilities are needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitsAt {
    /// The last position (generation).
    Last,
    /// Every position (scoring a whole prompt).
    All,
    /// Positions from this index of the ids given to the end (scoring a continuation).
    From(usize),
}

impl LogitsAt {
    /// The index of the first position that gets logits among `len` ids.
    fn first(self, len: usize) -> Result<usize, ModelError> {
        match self {
            LogitsAt::Last => Ok(len - 1),
            LogitsAt::All => Ok(0),
            LogitsAt::From(from) if from < len => Ok(from),
            LogitsAt::From(from) => Err(ModelError::LogitsPosition { from, len }),
        }
    }
}

/// Reads a `[rows, cols]` matrix, checking its shape.
pub(super) fn read_matrix(
    weights: &dyn WeightSource,
    name: &str,
    rows: usize,
    cols: usize,
) -> Result<Vec<f32>, ModelError> {
    read_shaped(weights, name, &[rows, cols])
}

/// Reads a tensor and checks its shape against the config's.
pub(super) fn read_shaped(
    weights: &dyn WeightSource,
    name: &str,
    expected: &[usize],
) -> Result<Vec<f32>, ModelError> {
    let (shape, values) = weights.tensor(name)?;
    if shape != expected {
        return Err(ModelError::WeightShape {
            name: name.to_owned(),
            expected: expected.to_vec(),
            found: shape,
        });
    }
    if values.len() != expected.iter().product::<usize>() {
        return Err(ModelError::Weight {
            name: name.to_owned(),
            message: format!("{} values for shape {expected:?}", values.len()),
        });
    }
    Ok(values)
}

/// Transposes a row-major `[rows, cols]` matrix.
fn transposed(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// Undoes llama.cpp's q/k permutation: within each head, row `2i + a` (pair `i`, member `a`)
/// moves to row `a·d/2 + i`, so the halves-rotating RoPE applies to an interleaved checkpoint.
/// Attention only sees `q·k`, which is unchanged when both get the same permutation.
fn halves_from_interleaved(
    rows: &[f32],
    heads: usize,
    head_dim: usize,
    row_len: usize,
) -> Vec<f32> {
    halves_row_order(heads, head_dim)
        .into_iter()
        .flat_map(|from| &rows[from * row_len..(from + 1) * row_len])
        .copied()
        .collect()
}

/// For each row of the halves layout, the interleaved row it comes from.
fn halves_row_order(heads: usize, head_dim: usize) -> Vec<usize> {
    let half = head_dim / 2;
    let mut order = vec![0; heads * head_dim];
    for head in 0..heads {
        for i in 0..half {
            for a in 0..2 {
                order[head * head_dim + a * half + i] = head * head_dim + 2 * i + a;
            }
        }
    }
    order
}

/// The rows of one q/k/v projection as read from the checkpoint, in the halves layout.
struct ProjectionRows {
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    /// The same rows as stored, when quantized rows are kept (see [`Linear::quantized`]).
    quantized: Option<QuantizedRows>,
}

impl ProjectionRows {
    /// Reads `{prefix}.weight` (`[heads·head_dim, hidden]`) and, when the config has q/k/v
    /// biases, `{prefix}.bias`; for `rope_heads` (queries, keys) undoes an interleaved layout.
    fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        heads: usize,
        config: &LlamaConfig,
        rope_heads: bool,
        device: &Device,
    ) -> Result<ProjectionRows, ModelError> {
        let (head_dim, hidden) = (config.head_dim(), config.hidden_size);
        let mut weight = read_matrix(
            weights,
            &format!("{prefix}.weight"),
            heads * head_dim,
            hidden,
        )?;
        let mut bias = if config.qkv_bias() {
            Some(read_shaped(
                weights,
                &format!("{prefix}.bias"),
                &[heads * head_dim],
            )?)
        } else {
            None
        };
        let mut quantized = quantized_rows(weights, &format!("{prefix}.weight"), device);
        if rope_heads && config.rope_layout == RopeLayout::Interleaved {
            weight = halves_from_interleaved(&weight, heads, head_dim, hidden);
            bias = bias.map(|b| halves_from_interleaved(&b, heads, head_dim, 1));
            quantized = quantized.map(|q| q.with_rows(&halves_row_order(heads, head_dim)));
        }
        Ok(ProjectionRows {
            weight,
            bias,
            quantized,
        })
    }
}

/// The rows of the matrix `name` as stored, when `device` multiplies quantized rows (the CPU
/// backend) and the source has them in such a format.
fn quantized_rows(
    weights: &dyn WeightSource,
    name: &str,
    device: &Device,
) -> Option<QuantizedRows> {
    if quantized::used_on(device) {
        weights.quantized(name)
    } else {
        None
    }
}

/// A linear layer `y = x·W + b`, its weight kept as `[in, out]` so the product needs no
/// transpose.
#[derive(Debug, Clone)]
pub(super) struct Linear {
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    /// On the CPU, the checkpoint's quantized rows (`[out, in]`) for one-row products: a
    /// decode step reads these instead of the f32 weight (see `model::quantized`).
    quantized: Option<Arc<QuantizedRows>>,
}

impl Linear {
    /// Builds the layer from PyTorch-ordered rows (`[out, in]`), stacking several projections
    /// that read the same input into one product.
    fn from_rows(
        rows: &[&[f32]],
        biases: Option<Vec<&[f32]>>,
        in_features: usize,
        device: &Device,
    ) -> Linear {
        let stacked = rows.concat();
        let out_features = stacked.len() / in_features;
        let weight = transposed(&stacked, out_features, in_features);
        Linear {
            weight: Tensor::from_data(TensorData::new(weight, [in_features, out_features]), device),
            bias: biases
                .map(|b| Tensor::from_data(TensorData::new(b.concat(), [out_features]), device)),
            quantized: None,
        }
    }

    /// The same layer multiplying one row by `rows` (the same matrix as stored) when given.
    fn with_quantized(mut self, rows: Option<QuantizedRows>) -> Linear {
        self.quantized = rows.map(Arc::new);
        self
    }

    /// Reads `{prefix}.weight` (and `{prefix}.bias` when `bias`) of shape `[out, in]`.
    pub(super) fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        [out_features, in_features]: [usize; 2],
        bias: bool,
        device: &Device,
    ) -> Result<Linear, ModelError> {
        let weight = read_matrix(
            weights,
            &format!("{prefix}.weight"),
            out_features,
            in_features,
        )?;
        let bias = if bias {
            Some(read_shaped(
                weights,
                &format!("{prefix}.bias"),
                &[out_features],
            )?)
        } else {
            None
        };
        Ok(Linear::from_rows(
            &[&weight],
            bias.as_deref().map(|b| vec![b]),
            in_features,
            device,
        ))
    }

    pub(super) fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match &self.quantized {
            Some(rows) if x.dims()[0] == 1 => {
                let y = quantized::row_product(x, rows);
                match &self.bias {
                    Some(bias) => y + bias.clone().unsqueeze(),
                    None => y,
                }
            }
            _ => linear(x, self.weight.clone(), self.bias.clone()),
        }
    }
}

/// Root-mean-square normalisation (Zhang & Sennrich 2019) with a learned scale.
#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor<2>,
    eps: f64,
}

impl RmsNorm {
    fn load(
        weights: &dyn WeightSource,
        name: &str,
        config: &LlamaConfig,
        device: &Device,
    ) -> Result<RmsNorm, ModelError> {
        let width = config.hidden_size;
        let values = read_shaped(weights, name, &[width])?;
        Ok(RmsNorm {
            weight: Tensor::from_data(TensorData::new(values, [1, width]), device),
            eps: config.rms_norm_eps,
        })
    }

    /// `x / sqrt(mean(x²) + eps) · weight`, row by row.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let inverse_rms = x
            .clone()
            .square()
            .mean_dim(1)
            .add_scalar(self.eps)
            .sqrt()
            .recip();
        x * inverse_rms * self.weight.clone()
    }
}

/// Cosines and sines of every position's rotary angles, computed once at load: `[positions,
/// head_dim]`, each frequency repeated for both halves of a head.
#[derive(Debug, Clone)]
struct RotaryTables {
    cos: Tensor<2>,
    sin: Tensor<2>,
}

/// Where the chunk being run sits, as every layer needs it: its first position, its rows of the
/// rotary tables (shaped to broadcast over heads) and, for more than one position, its causal
/// mask.
struct ChunkPositions {
    start: usize,
    cos: Tensor<3>,
    sin: Tensor<3>,
    mask: Option<Tensor<4>>,
}

impl RotaryTables {
    /// Angles `p · theta^(-2i/d)` (Su et al. 2021, RoFormer), in f64 on the host, then uploaded.
    fn new(config: &LlamaConfig, device: &Device) -> RotaryTables {
        let (positions, head_dim) = (config.max_position_embeddings, config.head_dim());
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(positions * head_dim);
        let mut sin = Vec::with_capacity(positions * head_dim);
        for p in 0..positions {
            for i in 0..head_dim {
                let inverse_frequency = config
                    .rope_theta
                    .powf(-2.0 * (i % half) as f64 / head_dim as f64);
                let angle = p as f64 * inverse_frequency;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let table = |values: Vec<f32>| -> Tensor<2> {
            Tensor::from_data(TensorData::new(values, [positions, head_dim]), device)
        };
        RotaryTables {
            cos: table(cos),
            sin: table(sin),
        }
    }

    /// Positions `start..start + len`.
    fn chunk(&self, start: usize, len: usize) -> ChunkPositions {
        ChunkPositions {
            start,
            cos: self.cos.clone().narrow(0, start, len).unsqueeze(),
            sin: self.sin.clone().narrow(0, start, len).unsqueeze(),
            // A single position may attend to everything cached: no mask needed.
            mask: (len > 1).then(|| causal_mask(start, len, &self.cos.device())),
        }
    }
}

impl ChunkPositions {
    /// Rotates `[heads, len, head_dim]`: `x·cos + rotate_half(x)·sin`, with
    /// `rotate_half([x1, x2]) = [-x2, x1]`.
    fn rotate(&self, x: Tensor<3>) -> Tensor<3> {
        let half = x.dims()[2] / 2;
        let rotated = Tensor::cat(
            vec![
                x.clone().narrow(2, half, half).neg(),
                x.clone().narrow(2, 0, half),
            ],
            2,
        );
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}

/// Grouped-query self-attention (Ainslie et al. 2023): `heads / kv_heads` query heads share
/// each key/value head.
#[derive(Debug, Clone)]
struct CausalSelfAttention {
    /// `q_proj`, `k_proj` and `v_proj` stacked into one product.
    qkv_proj: Linear,
    o_proj: Linear,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl CausalSelfAttention {
    fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        config: &LlamaConfig,
        device: &Device,
    ) -> Result<CausalSelfAttention, ModelError> {
        let (heads, kv_heads, head_dim) = (
            config.num_attention_heads,
            config.kv_heads(),
            config.head_dim(),
        );
        let projection = |name: &str, heads: usize, rope_heads: bool| {
            ProjectionRows::load(
                weights,
                &format!("{prefix}.{name}"),
                heads,
                config,
                rope_heads,
                device,
            )
        };
        let q = projection("q_proj", heads, true)?;
        let k = projection("k_proj", kv_heads, true)?;
        let v = projection("v_proj", kv_heads, false)?;
        let stacked = match (q.quantized, k.quantized, v.quantized) {
            (Some(q), Some(k), Some(v)) => QuantizedRows::stacked(&[q, k, v]),
            _ => None,
        };
        let biases = match (&q.bias, &k.bias, &v.bias) {
            (Some(q), Some(k), Some(v)) => Some(vec![q.as_slice(), k.as_slice(), v.as_slice()]),
            _ => None,
        };
        let qkv_proj = Linear::from_rows(
            &[&q.weight, &k.weight, &v.weight],
            biases,
            config.hidden_size,
            device,
        )
        .with_quantized(stacked);
        let o_proj = Linear::load(
            weights,
            &format!("{prefix}.o_proj"),
            [config.hidden_size, heads * head_dim],
            config.o_bias(),
            device,
        )?
        .with_quantized(quantized_rows(
            weights,
            &format!("{prefix}.o_proj.weight"),
            device,
        ));
        Ok(CausalSelfAttention {
            qkv_proj,
            o_proj,
            heads,
            kv_heads,
            head_dim,
        })
    }

    /// Attends the chunk `x` (`[len, hidden]`, at positions `start..`) to the cached
    /// positions and to itself, causally, and appends its keys and values to the cache.
    fn forward(&self, x: Tensor<2>, chunk: &ChunkPositions, cache: &mut LayerCache) -> Tensor<2> {
        let (start, len) = (chunk.start, x.dims()[0]);
        let (heads, kv_heads, head_dim) = (self.heads, self.kv_heads, self.head_dim);
        let group = heads / kv_heads;
        let qkv = self.qkv_proj.forward(x);
        let split = |first: usize, count: usize| {
            qkv.clone()
                .narrow(1, first * head_dim, count * head_dim)
                .reshape([len, count, head_dim])
                .swap_dims(0, 1)
        };
        let q = chunk.rotate(split(0, heads));
        let k = chunk.rotate(split(heads, kv_heads));
        let v = split(heads + kv_heads, kv_heads);
        let (keys, values) = cache.append(start, k, v);
        let total = start + len;

        // Query heads h = g·group + j share key/value head g, so grouping the queries as
        // [kv_heads, group·len, head_dim] lets one batched product serve the whole group
        // without repeating keys or values.
        let q =
            q.mul_scalar(1.0 / (head_dim as f64).sqrt())
                .reshape([kv_heads, group * len, head_dim]);
        let scores = q
            .matmul(keys.transpose())
            .reshape([kv_heads, group, len, total]);
        let scores = match &chunk.mask {
            Some(mask) => scores + mask.clone(),
            None => scores,
        };
        let probabilities = activation::softmax(scores, 3).reshape([kv_heads, group * len, total]);
        let context = probabilities
            .matmul(values)
            .reshape([heads, len, head_dim])
            .swap_dims(0, 1)
            .reshape([len, heads * head_dim]);
        self.o_proj.forward(context)
    }
}

/// The SwiGLU feed-forward block (Shazeer 2020): `down(silu(gate(x)) · up(x))`.
#[derive(Debug, Clone)]
struct Mlp {
    /// `gate_proj` and `up_proj` stacked into one product.
    gate_up_proj: Linear,
    down_proj: Linear,
    intermediate: usize,
}

impl Mlp {
    fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        config: &LlamaConfig,
        device: &Device,
    ) -> Result<Mlp, ModelError> {
        let (hidden, intermediate) = (config.hidden_size, config.intermediate_size);
        let gate = read_matrix(
            weights,
            &format!("{prefix}.gate_proj.weight"),
            intermediate,
            hidden,
        )?;
        let up = read_matrix(
            weights,
            &format!("{prefix}.up_proj.weight"),
            intermediate,
            hidden,
        )?;
        let rows = |name: &str| quantized_rows(weights, &format!("{prefix}.{name}.weight"), device);
        let gate_up_rows = match (rows("gate_proj"), rows("up_proj")) {
            (Some(gate), Some(up)) => QuantizedRows::stacked(&[gate, up]),
            _ => None,
        };
        Ok(Mlp {
            gate_up_proj: Linear::from_rows(&[&gate, &up], None, hidden, device)
                .with_quantized(gate_up_rows),
            down_proj: Linear::load(
                weights,
                &format!("{prefix}.down_proj"),
                [hidden, intermediate],
                false,
                device,
            )?
            .with_quantized(rows("down_proj")),
            intermediate,
        })
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let gate_up = self.gate_up_proj.forward(x);
        let gate = gate_up.clone().narrow(1, 0, self.intermediate);
        let up = gate_up.narrow(1, self.intermediate, self.intermediate);
        self.down_proj.forward(activation::silu(gate) * up)
    }
}

/// One decoder layer: pre-norm attention and pre-norm MLP, each added to the residual stream.
#[derive(Debug, Clone)]
struct Block {
    input_layernorm: RmsNorm,
    self_attn: CausalSelfAttention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl Block {
    fn load(
        weights: &dyn WeightSource,
        layer: usize,
        config: &LlamaConfig,
        device: &Device,
    ) -> Result<Block, ModelError> {
        let prefix = format!("model.layers.{layer}");
        Ok(Block {
            input_layernorm: RmsNorm::load(
                weights,
                &format!("{prefix}.input_layernorm.weight"),
                config,
                device,
            )?,
            self_attn: CausalSelfAttention::load(
                weights,
                &format!("{prefix}.self_attn"),
                config,
                device,
            )?,
            post_attention_layernorm: RmsNorm::load(
                weights,
                &format!("{prefix}.post_attention_layernorm.weight"),
                config,
                device,
            )?,
            mlp: Mlp::load(weights, &format!("{prefix}.mlp"), config, device)?,
        })
    }

    fn forward(&self, x: Tensor<2>, chunk: &ChunkPositions, cache: &mut LayerCache) -> Tensor<2> {
        let attended =
            self.self_attn
                .forward(self.input_layernorm.forward(x.clone()), chunk, cache);
        let x = x + attended;
        let transformed = self
            .mlp
            .forward(self.post_attention_layernorm.forward(x.clone()));
        x + transformed
    }
}

/// The decoder with its weights on a device, ready to run chunks of token ids against a
/// [`KvCache`].
#[derive(Debug, Clone)]
pub struct Llama {
    config: LlamaConfig,
    device: Device,
    /// The token embedding transposed, `[hidden, vocab]`: the output head's layout, so a tied
    /// head shares this one copy; embedding lookup selects columns.
    embed_columns: Tensor<2>,
    layers: Vec<Block>,
    norm: RmsNorm,
    /// `[hidden, vocab]`; the same tensor as `embed_columns` when tied.
    lm_head: Tensor<2>,
    /// On the CPU, the output head's rows as stored (`[vocab, hidden]`) for one-row products.
    lm_head_quantized: Option<Arc<QuantizedRows>>,
    rotary: RotaryTables,
    prefill_chunk: usize,
}

impl Llama {
    /// Validates `config`, reads every tensor it implies from `weights` (checking shapes) and
    /// uploads them to `device` as f32. The output head is tied to the embedding when the
    /// config says so or `lm_head.weight` is absent.
    pub fn load(
        config: &LlamaConfig,
        weights: &dyn WeightSource,
        device: &Device,
    ) -> Result<Llama, ModelError> {
        config.validate()?;
        let (vocab, hidden) = (config.vocab_size, config.hidden_size);
        let embedding = read_matrix(weights, "model.embed_tokens.weight", vocab, hidden)?;
        let columns = |rows: &[f32]| -> Tensor<2> {
            Tensor::from_data(
                TensorData::new(transposed(rows, vocab, hidden), [hidden, vocab]),
                device,
            )
        };
        let embed_columns = columns(&embedding);
        let tied = config.tie_word_embeddings || !weights.has("lm_head.weight");
        let lm_head = if tied {
            embed_columns.clone()
        } else {
            columns(&read_matrix(weights, "lm_head.weight", vocab, hidden)?)
        };
        let head_name = if tied {
            "model.embed_tokens.weight"
        } else {
            "lm_head.weight"
        };
        let lm_head_quantized = quantized_rows(weights, head_name, device).map(Arc::new);
        let layers = (0..config.num_hidden_layers)
            .map(|layer| Block::load(weights, layer, config, device))
            .collect::<Result<_, _>>()?;
        Ok(Llama {
            config: config.clone(),
            device: device.clone(),
            embed_columns,
            layers,
            norm: RmsNorm::load(weights, "model.norm.weight", config, device)?,
            lm_head,
            lm_head_quantized,
            rotary: RotaryTables::new(config, device),
            prefill_chunk: DEFAULT_PREFILL_CHUNK,
        })
    }

    /// The same model prefilling at most `positions` positions per pass (fewer when a pass
    /// would exceed a WebGPU binding, see [`Llama::forward`]).
    pub fn with_prefill_chunk(mut self, positions: NonZeroUsize) -> Llama {
        self.prefill_chunk = positions.get();
        self
    }

    /// The same model multiplying every matrix in f32, also for one row: on the CPU, a
    /// decode step otherwise reads the checkpoint's quantized rows (see `model::quantized`).
    /// For comparing the two.
    pub fn without_quantized_rows(mut self) -> Llama {
        self.lm_head_quantized = None;
        for block in &mut self.layers {
            for linear in [
                &mut block.self_attn.qkv_proj,
                &mut block.self_attn.o_proj,
                &mut block.mlp.gate_up_proj,
                &mut block.mlp.down_proj,
            ] {
                linear.quantized = None;
            }
        }
        self
    }

    /// Whether every one-row product — the output head and each layer's four — reads quantized
    /// rows (the CPU backend with a GGUF file whose matrices are all Q4_0/Q4_1/Q8_0).
    pub fn has_quantized_rows(&self) -> bool {
        self.lm_head_quantized.is_some()
            && self.layers.iter().all(|block| {
                [
                    &block.self_attn.qkv_proj,
                    &block.self_attn.o_proj,
                    &block.mlp.gate_up_proj,
                    &block.mlp.down_proj,
                ]
                .iter()
                .all(|linear| linear.quantized.is_some())
            })
    }

    /// The config the model was built from.
    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// The device holding the weights.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// An empty cache for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(
            self.config.num_hidden_layers,
            self.config.kv_heads(),
            self.config.head_dim(),
            self.config.max_position_embeddings,
            self.device.clone(),
        )
    }

    /// The most positions whose logits fit one WebGPU binding (`rows × vocab × 4` bytes), and
    /// at most the prefill chunk: callers scoring many positions ask for this many at a time.
    pub fn logits_window(&self) -> usize {
        logits_window(self.prefill_chunk, self.config.vocab_size)
    }

    /// Runs `ids` after the positions already in `cache` (appending theirs), chunk by chunk,
    /// and returns the logits `[positions, vocab]` at the positions `logits_at` selects.
    ///
    /// A chunk of `len` positions after `cached` ones creates attention scores of `heads × len
    /// × (cached + len)` f32 and logits of up to `len × vocab` f32; `len` starts at
    /// [`Llama::logits_window`] and shrinks until the scores fit 128 MiB too (SmolLM2-135M,
    /// 9 heads: 256 positions after 8,000 cached take 74 MiB). The returned tensor holds every
    /// requested row, so ask for at most [`Llama::logits_window`] rows to keep it in one binding.
    pub fn forward(
        &self,
        ids: &[u32],
        cache: &mut KvCache,
        logits_at: LogitsAt,
    ) -> Result<Tensor<2>, ModelError> {
        if ids.is_empty() {
            return Err(ModelError::EmptyInput { what: "token ids" });
        }
        let first_logit = logits_at.first(ids.len())?;
        let vocab_size = self.config.vocab_size;
        if let Some((position, &id)) = ids
            .iter()
            .enumerate()
            .find(|&(_, &id)| id as usize >= vocab_size)
        {
            return Err(ModelError::TokenOutOfRange {
                id,
                position,
                vocab_size,
            });
        }
        let needed = cache.len() + ids.len();
        let max = self.config.max_position_embeddings;
        if needed > max {
            return Err(ModelError::ContextOverflow { needed, max });
        }
        cache.reserve(needed);

        let mut logits = Vec::new();
        let mut start = 0;
        while start < ids.len() {
            let len = chunk_len(
                self.logits_window(),
                self.config.num_attention_heads,
                cache.len(),
                ids.len() - start,
            );
            let hidden = self.forward_chunk(&ids[start..start + len], cache);
            if start + len > first_logit {
                let skip = first_logit.saturating_sub(start);
                logits.push(self.head(hidden.narrow(0, skip, len - skip)));
            }
            start += len;
        }
        Ok(Tensor::cat(logits, 0))
    }

    /// Runs one chunk through every layer, returning its hidden states `[len, hidden]`.
    fn forward_chunk(&self, ids: &[u32], cache: &mut KvCache) -> Tensor<2> {
        let chunk = self.rotary.chunk(cache.len(), ids.len());
        let mut hidden = self.embed(ids);
        for (block, layer_cache) in self.layers.iter().zip(cache.layers_mut()) {
            hidden = block.forward(hidden, &chunk, layer_cache);
        }
        cache.advance(ids.len());
        hidden
    }

    /// Looks up the embedding of each id: `[len, hidden]`.
    fn embed(&self, ids: &[u32]) -> Tensor<2> {
        let indices: Vec<i64> = ids.iter().map(|&id| i64::from(id)).collect();
        let indices =
            Tensor::<1, Int>::from_data(TensorData::new(indices, [ids.len()]), &self.device);
        self.embed_columns.clone().select(1, indices).transpose()
    }

    /// Final norm and vocabulary projection of hidden states `[rows, hidden]`.
    fn head(&self, hidden: Tensor<2>) -> Tensor<2> {
        let normed = self.norm.forward(hidden);
        match &self.lm_head_quantized {
            Some(rows) if normed.dims()[0] == 1 => quantized::row_product(normed, rows),
            _ => linear(normed, self.lm_head.clone(), None),
        }
    }
}

/// At most `prefill_chunk` positions, and no more than `rows × vocab` f32 fit one binding.
fn logits_window(prefill_chunk: usize, vocab_size: usize) -> usize {
    let rows = MAX_BINDING_BYTES / (vocab_size * F32_BYTES);
    prefill_chunk.min(rows).max(1)
}

/// How many of `remaining` positions the next chunk takes after `cached` ones: at most
/// `window`, and few enough that the attention scores, `heads × len × (cached + len)` f32, fit
/// one binding.
fn chunk_len(window: usize, heads: usize, cached: usize, remaining: usize) -> usize {
    let scores_fit = |len: usize| heads * len * (cached + len) * F32_BYTES <= MAX_BINDING_BYTES;
    let mut len = remaining.min(window);
    while len > 1 && !scores_fit(len) {
        len -= 1;
    }
    len
}

/// The additive causal mask of a chunk of `len` positions after `start` cached ones, `[1, 1,
/// len, start + len]`: query `i` (position `start + i`) sees keys `0..=start + i`.
fn causal_mask(start: usize, len: usize, device: &Device) -> Tensor<4> {
    let total = start + len;
    let future = Tensor::<2, Bool>::tril_mask([len, total], start as i64, device);
    Tensor::<2>::zeros([len, total], device)
        .mask_fill(future, MASKED_SCORE)
        .reshape([1, 1, len, total])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_config() -> LlamaConfig {
        LlamaConfig::from_json(
            br#"{"model_type": "llama", "vocab_size": 97, "hidden_size": 64,
                 "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "num_key_value_heads": 2, "max_position_embeddings": 64}"#,
        )
        .expect("a valid config")
    }

    #[test]
    fn config_reads_hugging_face_fields_and_defaults() {
        let config = tiny_config();
        assert_eq!(config.architecture, Architecture::Llama);
        assert_eq!(config.head_dim(), 16);
        assert_eq!(config.kv_heads(), 2);
        assert_eq!(config.rope_theta, 10_000.0);
        assert_eq!(config.rope_layout, RopeLayout::Halves);
        assert!(!config.qkv_bias());
        let qwen: LlamaConfig = serde_json::from_str(
            r#"{"model_type": "qwen2", "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8,
                "num_hidden_layers": 1, "num_attention_heads": 2}"#,
        )
        .expect("a valid config");
        assert!(qwen.qkv_bias() && !qwen.o_bias());
        assert_eq!(qwen.architecture.gguf_rope_layout(), RopeLayout::Halves);
        assert_eq!(
            Architecture::Llama.gguf_rope_layout(),
            RopeLayout::Interleaved
        );
    }

    #[test]
    fn unsupported_rope_scaling_is_an_error() {
        let mut config = tiny_config();
        config.rope_scaling = Some(serde_json::json!({"rope_type": "llama3", "factor": 8.0}));
        assert!(matches!(
            config.validate(),
            Err(ModelError::Config {
                field: "rope_scaling",
                ..
            })
        ));
        config.rope_scaling = Some(serde_json::Value::Null);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn interleaved_rows_move_to_halves() {
        // One head of width 4 with one-column rows: pairs (r0, r1), (r2, r3) become halves
        // (r0, r2 | r1, r3).
        let rows = [0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0];
        assert_eq!(
            halves_from_interleaved(&rows, 2, 4, 1),
            [0.0, 2.0, 1.0, 3.0, 10.0, 12.0, 11.0, 13.0]
        );
        let wide = [0.0, 0.5, 1.0, 1.5];
        assert_eq!(halves_from_interleaved(&wide, 1, 2, 2), wide);
    }

    #[test]
    fn transpose_moves_rows_to_columns() {
        assert_eq!(
            transposed(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3),
            [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }

    #[test]
    fn chunks_fit_a_webgpu_binding() {
        // SmolLM2-135M: 9 heads, 49,152 tokens; 256 positions after 8,000 cached need 74 MiB
        // of scores and 48 MiB of logits.
        assert_eq!(logits_window(256, 49_152), 256);
        assert_eq!(chunk_len(256, 9, 8_000, 1_000), 256);
        assert_eq!(chunk_len(256, 9, 0, 10), 10);
        // Qwen2's 151,936 tokens: 220 rows of logits fill 128 MiB.
        assert_eq!(logits_window(256, 151_936), 220);
        // 32 heads after 100,000 cached positions: len·(100,000 + len) ≤ 2^20 allows 10.
        assert_eq!(chunk_len(256, 32, 100_000, 500), 10);
        assert_eq!(chunk_len(256, 32, 10_000_000, 500), 1);
    }

    #[test]
    fn logits_position_is_checked() {
        assert_eq!(LogitsAt::Last.first(5).ok(), Some(4));
        assert_eq!(LogitsAt::All.first(5).ok(), Some(0));
        assert_eq!(LogitsAt::From(2).first(5).ok(), Some(2));
        assert!(matches!(
            LogitsAt::From(5).first(5),
            Err(ModelError::LogitsPosition { from: 5, len: 5 })
        ));
    }
}
