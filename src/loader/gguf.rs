//! The GGUF container (llama.cpp's model file, versions 2 and 3, little-endian), parsed from a
//! byte slice: header, metadata, tensor infos and the aligned data section, every count, length,
//! offset and shape checked against the bytes before it is used, so a hostile file is an error.
//!
//! Layout (ggml's docs/gguf.md): `"GGUF"`, version u32, tensor count u64, metadata count u64;
//! each metadata entry is a key string (u64 length + UTF-8), a value type u32 and the value
//! (arrays: element type u32, count u64, elements, nested arrays allowed); each tensor info is a
//! name string, a dimension count u32, that many u64 dimensions (`ne[0]` first), a type u32 and
//! an offset u64 into the data section, which starts at the next multiple of
//! `general.alignment` (default 32) after the infos.
//!
//! Shapes keep GGUF's order, `ne[0]` (the contiguous dimension) first; see [`TensorInfo::shape`]
//! for how that maps to row-major `[rows, columns]`.
//!
//! Written by hand rather than taken from a crate: candle's `gguf_file` reads through
//! `std::io::Read + Seek` into owned buffers and brings all of candle-core; `gguf-rs` opens a
//! path and carries its command line tool's dependencies (clap, comfy-table) as normal ones;
//! `gguf-rs-lib` reads through `std::io::Read`. This parser borrows the caller's bytes (no copy
//! of the 98 MB default model, no mmap, so it runs unchanged in wasm32) and checks every length
//! and count against the bytes that remain before it allocates.

use std::fmt;
use std::ops::Range;

pub use super::dequant::GgmlType;
use super::dequant::{self, DequantError};

mod weights;
mod write;

pub use weights::GgufWeights;
pub use write::{TensorToWrite, write};

/// The alignment of the data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// The largest alignment accepted: `general.alignment` is a u32 in the format.
pub const MAX_ALIGNMENT: u64 = 1 << 31;
/// The most dimensions a tensor may have (ggml's `GGML_MAX_DIMS`).
pub const MAX_DIMS: u32 = 4;
/// The deepest nesting of metadata arrays accepted (files in use nest one level at most); the
/// limit keeps a hostile file from exhausting the stack.
pub const MAX_ARRAY_DEPTH: usize = 16;
/// The most metadata values (array elements included) accepted. A value takes 32 bytes in
/// memory but as little as 1 in the file, so without a cap a file of one huge `u8` array would
/// ask for 32 times its size; the largest vocabularies in use (256k tokens, scores, types and
/// merges) stay far below.
pub const MAX_METADATA_VALUES: u64 = 1 << 23;
/// The most tensors accepted (models in use have a few thousand), for the same reason.
pub const MAX_TENSORS: u64 = 1 << 20;

/// Bytes of the smallest metadata entry: an empty key (8), a type (4), a `u8` value (1).
const MIN_ENTRY_BYTES: u64 = 13;
/// Bytes of the smallest tensor info: an empty name (8), no dimensions (4), type (4), offset (8).
const MIN_TENSOR_INFO_BYTES: u64 = 24;

