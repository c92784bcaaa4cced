//! One-row products straight from a GGUF file's quantized blocks, on burn's CPU backend.
//!
//! A decode step multiplies one hidden state by every weight matrix of the model. On the CPU
//! that is bound by memory traffic, not arithmetic: SmolLM2-135M's matrices are 538 MB as
//! f32, and reading them once per token is all the time a step takes. llama.cpp reads the
//! blocks as stored (Q4_1: 0.625 bytes per weight). So, next to the f32 weights that prefill's
//! matrix products use, a model on the CPU keeps each Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K
//! matrix as blocks of 32 values — scales (and mins) converted to f32 once, 4-bit quants kept as
//! nibbles, 5- and 6-bit ones widened to bytes — and multiplies one row by them here, as a burn
//! backend extension of the CPU backend (`flex`): the activation stays a burn tensor and nothing
//! reads a device. The products equal those of the dequantized f32 weights up to rounding (the
//! order of summation; Q4_0's `q·d − 8d` for `(q − 8)·d`).
//!
//! Natively the output rows are split over rayon's threads and the loops compiled for AVX2 where
//! the CPU has it. Not in the browser: there, on one thread, widening the quants to f32 costs
//! more than the memory it saves (measured with `scripts/bench_browser`: decode 21 tokens/s
//! against 35 with gemm's f32 products in WebAssembly SIMD), so the page multiplies f32.

use std::sync::Arc;

use burn::backend::{Backend, Flex, backend_extension, tensor::FloatTensor};
use burn::tensor::{Device, Tensor, TensorData};

use crate::loader::dequant::{GgmlType, sub_block_scale_min};
use crate::loader::weights::StoredTensor;

/// Values per block in every format here.
const BLOCK: usize = 32;

/// Below this many weights a product runs on one thread: spreading it costs more than it saves.
#[cfg(not(target_arch = "wasm32"))]
const PARALLEL_WEIGHTS: usize = 1 << 18;

/// Output rows per task when a product is spread over threads.
#[cfg(not(target_arch = "wasm32"))]
const ROWS_PER_TASK: usize = 64;

/// How a block's quants become values. Every GGUF type this module reads is converted, once at
/// load, to one of these forms, keeping the file's exact values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quants {
    /// 4-bit unsigned quants, two per byte (low nibbles are values 0–15 of the block, high
    /// nibbles 16–31): `value = q·scale + min` per block of 32 (Q4_1 as stored; Q4_0 with
    /// `min = −8·scale`; Q4_K's sub-blocks with `scale = d·sc`, `min = −dmin·m`).
    Nibbles,
    /// 8-bit signed quants: `value = q·scale` per block of 32 (Q8_0; Q5_0 as `q − 16`).
    Bytes,
    /// 8-bit unsigned quants: `value = q·scale + min` per block of 32 (Q5_1; Q5_K's
    /// sub-blocks).
    UnsignedBytes,
    /// 8-bit signed quants with a scale per 16 values: `value = q·scale` (Q6_K as `q − 32`,
    /// `scale = d·sc`).
    Bytes16,
}

impl Quants {
    fn bytes_per_block(self) -> usize {
        match self {
            Quants::Nibbles => BLOCK / 2,
            Quants::Bytes | Quants::UnsignedBytes | Quants::Bytes16 => BLOCK,
        }
    }

    /// Scales per block of 32 values.
    fn scales_per_block(self) -> usize {
        match self {
            Quants::Bytes16 => 2,
            _ => 1,
        }
    }

    /// Whether blocks have a `min` beside their scale.
    fn has_min(self) -> bool {
        matches!(self, Quants::Nibbles | Quants::UnsignedBytes)
    }
}

/// A `[rows, cols]` matrix (PyTorch's `[out_features, in_features]`) as blocks of 32 values
/// along each row.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedRows {
    quants: Quants,
    rows: usize,
    cols: usize,
    /// [`Quants::scales_per_block`] per block, row by row.
    scales: Vec<f32>,
    /// One per block where [`Quants::has_min`], empty otherwise.
    mins: Vec<f32>,
    /// The quants, [`Quants::bytes_per_block`] bytes per block, row by row.
    data: Vec<u8>,
}

