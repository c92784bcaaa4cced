//! A GGUF file as a [`WeightSource`]: Hugging Face names in (mapped through the naming table of
//! the file's architecture), dequantized f32 or the stored blocks out. It remembers which tensors
//! were read, so a loader can refuse a file holding tensors the network never used — a tensor
//! that changes the computation must not be ignored.

use std::cell::RefCell;
use std::collections::BTreeSet;

use super::Gguf;
use crate::loader::weights::{StoredTensor, TensorNaming, WeightError, WeightSource};

/// A parsed GGUF file serving tensors by Hugging Face name.
pub struct GgufWeights<'f, 'a> {
    file: &'f Gguf<'a>,
    naming: TensorNaming,
    /// GGUF names of the tensors handed out so far.
    read: RefCell<BTreeSet<String>>,
}

impl<'f, 'a> GgufWeights<'f, 'a> {
    /// Wraps a parsed file whose tensors are named as `naming` says.
    pub fn new(file: &'f Gguf<'a>, naming: TensorNaming) -> GgufWeights<'f, 'a> {
        GgufWeights {
            file,
            naming,
            read: RefCell::new(BTreeSet::new()),
        }
    }

    /// Counts a tensor as used though it was read another way (llama.cpp's `rope_freqs.weight`,
    /// which the config reads).
    pub fn mark_read(&self, gguf_name: &str) {
        self.read.borrow_mut().insert(gguf_name.to_owned());
    }

    /// The file's tensors that nobody has read, in file order.
    pub fn unread(&self) -> Vec<&str> {
        let read = self.read.borrow();
        self.file
            .tensors
            .iter()
            .map(|info| info.name.as_str())
            .filter(|name| !read.contains(*name))
            .collect()
    }

    /// The GGUF name of `name` when the file has that tensor.
    fn located(&self, name: &str) -> Result<String, WeightError> {
        self.naming
            .gguf_name(name)
            .filter(|gguf| self.file.tensor(gguf).is_ok())
            .ok_or_else(|| WeightError::Missing {
                name: name.to_owned(),
            })
    }
}

impl WeightSource for GgufWeights<'_, '_> {
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), WeightError> {
        let gguf = self.located(name)?;
        self.mark_read(&gguf);
        self.file
            .tensor_f32(&gguf)
            .map_err(|e| WeightError::Unreadable {
                name: name.to_owned(),
                message: e.to_string(),
            })
    }

    fn has(&self, name: &str) -> bool {
        self.located(name).is_ok()
    }

    fn stored(&self, name: &str) -> Option<StoredTensor<'_>> {
        let gguf = self.located(name).ok()?;
        let info = self.file.tensor(&gguf).ok()?;
        let (rows, cols) = match info.row_major_shape().ok()?[..] {
            [cols] => (1, cols),
            [rows, cols] => (rows, cols),
            _ => return None,
        };
        let bytes = self.file.tensor_bytes(info).ok()?;
        self.mark_read(&gguf);
        Some(StoredTensor {
            dtype: info.dtype,
            rows,
            cols,
            bytes,
        })
    }
}