/// What went wrong reading a GGUF file, and where: byte offsets count from the start of the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GgufError {
    /// The first four bytes are not `GGUF`.
    #[error("not a GGUF file: it starts with {magic:02x?} instead of \"GGUF\"")]
    NotGguf {
        /// The first four bytes.
        magic: [u8; 4],
    },
    /// The version field reads as a byte-swapped small number.
    #[error(
        "a big-endian GGUF file (version field {raw:#010x}); only little-endian files are supported"
    )]
    BigEndian {
        /// The version field as read little-endian.
        raw: u32,
    },
    /// A version other than 2 or 3.
    #[error(
        "GGUF version {version} is not supported: only versions 2 and 3 are (version 1, with \
         32-bit lengths, was replaced in 2023)"
    )]
    UnsupportedVersion {
        /// The version field.
        version: u32,
    },
    /// The file ends inside a field.
    #[error(
        "truncated GGUF file: {within} needs {needed} bytes at byte {offset}, but only \
         {available} remain"
    )]
    Truncated {
        /// What was being read.
        within: String,
        /// Where the field starts.
        offset: u64,
        /// Its size.
        needed: u64,
        /// The bytes left from there to the end of the file.
        available: u64,
    },
    /// A string whose declared length runs past the end of the file.
    #[error(
        "{within}: string length {length} at byte {offset} runs past the end of the file \
         ({available} bytes remain)"
    )]
    StringPastEnd {
        /// What was being read.
        within: String,
        /// Where the length field starts.
        offset: u64,
        /// The declared length.
        length: u64,
        /// The bytes left after the length field.
        available: u64,
    },
    /// A declared count of entries, elements or tensors that the remaining bytes cannot hold.
    #[error(
        "{within}: count {count} at byte {offset} is more {what} than the {available} remaining \
         bytes can hold"
    )]
    CountPastEnd {
        /// What was being read.
        within: String,
        /// What is counted ("metadata entries", "array elements", "tensor infos").
        what: &'static str,
        /// Where the count field starts.
        offset: u64,
        /// The declared count.
        count: u64,
        /// The bytes left after the count field.
        available: u64,
    },
    /// More metadata values or tensors than the parser accepts.
    #[error("{within}: more than {limit} {what}; the file is refused rather than loaded")]
    TooMany {
        /// What was being read.
        within: String,
        /// What is counted ("metadata values", "tensors").
        what: &'static str,
        /// The limit ([`MAX_METADATA_VALUES`] or [`MAX_TENSORS`]).
        limit: u64,
    },
    /// A metadata value type id outside 0–12.
    #[error("{within}: unknown metadata value type {type_id} at byte {offset}")]
    UnknownValueType {
        /// What was being read.
        within: String,
        /// Where the type field starts.
        offset: u64,
        /// The type id.
        type_id: u32,
    },
    /// A string that is not UTF-8.
    #[error("{within}: the string at byte {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// What was being read.
        within: String,
        /// Where the string's bytes start.
        offset: u64,
    },
    /// A bool byte other than 0 or 1.
    #[error("{within}: bool byte {byte} at byte {offset} is neither 0 nor 1")]
    InvalidBool {
        /// What was being read.
        within: String,
        /// Where the byte is.
        offset: u64,
        /// The byte.
        byte: u8,
    },
    /// Arrays nested deeper than [`MAX_ARRAY_DEPTH`].
    #[error("{within}: arrays nested deeper than {limit} levels at byte {offset}")]
    NestedTooDeep {
        /// What was being read.
        within: String,
        /// Where the innermost array starts.
        offset: u64,
        /// [`MAX_ARRAY_DEPTH`].
        limit: usize,
    },
    /// The same metadata key twice.
    #[error("metadata key {key:?} appears more than once")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// `general.alignment` is not a power of two up to [`MAX_ALIGNMENT`].
    #[error("general.alignment is {alignment}; it must be a power of two up to 2^31")]
    BadAlignment {
        /// The value.
        alignment: u64,
    },
    /// A tensor with more than [`MAX_DIMS`] dimensions.
    #[error(
        "tensor {tensor:?}: {dims} dimensions at byte {offset}; at most {MAX_DIMS} are allowed"
    )]
    TooManyDims {
        /// The tensor's name.
        tensor: String,
        /// Where the dimension count starts.
        offset: u64,
        /// The declared count.
        dims: u32,
    },
    /// A tensor type id that ggml does not define.
    #[error("tensor {tensor:?}: unknown ggml type id {type_id} at byte {offset}")]
    UnknownTensorType {
        /// The tensor's name.
        tensor: String,
        /// Where the type field starts.
        offset: u64,
        /// The type id.
        type_id: u32,
    },
    /// A shape whose element count (or byte size) does not fit in a u64.
    #[error("tensor {tensor:?}: the size of shape {shape:?} ({dtype}) overflows u64")]
    ShapeOverflow {
        /// The tensor's name.
        tensor: String,
        /// The shape, `ne[0]` first.
        shape: Vec<u64>,
        /// The tensor's type.
        dtype: GgmlType,
    },
    /// Rows that end inside a block of the tensor's type.
    #[error(
        "tensor {tensor:?}: rows of {row} values are not a multiple of the {dtype} block of \
         {block} values"
    )]
    PartialBlockRow {
        /// The tensor's name.
        tensor: String,
        /// The row length `ne[0]`.
        row: u64,
        /// The tensor's type.
        dtype: GgmlType,
        /// Values per block of the type.
        block: u64,
    },
    /// The same tensor name twice.
    #[error("tensor {tensor:?} appears more than once")]
    DuplicateTensor {
        /// The name.
        tensor: String,
    },
    /// The data section would start past the end of the file.
    #[error(
        "the tensor data section starts at byte {data_offset} (after alignment to {alignment}), \
         past the end of the file ({len} bytes)"
    )]
    DataPastEnd {
        /// Where the data section starts.
        data_offset: u64,
        /// The alignment.
        alignment: u64,
        /// The file's length.
        len: u64,
    },
    /// A tensor offset that is not a multiple of the alignment.
    #[error("tensor {tensor:?}: offset {offset} is not a multiple of the alignment {alignment}")]
    Misaligned {
        /// The tensor's name.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// The alignment.
        alignment: u64,
    },
    /// A tensor whose bytes run past the end of the file.
    #[error(
        "tensor {tensor:?}: its {size} bytes at offset {offset} of the data section run past the \
         end of the file (the data section holds {available} bytes)"
    )]
    TensorPastEnd {
        /// The tensor's name.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// Its size in bytes.
        size: u64,
        /// The length of the data section.
        available: u64,
    },
    /// A dimension too large for this platform's address space (wasm32 addresses 4 GiB).
    #[error("tensor {tensor:?}: shape {shape:?} does not fit this platform's address space")]
    TooLarge {
        /// The tensor's name.
        tensor: String,
        /// The shape, `ne[0]` first.
        shape: Vec<u64>,
    },
    /// No tensor of that name.
    #[error("no tensor named {tensor:?}")]
    MissingTensor {
        /// The name asked for.
        tensor: String,
    },
    /// No metadata entry of that key.
    #[error("metadata key {key:?} is missing")]
    MissingKey {
        /// The key asked for.
        key: String,
    },
    /// A metadata entry of another type than the one asked for.
    #[error("metadata key {key:?} holds {found}, expected {expected}")]
    WrongType {
        /// The key.
        key: String,
        /// What the accessor accepts.
        expected: &'static str,
        /// What the entry holds.
        found: String,
    },
    /// A tensor whose bytes could not be dequantized.
    #[error("tensor {tensor:?}: {source}")]
    Dequantize {
        /// The tensor's name.
        tensor: String,
        /// Why.
        source: DequantError,
    },
}

