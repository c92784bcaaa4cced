//! The key/value cache: per layer, the rotated keys and the values of every position run so
//! far, so a new chunk attends to them without recomputing them. Storage grows by doubling and
//! is written in place; rolling back only moves the length.

use burn::tensor::{Device, Tensor};

/// Positions the storage holds at first; it doubles from there as the sequence grows.
const MIN_CAPACITY: usize = 64;

/// The keys and values of one sequence in every layer of one model ([`super::Decoder::new_cache`]).
#[derive(Debug, Clone)]
pub struct KvCache {
    /// One entry per layer once the first chunk has reserved storage; empty before.
    layers: Vec<LayerCache>,
    len: usize,
    capacity: usize,
    num_layers: usize,
    kv_heads: usize,
    head_dim: usize,
    max_len: usize,
    device: Device,
}

/// One layer's storage, `[kv_heads, capacity, head_dim]`; positions `len..capacity` are unused.
#[derive(Debug, Clone)]
pub(crate) struct LayerCache {
    keys: Tensor<3>,
    values: Tensor<3>,
}

impl KvCache {
    /// An empty cache for `num_layers` layers of `kv_heads` heads of `head_dim`, holding at
    /// most `max_len` positions.
    pub(crate) fn new(
        num_layers: usize,
        kv_heads: usize,
        head_dim: usize,
        max_len: usize,
        device: Device,
    ) -> KvCache {
        KvCache {
            layers: Vec::new(),
            len: 0,
            capacity: 0,
            num_layers,
            kv_heads,
            head_dim,
            max_len,
            device,
        }
    }

    /// Number of positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no position is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of device memory the keys and values take now: storage grows with the sequence
    /// (doubling, at most the model's context), so this is what the context actually used needs.
    pub fn device_bytes(&self) -> u64 {
        // In u64: a long context (Llama 3.2 1B at 131,072 positions: 8.6 GB) overflows wasm32.
        [
            self.layers.len(),
            self.kv_heads,
            self.capacity,
            self.head_dim,
        ]
        .iter()
        .fold(2 * 4, |bytes, &n| bytes * n as u64)
    }

    /// Forgets every position from `len` on, as [`Vec::truncate`] does (no effect when `len` is
    /// not shorter); the next chunk overwrites them.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Makes room for `total` positions (at most the model's context), copying what is cached
    /// into storage twice as large when it is full.
    pub(crate) fn reserve(&mut self, total: usize) {
        assert!(
            total <= self.max_len,
            "{total} positions exceed the cache's {}",
            self.max_len
        );
        if total <= self.capacity {
            return;
        }
        let capacity = total
            .max(2 * self.capacity)
            .max(MIN_CAPACITY)
            .min(self.max_len);
        let (shape, kept) = (
            [self.kv_heads, capacity, self.head_dim],
            [0..self.kv_heads, 0..self.len, 0..self.head_dim],
        );
        let grown = |old: Option<&Tensor<3>>| {
            let storage = Tensor::<3>::zeros(shape, &self.device);
            match old {
                Some(old) if self.len > 0 => {
                    storage.slice_assign(kept.clone(), old.clone().slice(kept.clone()))
                }
                _ => storage,
            }
        };
        self.layers = if self.layers.is_empty() {
            (0..self.num_layers)
                .map(|_| LayerCache {
                    keys: grown(None),
                    values: grown(None),
                })
                .collect()
        } else {
            self.layers
                .iter()
                .map(|layer| LayerCache {
                    keys: grown(Some(&layer.keys)),
                    values: grown(Some(&layer.values)),
                })
                .collect()
        };
        self.capacity = capacity;
    }

    /// The layers' storage, in order, for the chunk being run.
    pub(crate) fn layers_mut(&mut self) -> impl Iterator<Item = &mut LayerCache> {
        assert_eq!(
            self.layers.len(),
            self.num_layers,
            "reserve storage before running a chunk"
        );
        self.layers.iter_mut()
    }

    /// Counts a chunk of `len` positions, written to every layer, as cached.
    pub(crate) fn advance(&mut self, len: usize) {
        self.len += len;
        assert!(
            self.len <= self.capacity,
            "the chunk outran the reserved storage"
        );
    }
}

impl LayerCache {
    /// Writes a chunk's keys and values (`[kv_heads, len, head_dim]`) at positions
    /// `start..start + len` and returns the keys and values of positions `0..start + len`.
    pub(crate) fn append(
        &mut self,
        start: usize,
        keys: Tensor<3>,
        values: Tensor<3>,
    ) -> (Tensor<3>, Tensor<3>) {
        let [kv_heads, len, head_dim] = keys.dims();
        let written = [0..kv_heads, start..start + len, 0..head_dim];
        self.keys
            .inplace(|stored| stored.slice_assign(written.clone(), keys));
        self.values
            .inplace(|stored| stored.slice_assign(written, values));
        let end = start + len;
        (
            self.keys.clone().narrow(1, 0, end),
            self.values.clone().narrow(1, 0, end),
        )
    }
}
