//! Hugging Face safetensors checkpoints as a [`WeightSource`]: one `model.safetensors`, or the
//! shards that `model.safetensors.index.json` maps tensors to, all given as bytes. F32, F16 and
//! BF16 tensors are converted to f32 one at a time as the decoder asks for them.

use std::collections::{BTreeMap, HashMap};

use ::safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

use super::weights::{WeightError, WeightSource};

/// The file name of a sharded checkpoint's index.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// Why a safetensors checkpoint cannot be read; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    /// A weight file's header or data is malformed (truncated, offsets past the end).
    #[error("{file}: not a readable safetensors file: {message}")]
    File {
        /// The weight file.
        file: String,
        /// What the parser found.
        message: String,
    },
    /// The index is not JSON with a `weight_map` of tensor names to file names.
    #[error("{INDEX_FILE}: {0}")]
    Index(#[from] serde_json::Error),
    /// The index puts a tensor in a shard that was not given.
    #[error("{INDEX_FILE}: tensor `{tensor}` is in {shard}, which is missing")]
    MissingShard {
        /// The tensor's Hugging Face name.
        tensor: String,
        /// The shard's file name.
        shard: String,
    },
    /// The index puts a tensor in a shard that does not hold it.
    #[error("{INDEX_FILE}: tensor `{tensor}` is not in {shard}, where the index puts it")]
    NotInShard {
        /// The tensor's Hugging Face name.
        tensor: String,
        /// The shard's file name.
        shard: String,
    },
    /// Without an index, two files hold a tensor of the same name.
    #[error("tensor `{tensor}` is in both {first} and {second}")]
    Duplicate {
        /// The tensor's Hugging Face name.
        tensor: String,
        /// The first file holding it.
        first: String,
        /// The second file holding it.
        second: String,
    },
}

/// The part of `model.safetensors.index.json` that locates tensors.
#[derive(Deserialize)]
struct Index {
    /// Tensor name to shard file name; ordered so that the first problem reported is stable.
    weight_map: BTreeMap<String, String>,
}

/// Parsed safetensors files and which file holds each tensor.
pub struct SafetensorsWeights<'a> {
    /// File name and parsed header over the file's bytes.
    files: Vec<(String, SafeTensors<'a>)>,
    /// Tensor name to its index in `files`.
    located: HashMap<String, usize>,
}

impl<'a> SafetensorsWeights<'a> {
    /// Parses `files` (file name, bytes). With `index` (the bytes of [`INDEX_FILE`]) tensors
    /// are looked up in the shard its `weight_map` names, and every entry is checked up front;
    /// without, each tensor comes from the one file that holds it.
    pub fn new(
        files: &[(&str, &'a [u8])],
        index: Option<&[u8]>,
    ) -> Result<SafetensorsWeights<'a>, SafetensorsError> {
        let mut parsed = Vec::with_capacity(files.len());
        for &(file, bytes) in files {
            let tensors = SafeTensors::deserialize(bytes).map_err(|e| SafetensorsError::File {
                file: file.to_owned(),
                message: e.to_string(),
            })?;
            parsed.push((file.to_owned(), tensors));
        }
        let mut located = HashMap::new();
        if let Some(index) = index {
            let index: Index = serde_json::from_slice(index)?;
            for (tensor, shard) in index.weight_map {
                let Some(at) = parsed.iter().position(|(file, _)| *file == shard) else {
                    return Err(SafetensorsError::MissingShard { tensor, shard });
                };
                if parsed[at].1.tensor(&tensor).is_err() {
                    return Err(SafetensorsError::NotInShard { tensor, shard });
                }
                located.insert(tensor, at);
            }
        } else {
            for (at, (file, tensors)) in parsed.iter().enumerate() {
                for tensor in tensors.names() {
                    if let Some(&first) = located.get(tensor) {
                        return Err(SafetensorsError::Duplicate {
                            tensor: tensor.to_owned(),
                            first: parsed[first].0.clone(),
                            second: file.clone(),
                        });
                    }
                    located.insert(tensor.to_owned(), at);
                }
            }
        }
        Ok(SafetensorsWeights {
            files: parsed,
            located,
        })
    }
}

impl WeightSource for SafetensorsWeights<'_> {
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), WeightError> {
        let &at = self.located.get(name).ok_or_else(|| WeightError::Missing {
            name: name.to_owned(),
        })?;
        let (file, tensors) = &self.files[at];
        let unreadable = |message: String| WeightError::Unreadable {
            name: name.to_owned(),
            message: format!("{file}: {message}"),
        };
        let view = tensors
            .tensor(name)
            .map_err(|e| unreadable(e.to_string()))?;
        // The parser has checked that the data is exactly shape × element size bytes long.
        let data = view.data();
        let values = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(unreadable(format!(
                    "dtype {other} is not supported (F32, F16, BF16)"
                )));
            }
        };
        Ok((view.shape().to_vec(), values))
    }

    fn has(&self, name: &str) -> bool {
        self.located.contains_key(name)
    }
}