/// One metadata value, typed as in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// Type 0.
    U8(u8),
    /// Type 1.
    I8(i8),
    /// Type 2.
    U16(u16),
    /// Type 3.
    I16(i16),
    /// Type 4.
    U32(u32),
    /// Type 5.
    I32(i32),
    /// Type 10.
    U64(u64),
    /// Type 11.
    I64(i64),
    /// Type 6.
    F32(f32),
    /// Type 12.
    F64(f64),
    /// Type 7: one byte, 0 or 1.
    Bool(bool),
    /// Type 8: u64 length and UTF-8 bytes.
    String(String),
    /// Type 9: element type, u64 count, elements (all of the element type).
    Array(Vec<MetadataValue>),
}

impl MetadataValue {
    /// The value as an integer, when it is one (of any width or signedness).
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            MetadataValue::U8(v) => v.into(),
            MetadataValue::I8(v) => v.into(),
            MetadataValue::U16(v) => v.into(),
            MetadataValue::I16(v) => v.into(),
            MetadataValue::U32(v) => v.into(),
            MetadataValue::I32(v) => v.into(),
            MetadataValue::U64(v) => v.into(),
            MetadataValue::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// The type's name in errors: `u32`, `string`, `array of 3 values`, …
    pub fn type_name(&self) -> String {
        match self {
            MetadataValue::U8(_) => "u8".into(),
            MetadataValue::I8(_) => "i8".into(),
            MetadataValue::U16(_) => "u16".into(),
            MetadataValue::I16(_) => "i16".into(),
            MetadataValue::U32(_) => "u32".into(),
            MetadataValue::I32(_) => "i32".into(),
            MetadataValue::U64(_) => "u64".into(),
            MetadataValue::I64(_) => "i64".into(),
            MetadataValue::F32(_) => "f32".into(),
            MetadataValue::F64(_) => "f64".into(),
            MetadataValue::Bool(_) => "bool".into(),
            MetadataValue::String(_) => "string".into(),
            MetadataValue::Array(items) => match items.first() {
                Some(first) => format!("array of {} {}", items.len(), first.type_name()),
                None => "empty array".into(),
            },
        }
    }
}

/// The metadata entries of a GGUF file, in file order, with typed accessors whose errors name
/// the key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    entries: Vec<(String, MetadataValue)>,
}

impl Metadata {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The keys, in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The entries, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &MetadataValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn require(&self, key: &str) -> Result<&MetadataValue, GgufError> {
        self.get(key).ok_or_else(|| GgufError::MissingKey {
            key: key.to_owned(),
        })
    }

    fn wrong_type(key: &str, expected: &'static str, found: &MetadataValue) -> GgufError {
        GgufError::WrongType {
            key: key.to_owned(),
            expected,
            found: found.type_name(),
        }
    }

