//! GPU kernels that read a GGUF file's blocks as stored, for burn's CubeCL backend (wgpu natively,
//! WebGPU in the browser; the kernels are compiled to WGSL on both).
//!
//! A weight matrix lives on the device as `u32` words holding exactly the file's bytes, split in
//! two regions so that every read is aligned: region A, each block's bytes without its leading
//! f16 scale where that scale would misalign the rest (Q4_0, Q5_0, Q8_0, Q6_K), and region B,
//! those scales, two f16 per word. Types whose blocks are whole words (Q4_1, Q5_1, the K types
//! Q4_K/Q5_K, F16, BF16, F32) are region A alone, byte for byte. f16 values are decoded with
//! integer operations: WebGPU does not promise `shader-f16`, nor 8- or 16-bit types.
//!
//! Two operations, as a burn backend extension: the one-row product of a decode step (one
//! invocation per output row walks the row's 32-value chunks — no shared memory, barriers or
//! subgroup operations, which neither lavapipe nor every browser has), and dequantizing a range of
//! rows, or the rows of given token ids, to f32 (embeddings, and prefill's scratch weights). Both
//! decode a chunk at a time: its scales once, its quants a word (four bytes) at a time.

use burn::backend::{
    Backend, backend_extension,
    tensor::{FloatTensor, IntTensor},
};
use burn::tensor::{DType, Shape};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use cubecl::prelude::*;

use crate::loader::dequant::GgmlType;

/// How a matrix's blocks are laid out in its words (see the module's overview).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockFormat {
    /// One f32 per word.
    F32,
    /// Two f16 per word.
    F16,
    /// Two bf16 per word.
    BF16,
    /// 4 words of nibbles per block; `d` in region B.
    Q4_0,
    /// 5 words per block: `d | m << 16`, then 4 words of nibbles.
    Q4_1,
    /// 5 words per block: `qh`, then 4 words of nibbles; `d` in region B.
    Q5_0,
    /// 6 words per block: `d | m << 16`, `qh`, 4 words of nibbles.
    Q5_1,
    /// 8 words of signed bytes per block; `d` in region B.
    Q8_0,
    /// 36 words per 256 values: `d | dmin << 16`, 12 bytes of 6-bit scales and mins, 128 of
    /// nibbles.
    Q4K,
    /// 44 words per 256 values: as Q4_K with 32 bytes of fifth bits before the nibbles.
    Q5K,
    /// 52 words per 256 values: 128 bytes of low nibbles, 64 of high bit pairs, 16 signed
    /// scales; `d` in region B.
    Q6K,
}

impl BlockFormat {
    /// The layout of a GGUF type; `None` for types without a kernel.
    pub fn of(dtype: GgmlType) -> Option<BlockFormat> {
        Some(match dtype {
            GgmlType::F32 => BlockFormat::F32,
            GgmlType::F16 => BlockFormat::F16,
            GgmlType::BF16 => BlockFormat::BF16,
            GgmlType::Q4_0 => BlockFormat::Q4_0,
            GgmlType::Q4_1 => BlockFormat::Q4_1,
            GgmlType::Q5_0 => BlockFormat::Q5_0,
            GgmlType::Q5_1 => BlockFormat::Q5_1,
            GgmlType::Q8_0 => BlockFormat::Q8_0,
            GgmlType::Q4_K => BlockFormat::Q4K,
            GgmlType::Q5_K => BlockFormat::Q5K,
            GgmlType::Q6_K => BlockFormat::Q6K,
            _ => return None,
        })
    }

    /// Values per block: 256 for the K types, 32 otherwise (F16/BF16/F32 are read in blocks
    /// of 32 values too).
    pub fn values_per_block(self) -> usize {
        match self {
            BlockFormat::Q4K | BlockFormat::Q5K | BlockFormat::Q6K => 256,
            _ => 32,
        }
    }