/// One block of 32 values in the form [`QuantizedRows`] keeps.
struct Block {
    scales: [f32; 2],
    min: f32,
    /// The quants as the block's [`Quants`] lays them out (16 or 32 bytes used).
    quants: [u8; BLOCK],
}

impl QuantizedRows {
    /// Reads a matrix of GGUF blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K). `None`
    /// for other types (the model then uses the f32 weights for every product) and for sizes
    /// that do not match.
    pub fn from_stored(stored: &StoredTensor<'_>) -> Option<Self> {
        let StoredTensor {
            dtype,
            rows,
            cols,
            bytes,
        } = *stored;
        let quants = match dtype {
            GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q4_K => Quants::Nibbles,
            GgmlType::Q8_0 | GgmlType::Q5_0 => Quants::Bytes,
            GgmlType::Q5_1 | GgmlType::Q5_K => Quants::UnsignedBytes,
            GgmlType::Q6_K => Quants::Bytes16,
            _ => return None,
        };
        let (per_block, stored_bytes) =
            (dtype.block_values() as usize, dtype.block_bytes() as usize);
        if cols == 0 || !cols.is_multiple_of(per_block) {
            return None;
        }
        let blocks = rows.checked_mul(cols / per_block)?;
        if bytes.len() != blocks.checked_mul(stored_bytes)? {
            return None;
        }
        let values = rows * cols;
        let mut out = QuantizedRows {
            quants,
            rows,
            cols,
            scales: Vec::with_capacity(values / BLOCK * quants.scales_per_block()),
            mins: Vec::with_capacity(if quants.has_min() { values / BLOCK } else { 0 }),
            data: Vec::with_capacity(values / BLOCK * quants.bytes_per_block()),
        };
        for block in bytes.chunks_exact(stored_bytes) {
            for sub in convert(dtype, block) {
                out.push(sub);
            }
        }
        Some(out)
    }

    fn push(&mut self, block: Block) {
        let count = self.quants.scales_per_block();
        self.scales.extend_from_slice(&block.scales[..count]);
        if self.quants.has_min() {
            self.mins.push(block.min);
        }
        self.data
            .extend_from_slice(&block.quants[..self.quants.bytes_per_block()]);
    }

    fn blocks_per_row(&self) -> usize {
        self.cols / BLOCK
    }

    /// `y = W·x` for one input vector (`x.len() == cols`, `y.len() == rows`).
    pub fn multiply(&self, x: &[f32], y: &mut [f32]) {
        assert_eq!(x.len(), self.cols, "input width");
        assert_eq!(y.len(), self.rows, "output height");
        // Sums of each block of x: the `min` part of a block is min·Σx.
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
        let per_scale = self.quants.scales_per_block();
        let bytes = self.quants.bytes_per_block();
        for (i, y) in out.iter_mut().enumerate() {
            let blocks = (first + i) * per_row..(first + i + 1) * per_row;
            let scales = &self.scales[blocks.start * per_scale..blocks.end * per_scale];
            let data = &self.data[blocks.start * bytes..blocks.end * bytes];
            *y = match self.quants {
                Quants::Nibbles => {
                    let (quants, _) = data.as_chunks::<16>();
                    nibble_row(quants, scales, &self.mins[blocks], x, sums)
                }
                Quants::Bytes => byte_row(data.as_chunks::<32>().0, scales, x),
                Quants::UnsignedBytes => unsigned_byte_row(
                    data.as_chunks::<32>().0,
                    scales,
                    &self.mins[blocks],
                    x,
                    sums,
                ),
                Quants::Bytes16 => byte16_row(data.as_chunks::<32>().0, scales, x),
            };
        }
    }
}