    /// A string value.
    pub fn str(&self, key: &str) -> Result<&str, GgufError> {
        match self.require(key)? {
            MetadataValue::String(s) => Ok(s),
            other => Err(Self::wrong_type(key, "a string", other)),
        }
    }

    /// A non-negative integer of any integer type.
    pub fn u64(&self, key: &str) -> Result<u64, GgufError> {
        let value = self.require(key)?;
        value
            .as_i128()
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| Self::wrong_type(key, "a non-negative integer", value))
    }

    /// A float (f32, or f64 rounded to f32).
    pub fn f32(&self, key: &str) -> Result<f32, GgufError> {
        match self.require(key)? {
            MetadataValue::F32(v) => Ok(*v),
            MetadataValue::F64(v) => Ok(*v as f32),
            other => Err(Self::wrong_type(key, "a float", other)),
        }
    }

    /// A bool.
    pub fn bool(&self, key: &str) -> Result<bool, GgufError> {
        match self.require(key)? {
            MetadataValue::Bool(v) => Ok(*v),
            other => Err(Self::wrong_type(key, "a bool", other)),
        }
    }

    fn array(&self, key: &str, expected: &'static str) -> Result<&[MetadataValue], GgufError> {
        match self.require(key)? {
            MetadataValue::Array(items) => Ok(items),
            other => Err(Self::wrong_type(key, expected, other)),
        }
    }

    /// An array of strings (e.g. `tokenizer.ggml.tokens`), borrowed.
    pub fn strings(&self, key: &str) -> Result<Vec<&str>, GgufError> {
        const EXPECTED: &str = "an array of strings";
        let value = self.require(key)?;
        let items = self.array(key, EXPECTED)?;
        items
            .iter()
            .map(|item| match item {
                MetadataValue::String(s) => Ok(s.as_str()),
                _ => Err(Self::wrong_type(key, EXPECTED, value)),
            })
            .collect()
    }

    /// An array of integers that fit in i32, of any integer type (e.g. `tokenizer.ggml.token_type`).
    pub fn i32s(&self, key: &str) -> Result<Vec<i32>, GgufError> {
        const EXPECTED: &str = "an array of integers within i32";
        let value = self.require(key)?;
        let items = self.array(key, EXPECTED)?;
        items
            .iter()
            .map(|item| {
                item.as_i128()
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| Self::wrong_type(key, EXPECTED, value))
            })
            .collect()
    }
}

/// One tensor's description: where its bytes are and how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// The dimensions in GGUF order: `ne[0]`, the fastest-varying (contiguous) one, first. A
    /// `[ne0, ne1]` matrix is `ne1` rows of `ne0` values, so a Linear weight stored as
    /// `[in_features, out_features]` here is `[out_features, in_features]` in row-major order,
    /// as PyTorch holds it; [`TensorInfo::row_major_shape`] gives that reversed order.
    pub shape: Vec<u64>,
    /// The element type.
    pub dtype: GgmlType,
    /// The offset of the first byte in the data section (a multiple of the alignment).
    pub offset: u64,
}

impl TensorInfo {
    fn overflow(&self) -> GgufError {
        GgufError::ShapeOverflow {
            tensor: self.name.clone(),
            shape: self.shape.clone(),
            dtype: self.dtype,
        }
    }

    /// The number of values (1 for a tensor without dimensions).
    pub fn element_count(&self) -> Result<u64, GgufError> {
        self.shape
            .iter()
            .try_fold(1u64, |count, &dim| count.checked_mul(dim))
            .ok_or_else(|| self.overflow())
    }

    /// The size of the tensor's data in bytes; rows must hold whole blocks of its type.
    pub fn byte_size(&self) -> Result<u64, GgufError> {
        let count = self.element_count()?;
        let row = self.shape.first().copied().unwrap_or(1);
        let block = self.dtype.block_values();
        if !row.is_multiple_of(block) {
            return Err(GgufError::PartialBlockRow {
                tensor: self.name.clone(),
                row,
                dtype: self.dtype,
                block,
            });
        }
        (count / block)
            .checked_mul(self.dtype.block_bytes())
            .ok_or_else(|| self.overflow())
    }

    /// The dimensions in row-major order (the reverse of [`TensorInfo::shape`]): a matrix is
    /// `[rows, columns]`, a Linear weight `[out_features, in_features]`.
    pub fn row_major_shape(&self) -> Result<Vec<usize>, GgufError> {
        self.shape
            .iter()
            .rev()
            .map(|&dim| usize::try_from(dim))
            .collect::<Result<_, _>>()
            .map_err(|_| GgufError::TooLarge {
                tensor: self.name.clone(),
                shape: self.shape.clone(),
            })
    }
}