    /// Words of region A per block.
    pub fn words_per_block(self) -> usize {
        match self {
            BlockFormat::F32 => 32,
            BlockFormat::F16 | BlockFormat::BF16 => 16,
            BlockFormat::Q4_0 => 4,
            BlockFormat::Q4_1 | BlockFormat::Q5_0 => 5,
            BlockFormat::Q5_1 => 6,
            BlockFormat::Q8_0 => 8,
            BlockFormat::Q4K => 36,
            BlockFormat::Q5K => 44,
            BlockFormat::Q6K => 52,
        }
    }

    /// Where the block's f16 `d` sits in the file's block when it goes to region B: its byte
    /// offset; `None` for formats kept whole.
    pub fn split_scale_at(self) -> Option<usize> {
        match self {
            BlockFormat::Q4_0 | BlockFormat::Q5_0 | BlockFormat::Q8_0 => Some(0),
            BlockFormat::Q6K => Some(208),
            _ => None,
        }
    }
}

/// What the kernels need to know of one matrix besides its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockLayout {
    /// The block format.
    pub format: BlockFormat,
    /// Rows (output features).
    pub rows: usize,
    /// Values per row (input features), a multiple of the format's block.
    pub cols: usize,
}

impl BlockLayout {
    /// 32-value chunks per row: the unit of work of both kernels.
    pub fn chunks_per_row(self) -> usize {
        self.cols / CHUNK
    }

    /// Blocks in the matrix.
    pub fn blocks(self) -> usize {
        self.rows * (self.cols / self.format.values_per_block())
    }

    /// The first word of region B.
    pub fn scale_offset(self) -> usize {
        self.blocks() * self.format.words_per_block()
    }

    /// Words the matrix takes on the device.
    pub fn words(self) -> usize {
        let split = if self.format.split_scale_at().is_some() {
            self.blocks().div_ceil(2)
        } else {
            0
        };
        self.scale_offset() + split
    }
}

/// Values per unit of work.
const CHUNK: usize = 32;

/// Rows per cube in the product, one invocation each. Measured on Chromium's SwiftShader (the
/// WebGPU adapter the tests run on), SmolLM2's decode steps took 69 s for 7 tokens this way,
/// 178 s with 32 invocations per row summed in shared memory (its barriers are costly on an
/// emulated adapter) and 99 s with f32 weights and burn's matrix product. Not yet measured on a
/// real GPU, where rows shared by a subgroup would read memory more coalesced.
const ROWS_PER_CUBE: u32 = 64;

/// Units per cube when dequantizing rows.
const DEQUANT_UNITS: u32 = 256;

/// Which rows to dequantize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowSelection {
    /// `count` rows from `first` on.
    Range {
        /// The first row.
        first: usize,
        /// How many.
        count: usize,
    },
    /// These rows, in this order (token ids of an embedding lookup).
    Ids(Vec<u32>),
}

impl RowSelection {
    fn len(&self) -> usize {
        match self {
            RowSelection::Range { count, .. } => *count,
            RowSelection::Ids(ids) => ids.len(),
        }
    }
}

/// The two operations on a matrix of blocks, for burn's CubeCL backend.
#[backend_extension(Cube)]
pub trait BlockOps: Backend {
    /// `[1, cols] · Wᵀ → [1, rows]`.
    fn block_row_product(
        x: FloatTensor<Self>,
        words: IntTensor<Self>,
        layout: BlockLayout,
    ) -> FloatTensor<Self>;

    /// The selected rows of `W` as f32: `[n, cols]`, or `[cols, n]` when `transposed`.
    fn block_rows(
        words: IntTensor<Self>,
        layout: BlockLayout,
        rows: RowSelection,
        transposed: bool,
    ) -> FloatTensor<Self>;
}

