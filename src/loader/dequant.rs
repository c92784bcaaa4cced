//! ggml's tensor types: the block layout of each (values and bytes per block) and the
//! dequantization to f32 of the eleven the loader reads, bit for bit as ggml's reference
//! `dequantize_row_*` (ggml-quants.c) computes them in IEEE single precision, without fused
//! multiply-adds — exactly what the `gguf` Python package's `gguf/quants.py` computes too.

use std::fmt;

use half::{bf16, f16};

/// A ggml tensor type, by its GGUF type id. Variant names are ggml's, so each layout can be
/// looked up in ggml-common.h; ids 4, 5, 31–33 and 36–38 belong to retired types and are unknown.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GgmlType {
    /// IEEE single precision.
    F32,
    /// IEEE half precision.
    F16,
    /// 32 values: an f16 scale and 4-bit values offset by 8.
    Q4_0,
    /// 32 values: f16 scale and minimum, 4-bit values.
    Q4_1,
    /// 32 values: an f16 scale and 5-bit values offset by 16.
    Q5_0,
    /// 32 values: f16 scale and minimum, 5-bit values.
    Q5_1,
    /// 32 values: an f16 scale and 8-bit signed values.
    Q8_0,
    /// 32 values: f32 scale and sum, 8-bit values (activations only; not dequantized here).
    Q8_1,
    /// 256-value super-block, 2-bit values (not dequantized here).
    Q2_K,
    /// 256-value super-block, 3-bit values (not dequantized here).
    Q3_K,
    /// 256-value super-block: f16 scale and minimum, 6-bit sub-block scales, 4-bit values.
    Q4_K,
    /// 256-value super-block: f16 scale and minimum, 6-bit sub-block scales, 5-bit values.
    Q5_K,
    /// 256-value super-block: an f16 scale, 8-bit sub-block scales, 6-bit values.
    Q6_K,
    /// 256-value super-block, 8-bit values (activations only; not dequantized here).
    Q8_K,
    /// Importance-matrix 2-bit type (not dequantized here).
    IQ2_XXS,
    /// Importance-matrix 2-bit type (not dequantized here).
    IQ2_XS,
    /// Importance-matrix 3-bit type (not dequantized here).
    IQ3_XXS,
    /// Importance-matrix 1-bit type (not dequantized here).
    IQ1_S,
    /// Non-linear 4-bit type, 32-value blocks (not dequantized here).
    IQ4_NL,
    /// Importance-matrix 3-bit type (not dequantized here).
    IQ3_S,
    /// Importance-matrix 2-bit type (not dequantized here).
    IQ2_S,
    /// Non-linear 4-bit type, 256-value blocks (not dequantized here).
    IQ4_XS,
    /// 8-bit integers (not dequantized here).
    I8,
    /// 16-bit integers (not dequantized here).
    I16,
    /// 32-bit integers (not dequantized here).
    I32,
    /// 64-bit integers (not dequantized here).
    I64,
    /// IEEE double precision (not dequantized here).
    F64,
    /// Importance-matrix 1-bit type (not dequantized here).
    IQ1_M,
    /// bfloat16: the upper half of an f32.
    BF16,
    /// Ternary type, 1.69 bits per value (not dequantized here).
    TQ1_0,
    /// Ternary type, 2 bits per value (not dequantized here).
    TQ2_0,
    /// OCP microscaling FP4 (not dequantized here).
    MXFP4,
    /// NVIDIA FP4 (not dequantized here).
    NVFP4,
    /// 1-bit type, 128-value blocks (not dequantized here).
    Q1_0,
}

/// Values per 256-value super-block of the k-quants (ggml's `QK_K`).
const QK_K: u64 = 256;

