//! The decoder of the Llama family (Touvron et al. 2023, arXiv 2302.13971) and the variants built
//! on it — Qwen2 (q/k/v biases), Qwen3 (QK-norm), Gemma 2 and Gemma 3 (norms around attention
//! and MLP, GeGLU, scaled embeddings, sliding-window layers, soft-capping), Phi-3 (fused
//! projections, LongRoPE's factors) — following Hugging Face
//! transformers' `modeling_*.py` and llama.cpp's graph for each: RMSNorm, rotary positions,
//! grouped-query attention over a KV cache, a gated MLP.
//!
//! Weights live where the device multiplies them fastest in the memory it has: on a GPU, a GGUF
//! file's matrices stay as its blocks (`model::blocks`); on the CPU they are f32, with natively
//! the file's quantized rows beside them for decode steps (`model::quantized`).

use std::num::NonZeroUsize;
use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor, TensorData, activation, module::linear};

use super::blocks::{self, BlockMatrix, DeviceMatrix};
use super::cache::{KvCache, LayerCache};
use super::config::{DecoderConfig, LayerAttention, RopeLayout};
use super::device::DeviceError;
use super::quantized::{self, QuantizedRows};
use super::rope::{ChunkPositions, inverse_frequencies};
use crate::loader::weights::{WeightError, WeightSource};

/// WebGPU guarantees storage bindings of 128 MiB (`maxStorageBufferBindingSize`); every tensor
/// a forward pass creates must fit in one.
pub(super) const MAX_BINDING_BYTES: usize = 128 << 20;

/// Bytes of one f32.
const F32_BYTES: usize = 4;

/// Positions processed at once when prefilling, unless the model is told otherwise.
pub const DEFAULT_PREFILL_CHUNK: usize = 256;

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

impl From<WeightError> for ModelError {
    fn from(error: WeightError) -> ModelError {
        match error {
            WeightError::Missing { name } => ModelError::MissingWeight { name },
            WeightError::Unreadable { name, message } => ModelError::Weight { name, message },
        }
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
    // In tiles, so both sides are read and written in cache lines (a naive transpose of every
    // matrix took a seventh of a model's load time).
    const TILE: usize = 32;
    let mut out = vec![0.0; values.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = values[r * cols + c];
                }
            }
        }
    }
    out
}

/// For each row of the halves layout, the interleaved row it comes from: llama.cpp's converter
/// permutes Llama's q/k rows so that, within each head, row `a·d/2 + i` moves to `2i + a` (pair
/// `i`, member `a`); reading rows in this order undoes it, so the halves-rotating RoPE applies.
/// Attention only sees `q·k`, which is unchanged when both get the same permutation.
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

/// One matrix of a checkpoint to read: its name, its `[rows, cols]`, and for queries and keys
/// of an interleaved checkpoint the `(heads, head_dim)` whose rows are read in
/// [`halves_row_order`].
struct MatrixSpec {
    name: String,
    rows: usize,
    cols: usize,
    interleaved: Option<(usize, usize)>,
}

impl MatrixSpec {
    fn new(name: String, rows: usize, cols: usize) -> MatrixSpec {
        MatrixSpec {
            name,
            rows,
            cols,
            interleaved: None,
        }
    }

    /// The same matrix of `heads` heads of `head_dim` rows, stored for llama.cpp's adjacent-pair
    /// RoPE when `interleaved`.
    fn rotated(mut self, interleaved: bool, heads: usize, head_dim: usize) -> MatrixSpec {
        self.interleaved = interleaved.then_some((heads, head_dim));
        self
    }

    /// The order rows are read in, built only once the file's shape has been checked (so a
    /// config naming absurd sizes never allocates it).
    fn order(&self) -> Option<Vec<usize>> {
        self.interleaved
            .map(|(heads, head_dim)| halves_row_order(heads, head_dim))
    }