impl BlockOps for CubeBackend {
    fn block_row_product(
        x: FloatTensor<Self>,
        words: IntTensor<Self>,
        layout: BlockLayout,
    ) -> FloatTensor<Self> {
        let x = into_contiguous(x);
        assert_eq!(x.dtype, DType::F32, "the decoder's activations are f32");
        assert_eq!(words.dtype, DType::U32, "blocks are u32 words");
        assert_eq!(x.meta.shape().num_elements(), layout.cols, "input width");
        let client = x.client.clone();
        let out = empty_device_contiguous_dtype(
            client.clone(),
            x.device.clone(),
            Shape::new([1, layout.rows]),
            DType::F32,
        );
        let cubes = (layout.rows as u32).div_ceil(ROWS_PER_CUBE);
        // SAFETY: every index the kernel forms is below the lengths given (rows, chunks and
        // words come from the same layout the words were built with).
        unsafe {
            row_product_kernel::launch_unchecked(
                &client,
                cube_count(cubes),
                CubeDim::new_1d(ROWS_PER_CUBE),
                words.into_buffer_arg(),
                x.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                layout.rows as u32,
                layout.chunks_per_row() as u32,
                layout.scale_offset() as u32,
                layout.format,
            );
        }
        out
    }

    fn block_rows(
        words: IntTensor<Self>,
        layout: BlockLayout,
        rows: RowSelection,
        transposed: bool,
    ) -> FloatTensor<Self> {
        assert_eq!(words.dtype, DType::U32, "blocks are u32 words");
        let client = words.client.clone();
        let n = rows.len();
        let shape = if transposed {
            [layout.cols, n]
        } else {
            [n, layout.cols]
        };
        let out = empty_device_contiguous_dtype(
            client.clone(),
            words.device.clone(),
            Shape::new(shape),
            DType::F32,
        );
        if n == 0 {
            return out;
        }
        let (ids, first, gather) = match &rows {
            RowSelection::Range { first, count } => {
                assert!(first + count <= layout.rows, "rows past the matrix");
                (vec![0u32], *first, false)
            }
            RowSelection::Ids(ids) => {
                assert!(
                    ids.iter().all(|&id| (id as usize) < layout.rows),
                    "row ids past the matrix"
                );
                (ids.clone(), 0, true)
            }
        };
        let ids_len = ids.len();
        let ids = client.create_from_slice(u32::as_bytes(&ids));
        let units = n * layout.chunks_per_row();
        let cubes = units.div_ceil(DEQUANT_UNITS as usize) as u32;
        // SAFETY: units past `n · chunks_per_row` do nothing; ids were checked above.
        unsafe {
            rows_kernel::launch_unchecked(
                &client,
                cube_count(cubes),
                CubeDim::new_1d(DEQUANT_UNITS),
                words.into_buffer_arg(),
                BufferArg::from_raw_parts(ids, ids_len),
                out.clone().into_buffer_arg(),
                n as u32,
                first as u32,
                layout.chunks_per_row() as u32,
                layout.scale_offset() as u32,
                layout.format,
                gather,
                transposed,
            );
        }
        out
    }
}

/// `cubes` cubes laid out within WebGPU's 65,535 per dimension; kernels use the linear
/// `CUBE_POS` and skip what lies past their work.
fn cube_count(cubes: u32) -> CubeCount {
    const MAX_PER_DIMENSION: u32 = 65_535;
    if cubes <= MAX_PER_DIMENSION {
        CubeCount::Static(cubes.max(1), 1, 1)
    } else {
        CubeCount::Static(MAX_PER_DIMENSION, cubes.div_ceil(MAX_PER_DIMENSION), 1)
    }
}

/// `out[row] = Σ_c chunk_dot(row, c)`: one invocation per output row, no shared memory and no
/// barrier (see `ROWS_PER_CUBE`).
#[cube(launch_unchecked)]
fn row_product_kernel(
    words: &[u32],
    x: &[f32],
    out: &mut [f32],
    rows: u32,
    chunks_per_row: u32,
    scale_offset: u32,
    #[comptime] format: BlockFormat,
) {
    let row = CUBE_POS as u32 * CUBE_DIM + UNIT_POS;
    if row < rows {
        let mut acc = 0.0f32;
        for chunk in 0..chunks_per_row {
            acc += chunk_dot(
                words,
                x,
                row * chunks_per_row + chunk,
                chunk * 32u32,
                scale_offset,
                format,
            );
        }
        out[row as usize] = acc;
    }
}

