//! The BERT encoder (Devlin et al. 2019, arXiv 1810.04805) as Hugging Face transformers'
//! `modeling_bert.py` computes it: word, absolute-position and token-type embeddings with a
//! LayerNorm, then post-LN encoder layers (self-attention, exact-erf GELU feed-forward). It
//! returns the hidden states of a chosen layer, which is what BERTScore compares.

use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use serde::Deserialize;

use super::decoder::{Linear, ModelError, read_matrix, read_shaped};
use super::device::{Backend, read_f32};
use crate::loader::weights::{WeightError, WeightSource};

/// Bytes of one f32.
const F32_BYTES: usize = 4;

/// Attention-score bytes one batch may hold: half of WebGPU's guaranteed 128 MiB binding, so
/// the scores and their softmax fit side by side.
const MAX_SCORE_BYTES: usize = 64 << 20;

/// Most sentences in one batch (as `bert_score`'s default batch size).
const MAX_BATCH: usize = 64;

/// The largest size a BERT `config.json` may give.
const MAX_CONFIG_SIZE: usize = 1 << 20;

/// Added to the attention score of a padded position; finite, as WGSL wants.
const MASKED_SCORE: f32 = -1.0e30;

/// The fields of a BERT `config.json` the encoder needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of the hidden states.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Positions the position embedding covers (512 for BERT).
    pub max_position_embeddings: usize,
    /// Token types (2 for BERT).
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// The feed-forward activation; only `gelu` (exact) is supported.
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
}

fn default_type_vocab_size() -> usize {
    2
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

fn default_hidden_act() -> String {
    "gelu".into()
}

impl BertConfig {
    /// Reads and validates a Hugging Face `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<BertConfig, ModelError> {
        let config: BertConfig = serde_json::from_slice(bytes)?;
        let invalid = |field: &'static str, message: String| ModelError::Config { field, message };
        for (field, value) in [
            ("vocab_size", config.vocab_size),
            ("hidden_size", config.hidden_size),
            ("num_hidden_layers", config.num_hidden_layers),
            ("num_attention_heads", config.num_attention_heads),
            ("intermediate_size", config.intermediate_size),
            ("max_position_embeddings", config.max_position_embeddings),
            ("type_vocab_size", config.type_vocab_size),
        ] {
            if value == 0 {
                return Err(invalid(field, "must be positive".into()));
            }
            // Far above any BERT (BERT-large: 1,024 wide, 30,522 words, 512 positions).
            if value > MAX_CONFIG_SIZE {
                return Err(invalid(
                    field,
                    format!("({value}) is above the limit of {MAX_CONFIG_SIZE}"),
                ));
            }
        }
        // The largest matrix the encoder builds must stay addressable on wasm32.
        let widest = [
            config.vocab_size,
            config.max_position_embeddings,
            config.intermediate_size,
            config.hidden_size,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        if (widest as u64) * (config.hidden_size as u64) > 1 << 31 {
            return Err(invalid(
                "hidden_size",
                format!(
                    "({}) times {widest} makes a weight matrix of more than 2^31 values",
                    config.hidden_size
                ),
            ));
        }
        if !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
        {
            return Err(invalid(
                "num_attention_heads",
                format!(
                    "{} does not divide hidden_size {}",
                    config.num_attention_heads, config.hidden_size
                ),
            ));
        }
        if config.hidden_act != "gelu" {
            return Err(invalid(
                "hidden_act",
                format!("{:?} is not supported (only \"gelu\")", config.hidden_act),
            ));
        }
        Ok(config)
    }
}

/// LayerNorm over the last dimension with a learned scale and shift.
#[derive(Debug, Clone)]
struct LayerNorm {
    weight: Tensor<2>,
    bias: Tensor<2>,
    eps: f64,
}

impl LayerNorm {
    fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        width: usize,
        eps: f64,
        device: &Device,
    ) -> Result<LayerNorm, ModelError> {
        let vector = |name: &str| -> Result<Tensor<2>, ModelError> {
            let values = read_shaped(weights, &format!("{prefix}.{name}"), &[width])?;
            Ok(Tensor::from_data(
                TensorData::new(values, [1, width]),
                device,
            ))
        };
        Ok(LayerNorm {
            weight: vector("weight")?,
            bias: vector("bias")?,
            eps,
        })
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mean = x.clone().mean_dim(1);
        let centred = x - mean;
        let variance = centred.clone().powi_scalar(2).mean_dim(1);
        centred / (variance + self.eps).sqrt() * self.weight.clone() + self.bias.clone()
    }
}

