//! What every weight file offers the networks: [`WeightSource`], tensors by Hugging Face name
//! (`model.layers.0.self_attn.q_proj.weight`, row-major `[out_features, in_features]`), as f32
//! values or, where the file stores ggml blocks, as those bytes. And the one table between
//! llama.cpp's GGUF tensor names (`blk.0.attn_q.weight`) and those Hugging Face names, both
//! ways, for each naming family. Shapes need no mapping: [`super::gguf`] already hands them
//! over row-major, as PyTorch holds them.

use super::dequant::GgmlType;

/// A tensor could not be read from its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeightError {
    /// The file has no tensor of that name.
    #[error("weight `{name}` is missing")]
    Missing {
        /// The tensor's Hugging Face name.
        name: String,
    },
    /// The tensor is there but cannot be read (an unsupported encoding, a short file).
    #[error("weight `{name}`: {message}")]
    Unreadable {
        /// The tensor's Hugging Face name.
        name: String,
        /// What the reader found, naming the file.
        message: String,
    },
}

/// A tensor as the file stores it, in ggml's block encoding: what the quantized products and
/// the device's block kernels read without widening to f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTensor<'a> {
    /// The block type.
    pub dtype: GgmlType,
    /// Rows (`out_features`) of a matrix, 1 for a vector.
    pub rows: usize,
    /// Values per row (`in_features`).
    pub cols: usize,
    /// The blocks, row after row: `rows · cols / block_values · block_bytes` bytes.
    pub bytes: &'a [u8],
}

/// Where a network's weights come from: a GGUF file, safetensors, a PyTorch checkpoint, random
/// test values. Each format maps its own names to Hugging Face's once.
pub trait WeightSource {
    /// The tensor's row-major shape and its values as f32; [`WeightError::Missing`] when absent.
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), WeightError>;
    /// Whether the tensor exists.
    fn has(&self, name: &str) -> bool;
    /// The matrix or vector as stored, when the file holds ggml blocks (GGUF); `None` otherwise
    /// (the default), and for tensors of more than two dimensions.
    fn stored(&self, _name: &str) -> Option<StoredTensor<'_>> {
        None
    }
}

/// How a family of checkpoints names the norms of a block, which is where llama.cpp's and Hugging
/// Face's names stop corresponding one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorNaming {
    /// Llama, Qwen2/3: a norm before attention (`attn_norm`) and one before the MLP
    /// (`ffn_norm`, Hugging Face's `post_attention_layernorm`).
    PreNorm,
    /// Gemma 2/3: norms before and after both attention and MLP; Hugging Face's
    /// `post_attention_layernorm` is the norm *after* attention (`post_attention_norm`).
    Sandwich,
    /// Phi-3: pre-norm blocks whose q/k/v and gate/up projections are stored fused
    /// (`attn_qkv`, and `ffn_up` holding gate then up).
    Fused,
}

/// Tensors outside the decoder blocks: (GGUF, Hugging Face).
const GLOBAL: [(&str, &str); 3] = [
    ("token_embd.weight", "model.embed_tokens.weight"),
    ("output_norm.weight", "model.norm.weight"),
    ("output.weight", "lm_head.weight"),
];

/// GGUF's and Hugging Face's prefixes of block `i`'s tensors, before the index.
const BLOCK_PREFIXES: (&str, &str) = ("blk.", "model.layers.");

/// Tensors of one block after the prefix and index, in every family: (GGUF, Hugging Face). The
/// biases are Qwen2's (q, k, v) and Llama's `attention_bias` (q, k, v, o); the q/k norms
/// Qwen3's and Gemma 3's.
const PER_BLOCK: [(&str, &str); 14] = [
    ("attn_norm.weight", "input_layernorm.weight"),
    ("attn_q.weight", "self_attn.q_proj.weight"),
    ("attn_k.weight", "self_attn.k_proj.weight"),
    ("attn_v.weight", "self_attn.v_proj.weight"),
    ("attn_output.weight", "self_attn.o_proj.weight"),
    ("attn_q.bias", "self_attn.q_proj.bias"),
    ("attn_k.bias", "self_attn.k_proj.bias"),
    ("attn_v.bias", "self_attn.v_proj.bias"),
    ("attn_output.bias", "self_attn.o_proj.bias"),
    ("attn_q_norm.weight", "self_attn.q_norm.weight"),
    ("attn_k_norm.weight", "self_attn.k_norm.weight"),
    ("ffn_gate.weight", "mlp.gate_proj.weight"),
    ("ffn_up.weight", "mlp.up_proj.weight"),
    ("ffn_down.weight", "mlp.down_proj.weight"),
];

/// The norm before the MLP of [`TensorNaming::PreNorm`] blocks.
const PRE_NORM: [(&str, &str); 1] = [("ffn_norm.weight", "post_attention_layernorm.weight")];

/// The fused projections of [`TensorNaming::Fused`] blocks; they come before [`PER_BLOCK`],
/// whose `ffn_up` they rename.
const FUSED: [(&str, &str); 2] = [
    ("attn_qkv.weight", "self_attn.qkv_proj.weight"),
    ("ffn_up.weight", "mlp.gate_up_proj.weight"),
];

/// The four norms of [`TensorNaming::Sandwich`] blocks beyond `attn_norm`.
const SANDWICH: [(&str, &str); 3] = [
    (
        "post_attention_norm.weight",
        "post_attention_layernorm.weight",
    ),
    ("ffn_norm.weight", "pre_feedforward_layernorm.weight"),
    ("post_ffw_norm.weight", "post_feedforward_layernorm.weight"),
];