/// Dequantizes chunk `c` of each selected row: unit `t` takes row `t / chunks_per_row`.
#[cube(launch_unchecked)]
fn rows_kernel(
    words: &[u32],
    ids: &[u32],
    out: &mut [f32],
    n: u32,
    first: u32,
    chunks_per_row: u32,
    scale_offset: u32,
    #[comptime] format: BlockFormat,
    #[comptime] gather: bool,
    #[comptime] transposed: bool,
) {
    let t = CUBE_POS as u32 * CUBE_DIM + UNIT_POS;
    if t < n * chunks_per_row {
        let i = t / chunks_per_row;
        let c = t % chunks_per_row;
        let mut row = first + i;
        if gather {
            row = ids[i as usize];
        }
        let chunk = row * chunks_per_row + c;
        let cols = chunks_per_row * 32u32;
        let mut values = Array::<f32>::new(32usize);
        decode_chunk(words, chunk, scale_offset, &mut values, format);
        #[unroll]
        for l in 0..32u32 {
            let value = values[l as usize];
            let column = c * 32u32 + l;
            let at = if transposed {
                column * n + i
            } else {
                i * cols + column
            };
            out[at as usize] = value;
        }
    }
}

/// Σ over chunk `chunk` (the global index of a 32-value chunk) of value·x, with x read from
/// `x_first` on.
#[cube]
fn chunk_dot(
    words: &[u32],
    x: &[f32],
    chunk: u32,
    x_first: u32,
    scale_offset: u32,
    #[comptime] format: BlockFormat,
) -> f32 {
    let mut values = Array::<f32>::new(32usize);
    decode_chunk(words, chunk, scale_offset, &mut values, format);
    let mut sum = 0.0f32;
    #[unroll]
    for l in 0..32u32 {
        sum += values[l as usize] * x[(x_first + l) as usize];
    }
    sum
}