    /// The matrix as stored, checked against the expected shape; `None` when the file does
    /// not store blocks.
    fn stored<'w>(
        &self,
        weights: &'w dyn WeightSource,
    ) -> Result<Option<BlockMatrix<'w>>, ModelError> {
        let Some(stored) = weights.stored(&self.name) else {
            return Ok(None);
        };
        if (stored.rows, stored.cols) != (self.rows, self.cols) {
            return Err(ModelError::WeightShape {
                name: self.name.clone(),
                expected: vec![self.rows, self.cols],
                found: vec![stored.rows, stored.cols],
            });
        }
        let matrix = BlockMatrix::new(&stored);
        Ok(Some(match self.order() {
            Some(order) => matrix.with_rows(&order),
            None => matrix,
        }))
    }

    /// The matrix as f32 rows, shape checked, rows in this spec's order.
    fn values(&self, weights: &dyn WeightSource) -> Result<Vec<f32>, ModelError> {
        let values = read_matrix(weights, &self.name, self.rows, self.cols)?;
        Ok(match self.order() {
            Some(order) => order
                .iter()
                .flat_map(|&r| &values[r * self.cols..(r + 1) * self.cols])
                .copied()
                .collect(),
            None => values,
        })
    }
}

/// A weight matrix `W` (`[out, in]`) in the form its device multiplies.
// A burn tensor handle is large next to a vector; a model has a few hundred of these, built once.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Matrix {
    /// f32, kept as `[in, out]` so the product needs no transpose; on the CPU natively, also
    /// the checkpoint's quantized rows for one-row products, one group per run of projections
    /// stored alike (their outputs side by side), or none.
    Dense {
        columns: Tensor<2>,
        rows: Vec<Arc<QuantizedRows>>,
    },
    /// The file's blocks on a GPU, one group per run of projections stored alike.
    Blocks(Vec<DeviceMatrix>),
}

impl Matrix {
    /// The matrices of `specs` stacked (outputs side by side), in the form `device` multiplies:
    /// blocks on a GPU when the file stores them in a format the kernels read, f32 otherwise.
    fn load(
        weights: &dyn WeightSource,
        specs: &[MatrixSpec],
        device: &Device,
    ) -> Result<Matrix, ModelError> {
        let on_gpu = blocks::used_on(device);
        if on_gpu || quantized::used_on(device) {
            let mut stored = Vec::with_capacity(specs.len());
            for spec in specs {
                stored.push(spec.stored(weights)?);
            }
            if let Some(stored) = stored.into_iter().collect::<Option<Vec<_>>>() {
                let groups = BlockMatrix::grouped(stored);
                if on_gpu && groups.iter().all(BlockMatrix::has_kernel) {
                    let uploaded = groups
                        .iter()
                        .map(|group| DeviceMatrix::upload(group, device))
                        .collect::<Option<Vec<_>>>()
                        .expect("every group has a kernel");
                    return Ok(Matrix::Blocks(uploaded));
                }
                if !on_gpu {
                    let rows = groups
                        .iter()
                        .map(|group| QuantizedRows::from_stored(&group.as_stored()).map(Arc::new))
                        .collect::<Option<Vec<_>>>()
                        .unwrap_or_default();
                    return Matrix::dense(weights, specs, rows, device);
                }
            }
        }
        Matrix::dense(weights, specs, Vec::new(), device)
    }

    /// f32 `[in, out]` of the stacked specs.
    fn dense(
        weights: &dyn WeightSource,
        specs: &[MatrixSpec],
        rows: Vec<Arc<QuantizedRows>>,
        device: &Device,
    ) -> Result<Matrix, ModelError> {
        let in_features = specs.first().map_or(0, |s| s.cols);
        let mut stacked = Vec::new();
        for spec in specs {
            stacked.extend(spec.values(weights)?);
        }
        let out_features = stacked.len() / in_features.max(1);
        Ok(Matrix::Dense {
            columns: Tensor::from_data(
                TensorData::new(
                    transposed(&stacked, out_features, in_features),
                    [in_features, out_features],
                ),
                device,
            ),
            rows,
        })
    }

    /// `x · Wᵀ` for `x` `[n, in]`.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let one_row = x.dims()[0] == 1;
        match self {
            Matrix::Dense { rows, .. } if one_row && !rows.is_empty() => side_by_side(
                rows.iter()
                    .map(|r| quantized::row_product(x.clone(), r))
                    .collect(),
            ),
            Matrix::Dense { columns, .. } => linear(x, columns.clone(), None),
            Matrix::Blocks(groups) if one_row => {
                side_by_side(groups.iter().map(|g| g.row_product(&x)).collect())
            }
            Matrix::Blocks(groups) => side_by_side(groups.iter().map(|g| g.product(&x)).collect()),
        }
    }

    /// Bytes this matrix takes on its device (f32 weights, or the blocks).
    fn device_bytes(&self) -> usize {
        match self {
            Matrix::Dense { columns, .. } => columns.shape().num_elements() * F32_BYTES,
            Matrix::Blocks(groups) => groups.iter().map(DeviceMatrix::device_bytes).sum(),
        }
    }
}