/// One post-LN encoder layer.
#[derive(Debug, Clone)]
struct EncoderLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl EncoderLayer {
    fn load(
        config: &BertConfig,
        weights: &dyn WeightSource,
        prefix: &str,
        device: &Device,
    ) -> Result<EncoderLayer, ModelError> {
        let (hidden, inner) = (config.hidden_size, config.intermediate_size);
        let linear = |name: &str, shape: [usize; 2]| {
            Linear::load(weights, &format!("{prefix}.{name}"), shape, true, device)
        };
        let norm = |name: &str| {
            LayerNorm::load(
                weights,
                &format!("{prefix}.{name}"),
                hidden,
                config.layer_norm_eps,
                device,
            )
        };
        Ok(EncoderLayer {
            query: linear("attention.self.query", [hidden, hidden])?,
            key: linear("attention.self.key", [hidden, hidden])?,
            value: linear("attention.self.value", [hidden, hidden])?,
            attention_output: linear("attention.output.dense", [hidden, hidden])?,
            attention_norm: norm("attention.output.LayerNorm")?,
            intermediate: linear("intermediate.dense", [inner, hidden])?,
            output: linear("output.dense", [hidden, inner])?,
            output_norm: norm("output.LayerNorm")?,
        })
    }

    /// `x`: `[batch·len, hidden]`; `mask`: `[batch, 1, 1, len]` of 0 and [`MASKED_SCORE`].
    fn forward(&self, x: Tensor<2>, mask: Tensor<4>, [batch, len, heads]: [usize; 3]) -> Tensor<2> {
        let hidden = x.dims()[1];
        let head_dim = hidden / heads;
        let split = |t: Tensor<2>| t.reshape([batch, len, heads, head_dim]).swap_dims(1, 2);
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x.clone()));
        let scores = q.matmul(k.swap_dims(2, 3)) / (head_dim as f64).sqrt() + mask;
        let context = activation::softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch * len, hidden]);
        let attended = self
            .attention_norm
            .forward(self.attention_output.forward(context) + x);
        let inner = activation::gelu(self.intermediate.forward(attended.clone()));
        self.output_norm
            .forward(self.output.forward(inner) + attended)
    }
}

/// A BERT encoder on a device.
#[derive(Debug, Clone)]
pub struct Bert {
    config: BertConfig,
    word: Tensor<2>,
    position: Tensor<2>,
    token_type: Tensor<2>,
    embedding_norm: LayerNorm,
    layers: Vec<EncoderLayer>,
    device: Device,
}

impl Bert {
    /// Builds the encoder from Hugging Face weights (names with or without the `bert.` prefix
    /// that task checkpoints carry); only the first `layers` encoder layers are loaded.
    pub fn load(
        config: &BertConfig,
        weights: &dyn WeightSource,
        layers: usize,
        device: &Device,
    ) -> Result<Bert, ModelError> {
        if layers > config.num_hidden_layers {
            return Err(ModelError::Settings {
                field: "layer",
                message: format!(
                    "{layers} is past the model's {} layers",
                    config.num_hidden_layers
                ),
            });
        }
        let prefixed = Prefixed::detect(weights);
        let hidden = config.hidden_size;
        let table = |name: &str, rows: usize| -> Result<Tensor<2>, ModelError> {
            let values = read_matrix(&prefixed, name, rows, hidden)?;
            Ok(Tensor::from_data(
                TensorData::new(values, [rows, hidden]),
                device,
            ))
        };
        Ok(Bert {
            word: table("embeddings.word_embeddings.weight", config.vocab_size)?,
            position: table(
                "embeddings.position_embeddings.weight",
                config.max_position_embeddings,
            )?,
            token_type: table(
                "embeddings.token_type_embeddings.weight",
                config.type_vocab_size,
            )?,
            embedding_norm: LayerNorm::load(
                &prefixed,
                "embeddings.LayerNorm",
                hidden,
                config.layer_norm_eps,
                device,
            )?,
            layers: (0..layers)
                .map(|i| {
                    EncoderLayer::load(config, &prefixed, &format!("encoder.layer.{i}"), device)
                })
                .collect::<Result<_, _>>()?,
            config: config.clone(),
            device: device.clone(),
        })
    }