/// Every type with its GGUF id, values per block and bytes per block (gguf-py's
/// `GGML_QUANT_SIZES`, from ggml.c's type traits).
const LAYOUTS: [(GgmlType, u32, u64, u64); 34] = [
    (GgmlType::F32, 0, 1, 4),
    (GgmlType::F16, 1, 1, 2),
    (GgmlType::Q4_0, 2, 32, 2 + 16),
    (GgmlType::Q4_1, 3, 32, 2 + 2 + 16),
    (GgmlType::Q5_0, 6, 32, 2 + 4 + 16),
    (GgmlType::Q5_1, 7, 32, 2 + 2 + 4 + 16),
    (GgmlType::Q8_0, 8, 32, 2 + 32),
    (GgmlType::Q8_1, 9, 32, 4 + 4 + 32),
    (GgmlType::Q2_K, 10, QK_K, 2 + 2 + QK_K / 16 + QK_K / 4),
    (GgmlType::Q3_K, 11, QK_K, 2 + QK_K / 4 + QK_K / 8 + 12),
    (GgmlType::Q4_K, 12, QK_K, 2 + 2 + QK_K / 2 + 12),
    (GgmlType::Q5_K, 13, QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12),
    (
        GgmlType::Q6_K,
        14,
        QK_K,
        2 + QK_K / 2 + QK_K / 4 + QK_K / 16,
    ),
    (GgmlType::Q8_K, 15, QK_K, 4 + QK_K + QK_K / 8),
    (GgmlType::IQ2_XXS, 16, QK_K, 2 + QK_K / 4),
    (GgmlType::IQ2_XS, 17, QK_K, 2 + QK_K / 4 + QK_K / 32),
    (GgmlType::IQ3_XXS, 18, QK_K, 2 + QK_K / 4 + QK_K / 8),
    (GgmlType::IQ1_S, 19, QK_K, 2 + QK_K / 8 + QK_K / 16),
    (GgmlType::IQ4_NL, 20, 32, 2 + 16),
    (
        GgmlType::IQ3_S,
        21,
        QK_K,
        2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4,
    ),
    (GgmlType::IQ2_S, 22, QK_K, 2 + QK_K / 4 + QK_K / 16),
    (GgmlType::IQ4_XS, 23, QK_K, 2 + 2 + QK_K / 2 + QK_K / 64),
    (GgmlType::I8, 24, 1, 1),
    (GgmlType::I16, 25, 1, 2),
    (GgmlType::I32, 26, 1, 4),
    (GgmlType::I64, 27, 1, 8),
    (GgmlType::F64, 28, 1, 8),
    (GgmlType::IQ1_M, 29, QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
    (GgmlType::BF16, 30, 1, 2),
    (GgmlType::TQ1_0, 34, QK_K, 2 + 4 * 13),
    (GgmlType::TQ2_0, 35, QK_K, 2 + 64),
    (GgmlType::MXFP4, 39, 32, 1 + 16),
    (GgmlType::NVFP4, 40, 64, 4 + 32),
    (GgmlType::Q1_0, 41, 128, 2 + 16),
];

impl GgmlType {
    /// The type with this GGUF type id, if ggml defines one.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        LAYOUTS
            .iter()
            .find(|(_, type_id, _, _)| *type_id == id)
            .map(|(dtype, _, _, _)| *dtype)
    }

    fn layout(self) -> (u32, u64, u64) {
        let (_, id, block_values, block_bytes) = LAYOUTS
            .iter()
            .find(|(dtype, _, _, _)| *dtype == self)
            .copied()
            .expect("LAYOUTS lists every GgmlType");
        (id, block_values, block_bytes)
    }

    /// The GGUF type id.
    pub fn id(self) -> u32 {
        self.layout().0
    }

    /// Values per block (1 for the plain float and integer types).
    pub fn block_values(self) -> u64 {
        self.layout().1
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> u64 {
        self.layout().2
    }

    /// Whether [`dequantize`] reads this type.
    pub fn is_dequantizable(self) -> bool {
        use GgmlType::*;
        matches!(
            self,
            F32 | F16 | BF16 | Q8_0 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q4_K | Q5_K | Q6_K
        )
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Why raw tensor bytes could not be dequantized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DequantError {
    /// The type is a known ggml type that this loader does not dequantize.
    #[error("dequantizing {dtype} (type id {}) is not supported", .dtype.id())]
    Unsupported {
        /// The type.
        dtype: GgmlType,
    },
    /// The bytes end inside a block.
    #[error("{len} bytes are not a whole number of {dtype} blocks of {block_bytes} bytes")]
    PartialBlock {
        /// The type.
        dtype: GgmlType,
        /// The number of bytes given.
        len: usize,
        /// Bytes per block of the type.
        block_bytes: u64,
    },
    /// The output slice does not hold exactly the values the bytes encode.
    #[error("{len} bytes of {dtype} hold {values} values, but the output holds {out}")]
    OutputLength {
        /// The type.
        dtype: GgmlType,
        /// The number of bytes given.
        len: usize,
        /// The number of values they encode.
        values: usize,
        /// The length of the output slice.
        out: usize,
    },
    /// The values do not fit this platform's address space (wasm32 addresses 4 GiB).
    #[error("{len} bytes of {dtype} hold more values than this platform can address")]
    TooLarge {
        /// The type.
        dtype: GgmlType,
        /// The number of bytes given.
        len: usize,
    },
}

/// The number of values that `len` bytes of `dtype` hold, or why they cannot be dequantized.
pub fn value_count(dtype: GgmlType, len: usize) -> Result<usize, DequantError> {
    if !dtype.is_dequantizable() {
        return Err(DequantError::Unsupported { dtype });
    }
    let block_bytes = dtype.block_bytes();
    let len_u64 = len as u64;
    if !len_u64.is_multiple_of(block_bytes) {
        return Err(DequantError::PartialBlock {
            dtype,
            len,
            block_bytes,
        });
    }
    (len_u64 / block_bytes)
        .checked_mul(dtype.block_values())
        .and_then(|values| usize::try_from(values).ok())
        .ok_or(DequantError::TooLarge { dtype, len })
}

/// Dequantizes whole blocks of `dtype` into a new vector of f32 values.
pub fn dequantize(dtype: GgmlType, bytes: &[u8]) -> Result<Vec<f32>, DequantError> {
    let mut out = vec![0.0; value_count(dtype, bytes.len())?];
    dequantize_into(dtype, bytes, &mut out)?;
    Ok(out)
}

/// Dequantizes whole blocks of `dtype` into `out`, which must hold exactly as many values as the
/// bytes encode (see [`value_count`]); lets a caller fill part of a larger buffer without a copy.
pub fn dequantize_into(dtype: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), DequantError> {
    let values = value_count(dtype, bytes.len())?;
    if values != out.len() {
        return Err(DequantError::OutputLength {
            dtype,
            len: bytes.len(),
            values,
            out: out.len(),
        });
    }
    match dtype {
        GgmlType::F32 => blockwise(bytes, out, |b: &[u8; 4], y: &mut [f32; 1]| {
            y[0] = f32::from_le_bytes(*b)
        }),
        GgmlType::F16 => blockwise(bytes, out, |b: &[u8; 2], y: &mut [f32; 1]| {
            y[0] = f16::from_le_bytes(*b).to_f32()
        }),
        GgmlType::BF16 => blockwise(bytes, out, |b: &[u8; 2], y: &mut [f32; 1]| {
            y[0] = bf16::from_le_bytes(*b).to_f32()
        }),
        GgmlType::Q8_0 => blockwise(bytes, out, q8_0),
        GgmlType::Q4_0 => blockwise(bytes, out, q4_0),
        GgmlType::Q4_1 => blockwise(bytes, out, q4_1),
        GgmlType::Q5_0 => blockwise(bytes, out, q5_0),
        GgmlType::Q5_1 => blockwise(bytes, out, q5_1),
        GgmlType::Q4_K => blockwise(bytes, out, q4_k),
        GgmlType::Q5_K => blockwise(bytes, out, q5_k),
        GgmlType::Q6_K => blockwise(bytes, out, q6_k),
        _ => unreachable!("value_count refused {dtype}"),
    }
    Ok(())
}

/// Runs `block` over `B`-byte blocks and their `N` output values; the caller has checked that
/// both slices hold the same whole number of blocks. Fixed-size arrays let the compiler drop
/// the bounds checks inside each block.
fn blockwise<const B: usize, const N: usize>(
    bytes: &[u8],
    out: &mut [f32],
    block: impl Fn(&[u8; B], &mut [f32; N]),
) {
    let (blocks, _) = bytes.as_chunks::<B>();
    let (outs, _) = out.as_chunks_mut::<N>();
    debug_assert_eq!(blocks.len(), outs.len());
    for (b, y) in blocks.iter().zip(outs) {
        block(b, y);
    }
}

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// `block_q8_0`: d (f16), qs[32] (i8); y = q·d.
fn q8_0(b: &[u8; 34], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (y, &q) in y.iter_mut().zip(&b[2..]) {
        *y = f32::from(q as i8) * d;
    }
}

/// `block_q4_0`: d (f16), qs[16]; low nibbles are values 0–15, high nibbles 16–31; y = (q−8)·d.
fn q4_0(b: &[u8; 18], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    for j in 0..16 {
        y[j] = (i32::from(qs[j] & 0x0F) - 8) as f32 * d;
        y[j + 16] = (i32::from(qs[j] >> 4) - 8) as f32 * d;
    }
}

/// `block_q4_1`: d, m (f16), qs[16]; y = q·d + m.
fn q4_1(b: &[u8; 20], y: &mut [f32; 32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    let qs = &b[4..20];
    for j in 0..16 {
        y[j] = f32::from(qs[j] & 0x0F) * d + m;
        y[j + 16] = f32::from(qs[j] >> 4) * d + m;
    }
}

/// The fifth bits of the 32 values of a Q5 block: bit j of the little-endian `qh`.
fn q5_high_bits(qh: &[u8]) -> u32 {
    u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]])
}

/// `block_q5_0`: d (f16), qh[4], qs[16]; y = (q−16)·d.
fn q5_0(b: &[u8; 22], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let qh = q5_high_bits(&b[2..6]);
    let qs = &b[6..22];
    for j in 0..16 {
        let high0 = ((qh >> j) << 4) & 0x10;
        let high1 = (qh >> (j + 12)) & 0x10;
        y[j] = ((u32::from(qs[j] & 0x0F) | high0) as i32 - 16) as f32 * d;
        y[j + 16] = ((u32::from(qs[j] >> 4) | high1) as i32 - 16) as f32 * d;
    }
}

/// `block_q5_1`: d, m (f16), qh[4], qs[16]; y = q·d + m.
fn q5_1(b: &[u8; 24], y: &mut [f32; 32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    let qh = q5_high_bits(&b[4..8]);
    let qs = &b[8..24];
    for j in 0..16 {
        let high0 = ((qh >> j) << 4) & 0x10;
        let high1 = (qh >> (j + 12)) & 0x10;
        y[j] = (u32::from(qs[j] & 0x0F) | high0) as f32 * d + m;
        y[j + 16] = (u32::from(qs[j] >> 4) | high1) as f32 * d + m;
    }
}

/// The scale and minimum of sub-block `j` (0–7) of a Q4_K or Q5_K block times the block's d
/// and dmin. ggml's `get_scale_min_k4` unpacks the 6-bit values from 12 bytes: the low 6 bits of
/// bytes 0–7 for sub-blocks 0–3, nibbles of bytes 8–11 plus the top 2 bits of bytes 0–7 for 4–7.
pub(crate) fn sub_block_scale_min(j: usize, scales: &[u8], d: f32, dmin: f32) -> (f32, f32) {
    let q = scales;
    let (scale, min) = if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    };
    (d * f32::from(scale), dmin * f32::from(min))
}

/// `block_q4_K`: d, dmin (f16), scales[12], qs[128]; eight sub-blocks of 32, each
/// y = (d·scale)·q − dmin·min; a 64-value chunk takes 32 bytes, low nibbles first.
fn q4_k(b: &[u8; 144], y: &mut [f32; 256]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let scales = &b[4..16];
    for chunk in 0..4 {
        let qs = &b[16 + 32 * chunk..16 + 32 * (chunk + 1)];
        let (d1, m1) = sub_block_scale_min(2 * chunk, scales, d, dmin);
        let (d2, m2) = sub_block_scale_min(2 * chunk + 1, scales, d, dmin);
        let y = &mut y[64 * chunk..64 * (chunk + 1)];
        for l in 0..32 {
            y[l] = d1 * f32::from(qs[l] & 0x0F) - m1;
            y[l + 32] = d2 * f32::from(qs[l] >> 4) - m2;
        }
    }
}

/// `block_q5_K`: d, dmin (f16), scales[12], qh[32], qs[128]; as Q4_K with a fifth bit per value
/// from qh (bit 2·chunk for the low nibbles, 2·chunk+1 for the high ones).
fn q5_k(b: &[u8; 176], y: &mut [f32; 256]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let scales = &b[4..16];
    let qh = &b[16..48];
    for chunk in 0..4 {
        let qs = &b[48 + 32 * chunk..48 + 32 * (chunk + 1)];
        let (d1, m1) = sub_block_scale_min(2 * chunk, scales, d, dmin);
        let (d2, m2) = sub_block_scale_min(2 * chunk + 1, scales, d, dmin);
        let (u1, u2) = (1u8 << (2 * chunk), 2u8 << (2 * chunk));
        let y = &mut y[64 * chunk..64 * (chunk + 1)];
        for l in 0..32 {
            let high1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let high2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            y[l] = d1 * f32::from((qs[l] & 0x0F) + high1) - m1;
            y[l + 32] = d2 * f32::from((qs[l] >> 4) + high2) - m2;
        }
    }
}

/// `block_q6_K`: ql[128], qh[64], scales[16] (i8), d (f16); sixteen sub-blocks of 16, each
/// y = (d·scale)·(q−32), the 6-bit q split into a nibble of ql and two bits of qh.
fn q6_k(b: &[u8; 210], y: &mut [f32; 256]) {
    let d = f16_at(b, 208);
    for half in 0..2 {
        let ql = &b[64 * half..64 * (half + 1)];
        let qh = &b[128 + 32 * half..128 + 32 * (half + 1)];
        let sc = &b[192 + 8 * half..192 + 8 * (half + 1)];
        let y = &mut y[128 * half..128 * (half + 1)];
        for l in 0..32 {
            let is = l / 16;
            let q1 = i32::from((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32;
            let q2 = i32::from((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            let q3 = i32::from((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            let q4 = i32::from((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            let scale = |k: usize| d * f32::from(sc[is + k] as i8);
            y[l] = scale(0) * q1 as f32;
            y[l + 32] = scale(2) * q2 as f32;
            y[l + 64] = scale(4) * q3 as f32;
            y[l + 96] = scale(6) * q4 as f32;
        }
    }
}

/// Where the f16 fields of a block sit: the scales (`d`, `dmin`, `m`) that must be finite for
/// the block to mean anything.
fn scale_offsets(dtype: GgmlType) -> &'static [usize] {
    match dtype {
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 => &[0],
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        GgmlType::Q6_K => &[208],
        _ => &[],
    }
}

/// `count` blocks of `dtype` from a seeded generator: random quants, and scales (small positive
/// `d`, negative `m`) that keep the values finite. For tests and benchmarks of the code that reads
/// blocks; F16/BF16/F32 get random finite values.
pub fn sample_blocks(dtype: GgmlType, count: usize, seed: u32) -> Vec<u8> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let stored = dtype.block_bytes() as usize;
    let mut bytes = Vec::with_capacity(count * stored);
    for _ in 0..count {
        let mut block: Vec<u8> = (0..stored).map(|_| next() as u8).collect();
        match dtype {
            GgmlType::F32 => {
                let v = (next() % 2001) as f32 / 1000.0 - 1.0;
                block.copy_from_slice(&v.to_le_bytes());
            }
            GgmlType::F16 => {
                let v = (next() % 2001) as f32 / 1000.0 - 1.0;
                block.copy_from_slice(&f16::from_f32(v).to_le_bytes());
            }
            GgmlType::BF16 => {
                let v = (next() % 2001) as f32 / 1000.0 - 1.0;
                block.copy_from_slice(&bf16::from_f32(v).to_le_bytes());
            }
            _ => {
                for (i, &at) in scale_offsets(dtype).iter().enumerate() {
                    let value = if i == 0 {
                        (next() % 1000) as f32 / 1.0e5 + 1.0e-4
                    } else {
                        // Q4_1/Q5_1's m is added, the K types' dmin subtracted: both signs occur.
                        -((next() % 1000) as f32) / 1.0e4
                    };
                    block[at..at + 2].copy_from_slice(&f16::from_f32(value).to_le_bytes());
                }
            }
        }
        bytes.extend(block);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_is_listed_once_and_ids_round_trip() {
        for (dtype, id, values, bytes) in LAYOUTS {
            assert_eq!(GgmlType::from_id(id), Some(dtype));
            assert_eq!(
                (dtype.id(), dtype.block_values(), dtype.block_bytes()),
                (id, values, bytes)
            );
        }
        for retired in [4, 5, 31, 32, 33, 36, 37, 38, 42, u32::MAX] {
            assert_eq!(GgmlType::from_id(retired), None);
        }
    }

    #[test]
    fn block_sizes_match_the_structs_the_kernels_read() {
        let sizes = [
            (GgmlType::Q8_0, 34),
            (GgmlType::Q4_0, 18),
            (GgmlType::Q4_1, 20),
            (GgmlType::Q5_0, 22),
            (GgmlType::Q5_1, 24),
            (GgmlType::Q4_K, 144),
            (GgmlType::Q5_K, 176),
            (GgmlType::Q6_K, 210),
        ];
        for (dtype, bytes) in sizes {
            assert_eq!(dtype.block_bytes(), bytes, "{dtype}");
        }
    }

    #[test]
    fn q4_1_block_by_hand() {
        // d = 0.5, m = -1.0; byte j holds value j in its low nibble and 15 - j in its high one.
        let mut block = vec![0x00, 0x38, 0x00, 0xBC];
        block.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let values = dequantize(GgmlType::Q4_1, &block).unwrap();
        let expected: Vec<f32> = (0..16)
            .map(|j| j as f32 * 0.5 - 1.0)
            .chain((0..16).map(|j| (15 - j) as f32 * 0.5 - 1.0))
            .collect();
        assert_eq!(values, expected);
    }

    #[test]
    fn q8_0_block_by_hand() {
        // d = 2.0; values -128, -1, 0, 1, 127 then zeros.
        let mut block = vec![0x00, 0x40, 0x80, 0xFF, 0x00, 0x01, 0x7F];
        block.resize(34, 0);
        let values = dequantize(GgmlType::Q8_0, &block).unwrap();
        assert_eq!(&values[..5], &[-256.0, -2.0, 0.0, 2.0, 254.0]);
        assert!(values[5..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn partial_block_and_unsupported_type_are_errors() {
        let err = dequantize(GgmlType::Q4_1, &[0; 30]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "30 bytes are not a whole number of Q4_1 blocks of 20 bytes"
        );
        let err = dequantize(GgmlType::Q2_K, &[0; 84]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dequantizing Q2_K (type id 10) is not supported"
        );
        let mut out = [0.0; 31];
        let err = dequantize_into(GgmlType::Q8_0, &[0; 34], &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "34 bytes of Q8_0 hold 32 values, but the output holds 31"
        );
    }
}