/// Outputs of stacked projections, side by side.
fn side_by_side(mut parts: Vec<Tensor<2>>) -> Tensor<2> {
    if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        Tensor::cat(parts, 1)
    }
}

/// A linear layer `y = x·Wᵀ + b`.
#[derive(Debug, Clone)]
pub(super) struct Linear {
    weight: Matrix,
    bias: Option<Tensor<1>>,
}

impl Linear {
    /// Reads `{prefix}.weight` (and `{prefix}.bias` when `bias`) of shape `[out, in]`.
    pub(super) fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        [out_features, in_features]: [usize; 2],
        bias: bool,
        device: &Device,
    ) -> Result<Linear, ModelError> {
        let spec = MatrixSpec::new(format!("{prefix}.weight"), out_features, in_features);
        let biases = bias.then(|| vec![format!("{prefix}.bias")]);
        Linear::stacked(weights, &[spec], biases.as_deref(), device)
    }

    /// Several projections that read the same input as one layer (their outputs side by side),
    /// with the biases named in `biases` (one per spec) when given.
    fn stacked(
        weights: &dyn WeightSource,
        specs: &[MatrixSpec],
        biases: Option<&[String]>,
        device: &Device,
    ) -> Result<Linear, ModelError> {
        let weight = Matrix::load(weights, specs, device)?;
        let bias = match biases {
            Some(names) => {
                let mut values = Vec::new();
                for (spec, name) in specs.iter().zip(names) {
                    let bias = read_shaped(weights, name, &[spec.rows])?;
                    values.extend(match spec.order() {
                        Some(order) => order.iter().map(|&r| bias[r]).collect(),
                        None => bias,
                    });
                }
                let len = values.len();
                Some(Tensor::from_data(TensorData::new(values, [len]), device))
            }
            None => None,
        };
        Ok(Linear { weight, bias })
    }

    pub(super) fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = self.weight.forward(x);
        match &self.bias {
            Some(bias) => y + bias.clone().unsqueeze(),
            None => y,
        }
    }

    fn device_bytes(&self) -> usize {
        self.weight.device_bytes() + self.bias.as_ref().map_or(0, tensor_bytes)
    }
}

fn tensor_bytes<const D: usize>(tensor: &Tensor<D>) -> usize {
    tensor.shape().num_elements() * F32_BYTES
}

/// Root-mean-square normalisation (Zhang & Sennrich 2019) with a learned scale.
#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor<2>,
    eps: f64,
}