/// A parsed GGUF file borrowing the caller's bytes: metadata and tensor infos are owned, tensor
/// data stays in place until a tensor is asked for.
#[derive(Clone)]
pub struct Gguf<'a> {
    /// The format version (2 or 3).
    pub version: u32,
    /// The alignment of the data section and of every tensor in it.
    pub alignment: u64,
    /// Where the data section starts in the file.
    pub data_offset: u64,
    /// The metadata entries.
    pub metadata: Metadata,
    /// The tensor infos, in file order.
    pub tensors: Vec<TensorInfo>,
    data: &'a [u8],
}

impl fmt::Debug for Gguf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gguf")
            .field("version", &self.version)
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .field("metadata_keys", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .field("data_bytes", &self.data.len())
            .finish()
    }
}

impl<'a> Gguf<'a> {
    /// The info of the tensor called `name`.
    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.tensors
            .iter()
            .find(|info| info.name == name)
            .ok_or_else(|| GgufError::MissingTensor {
                tensor: name.to_owned(),
            })
    }

    /// The raw bytes of a tensor, borrowed from the file (checked again here, since a
    /// [`TensorInfo`] can be built by hand).
    pub fn tensor_bytes(&self, info: &TensorInfo) -> Result<&'a [u8], GgufError> {
        let range = locate(info, self.alignment, self.data.len())?;
        Ok(&self.data[range])
    }

    /// The tensor called `name`, dequantized to f32, with its row-major shape (the reverse of
    /// GGUF's `ne` order: `[rows, columns]` for a matrix).
    pub fn tensor_f32(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), GgufError> {
        let info = self.tensor(name)?;
        let bytes = self.tensor_bytes(info)?;
        let values =
            dequant::dequantize(info.dtype, bytes).map_err(|source| GgufError::Dequantize {
                tensor: info.name.clone(),
                source,
            })?;
        Ok((info.row_major_shape()?, values))
    }
}

/// The byte range of a tensor within a data section of `data_len` bytes.
fn locate(info: &TensorInfo, alignment: u64, data_len: usize) -> Result<Range<usize>, GgufError> {
    let size = info.byte_size()?;
    if !info.offset.is_multiple_of(alignment) {
        return Err(GgufError::Misaligned {
            tensor: info.name.clone(),
            offset: info.offset,
            alignment,
        });
    }
    let available = data_len as u64;
    match info.offset.checked_add(size) {
        // Both ends fit in usize: they are at most the length of a slice.
        Some(end) if end <= available => Ok(info.offset as usize..end as usize),
        _ => Err(GgufError::TensorPastEnd {
            tensor: info.name.clone(),
            offset: info.offset,
            size,
            available,
        }),
    }
}

/// Parses a GGUF file held in memory. Copies nothing big: tensor data is borrowed, and only the
/// metadata (strings, arrays) and tensor infos are allocated, each after its declared length or
/// count has been checked against the bytes that remain.
pub fn parse(bytes: &[u8]) -> Result<Gguf<'_>, GgufError> {
    parse_with_budget(bytes, MAX_METADATA_VALUES, None)
}

/// Parses the header (metadata and tensor infos) of a GGUF file of `file_len` bytes from its
/// first bytes, `prefix`: what a page can learn of a model from a range request before
/// downloading it. Tensors are checked against `file_len`; reading one whose bytes lie past the
/// prefix is an error ([`GgufError::TensorPastEnd`]), and so is a prefix that ends inside the
/// header.
pub fn parse_header(prefix: &[u8], file_len: u64) -> Result<Gguf<'_>, GgufError> {
    parse_with_budget(prefix, MAX_METADATA_VALUES, Some(file_len))
}

