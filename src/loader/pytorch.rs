//! PyTorch checkpoints (`pytorch_model.bin`, what many BERT models on the hub ship alone:
//! SciBERT, Bio_ClinicalBERT) as a [`WeightSource`], read from bytes (the browser has no file
//! system). Both formats of `torch.save` are read: the zip archive of PyTorch ≥ 1.6
//! (`ARCHIVE/data.pkl` plus one entry per storage under `ARCHIVE/data/`) and the legacy stream
//! (magic number, protocol, system info, the object, the storage keys, then each storage as an
//! element count and its bytes). The object is a pickle of a dict from names to tensors, each
//! rebuilt from a storage (a persistent id), an offset, a shape and strides.
//!
//! Why by hand: the well-kept reader, burn's `pytorch-reader`, depends on `tar` with extended
//! attributes, whose `rustix` turns on `bitflags`' std feature, which changes the build of all
//! of burn natively (a cold build in CI) for a format this small. Only what `torch.save` writes
//! for a state dict is interpreted: any other pickle opcode is an error naming the file and the
//! byte; a callable other than the few a state dict uses (`OrderedDict`, `_rebuild_tensor_v2`,
//! `_rebuild_parameter`) is never called, its result kept as an opaque value that is not a
//! tensor. Every count, offset and shape is checked against the bytes before use, and the file
//! is hostile until proven otherwise: values nest at most [`MAX_DEPTH`] deep, the machine builds
//! at most [`node_budget`] values (memo recall and `DUP` copy, so a few hundred bytes could
//! otherwise double memory until it is gone), a compressed zip entry expands at most
//! [`MAX_EXPANSION`] times, and a tensor is never larger than its storage.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Cursor, Read};

use super::weights::{WeightError, WeightSource};

/// The file name transformers gives a PyTorch checkpoint.
pub const PYTORCH_FILE: &str = "pytorch_model.bin";

/// How deep values may nest (a state dict is 3–5 deep: dict, tensor call, argument tuples).
/// Deeper values are refused before dropping them could overflow the stack.
pub const MAX_DEPTH: u32 = 100;

/// Values the pickle machine may build or copy, counted over the whole pickle: half a million,
/// plus 8 per byte of pickle (every value but a recalled or copied one costs a byte). A state
/// dict needs a few thousand (BERT-large's pickle: about 6,000 values), and half a million
/// values of at most 40 bytes stay within some 20 MB.
pub fn node_budget(pickle_bytes: usize) -> u64 {
    500_000 + 8 * pickle_bytes as u64
}

/// How many times its compressed size a compressed zip entry may expand to (`torch.save`
/// stores entries uncompressed; a recompressed checkpoint shrinks 1.1–3×).
pub const MAX_EXPANSION: u64 = 100;

/// The number the legacy format starts with (`torch.serialization.MAGIC_NUMBER`).
const LEGACY_MAGIC: u128 = 0x1950a86a20f9469cfc6c;

/// The element types whose storages are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F32,
    F16,
    BF16,
}

impl DType {
    fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
        }
    }
}

/// A tensor of the state dict: a view into a storage.
#[derive(Debug, Clone, PartialEq)]
struct TensorView {
    storage: String,
    dtype: DType,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// What the pickle machine holds on its stack.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Text(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A class or function named by `module.name`.
    Global(String),
    /// A persistent id resolved to a storage: its key, element type (`None`: a type the
    /// reader does not convert, integer buffers say) and element count.
    Storage {
        key: String,
        dtype: Option<DType>,
        numel: usize,
    },
    Tensor(Box<TensorView>),
    /// The value of a callable the reader has no use for (a storage type it does not convert,
    /// say), kept so that the tensors beside it can still be read.
    Opaque(String),
}

/// A parsed `torch.save` state dict over the file's bytes.
pub struct PytorchWeights<'a> {
    /// The file's name, for messages.
    file: String,
    /// Tensor name to its view.
    tensors: HashMap<String, TensorView>,
    /// Storage key to its bytes.
    storages: HashMap<String, Cow<'a, [u8]>>,
}