impl RmsNorm {
    /// Reads a norm of `width` values; Gemma's Hugging Face weights get their `1 +` here.
    fn load(
        weights: &dyn WeightSource,
        name: &str,
        width: usize,
        config: &DecoderConfig,
        device: &Device,
    ) -> Result<RmsNorm, ModelError> {
        let mut values = read_shaped(weights, name, &[width])?;
        if config.norm_weight_offset != 0.0 {
            let offset = config.norm_weight_offset as f32;
            values.iter_mut().for_each(|v| *v += offset);
        }
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

    /// Normalises every head of `x` (`[len, heads · head_dim]`) on its own (QK-norm).
    fn forward_heads(&self, x: Tensor<2>) -> Tensor<2> {
        let [len, width] = x.dims();
        let head_dim = self.weight.dims()[1];
        self.forward(x.reshape([len * width / head_dim, head_dim]))
            .reshape([len, width])
    }

    fn device_bytes(&self) -> usize {
        tensor_bytes(&self.weight)
    }
}

/// Grouped-query self-attention (Ainslie et al. 2023): `heads / kv_heads` query heads share
/// each key/value head.
#[derive(Debug, Clone)]
struct Attention {
    /// `q_proj`, `k_proj` and `v_proj` as one layer.
    qkv_proj: Linear,
    o_proj: Linear,
    /// Qwen3's and Gemma 3's per-head norms of queries and keys.
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    query_scale: f64,
    softcap: Option<f64>,
    /// Which positions this layer sees and with which rotary frequencies.
    kind: LayerAttention,
}

impl Attention {
    fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        config: &DecoderConfig,
        kind: LayerAttention,
        device: &Device,
    ) -> Result<Attention, ModelError> {
        let (heads, kv_heads, head_dim, hidden) = (
            config.num_attention_heads,
            config.kv_heads(),
            config.head_dim(),
            config.hidden_size,
        );
        let interleaved = config.rope_layout == RopeLayout::Interleaved;
        let spec =
            |name: &str, heads: usize, rotated: bool| {
                MatrixSpec::new(format!("{prefix}.{name}.weight"), heads * head_dim, hidden)
                    .rotated(rotated && interleaved, heads, head_dim)
            };
        let qkv_proj = if config.architecture.fused_projections() {
            // Phi-3 stores the rows of q, k and v in one matrix, in the order this layer
            // stacks them (NeoX RoPE: nothing to reorder).
            let fused = MatrixSpec::new(
                format!("{prefix}.qkv_proj.weight"),
                (heads + 2 * kv_heads) * head_dim,
                hidden,
            );
            Linear::stacked(weights, &[fused], None, device)?
        } else {
            let specs = [
                spec("q_proj", heads, true),
                spec("k_proj", kv_heads, true),
                spec("v_proj", kv_heads, false),
            ];
            let biases: Vec<String> = ["q_proj", "k_proj", "v_proj"]
                .iter()
                .map(|name| format!("{prefix}.{name}.bias"))
                .collect();
            Linear::stacked(
                weights,
                &specs,
                config.qkv_bias().then_some(biases.as_slice()),
                device,
            )?
        };
        let o_proj = Linear::load(
            weights,
            &format!("{prefix}.o_proj"),
            [hidden, heads * head_dim],
            config.o_bias(),
            device,
        )?;
        let norm = |name: &str| {
            RmsNorm::load(
                weights,
                &format!("{prefix}.{name}.weight"),
                head_dim,
                config,
                device,
            )
        };
        let (q_norm, k_norm) = if config.architecture.qk_norm() {
            (Some(norm("q_norm")?), Some(norm("k_norm")?))
        } else {
            (None, None)
        };
        Ok(Attention {
            qkv_proj,
            o_proj,
            q_norm,
            k_norm,
            heads,
            kv_heads,
            head_dim,
            query_scale: config.query_scale(),
            softcap: config.attn_logit_softcapping,
            kind,
        })
    }

    /// Attends the chunk `x` (`[len, hidden]`, at positions `start..`) to the cached
    /// positions and to itself, causally (within this layer's window), and appends its keys and
    /// values to the cache.
    fn forward(&self, x: Tensor<2>, chunk: &ChunkPositions, cache: &mut LayerCache) -> Tensor<2> {
        let (start, len) = (chunk.start, x.dims()[0]);
        let (heads, kv_heads, head_dim) = (self.heads, self.kv_heads, self.head_dim);
        let group = heads / kv_heads;
        let qkv = self.qkv_proj.forward(x);
        let columns =
            |first: usize, count: usize| qkv.clone().narrow(1, first * head_dim, count * head_dim);
        let normed = |x: Tensor<2>, norm: &Option<RmsNorm>| match norm {
            Some(norm) => norm.forward_heads(x),
            None => x,
        };
        let by_head =
            |x: Tensor<2>, count: usize| x.reshape([len, count, head_dim]).swap_dims(0, 1);
        let rotary = self.kind.rotary;
        let q = chunk.rotate(
            by_head(normed(columns(0, heads), &self.q_norm), heads),
            rotary,
        );
        let k = chunk.rotate(
            by_head(normed(columns(heads, kv_heads), &self.k_norm), kv_heads),
            rotary,
        );
        let v = by_head(columns(heads + kv_heads, kv_heads), kv_heads);
        let (keys, values) = cache.append(start, k, v);
        let total = start + len;

        // Query heads h = g·group + j share key/value head g, so grouping the queries as
        // [kv_heads, group·len, head_dim] lets one batched product serve the whole group
        // without repeating keys or values.
        let q = q
            .mul_scalar(self.query_scale)
            .reshape([kv_heads, group * len, head_dim]);
        let mut scores = q
            .matmul(keys.transpose())
            .reshape([kv_heads, group, len, total]);
        if let Some(cap) = self.softcap {
            scores = scores.div_scalar(cap).tanh().mul_scalar(cap);
        }
        if let Some(mask) = chunk.mask(self.kind.window) {
            scores = scores + mask.clone();
        }
        let probabilities = activation::softmax(scores, 3).reshape([kv_heads, group * len, total]);
        let context = probabilities
            .matmul(values)
            .reshape([heads, len, head_dim])
            .swap_dims(0, 1)
            .reshape([len, heads * head_dim]);
        self.o_proj.forward(context)
    }