/// The 32 values of chunk `chunk` into `values`, as `crate::loader::dequant` computes them: each
/// chunk's scales are decoded once and its quants read a word (four bytes, eight nibbles) at a
/// time.
// Comptime branches assign a chunk's scales; rustc sees the initial value of each as unread.
#[allow(unused_assignments)]
#[cube]
fn decode_chunk(
    words: &[u32],
    chunk: u32,
    scale_offset: u32,
    values: &mut Array<f32>,
    #[comptime] format: BlockFormat,
) {
    if comptime!(format == BlockFormat::F32) {
        #[unroll]
        for l in 0..32u32 {
            values[l as usize] = f32::reinterpret(words[(chunk * 32u32 + l) as usize]);
        }
    } else if comptime!(format == BlockFormat::F16 || format == BlockFormat::BF16) {
        #[unroll]
        for w in 0..16u32 {
            let word = words[(chunk * 16u32 + w) as usize];
            if comptime!(format == BlockFormat::F16) {
                values[(2u32 * w) as usize] = f16_to_f32(word & 0xFFFFu32);
                values[(2u32 * w + 1u32) as usize] = f16_to_f32(word >> 16u32);
            } else {
                values[(2u32 * w) as usize] = f32::reinterpret(word << 16u32);
                values[(2u32 * w + 1u32) as usize] = f32::reinterpret(word & 0xFFFF_0000u32);
            }
        }
    } else if comptime!(
        format == BlockFormat::Q4_0
            || format == BlockFormat::Q4_1
            || format == BlockFormat::Q5_0
            || format == BlockFormat::Q5_1
    ) {
        // 16 bytes of nibbles (low: values 0–15, high: 16–31), a fifth bit per value in `qh`
        // for Q5; Q4_0/Q5_0 keep `d` in region B and centre the quants, Q4_1/Q5_1 store
        // `d | m << 16` first and add `m`.
        let split = comptime!(format == BlockFormat::Q4_0 || format == BlockFormat::Q5_0);
        let five = comptime!(format == BlockFormat::Q5_0 || format == BlockFormat::Q5_1);
        // A block's words: `d | m << 16` unless `d` is in region B, `qh` for Q5, 4 of nibbles.
        let words_per_block = comptime!(4u32 + u32::from(five) + u32::from(!split));
        let base = chunk * words_per_block;
        let quants_at = base + comptime!(words_per_block - 4u32);
        let mut d = 0.0f32;
        let mut m = 0.0f32;
        if split {
            d = f16_to_f32(half_at(words, scale_offset, chunk));
        } else {
            let dm = words[base as usize];
            d = f16_to_f32(dm & 0xFFFFu32);
            m = f16_to_f32(dm >> 16u32);
        }
        // Q4_0's and Q5_0's quants are centred on 8 and 16.
        let centre = comptime!(if format == BlockFormat::Q5_0 {
            -16.0f32
        } else {
            -8.0f32
        });
        let mut qh = 0u32;
        if five {
            qh = words[(base + comptime!(u32::from(!split))) as usize];
        }
        #[unroll]
        for w in 0..4u32 {
            let word = words[(quants_at + w) as usize];
            #[unroll]
            for k in 0..4u32 {
                let j = 4u32 * w + k;
                let mut low = (word >> (8u32 * k)) & 0xFu32;
                let mut high = (word >> (8u32 * k + 4u32)) & 0xFu32;
                if comptime!(format == BlockFormat::Q5_0 || format == BlockFormat::Q5_1) {
                    low |= ((qh >> j) & 1u32) << 4u32;
                    high |= ((qh >> (j + 16u32)) & 1u32) << 4u32;
                }
                if comptime!(format == BlockFormat::Q4_0 || format == BlockFormat::Q5_0) {
                    // (q − 8)·d and (q − 16)·d, as the CPU computes them.
                    values[j as usize] = (f32::cast_from(low) + centre) * d;
                    values[(j + 16u32) as usize] = (f32::cast_from(high) + centre) * d;
                } else {
                    values[j as usize] = f32::cast_from(low) * d + m;
                    values[(j + 16u32) as usize] = f32::cast_from(high) * d + m;
                }
            }
        }
    } else if comptime!(format == BlockFormat::Q8_0) {
        let d = f16_to_f32(half_at(words, scale_offset, chunk));
        #[unroll]
        for w in 0..8u32 {
            let word = words[(chunk * 8u32 + w) as usize] ^ 0x8080_8080u32;
            #[unroll]
            for k in 0..4u32 {
                let byte = (word >> (8u32 * k)) & 0xFFu32;
                values[(4u32 * w + k) as usize] = (f32::cast_from(byte) - 128.0f32) * d;
            }
        }
    } else if comptime!(format == BlockFormat::Q4K || format == BlockFormat::Q5K) {
        // Sub-block `sub` of a 256-value block; pairs of sub-blocks share 32 bytes of nibbles,
        // the first taking the low ones. Q5_K's fifth bits: bit `sub` of byte `l` of `qh`.
        let block = chunk / 8u32;
        let sub = chunk % 8u32;
        let mut words_per_block = 36u32;
        let mut quants_word = 4u32;
        if comptime!(format == BlockFormat::Q5K) {
            words_per_block = 44u32;
            quants_word = 12u32;
        }
        let base = block * words_per_block;
        let dm = words[base as usize];
        let scale =
            f16_to_f32(dm & 0xFFFFu32) * f32::cast_from(k_scale_or_min(words, base, sub, false));
        let min = f16_to_f32(dm >> 16u32) * f32::cast_from(k_scale_or_min(words, base, sub, true));
        let shift = (sub % 2u32) * 4u32;
        let quants_at = base + quants_word + (sub / 2u32) * 8u32;
        #[unroll]
        for w in 0..8u32 {
            let word = words[(quants_at + w) as usize];
            let mut high_bits = 0u32;
            if comptime!(format == BlockFormat::Q5K) {
                high_bits = words[(base + 4u32 + w) as usize];
            }
            #[unroll]
            for k in 0..4u32 {
                let mut q = (word >> (8u32 * k + shift)) & 0xFu32;
                if comptime!(format == BlockFormat::Q5K) {
                    q += ((high_bits >> (8u32 * k + sub)) & 1u32) << 4u32;
                }
                values[(4u32 * w + k) as usize] = scale * f32::cast_from(q) - min;
            }
        }
    } else if comptime!(format == BlockFormat::Q6K) {
        // Chunk `sub` holds values 32·sub..: half `h` of the block, quarter `k` of the half;
        // a signed scale per 16 values.
        let block = chunk / 8u32;
        let sub = chunk % 8u32;
        let base = block * 52u32;
        let h = sub / 4u32;
        let quarter = sub % 4u32;
        let d = f16_to_f32(half_at(words, scale_offset, block));
        let scales = words[(base + 48u32 + sub / 2u32) as usize] >> ((sub % 2u32) * 16u32);
        let first = d * (f32::cast_from((scales & 0xFFu32) ^ 0x80u32) - 128.0f32);
        let second = d * (f32::cast_from(((scales >> 8u32) & 0xFFu32) ^ 0x80u32) - 128.0f32);
        let low_at = base + 16u32 * h + 8u32 * (quarter % 2u32);
        let low_shift = (quarter / 2u32) * 4u32;
        let high_at = base + 32u32 + 8u32 * h;
        #[unroll]
        for half in 0..2u32 {
            let scale = select(half == 0u32, first, second);
            #[unroll]
            for w in 0..4u32 {
                let low_word = words[(low_at + 4u32 * half + w) as usize];
                let high_word = words[(high_at + 4u32 * half + w) as usize];
                #[unroll]
                for k in 0..4u32 {
                    let low = (low_word >> (8u32 * k + low_shift)) & 0xFu32;
                    let high = (high_word >> (8u32 * k + 2u32 * quarter)) & 3u32;
                    let q = f32::cast_from(low | (high << 4u32)) - 32.0f32;
                    values[(16u32 * half + 4u32 * w + k) as usize] = scale * q;
                }
            }
        }
    }
}