    /// The model's config.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// The encoder layers loaded.
    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// The hidden states after the loaded layers (layer 0: the embeddings' output) of each
    /// sequence of ids, one `[len, hidden]` row-major matrix per sequence. Sequences are run in
    /// batches of similar length, padded and masked, each batch's attention scores within
    /// WebGPU's binding limit; every device read is asynchronous.
    pub async fn hidden_states(
        &self,
        backend: Backend,
        sequences: &[Vec<u32>],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let max = self.config.max_position_embeddings;
        for ids in sequences {
            if ids.is_empty() {
                return Err(ModelError::EmptyInput { what: "sequence" });
            }
            if ids.len() > max {
                return Err(ModelError::ContextOverflow {
                    needed: ids.len(),
                    max,
                });
            }
            if let Some((position, &id)) = ids
                .iter()
                .enumerate()
                .find(|&(_, &id)| id as usize >= self.config.vocab_size)
            {
                return Err(ModelError::TokenOutOfRange {
                    id,
                    position,
                    vocab_size: self.config.vocab_size,
                });
            }
        }
        // Longest first, so each batch pads little.
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sequences[i].len()));
        let mut out = vec![Vec::new(); sequences.len()];
        let heads = self.config.num_attention_heads;
        let mut start = 0;
        while start < order.len() {
            let len = sequences[order[start]].len();
            let per_sequence = heads * len * len * F32_BYTES;
            let batch = (MAX_SCORE_BYTES / per_sequence)
                .clamp(1, MAX_BATCH)
                .min(order.len() - start);
            let members = &order[start..start + batch];
            let states = self.run_batch(members.iter().map(|&i| &sequences[i][..]), len);
            let values = read_f32(backend, states).await?;
            let hidden = self.config.hidden_size;
            for (row, &i) in members.iter().enumerate() {
                let offset = row * len * hidden;
                out[i] = values[offset..offset + sequences[i].len() * hidden].to_vec();
            }
            start += batch;
        }
        Ok(out)
    }

    /// Runs one padded batch; returns `[batch·len, hidden]`.
    fn run_batch<'a>(&self, sequences: impl Iterator<Item = &'a [u32]>, len: usize) -> Tensor<2> {
        let mut ids = Vec::new();
        let mut mask = Vec::new();
        let mut batch = 0;
        for sequence in sequences {
            for position in 0..len {
                let real = position < sequence.len();
                ids.push(if real { sequence[position] as i64 } else { 0 });
                mask.push(if real { 0.0 } else { MASKED_SCORE });
            }
            batch += 1;
        }
        let hidden = self.config.hidden_size;
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [batch * len]), &self.device);
        let positions = self.position.clone().slice([0..len, 0..hidden]);
        let token_type = self.token_type.clone().slice([0..1, 0..hidden]);
        let embedded = self
            .word
            .clone()
            .select(0, ids)
            .reshape([batch, len, hidden])
            + positions.unsqueeze_dim::<3>(0)
            + token_type.unsqueeze_dim::<3>(0);
        let mut x = self
            .embedding_norm
            .forward(embedded.reshape([batch * len, hidden]));
        let mask: Tensor<4> =
            Tensor::from_data(TensorData::new(mask, [batch, 1, 1, len]), &self.device);
        for layer in &self.layers {
            x = layer.forward(
                x,
                mask.clone(),
                [batch, len, self.config.num_attention_heads],
            );
        }
        x
    }
}

/// Task checkpoints (`BertForMaskedLM`, …) name the encoder's tensors `bert.…`; bare encoders
/// (`BertModel`, sentence-transformers) do not. Names are looked up with the prefix the
/// checkpoint uses.
struct Prefixed<'a> {
    inner: &'a dyn WeightSource,
    prefix: &'static str,
}

impl<'a> Prefixed<'a> {
    fn detect(inner: &'a dyn WeightSource) -> Prefixed<'a> {
        let prefix = if !inner.has("embeddings.word_embeddings.weight")
            && inner.has("bert.embeddings.word_embeddings.weight")
        {
            "bert."
        } else {
            ""
        };
        Prefixed { inner, prefix }
    }
}

impl Prefixed<'_> {
    /// The checkpoint's name for `name`. Checkpoints converted from TensorFlow (SciBERT's among
    /// them) call the LayerNorm scale and shift `gamma` and `beta`; transformers renames them
    /// on load, and so do we.
    fn resolve(&self, name: &str) -> String {
        let full = format!("{}{name}", self.prefix);
        if self.inner.has(&full) {
            return full;
        }
        let legacy = full
            .strip_suffix("LayerNorm.weight")
            .map(|stem| format!("{stem}LayerNorm.gamma"))
            .or_else(|| {
                full.strip_suffix("LayerNorm.bias")
                    .map(|stem| format!("{stem}LayerNorm.beta"))
            });
        match legacy {
            Some(legacy) if self.inner.has(&legacy) => legacy,
            _ => full,
        }
    }
}

impl WeightSource for Prefixed<'_> {
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), WeightError> {
        self.inner.tensor(&self.resolve(name))
    }

    fn has(&self, name: &str) -> bool {
        self.inner.has(&self.resolve(name))
    }
}