    fn device_bytes(&self) -> usize {
        self.qkv_proj.device_bytes()
            + self.o_proj.device_bytes()
            + [&self.q_norm, &self.k_norm]
                .iter()
                .map(|n| n.as_ref().map_or(0, RmsNorm::device_bytes))
                .sum::<usize>()
    }
}

/// The gated feed-forward block: `down(act(gate(x)) · up(x))`, SwiGLU (Shazeer 2020) with SiLU,
/// GeGLU with GELU's tanh approximation for Gemma.
#[derive(Debug, Clone)]
struct Mlp {
    /// `gate_proj` and `up_proj` as one layer.
    gate_up_proj: Linear,
    down_proj: Linear,
    intermediate: usize,
    gelu: bool,
}

impl Mlp {
    fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        config: &DecoderConfig,
        device: &Device,
    ) -> Result<Mlp, ModelError> {
        let (hidden, intermediate) = (config.hidden_size, config.intermediate_size);
        let spec = |name: &str, rows: usize| {
            MatrixSpec::new(format!("{prefix}.{name}.weight"), rows, hidden)
        };
        // Phi-3 stores gate then up in one matrix, as this layer stacks them.
        let specs = if config.architecture.fused_projections() {
            vec![spec("gate_up_proj", 2 * intermediate)]
        } else {
            vec![
                spec("gate_proj", intermediate),
                spec("up_proj", intermediate),
            ]
        };
        Ok(Mlp {
            gate_up_proj: Linear::stacked(weights, &specs, None, device)?,
            down_proj: Linear::load(
                weights,
                &format!("{prefix}.down_proj"),
                [hidden, intermediate],
                false,
                device,
            )?,
            intermediate,
            gelu: config.gelu(),
        })
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let gate_up = self.gate_up_proj.forward(x);
        let gate = gate_up.clone().narrow(1, 0, self.intermediate);
        let up = gate_up.narrow(1, self.intermediate, self.intermediate);
        let activated = if self.gelu {
            gelu_tanh(gate)
        } else {
            activation::silu(gate)
        };
        self.down_proj.forward(activated * up)
    }

    fn device_bytes(&self) -> usize {
        self.gate_up_proj.device_bytes() + self.down_proj.device_bytes()
    }
}

/// GELU's tanh approximation (`gelu_pytorch_tanh`, llama.cpp's `ggml_gelu`):
/// `x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
fn gelu_tanh(x: Tensor<2>) -> Tensor<2> {
    const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
    let cubed = x.clone() * x.clone() * x.clone();
    let inner = (x.clone() + cubed.mul_scalar(0.044_715)).mul_scalar(SQRT_2_OVER_PI);
    x.mul_scalar(0.5) * inner.tanh().add_scalar(1.0)
}

/// One decoder layer: a norm, attention and (Gemma) a norm of its output added to the residual
/// stream; then the same around the MLP.
#[derive(Debug, Clone)]
struct Block {
    attn_norm: RmsNorm,
    self_attn: Attention,
    attn_post_norm: Option<RmsNorm>,
    ffn_norm: RmsNorm,
    mlp: Mlp,
    ffn_post_norm: Option<RmsNorm>,
}

impl Block {
    fn load(
        weights: &dyn WeightSource,
        layer: usize,
        config: &DecoderConfig,
        kind: LayerAttention,
        device: &Device,
    ) -> Result<Block, ModelError> {
        let prefix = format!("model.layers.{layer}");
        let norm = |name: &str| {
            RmsNorm::load(
                weights,
                &format!("{prefix}.{name}.weight"),
                config.hidden_size,
                config,
                device,
            )
        };
        let sandwich = config.architecture.sandwich_norms();
        Ok(Block {
            attn_norm: norm("input_layernorm")?,
            self_attn: Attention::load(
                weights,
                &format!("{prefix}.self_attn"),
                config,
                kind,
                device,
            )?,
            attn_post_norm: if sandwich {
                Some(norm("post_attention_layernorm")?)
            } else {
                None
            },
            ffn_norm: norm(if sandwich {
                "pre_feedforward_layernorm"
            } else {
                "post_attention_layernorm"
            })?,
            mlp: Mlp::load(weights, &format!("{prefix}.mlp"), config, device)?,
            ffn_post_norm: if sandwich {
                Some(norm("post_feedforward_layernorm")?)
            } else {
                None
            },
        })
    }