/// [`parse`] accepting at most `budget` metadata values, for a file of `file_len` bytes of which
/// `bytes` are the first (all of it when `None`).
fn parse_with_budget(
    bytes: &[u8],
    budget: u64,
    file_len: Option<u64>,
) -> Result<Gguf<'_>, GgufError> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        value_limit: budget,
        budget,
    };
    let magic = reader.array::<4>(Within::Header)?;
    if magic != *b"GGUF" {
        return Err(GgufError::NotGguf { magic });
    }
    let version = reader.u32(Within::Header)?;
    // A byte-swapped 2 or 3 has its low half zero; llama.cpp tests it the same way.
    if version & 0xFFFF == 0 && version != 0 {
        return Err(GgufError::BigEndian { raw: version });
    }
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion { version });
    }
    let tensor_count_at = reader.pos;
    let tensor_count = reader.u64(Within::Header)?;
    let entry_count_at = reader.pos;
    let entry_count = reader.u64(Within::Header)?;
    reader.check_count(
        entry_count,
        MIN_ENTRY_BYTES,
        entry_count_at,
        "metadata entries",
        Within::Header,
    )?;

    let mut entries = Vec::with_capacity(entry_count as usize);
    for index in 0..entry_count {
        let key = reader.string(Within::Key(index))?;
        let within = Within::Value(&key);
        let type_at = reader.pos;
        let type_id = reader.u32(within)?;
        let value = reader.value(type_id, type_at, within, 0)?;
        entries.push((key, value));
    }
    if let Some(key) = first_duplicate(entries.iter().map(|(key, _)| key.as_str())) {
        return Err(GgufError::DuplicateKey {
            key: key.to_owned(),
        });
    }
    let metadata = Metadata { entries };

    if tensor_count > MAX_TENSORS {
        return Err(GgufError::TooMany {
            within: Within::Header.to_string(),
            what: "tensors",
            limit: MAX_TENSORS,
        });
    }
    reader.check_count(
        tensor_count,
        MIN_TENSOR_INFO_BYTES,
        tensor_count_at,
        "tensor infos",
        Within::Header,
    )?;
    let mut tensors = Vec::with_capacity(tensor_count as usize);
    for index in 0..tensor_count {
        tensors.push(reader.tensor_info(index)?);
    }
    if let Some(name) = first_duplicate(tensors.iter().map(|info| info.name.as_str())) {
        return Err(GgufError::DuplicateTensor {
            tensor: name.to_owned(),
        });
    }

    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(_) => metadata.u64("general.alignment")?,
    };
    if !alignment.is_power_of_two() || alignment > MAX_ALIGNMENT {
        return Err(GgufError::BadAlignment { alignment });
    }
    let len = file_len
        .unwrap_or(bytes.len() as u64)
        .max(bytes.len() as u64);
    // The infos end inside the file and the alignment is at most 2^31, so this cannot overflow.
    let data_offset = (reader.pos as u64).next_multiple_of(alignment);
    if data_offset > len && !tensors.is_empty() {
        return Err(GgufError::DataPastEnd {
            data_offset,
            alignment,
            len,
        });
    }
    let data = usize::try_from(data_offset)
        .ok()
        .and_then(|offset| bytes.get(offset..))
        .unwrap_or_default();
    let data_len = usize::try_from(len.saturating_sub(data_offset)).unwrap_or(usize::MAX);
    for info in &tensors {
        locate(info, alignment, data_len)?;
    }
    Ok(Gguf {
        version,
        alignment,
        data_offset,
        metadata,
        tensors,
        data,
    })
}

/// A name that occurs twice, found by sorting (a hostile file may hold millions of names).
fn first_duplicate<'n>(names: impl Iterator<Item = &'n str>) -> Option<&'n str> {
    let mut sorted: Vec<&str> = names.collect();
    sorted.sort_unstable();
    sorted
        .windows(2)
        .find(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
}

/// What the parser is reading, for error messages; formatted only when an error occurs.
#[derive(Clone, Copy)]
enum Within<'k> {
    Header,
    Key(u64),
    Value(&'k str),
    TensorName(u64),
    Tensor(&'k str),
}

impl fmt::Display for Within<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Within::Header => write!(f, "the header"),
            Within::Key(index) => write!(f, "the key of metadata entry {index}"),
            Within::Value(key) => write!(f, "the value of metadata key {key:?}"),
            Within::TensorName(index) => write!(f, "the name of tensor info {index}"),
            Within::Tensor(name) => write!(f, "the info of tensor {name:?}"),
        }
    }
}