/// The blocks of 32 values one GGUF block holds (one, or eight for the K types), each in the
/// form its [`Quants`] keeps, with the values [`crate::loader::dequant`] reads from it.
fn convert(dtype: GgmlType, b: &[u8]) -> Vec<Block> {
    let f16_at = |at: usize| half::f16::from_le_bytes([b[at], b[at + 1]]).to_f32();
    let mut quants = [0u8; BLOCK];
    match dtype {
        GgmlType::Q4_0 | GgmlType::Q4_1 => {
            let d = f16_at(0);
            let (min, qs) = if dtype == GgmlType::Q4_0 {
                (-8.0 * d, &b[2..18])
            } else {
                (f16_at(2), &b[4..20])
            };
            quants[..16].copy_from_slice(qs);
            vec![Block {
                scales: [d, 0.0],
                min,
                quants,
            }]
        }
        GgmlType::Q8_0 => {
            quants.copy_from_slice(&b[2..34]);
            vec![Block {
                scales: [f16_at(0), 0.0],
                min: 0.0,
                quants,
            }]
        }
        GgmlType::Q5_0 | GgmlType::Q5_1 => {
            let signed = dtype == GgmlType::Q5_0;
            let (d, qh, qs) = if signed {
                (f16_at(0), &b[2..6], &b[6..22])
            } else {
                (f16_at(0), &b[4..8], &b[8..24])
            };
            let qh = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
            for (j, &byte) in qs.iter().enumerate() {
                let low = u32::from(byte & 0x0F) | (((qh >> j) << 4) & 0x10);
                let high = u32::from(byte >> 4) | ((qh >> (j + 12)) & 0x10);
                for (at, q) in [(j, low), (j + 16, high)] {
                    quants[at] = if signed {
                        (q as i32 - 16) as i8 as u8
                    } else {
                        q as u8
                    };
                }
            }
            vec![Block {
                scales: [d, 0.0],
                min: if signed { 0.0 } else { f16_at(2) },
                quants,
            }]
        }
        GgmlType::Q4_K | GgmlType::Q5_K => {
            let (d, dmin) = (f16_at(0), f16_at(2));
            let scales = &b[4..16];
            let five = dtype == GgmlType::Q5_K;
            let (qh, qs) = if five {
                (&b[16..48], &b[48..176])
            } else {
                (&b[0..0], &b[16..144])
            };
            (0..8)
                .map(|sub| {
                    let (scale, min) = sub_block_scale_min(sub, scales, d, dmin);
                    let (chunk, upper) = (sub / 2, sub % 2 == 1);
                    let value = |l: usize| {
                        let byte = qs[32 * chunk + l];
                        let mut q = if upper { byte >> 4 } else { byte & 0x0F };
                        if five && qh[l] & (1 << sub) != 0 {
                            q += 16;
                        }
                        q
                    };
                    let mut quants = [0u8; BLOCK];
                    if five {
                        for (l, q) in quants.iter_mut().enumerate() {
                            *q = value(l);
                        }
                    } else {
                        for (l, q) in quants[..16].iter_mut().enumerate() {
                            *q = value(l) | (value(l + 16) << 4);
                        }
                    }
                    Block {
                        scales: [scale, 0.0],
                        min: -min,
                        quants,
                    }
                })
                .collect()
        }
        GgmlType::Q6_K => {
            let d = f16_at(208);
            let mut values = [0i8; 256];
            for half in 0..2 {
                let ql = &b[64 * half..64 * (half + 1)];
                let qh = &b[128 + 32 * half..128 + 32 * (half + 1)];
                for l in 0..32 {
                    let v = &mut values[128 * half..];
                    v[l] = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i8 - 32;
                    v[l + 32] = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
                    v[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
                    v[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
                }
            }
            // Value v's scale is sc[v / 16].
            let sc = &b[192..208];
            (0..8)
                .map(|block| {
                    let mut quants = [0u8; BLOCK];
                    for (q, &v) in quants.iter_mut().zip(&values[32 * block..32 * (block + 1)]) {
                        *q = v as u8;
                    }
                    let scale = |k: usize| d * f32::from(sc[k] as i8);
                    Block {
                        scales: [scale(2 * block), scale(2 * block + 1)],
                        min: 0.0,
                        quants,
                    }
                })
                .collect()
        }
        _ => unreachable!("from_stored accepts only the types above"),
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

/// One row of unsigned 8-bit blocks times `x`: per block `scale·Σ q·x + min·Σx`.
#[inline(always)]
fn unsigned_byte_row(
    quants: &[[u8; 32]],
    scales: &[f32],
    mins: &[f32],
    x: &[[f32; BLOCK]],
    sums: &[f32],
) -> f32 {
    let mut lanes = [0.0f32; 32];
    let mut offset = 0.0f32;
    for ((((q, &scale), &min), x), &sum) in quants.iter().zip(scales).zip(mins).zip(x).zip(sums) {
        for j in 0..32 {
            lanes[j] += scale * (f32::from(q[j]) * x[j]);
        }
        offset += min * sum;
    }
    lanes.iter().sum::<f32>() + offset
}

/// One row of signed 8-bit blocks with a scale per 16 values times `x`.
#[inline(always)]
fn byte16_row(quants: &[[u8; 32]], scales: &[f32], x: &[[f32; BLOCK]]) -> f32 {
    let mut lanes = [0.0f32; 32];
    let (scales, _) = scales.as_chunks::<2>();
    for ((q, scale), x) in quants.iter().zip(scales).zip(x) {
        for j in 0..32 {
            lanes[j] += scale[j / 16] * (f32::from(q[j] as i8) * x[j]);
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
    use crate::loader::dequant::{dequantize, sample_blocks};

    const ROW_TYPES: [GgmlType; 8] = [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
    ];

    /// Deterministic blocks with sane scales.
    fn blocks(dtype: GgmlType, count: usize) -> Vec<u8> {
        sample_blocks(dtype, count, 0x2545_f491)
    }

    fn stored(dtype: GgmlType, rows: usize, cols: usize, bytes: &[u8]) -> Option<QuantizedRows> {
        QuantizedRows::from_stored(&StoredTensor {
            dtype,
            rows,
            cols,
            bytes,
        })
    }

    /// Each row's product with `x` in f64, and the sum of its terms' magnitudes (what f32
    /// rounding in any order is relative to).
    fn reference(values: &[f32], cols: usize, x: &[f32]) -> Vec<(f64, f64)> {
        values
            .chunks_exact(cols)
            .map(|row| {
                row.iter().zip(x).fold((0.0, 0.0), |(sum, size), (&w, &x)| {
                    let term = f64::from(w) * f64::from(x);
                    (sum + term, size + term.abs())
                })
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
        for dtype in ROW_TYPES {
            let bytes = blocks(dtype, rows * cols / dtype.block_values() as usize);
            let values = dequantize(dtype, &bytes).unwrap();
            let quantized = stored(dtype, rows, cols, &bytes).unwrap();
            assert_eq!((quantized.rows, quantized.cols), (rows, cols));
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

    /// Within 1e-5 of the terms' magnitude: one wrong quant moves a product by about 1/cols of it.
    fn assert_close(got: &[f32], want: &[(f64, f64)], what: &str) {
        assert_eq!(got.len(), want.len());
        for (row, (&got, &(want, size))) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(got) - want).abs() <= 1e-5 * size.max(1.0),
                "{what} row {row}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn other_types_and_sizes_are_left_to_the_f32_path() {
        let q4 = blocks(GgmlType::Q4_1, 2);
        assert_eq!(stored(GgmlType::F16, 1, 20, &q4), None);
        assert_eq!(stored(GgmlType::Q6_K, 1, 64, &q4), None);
        assert_eq!(stored(GgmlType::Q4_1, 2, 64, &q4), None);
        assert_eq!(stored(GgmlType::Q4_1, 1, 48, &q4), None);
    }

    #[test]
    fn the_backend_operation_runs_on_the_cpu_device() {
        let (rows, cols) = (5, 64);
        let bytes = blocks(GgmlType::Q8_0, rows * cols / BLOCK);
        let weight = Arc::new(stored(GgmlType::Q8_0, rows, cols, &bytes).unwrap());
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