impl<'a> PytorchWeights<'a> {
    /// Parses the checkpoint `bytes` (named `file` in errors): its pickle and where each
    /// storage's bytes are; a tensor's data is converted when [`WeightSource::tensor`] asks.
    pub fn new(file: &str, bytes: &'a [u8]) -> Result<PytorchWeights<'a>, String> {
        let fail =
            |message: String| format!("{file}: not a readable PyTorch checkpoint: {message}");
        let (root, storages) = if bytes.starts_with(b"PK\x03\x04") {
            read_zip(bytes).map_err(fail)?
        } else {
            read_legacy(bytes).map_err(fail)?
        };
        let mut tensors = HashMap::new();
        collect_tensors(root, "", &mut tensors);
        if tensors.is_empty() {
            return Err(fail("it holds no tensors".into()));
        }
        let weights = PytorchWeights {
            file: file.to_owned(),
            tensors,
            storages,
        };
        // Every view against its storage's bytes now, so that a short file is refused at load
        // rather than halfway through building a model.
        let mut names: Vec<&String> = weights.tensors.keys().collect();
        names.sort();
        for name in names {
            weights
                .check_storage(name, &weights.tensors[name])
                .map_err(fail)?;
        }
        Ok(weights)
    }
}

/// Walks dicts (a state dict, or one wrapped as `{"state_dict": …}`) and names each tensor
/// by its dotted path.
fn collect_tensors(value: Value, prefix: &str, out: &mut HashMap<String, TensorView>) {
    match value {
        Value::Dict(items) => {
            for (key, value) in items {
                let Value::Text(key) = key else { continue };
                let name = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                collect_tensors(value, &name, out);
            }
        }
        Value::Tensor(view) => {
            out.insert(prefix.to_owned(), *view);
        }
        _ => {}
    }
}

/// The object and each storage's bytes by key.
type Storages<'a> = (Value, HashMap<String, Cow<'a, [u8]>>);

/// The zip format: the pickle in `*/data.pkl`, storage KEY in `*/data/KEY`.
fn read_zip(bytes: &[u8]) -> Result<Storages<'_>, String> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("zip archive: {e}"))?;
    let names: Vec<String> = archive
        .file_names()
        .map(|name| name.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("zip archive: {e}"))?;
    let pickle_name = names
        .iter()
        .find(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
        .ok_or("the zip archive has no data.pkl")?
        .clone();
    let root = &pickle_name[..pickle_name.len() - "data.pkl".len()];
    if let Ok(mut order) = archive.by_name(&format!("{root}byteorder")) {
        let mut text = String::new();
        order
            .read_to_string(&mut text)
            .map_err(|e| format!("{root}byteorder: {e}"))?;
        if text.trim() != "little" {
            return Err(format!(
                "{root}byteorder says {:?}; only little-endian is read",
                text.trim()
            ));
        }
    }
    let pickle = read_entry(&mut archive, &pickle_name, bytes)?;
    let mut machine = Machine::new(&pickle, &pickle_name);
    let value = machine.run()?;
    let mut storages = HashMap::new();
    for key in machine.storage_keys {
        let name = format!("{root}data/{key}");
        let data = read_entry(&mut archive, &name, bytes)?;
        storages.insert(key, data);
    }
    Ok((value, storages))
}