/// A cursor over the file's bytes whose every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// How many metadata values may be read in all, and how many more.
    value_limit: u64,
    budget: u64,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64, within: Within) -> Result<&'a [u8], GgufError> {
        let available = self.remaining();
        if n > available {
            return Err(GgufError::Truncated {
                within: within.to_string(),
                offset: self.pos as u64,
                needed: n,
                available,
            });
        }
        // n ≤ remaining, which is a slice length, so it fits in usize.
        let taken = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, within: Within) -> Result<[u8; N], GgufError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N as u64, within)?);
        Ok(out)
    }

    fn u32(&mut self, within: Within) -> Result<u32, GgufError> {
        self.array(within).map(u32::from_le_bytes)
    }

    fn u64(&mut self, within: Within) -> Result<u64, GgufError> {
        self.array(within).map(u64::from_le_bytes)
    }

    /// Refuses a count of items of at least `min_bytes` each that the rest cannot hold, so
    /// that a `Vec::with_capacity(count)` after it is bounded by the file's size.
    fn check_count(
        &self,
        count: u64,
        min_bytes: u64,
        count_at: usize,
        what: &'static str,
        within: Within,
    ) -> Result<(), GgufError> {
        let available = self.remaining();
        if count > available / min_bytes {
            return Err(GgufError::CountPastEnd {
                within: within.to_string(),
                what,
                offset: count_at as u64,
                count,
                available,
            });
        }
        Ok(())
    }

    fn string(&mut self, within: Within) -> Result<String, GgufError> {
        let length_at = self.pos as u64;
        let length = self.u64(within)?;
        let available = self.remaining();
        if length > available {
            return Err(GgufError::StringPastEnd {
                within: within.to_string(),
                offset: length_at,
                length,
                available,
            });
        }
        let start = self.pos as u64;
        let raw = self.take(length, within)?;
        match std::str::from_utf8(raw) {
            Ok(text) => Ok(text.to_owned()),
            Err(_) => Err(GgufError::InvalidUtf8 {
                within: within.to_string(),
                offset: start,
            }),
        }
    }

    /// One value of type `type_id` (read at `type_at`), `depth` arrays deep.
    fn value(
        &mut self,
        type_id: u32,
        type_at: usize,
        within: Within,
        depth: usize,
    ) -> Result<MetadataValue, GgufError> {
        if self.budget == 0 {
            return Err(self.too_many_values(within));
        }
        self.budget -= 1;
        Ok(match type_id {
            0 => MetadataValue::U8(u8::from_le_bytes(self.array(within)?)),
            1 => MetadataValue::I8(i8::from_le_bytes(self.array(within)?)),
            2 => MetadataValue::U16(u16::from_le_bytes(self.array(within)?)),
            3 => MetadataValue::I16(i16::from_le_bytes(self.array(within)?)),
            4 => MetadataValue::U32(u32::from_le_bytes(self.array(within)?)),
            5 => MetadataValue::I32(i32::from_le_bytes(self.array(within)?)),
            6 => MetadataValue::F32(f32::from_le_bytes(self.array(within)?)),
            7 => {
                let at = self.pos as u64;
                match self.array::<1>(within)? {
                    [0] => MetadataValue::Bool(false),
                    [1] => MetadataValue::Bool(true),
                    [byte] => {
                        return Err(GgufError::InvalidBool {
                            within: within.to_string(),
                            offset: at,
                            byte,
                        });
                    }
                }
            }
            8 => MetadataValue::String(self.string(within)?),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(GgufError::NestedTooDeep {
                        within: within.to_string(),
                        offset: type_at as u64,
                        limit: MAX_ARRAY_DEPTH,
                    });
                }
                let element_at = self.pos;
                let element_type = self.u32(within)?;
                let element_bytes =
                    min_value_bytes(element_type).ok_or_else(|| GgufError::UnknownValueType {
                        within: within.to_string(),
                        offset: element_at as u64,
                        type_id: element_type,
                    })?;
                let count_at = self.pos;
                let count = self.u64(within)?;
                self.check_count(count, element_bytes, count_at, "array elements", within)?;
                if count > self.budget {
                    return Err(self.too_many_values(within));
                }
                let mut items = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    items.push(self.value(element_type, element_at, within, depth + 1)?);
                }
                MetadataValue::Array(items)
            }
            10 => MetadataValue::U64(u64::from_le_bytes(self.array(within)?)),
            11 => MetadataValue::I64(i64::from_le_bytes(self.array(within)?)),
            12 => MetadataValue::F64(f64::from_le_bytes(self.array(within)?)),
            _ => {
                return Err(GgufError::UnknownValueType {
                    within: within.to_string(),
                    offset: type_at as u64,
                    type_id,
                });
            }
        })
    }

    fn too_many_values(&self, within: Within) -> GgufError {
        GgufError::TooMany {
            within: within.to_string(),
            what: "metadata values",
            limit: self.value_limit,
        }
    }

    fn tensor_info(&mut self, index: u64) -> Result<TensorInfo, GgufError> {
        let name = self.string(Within::TensorName(index))?;
        let within = Within::Tensor(&name);
        let dims_at = self.pos as u64;
        let dims = self.u32(within)?;
        if dims > MAX_DIMS {
            return Err(GgufError::TooManyDims {
                tensor: name,
                offset: dims_at,
                dims,
            });
        }
        let shape = (0..dims)
            .map(|_| self.u64(within))
            .collect::<Result<Vec<_>, _>>()?;
        let type_at = self.pos as u64;
        let type_id = self.u32(within)?;
        let offset = self.u64(within)?;
        let Some(dtype) = GgmlType::from_id(type_id) else {
            return Err(GgufError::UnknownTensorType {
                tensor: name,
                offset: type_at,
                type_id,
            });
        };
        let info = TensorInfo {
            name,
            shape,
            dtype,
            offset,
        };
        info.byte_size()?;
        Ok(info)
    }
}