impl TensorNaming {
    /// The per-block pairs of this family.
    fn per_block(self) -> impl Iterator<Item = (&'static str, &'static str)> {
        let (fused, norms): (Pairs, Pairs) = match self {
            TensorNaming::PreNorm => (&[], &PRE_NORM),
            TensorNaming::Sandwich => (&[], &SANDWICH),
            TensorNaming::Fused => (&FUSED, &PRE_NORM),
        };
        let renamed = |gguf: &str| fused.iter().any(|&(fused, _)| fused == gguf);
        fused
            .iter()
            .copied()
            .chain(
                PER_BLOCK
                    .into_iter()
                    .filter(move |&(gguf, _)| !renamed(gguf)),
            )
            .chain(norms.iter().copied())
    }

    /// The Hugging Face name of a GGUF tensor; `None` for tensors outside the table
    /// (llama.cpp's `rope_freqs.weight`, say, which is not a Hugging Face weight).
    pub fn hf_name(self, gguf: &str) -> Option<String> {
        self.translate(gguf, |(gguf, hf)| (gguf, hf))
    }

    /// The GGUF name of a Hugging Face tensor; `None` for names outside the table.
    pub fn gguf_name(self, hf: &str) -> Option<String> {
        self.translate(hf, |(gguf, hf)| (hf, gguf))
    }

    /// Maps `name` through the table, each pair oriented (from, to) by `orient`.
    fn translate(self, name: &str, orient: Orient) -> Option<String> {
        if let Some((_, to)) = GLOBAL
            .into_iter()
            .map(orient)
            .find(|&(from, _)| from == name)
        {
            return Some(to.to_owned());
        }
        let (from_prefix, to_prefix) = orient(BLOCK_PREFIXES);
        let (index, suffix) = name.strip_prefix(from_prefix)?.split_once('.')?;
        // Only canonical indices ("3", not "03" or "+3"), so a name maps back to itself.
        let block: usize = index.parse().ok()?;
        if block.to_string() != index {
            return None;
        }
        let (_, to) = self
            .per_block()
            .map(orient)
            .find(|&(from, _)| from == suffix)?;
        Some(format!("{to_prefix}{block}.{to}"))
    }
}

/// Some (GGUF, Hugging Face) pairs of the table.
type Pairs = &'static [(&'static str, &'static str)];

/// Puts a (GGUF, Hugging Face) pair in (from, to) order.
type Orient = fn((&'static str, &'static str)) -> (&'static str, &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILIES: [TensorNaming; 3] = [
        TensorNaming::PreNorm,
        TensorNaming::Sandwich,
        TensorNaming::Fused,
    ];

    #[test]
    fn every_name_maps_both_ways() {
        for naming in FAMILIES {
            for (gguf, hf) in GLOBAL {
                assert_eq!(naming.hf_name(gguf).as_deref(), Some(hf));
                assert_eq!(naming.gguf_name(hf).as_deref(), Some(gguf));
            }
            for block in [0, 7, 29] {
                for (gguf, hf) in naming.per_block() {
                    let gguf = format!("blk.{block}.{gguf}");
                    let hf = format!("model.layers.{block}.{hf}");
                    assert_eq!(naming.hf_name(&gguf), Some(hf.clone()));
                    assert_eq!(naming.gguf_name(&hf), Some(gguf));
                }
            }
        }
    }

    #[test]
    fn known_names_map_as_llama_cpp_writes_them() {
        let llama = TensorNaming::PreNorm;
        assert_eq!(
            llama.hf_name("blk.12.ffn_down.weight").as_deref(),
            Some("model.layers.12.mlp.down_proj.weight")
        );
        assert_eq!(
            llama
                .gguf_name("model.layers.3.self_attn.k_proj.bias")
                .as_deref(),
            Some("blk.3.attn_k.bias")
        );
        assert_eq!(
            llama.hf_name("blk.1.ffn_norm.weight").as_deref(),
            Some("model.layers.1.post_attention_layernorm.weight")
        );
        // Gemma's `post_attention_layernorm` follows attention; its MLP norm is another name.
        let gemma = TensorNaming::Sandwich;
        assert_eq!(
            gemma.hf_name("blk.1.ffn_norm.weight").as_deref(),
            Some("model.layers.1.pre_feedforward_layernorm.weight")
        );
        assert_eq!(
            gemma
                .gguf_name("model.layers.1.post_attention_layernorm.weight")
                .as_deref(),
            Some("blk.1.post_attention_norm.weight")
        );
        assert_eq!(llama.hf_name("blk.1.post_attention_norm.weight"), None);
        // Phi-3's fused projections.
        let phi3 = TensorNaming::Fused;
        assert_eq!(
            phi3.hf_name("blk.0.ffn_up.weight").as_deref(),
            Some("model.layers.0.mlp.gate_up_proj.weight")
        );
        assert_eq!(
            phi3.gguf_name("model.layers.2.self_attn.qkv_proj.weight")
                .as_deref(),
            Some("blk.2.attn_qkv.weight")
        );
    }

    #[test]
    fn names_outside_the_table_have_no_mapping() {
        for name in [
            "rope_freqs.weight",
            "blk.x.attn_q.weight",
            "blk.03.attn_q.weight",
            "blk.0",
            "model.layers.0.self_attn.rotary_emb.inv_freq",
            "",
        ] {
            for naming in FAMILIES {
                assert_eq!(naming.hf_name(name), None, "{name}");
                assert_eq!(naming.gguf_name(name), None, "{name}");
            }
        }
        // Fused projections exist only in the family that stores them.
        for naming in [TensorNaming::PreNorm, TensorNaming::Sandwich] {
            assert_eq!(naming.hf_name("blk.0.attn_qkv.weight"), None);
            assert_eq!(
                naming.gguf_name("model.layers.0.mlp.gate_up_proj.weight"),
                None
            );
        }
    }
}
