//! Writing GGUF v3 files: metadata and tensors in, bytes out. The runtime only reads GGUF; this
//! exists for test fixtures — a real file with one key changed, a tensor added, or a random
//! model of a real model's shapes — so that they are built by the same rules the parser checks.

use super::{GgmlType, MetadataValue};

/// The alignment of the data section and of each tensor in it (llama.cpp's default).
const ALIGNMENT: usize = 32;

/// One tensor to write: its name, its shape in GGUF order (`ne[0]`, the contiguous dimension,
/// first), its type and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorToWrite<'a> {
    /// The name.
    pub name: String,
    /// The dimensions, `ne[0]` first.
    pub shape: Vec<u64>,
    /// The element type.
    pub dtype: GgmlType,
    /// The data, as long as the shape and type say.
    pub bytes: &'a [u8],
}

/// A GGUF v3 file with these metadata entries (in order; `general.alignment` is not written, the
/// default 32 applies) and tensors (in order, each aligned to 32 bytes).
pub fn write(metadata: &[(String, MetadataValue)], tensors: &[TensorToWrite<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"GGUF");
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        string(&mut out, key);
        out.extend_from_slice(&type_id(value).to_le_bytes());
        self::value(&mut out, value);
    }
    let mut offset = 0usize;
    let mut offsets = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        offsets.push(offset);
        offset = (offset + tensor.bytes.len()).next_multiple_of(ALIGNMENT);
    }
    for (tensor, &offset) in tensors.iter().zip(&offsets) {
        string(&mut out, &tensor.name);
        out.extend_from_slice(&(tensor.shape.len() as u32).to_le_bytes());
        for &dim in &tensor.shape {
            out.extend_from_slice(&dim.to_le_bytes());
        }
        out.extend_from_slice(&tensor.dtype.id().to_le_bytes());
        out.extend_from_slice(&(offset as u64).to_le_bytes());
    }
    out.resize(out.len().next_multiple_of(ALIGNMENT), 0);
    let data_start = out.len();
    for (tensor, &offset) in tensors.iter().zip(&offsets) {
        out.resize(data_start + offset, 0);
        out.extend_from_slice(tensor.bytes);
    }
    out
}

fn string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// The GGUF type id of a value (an empty array is written as an array of u32).
fn type_id(value: &MetadataValue) -> u32 {
    match value {
        MetadataValue::U8(_) => 0,
        MetadataValue::I8(_) => 1,
        MetadataValue::U16(_) => 2,
        MetadataValue::I16(_) => 3,
        MetadataValue::U32(_) => 4,
        MetadataValue::I32(_) => 5,
        MetadataValue::F32(_) => 6,
        MetadataValue::Bool(_) => 7,
        MetadataValue::String(_) => 8,
        MetadataValue::Array(_) => 9,
        MetadataValue::U64(_) => 10,
        MetadataValue::I64(_) => 11,
        MetadataValue::F64(_) => 12,
    }
}

fn value(out: &mut Vec<u8>, value: &MetadataValue) {
    match value {
        MetadataValue::U8(v) => out.push(*v),
        MetadataValue::I8(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::Bool(v) => out.push(u8::from(*v)),
        MetadataValue::String(text) => string(out, text),
        MetadataValue::Array(items) => {
            let element = items.first().map_or(4, type_id);
            out.extend_from_slice(&element.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                self::value(out, item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::gguf::parse;

    #[test]
    fn a_written_file_reads_back() {
        let metadata = vec![
            (
                "general.architecture".to_owned(),
                MetadataValue::String("llama".into()),
            ),
            ("a.u32".to_owned(), MetadataValue::U32(7)),
            ("a.f32".to_owned(), MetadataValue::F32(0.5)),
            (
                "a.list".to_owned(),
                MetadataValue::Array(vec![MetadataValue::Bool(true), MetadataValue::Bool(false)]),
            ),
        ];
        let first = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let second = vec![0u8; 34];
        let tensors = [
            TensorToWrite {
                name: "one".into(),
                shape: vec![2],
                dtype: GgmlType::F32,
                bytes: &first,
            },
            TensorToWrite {
                name: "two".into(),
                shape: vec![32, 1],
                dtype: GgmlType::Q8_0,
                bytes: &second,
            },
        ];
        let bytes = write(&metadata, &tensors);
        let file = parse(&bytes).expect("the written file parses");
        assert_eq!(file.metadata.entries().count(), 4);
        assert_eq!(file.metadata.get("a.list"), Some(&metadata[3].1));
        assert_eq!(file.metadata.f32("a.f32").unwrap(), 0.5);
        assert_eq!(
            file.tensor_bytes(file.tensor("one").unwrap()).unwrap(),
            first
        );
        let two = file.tensor("two").unwrap();
        assert_eq!((two.dtype, two.offset), (GgmlType::Q8_0, 32));
        assert_eq!(file.tensor_bytes(two).unwrap(), second.as_slice());
    }
}
