//! One-row products straight from a GGUF file's quantized blocks, on burn's CPU backend.
//!
//! A decode step multiplies one hidden state by every weight matrix of the model. On the CPU
//! that is bound by memory traffic, not arithmetic: SmolLM2-135M's matrices are 538 MB as
//! f32, and reading them once per token is all the time a step takes. llama.cpp reads the
//! blocks as stored (Q4_1: 0.625 bytes per weight). So, next to the f32 weights that prefill's
//! matrix products use, a model on the CPU keeps each Q4_0/Q4_1/Q8_0 matrix as its blocks —
//! scales converted to f32 once, quants kept as they are — and multiplies one row by them here,
//! as a burn backend extension of the CPU backend (`flex`): the activation stays a burn tensor
//! and nothing reads a device. The weights are the file's exact values, so the products equal
//! the f32 ones up to the order of summation.
//!
//! Natively the output rows are split over rayon's threads and the loops compiled for AVX2 where
//! the CPU has it. Not in the browser: there, on one thread, widening the quants to f32 costs
//! more than the memory it saves (measured with `scripts/bench_browser`: decode 21 tokens/s
//! against 35 with gemm's f32 products in WebAssembly SIMD), so the page multiplies f32.

use std::sync::Arc;

use burn::backend::{Backend, Flex, backend_extension, tensor::FloatTensor};
use burn::tensor::{Device, Tensor, TensorData};

use crate::loader::dequant::GgmlType;

/// Values per block in every format here.
const BLOCK: usize = 32;

/// Below this many weights a product runs on one thread: spreading it costs more than it saves.
#[cfg(not(target_arch = "wasm32"))]
const PARALLEL_WEIGHTS: usize = 1 << 18;

/// Output rows per task when a product is spread over threads.
#[cfg(not(target_arch = "wasm32"))]
const ROWS_PER_TASK: usize = 64;

/// How a block's quants become values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quants {
    /// 4-bit unsigned quants, two per byte (low nibbles are values 0–15 of the block, high
    /// nibbles 16–31): `value = q·scale + min` (Q4_1; Q4_0 is `min = −8·scale`).
    Nibbles,
    /// 8-bit signed quants: `value = q·scale` (Q8_0).
    Bytes,
}

impl Quants {
    fn bytes_per_block(self) -> usize {
        match self {
            Quants::Nibbles => BLOCK / 2,
            Quants::Bytes => BLOCK,
        }
    }
}

/// A `[rows, cols]` matrix (PyTorch's `[out_features, in_features]`) as blocks of 32 values
/// along each row.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedRows {
    quants: Quants,
    rows: usize,
    cols: usize,
    /// One per block, row by row.
    scales: Vec<f32>,
    /// One per block for [`Quants::Nibbles`], empty otherwise.
    mins: Vec<f32>,
    /// The quants, [`Quants::bytes_per_block`] bytes per block, row by row.
    data: Vec<u8>,
}

impl QuantizedRows {
    /// Reads a `[rows, cols]` tensor of GGUF blocks. `None` for the types this module does not
    /// multiply (the model then uses the f32 weights for every product) and for sizes that do
    /// not match.
    pub fn from_gguf(dtype: GgmlType, rows: usize, cols: usize, bytes: &[u8]) -> Option<Self> {
        let (quants, stored) = match dtype {
            GgmlType::Q4_0 => (Quants::Nibbles, 2 + 16),
            GgmlType::Q4_1 => (Quants::Nibbles, 2 + 2 + 16),
            GgmlType::Q8_0 => (Quants::Bytes, 2 + 32),
            _ => return None,
        };
        if cols == 0 || !cols.is_multiple_of(BLOCK) {
            return None;
        }
        let blocks = rows.checked_mul(cols / BLOCK)?;
        if bytes.len() != blocks.checked_mul(stored)? {
            return None;
        }
        let mut scales = Vec::with_capacity(blocks);
        let mut mins = Vec::new();
        let mut data = Vec::with_capacity(blocks * quants.bytes_per_block());
        let half =
            |at: usize, block: &[u8]| half::f16::from_le_bytes([block[at], block[at + 1]]).to_f32();
        for block in bytes.chunks_exact(stored) {
            let scale = half(0, block);
            scales.push(scale);
            match dtype {
                GgmlType::Q4_0 => {
                    mins.push(-8.0 * scale);
                    data.extend_from_slice(&block[2..]);
                }
                GgmlType::Q4_1 => {
                    mins.push(half(2, block));
                    data.extend_from_slice(&block[4..]);
                }
                _ => data.extend_from_slice(&block[2..]),
            }
        }
        Some(QuantizedRows {
            quants,
            rows,
            cols,
            scales,
            mins,
            data,
        })
    }