    fn forward(&self, x: Tensor<2>, chunk: &ChunkPositions, cache: &mut LayerCache) -> Tensor<2> {
        let post = |norm: &Option<RmsNorm>, y: Tensor<2>| match norm {
            Some(norm) => norm.forward(y),
            None => y,
        };
        let attended = self
            .self_attn
            .forward(self.attn_norm.forward(x.clone()), chunk, cache);
        let x = x + post(&self.attn_post_norm, attended);
        let transformed = self.mlp.forward(self.ffn_norm.forward(x.clone()));
        x + post(&self.ffn_post_norm, transformed)
    }

    fn device_bytes(&self) -> usize {
        [&self.attn_post_norm, &self.ffn_post_norm]
            .iter()
            .map(|n| n.as_ref().map_or(0, RmsNorm::device_bytes))
            .sum::<usize>()
            + self.attn_norm.device_bytes()
            + self.ffn_norm.device_bytes()
            + self.self_attn.device_bytes()
            + self.mlp.device_bytes()
    }

    fn linears_mut(&mut self) -> [&mut Linear; 4] {
        [
            &mut self.self_attn.qkv_proj,
            &mut self.self_attn.o_proj,
            &mut self.mlp.gate_up_proj,
            &mut self.mlp.down_proj,
        ]
    }

    fn linears(&self) -> [&Linear; 4] {
        [
            &self.self_attn.qkv_proj,
            &self.self_attn.o_proj,
            &self.mlp.gate_up_proj,
            &self.mlp.down_proj,
        ]
    }
}

/// The token embedding in the form its device reads rows from.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Embedding {
    /// f32 transposed, `[hidden, vocab]`: the output head's layout, so a tied head shares this
    /// one copy; a lookup selects columns.
    Columns(Tensor<2>),
    /// The file's blocks on a GPU; a lookup dequantizes the rows of the ids.
    Blocks(DeviceMatrix),
}

/// How many bytes of the decoder's weights and cache sit on its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DeviceBytes {
    /// Every weight, counted once (a tied head shares the embedding).
    pub weights: u64,
    /// The KV cache as allocated now.
    pub kv_cache: u64,
}

/// The decoder with its weights on a device, ready to run chunks of token ids against a
/// [`KvCache`].
#[derive(Debug, Clone)]
pub struct Decoder {
    config: DecoderConfig,
    device: Device,
    embedding: Embedding,
    /// Gemma multiplies embeddings by `sqrt(hidden)`.
    embedding_scale: Option<f64>,
    layers: Vec<Block>,
    norm: RmsNorm,
    /// The output head; on the CPU with a tied head, the embedding's own columns.
    lm_head: Matrix,
    /// Whether `lm_head` is the embedding (counted once in [`Decoder::device_bytes`]).
    tied: bool,
    /// Gemma 2's `final_logit_softcapping`.
    logit_softcap: Option<f64>,
    /// Per rotary kind, the inverse frequencies of a head and the factor of its cosines and
    /// sines.
    frequencies: Vec<(Vec<f64>, f64)>,
    /// Per layer, its window and rotary kind.
    attention: Vec<LayerAttention>,
    prefill_chunk: usize,
}