/// The fewest bytes a value of this type takes (an empty string or array still has its
/// header), or `None` for an unknown type.
fn min_value_bytes(type_id: u32) -> Option<u64> {
    Some(match type_id {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 | 10..=12 => 8,
        9 => 12,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(entries: Vec<(&str, MetadataValue)>) -> Metadata {
        Metadata {
            entries: entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    #[test]
    fn accessors_convert_what_they_may_and_name_the_key_otherwise() {
        use MetadataValue as V;
        let m = metadata(vec![
            ("count", V::I32(7)),
            ("negative", V::I64(-1)),
            ("wide", V::F64(0.5)),
            (
                "words",
                V::Array(vec![V::String("a".into()), V::String("b".into())]),
            ),
            ("types", V::Array(vec![V::U8(1), V::I64(-3)])),
            ("huge", V::Array(vec![V::U64(1 << 40)])),
        ]);
        assert_eq!(m.u64("count"), Ok(7));
        assert_eq!(m.f32("wide"), Ok(0.5));
        assert_eq!(m.strings("words"), Ok(vec!["a", "b"]));
        assert_eq!(m.i32s("types"), Ok(vec![1, -3]));
        assert_eq!(
            m.u64("negative").unwrap_err().to_string(),
            "metadata key \"negative\" holds i64, expected a non-negative integer"
        );
        assert_eq!(
            m.str("count").unwrap_err().to_string(),
            "metadata key \"count\" holds i32, expected a string"
        );
        assert_eq!(
            m.strings("types").unwrap_err().to_string(),
            "metadata key \"types\" holds array of 2 u8, expected an array of strings"
        );
        assert_eq!(
            m.i32s("huge").unwrap_err().to_string(),
            "metadata key \"huge\" holds array of 1 u64, expected an array of integers within i32"
        );
        assert_eq!(
            m.bool("absent").unwrap_err().to_string(),
            "metadata key \"absent\" is missing"
        );
        assert_eq!(m.keys().collect::<Vec<_>>()[..2], ["count", "negative"]);
    }

    #[test]
    fn metadata_values_beyond_the_budget_are_refused() {
        // One entry: "k" = [u8; 8], that is 9 values.
        let mut file = b"GGUF".to_vec();
        for field in [
            3u32.to_le_bytes().as_slice(),
            &0u64.to_le_bytes(),
            &1u64.to_le_bytes(),
        ] {
            file.extend_from_slice(field);
        }
        file.extend_from_slice(&1u64.to_le_bytes());
        file.push(b'k');
        file.extend_from_slice(&9u32.to_le_bytes());
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&8u64.to_le_bytes());
        file.extend_from_slice(&[7; 8]);
        assert!(parse_with_budget(&file, 9, None).is_ok());
        assert_eq!(
            parse_with_budget(&file, 8, None).unwrap_err().to_string(),
            "the value of metadata key \"k\": more than 8 metadata values; the file is refused \
             rather than loaded"
        );
    }

    #[test]
    fn byte_size_checks_blocks_and_overflow() {
        let info = |shape: Vec<u64>, dtype| TensorInfo {
            name: "t".into(),
            shape,
            dtype,
            offset: 0,
        };
        assert_eq!(
            info(vec![576, 1536], GgmlType::Q4_1).byte_size(),
            Ok(552_960)
        );
        assert_eq!(info(vec![], GgmlType::F32).byte_size(), Ok(4));
        assert!(matches!(
            info(vec![40, 2], GgmlType::Q8_0).byte_size(),
            Err(GgufError::PartialBlockRow {
                row: 40,
                block: 32,
                ..
            })
        ));
        // The element count fits in u64, but not its F32 byte size.
        assert!(matches!(
            info(vec![1 << 62, 1], GgmlType::F32).byte_size(),
            Err(GgufError::ShapeOverflow { .. })
        ));
        assert_eq!(
            info(vec![4, 3, 2], GgmlType::F32).row_major_shape(),
            Ok(vec![2, 3, 4])
        );
    }
}