/// Byte `index` counted from word `base`.
#[cube]
fn byte_at(words: &[u32], base: u32, index: u32) -> u32 {
    (words[(base + index / 4u32) as usize] >> ((index % 4u32) * 8u32)) & 0xFFu32
}

/// Half-word `index` (16 bits) counted from word `base`.
#[cube]
fn half_at(words: &[u32], base: u32, index: u32) -> u32 {
    (words[(base + index / 2u32) as usize] >> ((index % 2u32) * 16u32)) & 0xFFFFu32
}

/// The 6-bit scale (or, with `min`, the minimum) of sub-block `j` of a Q4_K/Q5_K block whose
/// 12 bytes of scales start at byte 4 of word `base` (ggml's `get_scale_min_k4`).
#[cube]
fn k_scale_or_min(words: &[u32], base: u32, j: u32, #[comptime] min: bool) -> u32 {
    let mut offset = 0u32;
    if min {
        offset = 4u32;
    }
    let mut value = byte_at(words, base, 4u32 + j + offset) & 63u32;
    if j >= 4u32 {
        let packed = byte_at(words, base, 4u32 + j + 4u32);
        let top = byte_at(words, base, 4u32 + j - 4u32 + offset) >> 6u32;
        value = ((packed >> offset) & 0xFu32) | (top << 4u32);
    }
    value
}

/// An f16 (in the low 16 bits) as f32, exactly: normal numbers re-biased, subnormals as
/// `mantissa · 2^-24`, infinities and NaN kept.
#[cube]
fn f16_to_f32(h: u32) -> f32 {
    let sign = (h & 0x8000u32) << 16u32;
    let exponent = (h >> 10u32) & 0x1Fu32;
    let mantissa = h & 0x3FFu32;
    let mut bits = sign | ((exponent + 112u32) << 23u32) | (mantissa << 13u32);
    if exponent == 0u32 {
        // 0x33800000 is 2^-24.
        let magnitude = f32::cast_from(mantissa) * f32::reinterpret(0x3380_0000u32);
        bits = sign | u32::reinterpret(magnitude);
    } else if exponent == 31u32 {
        bits = sign | 0x7F80_0000u32 | (mantissa << 13u32);
    }
    f32::reinterpret(bits)
}
