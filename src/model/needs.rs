//! What a GGUF model will need, read from its header alone — before the page downloads the
//! weights, and before anything is uploaded: its size in parameters and bytes, the memory its
//! weights take on a GPU (the file's blocks, f32 for F32/F16 rows that are not whole 32-value
//! blocks) and on the CPU (f32), the KV cache per position, and the largest single buffer a GPU
//! must allocate (a part of a matrix, or a chunk's logits and scores).

use serde::Serialize;

use super::blocks::MAX_PART_BYTES;
use super::decoder::{MAX_BINDING_BYTES, ModelError};
use super::gguf::check_metadata;
use super::kernels::BlockFormat;
use crate::loader::gguf::{Gguf, GgufError};

/// What loading and running a model takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelNeeds {
    /// `general.architecture`.
    pub architecture: String,
    /// Values in all tensors.
    pub parameters: u64,
    /// Bytes of all tensors as stored.
    pub tensor_bytes: u64,
    /// Bytes the weights take on a GPU: the blocks as stored where a kernel reads them, f32
    /// otherwise.
    pub gpu_weight_bytes: u64,
    /// Bytes the weights take on the CPU backend, which keeps f32 copies.
    pub cpu_weight_bytes: u64,
    /// Bytes of keys and values per position of context.
    pub kv_bytes_per_position: u64,
    /// The context the model was trained for.
    pub context_length: u64,
    /// The largest buffer a GPU allocates: a part of a matrix's blocks, prefill's scratch, or a
    /// chunk's logits and attention scores, each at most WebGPU's guaranteed binding.
    pub largest_gpu_buffer: u64,
}

impl ModelNeeds {
    /// Reads the needs of a parsed (or header-parsed) GGUF file, refusing what loading would
    /// refuse anyway from the header alone — an architecture, a metadata key or a block type the
    /// runtime does not compute — so a page learns it before the download.
    pub fn of(file: &Gguf<'_>) -> Result<ModelNeeds, ModelError> {
        let meta = &file.metadata;
        let metadata = |e: GgufError| ModelError::Weight {
            name: "GGUF metadata".into(),
            message: e.to_string(),
        };
        let arch = meta.str("general.architecture").map_err(metadata)?;
        check_metadata(file)?;
        let key = |name: &str| format!("{arch}.{name}");
        let number = |name: &str| meta.u64(&key(name)).map_err(metadata);
        let layers = number("block_count")?;
        let heads = number("attention.head_count")?;
        let kv_heads = match meta.get(&key("attention.head_count_kv")) {
            Some(_) => number("attention.head_count_kv")?,
            None => heads,
        };
        let head_dim = match meta.get(&key("attention.key_length")) {
            Some(_) => number("attention.key_length")?,
            None => number("embedding_length")? / heads.max(1),
        };
        let too_large = |what: &str| ModelError::Config {
            field: "GGUF metadata",
            message: format!("the {what} of this file overflow 64 bits"),
        };
        let (mut parameters, mut tensor_bytes, mut gpu_weight_bytes) = (0u64, 0u64, 0u64);
        let mut largest_part = 0u64;
        for info in &file.tensors {
            if !info.dtype.is_dequantizable() {
                return Err(ModelError::Weight {
                    name: info.name.clone(),
                    message: format!("{} blocks are not supported", info.dtype),
                });
            }
            let values = info.element_count().map_err(metadata)?;
            let bytes = info.byte_size().map_err(metadata)?;
            let on_gpu = if BlockFormat::of(info.dtype).is_some() {
                bytes.next_multiple_of(4)
            } else {
                values.checked_mul(4).ok_or_else(|| too_large("sizes"))?
            };
            parameters = parameters
                .checked_add(values)
                .ok_or_else(|| too_large("sizes"))?;
            tensor_bytes = tensor_bytes
                .checked_add(bytes)
                .ok_or_else(|| too_large("sizes"))?;
            gpu_weight_bytes = gpu_weight_bytes
                .checked_add(on_gpu)
                .ok_or_else(|| too_large("sizes"))?;
            largest_part = largest_part.max(on_gpu.min(MAX_PART_BYTES as u64));
        }
        let kv = [layers, kv_heads, head_dim]
            .iter()
            .try_fold(2 * 4u64, |bytes, &n| bytes.checked_mul(n))
            .ok_or_else(|| too_large("KV cache sizes"))?;
        Ok(ModelNeeds {
            architecture: arch.to_owned(),
            parameters,
            tensor_bytes,
            gpu_weight_bytes,
            cpu_weight_bytes: parameters.saturating_mul(4),
            kv_bytes_per_position: kv,
            context_length: number("context_length")?,
            largest_gpu_buffer: largest_part.max(MAX_BINDING_BYTES as u64),
        })
    }
}