    /// Output features.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input features.
    pub fn cols(&self) -> usize {
        self.cols
    }

    fn blocks_per_row(&self) -> usize {
        self.cols / BLOCK
    }

    /// The matrix whose row `i` is this one's row `order[i]` (rows of blocks move whole).
    pub(super) fn with_rows(&self, order: &[usize]) -> QuantizedRows {
        let per_row = self.blocks_per_row();
        let bytes = per_row * self.quants.bytes_per_block();
        let mut out = QuantizedRows {
            rows: order.len(),
            scales: Vec::with_capacity(order.len() * per_row),
            mins: Vec::new(),
            data: Vec::with_capacity(order.len() * bytes),
            ..self.clone_shape()
        };
        for &row in order {
            out.scales
                .extend_from_slice(&self.scales[row * per_row..][..per_row]);
            if self.quants == Quants::Nibbles {
                out.mins
                    .extend_from_slice(&self.mins[row * per_row..][..per_row]);
            }
            out.data
                .extend_from_slice(&self.data[row * bytes..][..bytes]);
        }
        out
    }

    /// The rows of every part, one after the other (projections that read the same input);
    /// `None` unless all are stored alike with the same width.
    pub(super) fn stacked(parts: &[QuantizedRows]) -> Option<QuantizedRows> {
        let first = parts.first()?;
        if parts
            .iter()
            .any(|p| p.quants != first.quants || p.cols != first.cols)
        {
            return None;
        }
        Some(QuantizedRows {
            rows: parts.iter().map(|p| p.rows).sum(),
            scales: parts
                .iter()
                .flat_map(|p| p.scales.iter().copied())
                .collect(),
            mins: parts.iter().flat_map(|p| p.mins.iter().copied()).collect(),
            data: parts.iter().flat_map(|p| p.data.iter().copied()).collect(),
            ..first.clone_shape()
        })
    }

    /// An empty matrix of the same format and width.
    fn clone_shape(&self) -> QuantizedRows {
        QuantizedRows {
            quants: self.quants,
            rows: 0,
            cols: self.cols,
            scales: Vec::new(),
            mins: Vec::new(),
            data: Vec::new(),
        }
    }

    /// `y = W·x` for one input vector (`x.len() == cols`, `y.len() == rows`).
    pub fn multiply(&self, x: &[f32], y: &mut [f32]) {
        assert_eq!(x.len(), self.cols, "input width");
        assert_eq!(y.len(), self.rows, "output height");
        // Sums of each block of x: the `min` part of a Q4 block is min·Σx.
        let block_sums: Vec<f32> = x.chunks_exact(BLOCK).map(|b| b.iter().sum()).collect();
        let (blocks, _) = x.as_chunks::<BLOCK>();
        #[cfg(not(target_arch = "wasm32"))]
        if self.rows * self.cols >= PARALLEL_WEIGHTS {
            use rayon::prelude::*;
            y.par_chunks_mut(ROWS_PER_TASK)
                .enumerate()
                .for_each(|(task, out)| {
                    self.rows_into(task * ROWS_PER_TASK, blocks, &block_sums, out)
                });
            return;
        }
        self.rows_into(0, blocks, &block_sums, y);
    }