/// An entry's bytes: a slice of the file when stored uncompressed (as `torch.save` writes
/// them), else decompressed.
fn read_entry<'a>(
    archive: &mut zip::ZipArchive<Cursor<&'a [u8]>>,
    name: &str,
    bytes: &'a [u8],
) -> Result<Cow<'a, [u8]>, String> {
    let mut entry = archive
        .by_name(name)
        .map_err(|e| format!("zip entry {name}: {e}"))?;
    let size = usize::try_from(entry.size()).map_err(|_| format!("{name}: too large"))?;
    if entry.compression() == zip::CompressionMethod::Stored
        && let Some(start) = entry.data_start()
    {
        let start = usize::try_from(start).map_err(|_| format!("{name}: bad offset"))?;
        return start
            .checked_add(size)
            .and_then(|end| bytes.get(start..end))
            .map(Cow::Borrowed)
            .ok_or_else(|| format!("zip entry {name} runs past the end of the file"));
    }
    // A compressed entry expands at most MAX_EXPANSION times (a bomb stops at the limit), and
    // nothing is reserved on the entry's word: the bytes grow as they are inflated.
    let limit = entry
        .compressed_size()
        .max(4096)
        .saturating_mul(MAX_EXPANSION);
    if entry.size() > limit {
        return Err(format!(
            "zip entry {name} would expand to {} bytes, more than {MAX_EXPANSION} times its \
             compressed size (limit {limit} bytes)",
            entry.size()
        ));
    }
    let mut data = Vec::new();
    entry
        .by_ref()
        .take(size as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("zip entry {name}: {e}"))?;
    if data.len() != size {
        return Err(format!(
            "zip entry {name} inflates to {} bytes, not the {size} it declares",
            data.len()
        ));
    }
    Ok(Cow::Owned(data))
}

/// A pickle's object, the storage keys it names in order, and their element sizes.
type Parsed = (Value, Vec<String>, HashMap<String, usize>);

/// The legacy format: five pickles, then each storage as a little-endian element count and
/// its bytes, in the order the fifth pickle lists the keys.
fn read_legacy(bytes: &[u8]) -> Result<Storages<'_>, String> {
    let mut at = 0;
    let mut next = |what: &'static str| -> Result<Parsed, String> {
        let mut machine = Machine::new(&bytes[at..], what);
        let value = machine.run()?;
        at += machine.at;
        Ok((value, machine.storage_keys, machine.element_sizes))
    };
    let (magic, ..) = next("the magic number")?;
    if magic != Value::Int(LEGACY_MAGIC as i128) {
        return Err("neither a zip archive nor a legacy torch.save stream".into());
    }
    next("the protocol version")?;
    next("the system info")?;
    let (root, _, element_sizes) = next("the object")?;
    let (keys, ..) = next("the storage keys")?;
    let Value::List(keys) = keys else {
        return Err("the storage keys are not a list".into());
    };
    let mut storages = HashMap::new();
    for key in keys {
        let Value::Text(key) = key else {
            return Err("a storage key is not a string".into());
        };
        let short = || format!("storage {key} runs past the end of the file");
        let count = at
            .checked_add(8)
            .and_then(|end| bytes.get(at..end))
            .ok_or_else(short)?;
        let numel = u64::from_le_bytes(count.try_into().expect("8 bytes"));
        // Storages the reader does not convert (integer buffers) are skipped by their size.
        let Some(&element_size) = element_sizes.get(&key) else {
            return Err(format!(
                "storage {key} is listed but no tensor names its type"
            ));
        };
        let length = usize::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(element_size))
            .ok_or_else(short)?;
        let data = (at + 8)
            .checked_add(length)
            .and_then(|end| bytes.get(at + 8..end))
            .ok_or_else(short)?;
        storages.insert(key, Cow::Borrowed(data));
        at += 8 + length;
    }
    Ok((root, storages))
}

/// How large and how deep a value is: counted as values are built, never by walking them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Meta {
    nodes: u64,
    depth: u32,
}

impl Meta {
    const LEAF: Meta = Meta { nodes: 1, depth: 0 };
}

/// Pairs up a dict's flat items; `None` when a key has no value.
fn pairs(items: Vec<Value>) -> Option<Vec<(Value, Value)>> {
    if !items.len().is_multiple_of(2) {
        return None;
    }
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        pairs.push((k, v));
    }
    Some(pairs)
}

/// A collection grown by items whose own collection meta is `items` (which counted one node
/// for a collection that is not built).
fn grow(meta: &mut Meta, items: Meta) {
    meta.nodes = meta.nodes.saturating_add(items.nodes - 1);
    meta.depth = meta.depth.max(items.depth);
}

/// What an opaque value is called in messages: a global's name, else the value's kind (never
/// its whole debug form, which a hostile pickle could make as large as memory).
fn opaque_name(value: &Value) -> String {
    match value {
        Value::Global(name) | Value::Opaque(name) => name.clone(),
        other => format!("a {}", other.kind()),
    }
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Text(_) => "str",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Global(_) => "global",
            Value::Storage { .. } => "storage",
            Value::Tensor(_) => "tensor",
            Value::Opaque(_) => "object",
        }
    }
}