impl Decoder {
    /// Validates `config`, reads every tensor it implies from `weights` (checking shapes) and
    /// puts them on `device` — as the file's blocks on a GPU where the file stores blocks, as
    /// f32 otherwise. The output head is tied to the embedding when the config says so or
    /// `lm_head.weight` is absent.
    pub fn load(
        config: &DecoderConfig,
        weights: &dyn WeightSource,
        device: &Device,
    ) -> Result<Decoder, ModelError> {
        config.validate()?;
        let (vocab, hidden) = (config.vocab_size, config.hidden_size);
        let embed = MatrixSpec::new("model.embed_tokens.weight".into(), vocab, hidden);
        let tied = config.tie_word_embeddings || !weights.has("lm_head.weight");
        let head = if tied {
            MatrixSpec::new("model.embed_tokens.weight".into(), vocab, hidden)
        } else {
            MatrixSpec::new("lm_head.weight".into(), vocab, hidden)
        };
        let gpu_blocks = match embed.stored(weights)? {
            Some(stored) if blocks::used_on(device) => DeviceMatrix::upload(&stored, device),
            _ => None,
        };
        let (embedding, lm_head) = match gpu_blocks {
            Some(blocks) => {
                let lm_head = if tied {
                    Matrix::Blocks(vec![blocks.clone()])
                } else {
                    Matrix::load(weights, &[head], device)?
                };
                (Embedding::Blocks(blocks), lm_head)
            }
            None => {
                let columns = |spec: &MatrixSpec| -> Result<Tensor<2>, ModelError> {
                    Ok(Tensor::from_data(
                        TensorData::new(
                            transposed(&spec.values(weights)?, vocab, hidden),
                            [hidden, vocab],
                        ),
                        device,
                    ))
                };
                let embed_columns = columns(&embed)?;
                let rows = if quantized::used_on(device) {
                    head.stored(weights)?
                        .and_then(|stored| QuantizedRows::from_stored(&stored.as_stored()))
                        .map(|rows| vec![Arc::new(rows)])
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                let head_columns = if tied {
                    embed_columns.clone()
                } else {
                    columns(&head)?
                };
                (
                    Embedding::Columns(embed_columns),
                    Matrix::Dense {
                        columns: head_columns,
                        rows,
                    },
                )
            }
        };
        let attention = config.layer_attention();
        let layers = attention
            .iter()
            .enumerate()
            .map(|(layer, kind)| Block::load(weights, layer, config, kind.clone(), device))
            .collect::<Result<_, _>>()?;
        Ok(Decoder {
            config: config.clone(),
            device: device.clone(),
            embedding,
            embedding_scale: config
                .architecture
                .sandwich_norms()
                .then(|| (hidden as f32).sqrt() as f64),
            layers,
            norm: RmsNorm::load(weights, "model.norm.weight", hidden, config, device)?,
            lm_head,
            tied,
            logit_softcap: config.final_logit_softcapping,
            frequencies: config
                .rotary_kinds()
                .iter()
                .map(|kind| {
                    (
                        inverse_frequencies(kind, config.head_dim()),
                        kind.attention_factor,
                    )
                })
                .collect(),
            attention,
            prefill_chunk: DEFAULT_PREFILL_CHUNK,
        })
    }

    /// The same model prefilling at most `positions` positions per pass (fewer when a pass
    /// would exceed a WebGPU binding, see [`Decoder::forward`]).
    pub fn with_prefill_chunk(mut self, positions: NonZeroUsize) -> Decoder {
        self.prefill_chunk = positions.get();
        self
    }

    /// The same model multiplying every matrix in f32, also for one row: on the CPU, a
    /// decode step otherwise reads the checkpoint's quantized rows (see `model::quantized`).
    /// For comparing the two.
    pub fn without_quantized_rows(mut self) -> Decoder {
        let clear = |matrix: &mut Matrix| {
            if let Matrix::Dense { rows, .. } = matrix {
                rows.clear();
            }
        };
        clear(&mut self.lm_head);
        for block in &mut self.layers {
            for linear in block.linears_mut() {
                clear(&mut linear.weight);
            }
        }
        self
    }

    /// Every matrix of the model: the output head's, then each layer's four.
    fn matrices(&self) -> impl Iterator<Item = &Matrix> {
        std::iter::once(&self.lm_head).chain(
            self.layers
                .iter()
                .flat_map(|block| block.linears().map(|linear| &linear.weight)),
        )
    }

    /// Whether every one-row product — the output head and each layer's four — reads quantized
    /// rows (natively on the CPU, with a GGUF file whose matrices all have a quantized form).
    pub fn has_quantized_rows(&self) -> bool {
        self.matrices()
            .all(|m| matches!(m, Matrix::Dense { rows, .. } if !rows.is_empty()))
    }

    /// Whether every matrix, the embedding included, is kept as the file's blocks on a GPU.
    pub fn has_device_blocks(&self) -> bool {
        matches!(self.embedding, Embedding::Blocks(_))
            && self.matrices().all(|m| matches!(m, Matrix::Blocks(_)))
    }

    /// Bytes of the weights on the device (each counted once) and of `cache`.
    pub fn device_bytes(&self, cache: &KvCache) -> DeviceBytes {
        let embedding = match &self.embedding {
            Embedding::Columns(columns) => tensor_bytes(columns),
            Embedding::Blocks(blocks) => blocks.device_bytes(),
        };
        let head = if self.tied {
            0
        } else {
            self.lm_head.device_bytes()
        };
        DeviceBytes {
            weights: (embedding
                + head
                + self.norm.device_bytes()
                + self.layers.iter().map(Block::device_bytes).sum::<usize>())
                as u64,
            kv_cache: cache.device_bytes(),
        }
    }

    /// The config the model was built from.
    pub fn config(&self) -> &DecoderConfig {
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

    /// A cache with storage reserved for `positions` positions (at most the context), as a
    /// sequence of that length would have it; for reporting memory.
    pub fn cache_for(&self, positions: usize) -> KvCache {
        let mut cache = self.new_cache();
        cache.reserve(positions.min(self.config.max_position_embeddings));
        cache
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
    /// [`Decoder::logits_window`] and shrinks until the scores fit 128 MiB too (SmolLM2-135M,
    /// 9 heads: 256 positions after 8,000 cached take 74 MiB). The returned tensor holds every
    /// requested row, so ask for at most [`Decoder::logits_window`] rows to keep it in one binding.
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
        let chunk = ChunkPositions::new(
            cache.len(),
            ids.len(),
            &self.frequencies,
            &self.attention,
            &self.device,
        );
        let mut hidden = self.embed(ids);
        for (block, layer_cache) in self.layers.iter().zip(cache.layers_mut()) {
            hidden = block.forward(hidden, &chunk, layer_cache);
        }
        cache.advance(ids.len());
        hidden
    }

    /// Looks up the embedding of each id: `[len, hidden]`.
    fn embed(&self, ids: &[u32]) -> Tensor<2> {
        let embedded = match &self.embedding {
            Embedding::Columns(columns) => {
                let indices: Vec<i64> = ids.iter().map(|&id| i64::from(id)).collect();
                let indices = Tensor::<1, Int>::from_data(
                    TensorData::new(indices, [ids.len()]),
                    &self.device,
                );
                columns.clone().select(1, indices).transpose()
            }
            Embedding::Blocks(blocks) => blocks.rows_of(ids),
        };
        match self.embedding_scale {
            Some(scale) => embedded.mul_scalar(scale),
            None => embedded,
        }
    }

    /// Final norm and vocabulary projection of hidden states `[rows, hidden]`.
    fn head(&self, hidden: Tensor<2>) -> Tensor<2> {
        let logits = self.lm_head.forward(self.norm.forward(hidden));
        match self.logit_softcap {
            Some(cap) => logits.div_scalar(cap).tanh().mul_scalar(cap),
            None => logits,
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
    // In u64: on wasm32 a long context (32 heads × 256 × 131,072) overflows usize.
    let scores_fit = |len: usize| {
        heads as u64 * len as u64 * (cached + len) as u64 * F32_BYTES as u64
            <= MAX_BINDING_BYTES as u64
    };
    let mut len = remaining.min(window);
    while len > 1 && !scores_fit(len) {
        len -= 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_rows_move_to_halves() {
        // Heads of width 4: pairs (r0, r1), (r2, r3) become halves (r0, r2 | r1, r3).
        assert_eq!(halves_row_order(2, 4), [0, 2, 1, 3, 4, 6, 5, 7]);
        assert_eq!(halves_row_order(1, 2), [0, 1]);
    }

    #[test]
    fn transpose_moves_rows_to_columns() {
        assert_eq!(
            transposed(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3),
            [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
        // Beyond one tile in both directions, with partial tiles at the edges.
        let (rows, cols) = (45, 70);
        let values: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
        let out = transposed(&values, rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(out[c * rows + r], values[r * cols + c]);
            }
        }
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

    #[test]
    fn gelu_follows_the_tanh_approximation() {
        let device = Device::flex();
        let x = [-3.0f32, -1.0, -0.1, 0.0, 0.5, 2.0];
        let out = gelu_tanh(Tensor::from_data(
            TensorData::new(x.to_vec(), [1, 6]),
            &device,
        ))
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
        for (&x, &y) in x.iter().zip(&out) {
            let x = f64::from(x);
            let want = 0.5
                * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh());
            assert!((f64::from(y) - want).abs() < 1e-6, "{x}: {y} vs {want}");
        }
    }
}