    /// Rows `first..first + out.len()` of the product.
    fn rows_into(&self, first: usize, x: &[[f32; BLOCK]], block_sums: &[f32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features the function is compiled for.
            unsafe { self.rows_into_avx2(first, x, block_sums, out) };
            return;
        }
        self.rows_into_portable(first, x, block_sums, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn rows_into_avx2(&self, first: usize, x: &[[f32; BLOCK]], sums: &[f32], out: &mut [f32]) {
        self.rows_into_portable(first, x, sums, out);
    }

    #[inline(always)]
    fn rows_into_portable(&self, first: usize, x: &[[f32; BLOCK]], sums: &[f32], out: &mut [f32]) {
        let per_row = self.blocks_per_row();
        for (i, y) in out.iter_mut().enumerate() {
            let blocks = (first + i) * per_row..(first + i + 1) * per_row;
            let scales = &self.scales[blocks.clone()];
            *y = match self.quants {
                Quants::Nibbles => {
                    let (quants, _) =
                        self.data[blocks.start * 16..blocks.end * 16].as_chunks::<16>();
                    nibble_row(quants, scales, &self.mins[blocks], x, sums)
                }
                Quants::Bytes => {
                    let (quants, _) =
                        self.data[blocks.start * 32..blocks.end * 32].as_chunks::<32>();
                    byte_row(quants, scales, x)
                }
            };
        }
    }
}

/// One row of 4-bit blocks times `x`: per block `scale·Σ q·x + min·Σx`, the per-lane sums kept
/// in sixteen lanes so the compiler vectorises them.
#[inline(always)]
fn nibble_row(
    quants: &[[u8; 16]],
    scales: &[f32],
    mins: &[f32],
    x: &[[f32; BLOCK]],
    sums: &[f32],
) -> f32 {
    let mut lanes = [0.0f32; 16];
    let mut offset = 0.0f32;
    for ((((q, &scale), &min), x), &sum) in quants.iter().zip(scales).zip(mins).zip(x).zip(sums) {
        for j in 0..16 {
            let low = f32::from(q[j] & 0x0F) * x[j];
            let high = f32::from(q[j] >> 4) * x[j + 16];
            lanes[j] += scale * (low + high);
        }
        offset += min * sum;
    }
    lanes.iter().sum::<f32>() + offset
}

/// One row of 8-bit blocks times `x`: per block `scale·Σ q·x`.
#[inline(always)]
fn byte_row(quants: &[[u8; 32]], scales: &[f32], x: &[[f32; BLOCK]]) -> f32 {
    let mut lanes = [0.0f32; 32];
    for ((q, &scale), x) in quants.iter().zip(scales).zip(x) {
        for j in 0..32 {
            lanes[j] += scale * (f32::from(q[j] as i8) * x[j]);
        }
    }
    lanes.iter().sum()
}

/// The one-row product as an operation of burn's CPU backend.
#[backend_extension(Flex)]
pub trait QuantizedRowProduct: Backend {
    /// `[1, cols] · Wᵀ → [1, rows]` for the quantized `W` (`[rows, cols]`).
    fn quantized_row_product(x: FloatTensor<Self>, weight: Arc<QuantizedRows>)
    -> FloatTensor<Self>;
}

impl QuantizedRowProduct for Flex {
    fn quantized_row_product(
        x: FloatTensor<Flex>,
        weight: Arc<QuantizedRows>,
    ) -> FloatTensor<Flex> {
        // The CPU backend's tensors live in this process's memory: this is a copy of the
        // activation (one row), not a read from a device.
        let input = x.into_data();
        let input = input
            .as_slice::<f32>()
            .expect("the decoder's activations are f32");
        let mut output = vec![0.0; weight.rows];
        weight.multiply(input, &mut output);
        FloatTensor::<Flex>::from_data(TensorData::new(output, [1, weight.rows]))
    }
}

/// `x · Wᵀ` for a one-row `x` (`[1, cols]`) on the CPU device.
pub(super) fn row_product(x: Tensor<2>, weight: &Arc<QuantizedRows>) -> Tensor<2> {
    Tensor::from_dispatch(
        <burn::backend::Dispatch as QuantizedRowProduct>::quantized_row_product(
            x.into_dispatch(),
            weight.clone(),
        ),
    )
}

/// Whether quantized rows are kept for `device`: only burn's CPU backend multiplies them, and
/// only natively (see the module's overview).
pub(super) fn used_on(device: &Device) -> bool {
    cfg!(not(target_arch = "wasm32")) && *device == Device::flex()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::dequant::dequantize;

    /// Deterministic bytes for `blocks` GGUF blocks of `stored` bytes with sane f16 scales.
    fn blocks(dtype: GgmlType, count: usize) -> Vec<u8> {
        let stored = dtype.block_bytes() as usize;
        let mut state = 0x2545_f491_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let mut bytes = Vec::new();
        for _ in 0..count {
            let mut block: Vec<u8> = (0..stored).map(|_| next() as u8).collect();
            let scale = half::f16::from_f32((next() % 1000) as f32 / 1.0e5 + 1.0e-4);
            block[..2].copy_from_slice(&scale.to_le_bytes());
            if dtype == GgmlType::Q4_1 {
                let min = half::f16::from_f32(-((next() % 1000) as f32) / 1.0e4);
                block[2..4].copy_from_slice(&min.to_le_bytes());
            }
            bytes.extend(block);
        }
        bytes
    }

    fn reference(values: &[f32], cols: usize, x: &[f32]) -> Vec<f64> {
        values
            .chunks_exact(cols)
            .map(|row| {
                row.iter()
                    .zip(x)
                    .map(|(&w, &x)| f64::from(w) * f64::from(x))
                    .sum()
            })
            .collect()
    }

    #[test]
    fn products_equal_the_dequantized_weights() {
        // 1,100 rows: more than one parallel task natively, and a last task of 12 rows.
        let (rows, cols) = (1100, 256);
        let x: Vec<f32> = (0..cols)
            .map(|i| ((i * 37) % 23) as f32 / 11.0 - 1.0)
            .collect();
        for dtype in [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0] {
            let bytes = blocks(dtype, rows * cols / BLOCK);
            let values = dequantize(dtype, &bytes).unwrap();
            let quantized = QuantizedRows::from_gguf(dtype, rows, cols, &bytes).unwrap();
            let want = reference(&values, cols, &x);
            let mut y = vec![0.0; rows];
            quantized.multiply(&x, &mut y);
            assert_close(&y, &want, &format!("{dtype:?}"));
            // The loops without the AVX2 build too (the path of CPUs without it).
            let sums: Vec<f32> = x.chunks_exact(BLOCK).map(|b| b.iter().sum()).collect();
            let mut portable = vec![0.0; rows];
            quantized.rows_into_portable(0, x.as_chunks::<BLOCK>().0, &sums, &mut portable);
            assert_close(&portable, &want, &format!("{dtype:?}, portable loops"));
        }
    }

    fn assert_close(got: &[f32], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len());
        for (row, (&got, &want)) in got.iter().zip(want).enumerate() {
            let scale = want.abs().max(1.0);
            assert!(
                (f64::from(got) - want).abs() <= 1e-5 * scale,
                "{what} row {row}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn stacking_and_reordering_move_whole_rows() {
        let cols = 64;
        let a_bytes = blocks(GgmlType::Q4_1, 3 * cols / BLOCK);
        let b_bytes = blocks(GgmlType::Q4_1, 2 * cols / BLOCK);
        let a = QuantizedRows::from_gguf(GgmlType::Q4_1, 3, cols, &a_bytes).unwrap();
        let b = QuantizedRows::from_gguf(GgmlType::Q4_1, 2, cols, &b_bytes).unwrap();
        let stacked = QuantizedRows::stacked(&[a.clone(), b.clone()]).unwrap();
        let all = [a_bytes, b_bytes].concat();
        assert_eq!(
            stacked,
            QuantizedRows::from_gguf(GgmlType::Q4_1, 5, cols, &all).unwrap()
        );
        let stored = 20 * cols / BLOCK;
        let reordered: Vec<u8> = [4, 0, 2, 1, 3]
            .iter()
            .flat_map(|&r| all[r * stored..(r + 1) * stored].iter().copied())
            .collect();
        assert_eq!(
            stacked.with_rows(&[4, 0, 2, 1, 3]),
            QuantizedRows::from_gguf(GgmlType::Q4_1, 5, cols, &reordered).unwrap()
        );
        let q8 = blocks(GgmlType::Q8_0, 2);
        let q8 = QuantizedRows::from_gguf(GgmlType::Q8_0, 1, cols, &q8).unwrap();
        assert_eq!(QuantizedRows::stacked(&[a, q8]), None, "formats differ");
    }

    #[test]
    fn other_types_and_sizes_are_left_to_the_f32_path() {
        let q4 = blocks(GgmlType::Q4_1, 2);
        assert_eq!(QuantizedRows::from_gguf(GgmlType::Q6_K, 1, 64, &q4), None);
        assert_eq!(QuantizedRows::from_gguf(GgmlType::Q4_1, 2, 64, &q4), None);
        assert_eq!(QuantizedRows::from_gguf(GgmlType::Q4_1, 1, 48, &q4), None);
    }

    #[test]
    fn the_backend_operation_runs_on_the_cpu_device() {
        let (rows, cols) = (5, 64);
        let bytes = blocks(GgmlType::Q8_0, rows * cols / BLOCK);
        let weight =
            Arc::new(QuantizedRows::from_gguf(GgmlType::Q8_0, rows, cols, &bytes).unwrap());
        let x: Vec<f32> = (0..cols).map(|i| i as f32 / 64.0).collect();
        let device = Device::flex();
        let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [1, cols]), &device);
        let out = row_product(input, &weight).into_data();
        assert_eq!(out.shape().to_vec(), vec![1, rows]);
        let values = dequantize(GgmlType::Q8_0, &bytes).unwrap();
        assert_close(
            out.as_slice::<f32>().unwrap(),
            &reference(&values, cols, &x),
            "through burn",
        );
    }
}