/// The pickle machine, for the opcodes `torch.save` (protocol 2) writes.
struct Machine<'p> {
    data: &'p [u8],
    what: &'p str,
    at: usize,
    stack: Vec<Value>,
    /// The size and depth of each value on the stack, beside it.
    metas: Vec<Meta>,
    marks: Vec<usize>,
    memo: HashMap<u32, (Value, Meta)>,
    /// Values built or copied so far, against [`node_budget`].
    nodes: u64,
    /// Storage keys in the order their persistent ids appear.
    storage_keys: Vec<String>,
    /// Element size in bytes of each storage that was named.
    element_sizes: HashMap<String, usize>,
}

impl<'p> Machine<'p> {
    fn new(data: &'p [u8], what: &'p str) -> Machine<'p> {
        Machine {
            data,
            what,
            at: 0,
            stack: Vec::new(),
            metas: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            nodes: 0,
            storage_keys: Vec::new(),
            element_sizes: HashMap::new(),
        }
    }

    fn error(&self, message: impl std::fmt::Display) -> String {
        format!("{}, byte {}: {message}", self.what, self.at)
    }

    fn take(&mut self, n: usize) -> Result<&'p [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(self.error("the pickle ends early"));
        };
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.data[self.at..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Err(self.error("a GLOBAL name has no end"));
        };
        let text = String::from_utf8(rest[..end].to_vec()).map_err(|e| self.error(e))?;
        self.at += end + 1;
        Ok(text)
    }

    fn text(&mut self, n: usize) -> Result<Value, String> {
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec())
            .map(Value::Text)
            .map_err(|e| self.error(e))
    }

    /// Counts `nodes` more values against [`node_budget`].
    fn spend(&mut self, nodes: u64) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(nodes);
        let budget = node_budget(self.data.len());
        if self.nodes > budget {
            return Err(self.error(format!(
                "the pickle builds more than {budget} values (memo recalls and copies \
                 included); a state dict needs far fewer"
            )));
        }
        Ok(())
    }

    /// Pushes a value that holds no other value.
    fn push(&mut self, value: Value) -> Result<(), String> {
        self.push_with(value, Meta::LEAF)
    }

    fn push_with(&mut self, value: Value, meta: Meta) -> Result<(), String> {
        self.spend(1)?;
        self.stack.push(value);
        self.metas.push(meta);
        Ok(())
    }

    /// Pushes a collection of `items`: one value more, one level deeper.
    fn push_collection(
        &mut self,
        items: Vec<(Value, Meta)>,
        build: impl FnOnce(Vec<Value>) -> Result<Value, String>,
    ) -> Result<(), String> {
        let meta = self.collect_meta(&items)?;
        let value = build(items.into_iter().map(|(v, _)| v).collect())?;
        self.push_with(value, meta)
    }

    fn collect_meta(&self, items: &[(Value, Meta)]) -> Result<Meta, String> {
        let depth = items.iter().map(|(_, m)| m.depth).max().unwrap_or(0) + 1;
        if depth > MAX_DEPTH {
            return Err(self.error(format!("values nest more than {MAX_DEPTH} deep")));
        }
        let nodes = items
            .iter()
            .fold(1u64, |n, (_, m)| n.saturating_add(m.nodes));
        Ok(Meta { nodes, depth })
    }

    fn pop(&mut self) -> Result<Value, String> {
        self.pop_with().map(|(value, _)| value)
    }

    fn pop_with(&mut self) -> Result<(Value, Meta), String> {
        let (Some(value), Some(meta)) = (self.stack.pop(), self.metas.pop()) else {
            return Err(self.error("the stack is empty"));
        };
        Ok((value, meta))
    }

    fn pop_mark(&mut self) -> Result<Vec<(Value, Meta)>, String> {
        let Some(mark) = self.marks.pop() else {
            return Err(self.error("no MARK before a collection"));
        };
        if mark > self.stack.len() {
            return Err(self.error("a MARK points past the stack"));
        }
        let metas = self.metas.split_off(mark);
        Ok(self.stack.split_off(mark).into_iter().zip(metas).collect())
    }

    fn pop_values(&mut self, n: usize) -> Result<Vec<(Value, Meta)>, String> {
        if self.stack.len() < n {
            return Err(self.error("the stack is too short for a tuple"));
        }
        let at = self.stack.len() - n;
        let metas = self.metas.split_off(at);
        Ok(self.stack.split_off(at).into_iter().zip(metas).collect())
    }

    /// The top value with its size and depth, to be grown in place.
    fn top(&mut self) -> Result<(&mut Value, &mut Meta), String> {
        let at = self.at;
        let what = self.what;
        match (self.stack.last_mut(), self.metas.last_mut()) {
            (Some(value), Some(meta)) => Ok((value, meta)),
            _ => Err(format!("{what}, byte {at}: the stack is empty")),
        }
    }

    /// Runs to STOP and returns the object.
    fn run(&mut self) -> Result<Value, String> {
        loop {
            let opcode = self.u8()?;
            match opcode {
                0x80 => {
                    self.u8()?; // PROTO
                }
                0x95 => {
                    self.take(8)?; // FRAME
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'}' => self.push_collection(Vec::new(), |_| Ok(Value::Dict(Vec::new())))?,
                b']' => self.push_collection(Vec::new(), |_| Ok(Value::List(Vec::new())))?,
                b')' => self.push_collection(Vec::new(), |_| Ok(Value::Tuple(Vec::new())))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push_collection(items, |items| Ok(Value::Tuple(items)))?;
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push_collection(items, |items| Ok(Value::List(items)))?;
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let error = self.error("a dict has a key without a value");
                    self.push_collection(items, |items| {
                        pairs(items).map(Value::Dict).ok_or(error)
                    })?;
                }
                0x85..=0x87 => {
                    let items = self.pop_values(usize::from(opcode - 0x84))?;
                    self.push_collection(items, |items| Ok(Value::Tuple(items)))?;
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.text(n)?;
                    self.push(v)?;
                }
                0x8c => {
                    let n = usize::from(self.u8()?);
                    let v = self.text(n)?;
                    self.push(v)?;
                }
                b'U' => {
                    let n = usize::from(self.u8()?);
                    let v = self.text(n)?;
                    self.push(v)?;
                }
                b'T' => {
                    let n = self.u32()? as usize;
                    let v = self.text(n)?;
                    self.push(v)?;
                }
                b'C' => {
                    let n = usize::from(self.u8()?);
                    self.take(n)?;
                    self.push(Value::Opaque("bytes".into()))?;
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    self.take(n)?;
                    self.push(Value::Opaque("bytes".into()))?;
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
                    self.push(Value::Int(v.into()))?;
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(v.into()))?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes"));
                    self.push(Value::Int(v.into()))?;
                }
                0x8a => {
                    // LONG1: little-endian two's complement of up to 16 bytes.
                    let n = usize::from(self.u8()?);
                    if n > 16 {
                        return Err(self.error("an integer of more than 128 bits"));
                    }
                    let bytes = self.take(n)?;
                    let mut buf = [0u8; 16];
                    buf[..n].copy_from_slice(bytes);
                    if n > 0 && n < 16 && bytes[n - 1] & 0x80 != 0 {
                        buf[n..].fill(0xff);
                    }
                    self.push(Value::Int(i128::from_le_bytes(buf)))?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes"));
                    self.push(Value::Float(v))?;
                }
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Value::Global(format!("{module}.{name}")))?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Text(module), Value::Text(name)) = (module, name) else {
                        return Err(self.error("STACK_GLOBAL needs two strings"));
                    };
                    self.push(Value::Global(format!("{module}.{name}")))?;
                }
                b'q' => {
                    let key = u32::from(self.u8()?);
                    self.memoize(key)?;
                }
                b'r' => {
                    let key = self.u32()?;
                    self.memoize(key)?;
                }
                0x94 => {
                    let key = self.memo.len() as u32;
                    self.memoize(key)?;
                }
                b'h' => {
                    let key = u32::from(self.u8()?);
                    self.recall(key)?;
                }
                b'j' => {
                    let key = self.u32()?;
                    self.recall(key)?;
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    // DUP copies the value (no sharing here): its whole size is spent again.
                    let meta = *self.top()?.1;
                    self.spend(meta.nodes.saturating_sub(1))?;
                    let value = self.top()?.0.clone();
                    self.push_with(value, meta)?;
                }
                b'Q' => {
                    let id = self.pop()?;
                    let storage = self.storage(id)?;
                    self.push(storage)?;
                }
                b'R' => {
                    let (args, meta) = self.pop_with()?;
                    let callable = self.pop()?;
                    let value = self.call(callable, args)?;
                    // The result is new and small (a tensor, a dict, an opaque name) or a part
                    // of the arguments (`_rebuild_parameter`): their size bounds it.
                    self.push_with(value, meta)?;
                }
                0x81 => {
                    // NEWOBJ: cls.__new__(cls, *args); only opaque objects come this way.
                    self.pop()?;
                    let cls = self.pop()?;
                    self.push(Value::Opaque(opaque_name(&cls)))?;
                }
                b'b' => {
                    // BUILD sets an object's state (an OrderedDict's `_metadata`): dropped.
                    self.pop()?;
                }
                b's' => {
                    let value = self.pop_with()?;
                    let key = self.pop_with()?;
                    self.insert(vec![key, value])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.insert(items)?;
                }
                b'a' => {
                    let value = self.pop_with()?;
                    self.append(vec![value])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                other => {
                    self.at -= 1;
                    return Err(self.error(format!("pickle opcode 0x{other:02x} is not read")));
                }
            }
        }
    }

    fn memoize(&mut self, key: u32) -> Result<(), String> {
        let meta = *self.top()?.1;
        self.spend(meta.nodes)?;
        let value = self.top()?.0.clone();
        self.memo.insert(key, (value, meta));
        Ok(())
    }

    fn recall(&mut self, key: u32) -> Result<(), String> {
        let Some(&(_, meta)) = self.memo.get(&key) else {
            return Err(self.error(format!("memo {key} was never stored")));
        };
        self.spend(meta.nodes.saturating_sub(1))?;
        let value = self.memo[&key].0.clone();
        self.push_with(value, meta)
    }

    fn insert(&mut self, items: Vec<(Value, Meta)>) -> Result<(), String> {
        let grown = self.collect_meta(&items)?;
        let items: Vec<Value> = items.into_iter().map(|(v, _)| v).collect();
        let Some(pairs) = pairs(items) else {
            return Err(self.error("a dict has a key without a value"));
        };
        let what = self.error("SETITEM(S) on something that is not a dict");
        let (top, meta) = self.top()?;
        match top {
            Value::Dict(dict) => {
                dict.extend(pairs);
                grow(meta, grown);
            }
            // An object rebuilt opaquely may be given items (a subclass of dict): ignored.
            Value::Opaque(_) => {}
            _ => return Err(what),
        }
        self.check_depth()
    }

    fn append(&mut self, items: Vec<(Value, Meta)>) -> Result<(), String> {
        let grown = self.collect_meta(&items)?;
        let items: Vec<Value> = items.into_iter().map(|(v, _)| v).collect();
        let what = self.error("APPEND(S) on something that is not a list");
        let (top, meta) = self.top()?;
        match top {
            Value::List(list) => {
                list.extend(items);
                grow(meta, grown);
            }
            Value::Opaque(_) => {}
            _ => return Err(what),
        }
        self.check_depth()
    }

    fn check_depth(&mut self) -> Result<(), String> {
        match self.metas.last() {
            Some(meta) if meta.depth > MAX_DEPTH => {
                Err(self.error(format!("values nest more than {MAX_DEPTH} deep")))
            }
            _ => Ok(()),
        }
    }

    /// A persistent id `('storage', TYPE, KEY, LOCATION, NUMEL[, VIEW])`.
    fn storage(&mut self, id: Value) -> Result<Value, String> {
        let Value::Tuple(parts) = id else {
            return Err(self.error("a persistent id is not a tuple"));
        };
        let [
            Value::Text(kind),
            Value::Global(class),
            Value::Text(key),
            _,
            Value::Int(numel),
            rest @ ..,
        ] = parts.as_slice()
        else {
            return Err(self.error("a persistent id is not ('storage', type, key, location, size)"));
        };
        if kind != "storage" {
            return Err(self.error(format!("persistent id of kind {kind:?}")));
        }
        if rest.first().is_some_and(|view| *view != Value::None) {
            return Err(self.error("storage views (PyTorch before 0.4) are not read"));
        }
        let numel = usize::try_from(*numel).map_err(|_| self.error("a negative storage size"))?;
        let (dtype, element_size) = match class.as_str() {
            "torch.FloatStorage" => (Some(DType::F32), 4),
            "torch.HalfStorage" => (Some(DType::F16), 2),
            "torch.BFloat16Storage" => (Some(DType::BF16), 2),
            "torch.DoubleStorage" | "torch.LongStorage" => (None, 8),
            "torch.IntStorage" => (None, 4),
            "torch.ShortStorage" => (None, 2),
            "torch.CharStorage" | "torch.ByteStorage" | "torch.BoolStorage" => (None, 1),
            other => return Err(self.error(format!("storage type {other} is not read"))),
        };
        if !self.storage_keys.contains(key) {
            self.storage_keys.push(key.clone());
        }
        self.element_sizes.insert(key.clone(), element_size);
        Ok(Value::Storage {
            key: key.clone(),
            dtype,
            numel,
        })
    }

    /// REDUCE: the callables of a state dict.
    fn call(&self, callable: Value, args: Value) -> Result<Value, String> {
        let Value::Global(name) = callable else {
            return Ok(Value::Opaque(opaque_name(&callable)));
        };
        let Value::Tuple(args) = args else {
            return Err(self.error(format!("{name} is called without an argument tuple")));
        };
        match name.as_str() {
            "collections.OrderedDict" | "builtins.dict" | "__builtin__.dict" if args.is_empty() => {
                Ok(Value::Dict(Vec::new()))
            }
            "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_tensor" => {
                self.tensor(&name, &args)
            }
            "torch._utils._rebuild_parameter" | "torch._utils._rebuild_parameter_with_state" => {
                args.into_iter()
                    .next()
                    .ok_or_else(|| self.error(format!("{name} without its tensor")))
            }
            _ => Ok(Value::Opaque(name)),
        }
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, …)`, checked against the storage.
    fn tensor(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        let [
            storage,
            Value::Int(offset),
            Value::Tuple(size),
            Value::Tuple(stride),
            ..,
        ] = args
        else {
            return Err(self.error(format!("{name} with unexpected arguments")));
        };
        let Value::Storage { key, dtype, numel } = storage else {
            return Err(self.error(format!("{name} without a storage")));
        };
        let Some(dtype) = dtype else {
            // Integer tensors (position ids, say) are not weights; kept out of the table.
            return Ok(Value::Opaque(format!("tensor of storage {key}")));
        };
        let ints = |values: &[Value]| -> Option<Vec<usize>> {
            values
                .iter()
                .map(|v| match v {
                    Value::Int(n) => usize::try_from(*n).ok(),
                    _ => None,
                })
                .collect()
        };
        let (Some(shape), Some(stride)) = (ints(size), ints(stride)) else {
            return Err(self.error(format!("{name}: a size or stride is not a count")));
        };
        let offset = usize::try_from(*offset).map_err(|_| self.error("a negative offset"))?;
        if shape.len() != stride.len() {
            return Err(self.error(format!(
                "{name}: {} sizes but {} strides",
                shape.len(),
                stride.len()
            )));
        }
        // The last element the view reaches must lie in the storage, and the tensor is never
        // larger than its storage: a stride-0 view (a broadcast) could otherwise ask for any
        // number of elements from one stored value.
        let elements = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        let last = shape.iter().zip(&stride).try_fold(offset, |at, (&d, &s)| {
            at.checked_add(d.saturating_sub(1).checked_mul(s)?)
        });
        match (elements, last) {
            (Some(0), _) => {}
            (Some(n), Some(last)) if last < *numel && n <= *numel => {}
            _ => {
                return Err(self.error(format!(
                    "tensor of shape {shape:?}, strides {stride:?} at offset {offset} does not fit \
                     its storage of {numel} elements"
                )));
            }
        }
        Ok(Value::Tensor(Box::new(TensorView {
            storage: key.clone(),
            dtype: *dtype,
            offset,
            shape,
            stride,
        })))
    }
}

impl TensorView {
    /// The bytes the view reaches in its storage (`None`: more than memory addresses).
    fn bytes_needed(&self) -> Option<usize> {
        if self.shape.contains(&0) {
            return Some(0);
        }
        self.shape
            .iter()
            .zip(&self.stride)
            .try_fold(self.offset, |at, (&d, &s)| {
                at.checked_add(d.saturating_sub(1).checked_mul(s)?)
            })
            .and_then(|last| last.checked_add(1)?.checked_mul(self.dtype.size()))
    }
}

impl PytorchWeights<'_> {
    /// Checks that the storage of tensor `name` is there and holds the bytes its view reaches
    /// (a storage's declared size was checked in the pickle; its bytes may still be fewer).
    fn check_storage(&self, name: &str, view: &TensorView) -> Result<&[u8], String> {
        let data = self
            .storages
            .get(&view.storage)
            .ok_or_else(|| format!("{name}: storage {} is missing", view.storage))?;
        let needed = view.bytes_needed();
        if needed.is_none_or(|n| n > data.len()) {
            return Err(format!(
                "{name}: storage {} holds {} bytes, the tensor needs {}",
                view.storage,
                data.len(),
                needed.map_or("more than memory holds".into(), |n| n.to_string())
            ));
        }
        Ok(data)
    }
}

impl WeightSource for PytorchWeights<'_> {
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), WeightError> {
        let view = self.tensors.get(name).ok_or_else(|| WeightError::Missing {
            name: name.to_owned(),
        })?;
        let size = view.dtype.size();
        let data = self
            .check_storage(name, view)
            .map_err(|message| WeightError::Unreadable {
                name: name.to_owned(),
                message: format!("{}: {message}", self.file),
            })?;
        let read = |index: usize| -> f32 {
            let b = &data[index * size..index * size + size];
            match view.dtype {
                DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                DType::F16 => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
                DType::BF16 => half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            }
        };
        let count: usize = view.shape.iter().product();
        let mut values = Vec::with_capacity(count);
        // Row-major walk over the view (a transposed or offset view is gathered).
        let mut index = vec![0usize; view.shape.len()];
        for _ in 0..count {
            let at = view.offset
                + index
                    .iter()
                    .zip(&view.stride)
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            values.push(read(at));
            for axis in (0..index.len()).rev() {
                index[axis] += 1;
                if index[axis] < view.shape[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        Ok((view.shape.clone(), values))
    }

    fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pickle_that_is_not_a_checkpoint_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\x80\x02",
            b"\x80\x02}q\x00(X\x05\x00\x00\x00abc",
            b"\x80\x02}(u",
            b"\x80\x02\xff",
            b"\x80\x02h\x07.",
            b"\x80\x02\x8a\x01\x05.",
            b"PK\x03\x04 not really a zip",
        ] {
            assert!(PytorchWeights::new("x.bin", bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn long1_reads_the_legacy_magic_number() {
        let mut pickle = vec![0x80, 2, 0x8a, 10];
        pickle.extend(&LEGACY_MAGIC.to_le_bytes()[..10]);
        pickle.push(b'.');
        let mut machine = Machine::new(&pickle, "magic");
        assert_eq!(machine.run().unwrap(), Value::Int(LEGACY_MAGIC as i128));
        let negative = [0x80, 2, 0x8a, 1, 0xff, b'.'];
        assert_eq!(Machine::new(&negative, "-1").run().unwrap(), Value::Int(-1));
    }
}
