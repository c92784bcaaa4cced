//! A GGUF weight matrix kept as the file's blocks: [`BlockMatrix`] on the host, where rows are
//! reordered (llama.cpp's q/k permutation) and projections that read the same input are stacked,
//! whole block rows at a time; and [`DeviceMatrix`], the same bytes on a GPU, multiplied by the
//! kernels of `model::kernels` without ever existing as f32 — except transiently, a slice of rows
//! at a time, as prefill's scratch.
//!
//! A matrix goes to the device in parts of at most [`MAX_PART_BYTES`]: every buffer then fits
//! WebGPU's guaranteed binding size, and loading never holds more than one part's words besides
//! the file.

use std::borrow::Cow;

use burn::backend::Dispatch;
use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use super::kernels::{BlockFormat, BlockLayout, BlockOps, RowSelection};
use crate::loader::dequant::GgmlType;
use crate::loader::weights::StoredTensor;

/// The most bytes of words one device buffer of a matrix holds.
pub const MAX_PART_BYTES: usize = 64 << 20;

/// The most bytes of f32 one slice of prefill's scratch weights takes.
const MAX_SCRATCH_BYTES: usize = 64 << 20;

/// A `[rows, cols]` matrix as GGUF blocks, row after row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMatrix<'a> {
    dtype: GgmlType,
    rows: usize,
    cols: usize,
    bytes: Cow<'a, [u8]>,
}

impl<'a> BlockMatrix<'a> {
    /// The stored tensor, borrowed.
    pub fn new(stored: &StoredTensor<'a>) -> BlockMatrix<'a> {
        BlockMatrix {
            dtype: stored.dtype,
            rows: stored.rows,
            cols: stored.cols,
            bytes: Cow::Borrowed(stored.bytes),
        }
    }

    /// As a stored tensor again (for the CPU's quantized rows).
    pub fn as_stored(&self) -> StoredTensor<'_> {
        StoredTensor {
            dtype: self.dtype,
            rows: self.rows,
            cols: self.cols,
            bytes: &self.bytes,
        }
    }

    fn row_bytes(&self) -> usize {
        self.bytes.len() / self.rows.max(1)
    }

    /// The matrix whose row `i` is this one's row `order[i]`.
    pub fn with_rows(&self, order: &[usize]) -> BlockMatrix<'static> {
        let row = self.row_bytes();
        BlockMatrix {
            dtype: self.dtype,
            rows: order.len(),
            cols: self.cols,
            bytes: Cow::Owned(
                order
                    .iter()
                    .flat_map(|&r| &self.bytes[r * row..(r + 1) * row])
                    .copied()
                    .collect(),
            ),
        }
    }

    /// The rows of every part, one after the other; `None` unless all have the same type and
    /// width.
    pub fn stacked(parts: &[BlockMatrix<'_>]) -> Option<BlockMatrix<'static>> {
        let first = parts.first()?;
        if parts
            .iter()
            .any(|p| p.dtype != first.dtype || p.cols != first.cols)
        {
            return None;
        }
        Some(BlockMatrix {
            dtype: first.dtype,
            rows: parts.iter().map(|p| p.rows).sum(),
            cols: first.cols,
            bytes: Cow::Owned(parts.iter().flat_map(|p| p.bytes.iter()).copied().collect()),
        })
    }

    /// Groups consecutive parts of the same type and width into stacked matrices.
    pub fn grouped(parts: Vec<BlockMatrix<'a>>) -> Vec<BlockMatrix<'a>> {
        let mut groups: Vec<Vec<BlockMatrix<'a>>> = Vec::new();
        for part in parts {
            match groups.last_mut() {
                Some(group) if group[0].dtype == part.dtype && group[0].cols == part.cols => {
                    group.push(part)
                }
                _ => groups.push(vec![part]),
            }
        }
        groups
            .into_iter()
            .map(|mut group| {
                if group.len() == 1 {
                    group.pop().expect("one part")
                } else {
                    BlockMatrix::stacked(&group).expect("parts of one type and width")
                }
            })
            .collect()
    }

    /// The layout of `count` rows of this matrix on the device; `None` for types without a
    /// kernel or rows that are not whole blocks.
    fn layout(&self, count: usize) -> Option<BlockLayout> {
        let format = BlockFormat::of(self.dtype)?;
        (self.cols > 0 && self.cols.is_multiple_of(format.values_per_block())).then_some(
            BlockLayout {
                format,
                rows: count,
                cols: self.cols,
            },
        )
    }

    /// Whether the device kernels read this matrix.
    pub fn has_kernel(&self) -> bool {
        self.layout(self.rows).is_some()
    }

    /// The device words of rows `first..first + count` (see `model::kernels`): region A, each
    /// block without its split-off scale; region B, those scales two to a word.
    fn words(&self, first: usize, count: usize) -> Vec<u32> {
        let layout = self.layout(count).expect("a type with a kernel");
        let format = layout.format;
        // F32/F16/BF16 are read in blocks of 32 values, like the quantized types.
        let block_bytes = self.dtype.block_bytes() as usize * format.values_per_block()
            / self.dtype.block_values() as usize;
        let row = self.row_bytes();
        let bytes = &self.bytes[first * row..(first + count) * row];
        let mut words = Vec::with_capacity(layout.words());
        let mut quants = Vec::with_capacity(format.words_per_block() * 4);
        let mut scales = Vec::new();
        for block in bytes.chunks_exact(block_bytes) {
            quants.clear();
            match format.split_scale_at() {
                Some(at) => {
                    scales.push(u16::from_le_bytes([block[at], block[at + 1]]));
                    quants.extend_from_slice(&block[..at]);
                    quants.extend_from_slice(&block[at + 2..]);
                }
                None => quants.extend_from_slice(block),
            }
            debug_assert_eq!(quants.len(), format.words_per_block() * 4);
            words.extend(
                quants
                    .chunks_exact(4)
                    .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])),
            );
        }
        words.extend(
            scales
                .chunks(2)
                .map(|pair| u32::from(pair[0]) | (u32::from(*pair.get(1).unwrap_or(&0)) << 16)),
        );
        debug_assert_eq!(words.len(), layout.words());
        words
    }
}

/// One buffer of a [`DeviceMatrix`]: rows `first..first + layout.rows`.
#[derive(Debug, Clone)]
struct Part {
    first: usize,
    layout: BlockLayout,
    words: Tensor<1, Int>,
}

/// A matrix's blocks on a GPU device.
#[derive(Debug, Clone)]
pub struct DeviceMatrix {
    cols: usize,
    parts: Vec<Part>,
}

impl DeviceMatrix {
    /// Uploads `matrix` to `device` in parts of at most [`MAX_PART_BYTES`]; `None` for types
    /// the kernels do not read.
    pub fn upload(matrix: &BlockMatrix<'_>, device: &Device) -> Option<DeviceMatrix> {
        DeviceMatrix::upload_in_parts(matrix, device, MAX_PART_BYTES)
    }

    fn upload_in_parts(
        matrix: &BlockMatrix<'_>,
        device: &Device,
        max_part_bytes: usize,
    ) -> Option<DeviceMatrix> {
        matrix.layout(matrix.rows)?;
        let rows_per_part = (max_part_bytes / matrix.row_bytes().max(1)).max(1);
        let mut parts = Vec::new();
        let mut first = 0;
        while first < matrix.rows {
            let count = rows_per_part.min(matrix.rows - first);
            let words = matrix.words(first, count);
            let len = words.len();
            let tensor =
                Tensor::<1, Int>::from_data(TensorData::new(words, [len]), (device, DType::U32));
            parts.push(Part {
                first,
                layout: matrix.layout(count)?,
                words: tensor,
            });
            first += count;
        }
        Some(DeviceMatrix {
            cols: matrix.cols,
            parts,
        })
    }

    /// Bytes on the device (4 per word).
    pub fn device_bytes(&self) -> usize {
        self.parts.iter().map(|p| p.layout.words() * 4).sum()
    }

    /// `x · Wᵀ` for `x` of one row: `[1, cols] → [1, rows]`, straight from the blocks.
    pub fn row_product(&self, x: &Tensor<2>) -> Tensor<2> {
        let outputs: Vec<Tensor<2>> = self
            .parts
            .iter()
            .map(|part| {
                Tensor::from_dispatch(<Dispatch as BlockOps>::block_row_product(
                    x.clone().into_dispatch(),
                    part.words.clone().into_dispatch(),
                    part.layout,
                ))
            })
            .collect();
        concat_columns(outputs)
    }

    /// `x · Wᵀ` for any number of rows: each slice of at most [`MAX_SCRATCH_BYTES`] of weights
    /// is dequantized to f32 scratch, multiplied by burn's matrix product and dropped.
    pub fn product(&self, x: &Tensor<2>) -> Tensor<2> {
        let slice_rows = (MAX_SCRATCH_BYTES / (self.cols * 4)).max(1);
        let mut outputs = Vec::new();
        for part in &self.parts {
            let mut first = 0;
            while first < part.layout.rows {
                let count = slice_rows.min(part.layout.rows - first);
                let scratch: Tensor<2> = Tensor::from_dispatch(<Dispatch as BlockOps>::block_rows(
                    part.words.clone().into_dispatch(),
                    part.layout,
                    RowSelection::Range { first, count },
                    true,
                ));
                outputs.push(x.clone().matmul(scratch));
                first += count;
            }
        }
        concat_columns(outputs)
    }

    /// Rows `ids` as f32, `[ids.len(), cols]`: an embedding lookup.
    pub fn rows_of(&self, ids: &[u32]) -> Tensor<2> {
        if let [part] = self.parts.as_slice() {
            return self.part_rows(part, ids.to_vec());
        }
        // Each part gathers the ids it holds; the pieces are put back in the order asked for.
        let mut pieces = Vec::new();
        let mut order = Vec::with_capacity(ids.len());
        for part in &self.parts {
            let end = part.first + part.layout.rows;
            let local: Vec<u32> = ids
                .iter()
                .enumerate()
                .filter(|&(_, &id)| (part.first..end).contains(&(id as usize)))
                .map(|(at, &id)| {
                    order.push(at);
                    id - part.first as u32
                })
                .collect();
            if !local.is_empty() {
                pieces.push(self.part_rows(part, local));
            }
        }
        let gathered = Tensor::cat(pieces, 0);
        // `order[k]` is where row k of `gathered` belongs; select needs the inverse.
        let mut inverse = vec![0i64; ids.len()];
        for (k, &at) in order.iter().enumerate() {
            inverse[at] = k as i64;
        }
        let device = gathered.device();
        gathered.select(
            0,
            Tensor::<1, Int>::from_data(TensorData::new(inverse, [ids.len()]), &device),
        )
    }

    fn part_rows(&self, part: &Part, ids: Vec<u32>) -> Tensor<2> {
        Tensor::from_dispatch(<Dispatch as BlockOps>::block_rows(
            part.words.clone().into_dispatch(),
            part.layout,
            RowSelection::Ids(ids),
            false,
        ))
    }

    /// Every row as f32 `[rows, cols]`.
    #[cfg(test)]
    fn dequantized(&self) -> Tensor<2> {
        let pieces = self
            .parts
            .iter()
            .map(|part| {
                Tensor::from_dispatch(<Dispatch as BlockOps>::block_rows(
                    part.words.clone().into_dispatch(),
                    part.layout,
                    RowSelection::Range {
                        first: 0,
                        count: part.layout.rows,
                    },
                    false,
                ))
            })
            .collect();
        Tensor::cat(pieces, 0)
    }
}

fn concat_columns(mut outputs: Vec<Tensor<2>>) -> Tensor<2> {
    if outputs.len() == 1 {
        outputs.pop().expect("one output")
    } else {
        Tensor::cat(outputs, 1)
    }
}

/// Whether `device` keeps GGUF matrices as blocks: every GPU device (burn's CubeCL backend);
/// the CPU backend keeps f32 weights (and natively its own quantized rows).
pub fn used_on(device: &Device) -> bool {
    *device != Device::flex()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::dequant::{dequantize, sample_blocks};
    use crate::model::device::{Backend, open, read_f32};

    const KERNEL_TYPES: [GgmlType; 11] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
    ];

    fn gpu() -> Device {
        pollster::block_on(open(Backend::WebGpu)).expect("a wgpu device (lavapipe here)")
    }

    fn read(tensor: Tensor<2>) -> Vec<f32> {
        pollster::block_on(read_f32(Backend::WebGpu, tensor)).expect("reads back")
    }

    /// `rows × cols` random blocks of `dtype` and their values as the CPU dequantizes them.
    fn sample(dtype: GgmlType, rows: usize, cols: usize) -> (Vec<u8>, Vec<f32>) {
        let blocks = rows * cols / dtype.block_values() as usize;
        let bytes = sample_blocks(dtype, blocks, 0x5eed ^ dtype.id());
        let values = dequantize(dtype, &bytes).expect("whole blocks");
        (bytes, values)
    }

    /// Within 1e-5 of `size` (a value's magnitude, or a product's sum of term magnitudes, which
    /// bounds f32 rounding in any order; one wrong quant moves a product by ~1/cols of it).
    fn assert_close_to(got: &[f32], want: &[f64], size: &[f64], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(size).enumerate() {
            assert!(
                (f64::from(g) - w).abs() <= 1e-5 * s.max(1.0),
                "{what} [{i}]: {g} vs {w}"
            );
        }
    }

    fn assert_close(got: &[f32], want: &[f64], what: &str) {
        let size: Vec<f64> = want.iter().map(|w| w.abs()).collect();
        assert_close_to(got, want, &size, what);
    }

    /// Each row's product with `x` in f64, and the sum of its terms' magnitudes.
    fn products(values: &[f32], cols: usize, x: &[f32]) -> (Vec<f64>, Vec<f64>) {
        values
            .chunks(cols)
            .map(|row| {
                row.iter().zip(x).fold((0.0, 0.0), |(sum, size), (&w, &x)| {
                    let term = f64::from(w) * f64::from(x);
                    (sum + term, size + term.abs())
                })
            })
            .unzip()
    }

    #[test]
    fn kernels_read_every_type_as_the_cpu_dequantizes_it() {
        let device = gpu();
        // 37 rows: one cube of the product, partly empty; 512 columns: two K blocks.
        let (rows, cols) = (37, 512);
        let x: Vec<f32> = (0..cols)
            .map(|i| ((i * 37) % 23) as f32 / 11.0 - 1.0)
            .collect();
        let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [1, cols]), &device);
        for dtype in KERNEL_TYPES {
            let (bytes, values) = sample(dtype, rows, cols);
            let stored = StoredTensor {
                dtype,
                rows,
                cols,
                bytes: &bytes,
            };
            let matrix = DeviceMatrix::upload(&BlockMatrix::new(&stored), &device)
                .expect("a type with a kernel");
            assert_eq!(
                matrix.device_bytes(),
                bytes.len().next_multiple_of(4),
                "{dtype}: the file's bytes, no more"
            );
            let exact: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
            assert_close(
                &read(matrix.dequantized()),
                &exact,
                &format!("{dtype}: rows"),
            );
            let (products, sizes) = products(&values, cols, &x);
            assert_close_to(
                &read(matrix.row_product(&input)),
                &products,
                &sizes,
                &format!("{dtype}: one-row product"),
            );
            let two = Tensor::cat(vec![input.clone(), input.clone()], 0);
            let twice = |v: &[f64]| -> Vec<f64> { v.iter().chain(v).copied().collect() };
            assert_close_to(
                &read(matrix.product(&two)),
                &twice(&products),
                &twice(&sizes),
                &format!("{dtype}: product through scratch"),
            );
            let ids = [36u32, 0, 5, 5, 17];
            let gathered: Vec<f64> = ids
                .iter()
                .flat_map(|&id| {
                    exact[id as usize * cols..(id as usize + 1) * cols]
                        .iter()
                        .copied()
                })
                .collect();
            assert_close(
                &read(matrix.rows_of(&ids)),
                &gathered,
                &format!("{dtype}: ids"),
            );
        }
    }

    #[test]
    fn matrices_split_into_parts_read_as_one() {
        let device = gpu();
        let (rows, cols) = (23, 256);
        let (bytes, values) = sample(GgmlType::Q4_K, rows, cols);
        let stored = StoredTensor {
            dtype: GgmlType::Q4_K,
            rows,
            cols,
            bytes: &bytes,
        };
        // 144 bytes a row: parts of 3 rows, the last of 2.
        let matrix =
            DeviceMatrix::upload_in_parts(&BlockMatrix::new(&stored), &device, 3 * 144).unwrap();
        assert_eq!(matrix.parts.len(), 8);
        assert_eq!(matrix.device_bytes(), bytes.len());
        let exact: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
        assert_close(&read(matrix.dequantized()), &exact, "parts: rows");
        let x: Vec<f32> = (0..cols).map(|i| (i % 7) as f32 - 3.0).collect();
        let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [1, cols]), &device);
        let (products, sizes) = products(&values, cols, &x);
        assert_close_to(
            &read(matrix.row_product(&input)),
            &products,
            &sizes,
            "parts: product",
        );
        let ids = [22u32, 1, 9, 0, 22, 14];
        let gathered: Vec<f64> = ids
            .iter()
            .flat_map(|&id| {
                exact[id as usize * cols..(id as usize + 1) * cols]
                    .iter()
                    .copied()
            })
            .collect();
        assert_close(
            &read(matrix.rows_of(&ids)),
            &gathered,
            "parts: ids in any order",
        );
    }

    #[test]
    fn rows_move_and_stack_whole() {
        let (bytes, _) = sample(GgmlType::Q6_K, 3, 512);
        let row = bytes.len() / 3;
        let stored = |bytes: &[u8], rows| {
            BlockMatrix::new(&StoredTensor {
                dtype: GgmlType::Q6_K,
                rows,
                cols: 512,
                bytes,
            })
            .with_rows(&(0..rows).collect::<Vec<_>>())
        };
        let matrix = stored(&bytes, 3);
        let reordered = matrix.with_rows(&[2, 0, 1]);
        let expected: Vec<u8> = [2, 0, 1]
            .iter()
            .flat_map(|&r| bytes[r * row..(r + 1) * row].iter().copied())
            .collect();
        assert_eq!(reordered, stored(&expected, 3));
        let (a, b) = (stored(&bytes[..row], 1), stored(&bytes[row..], 2));
        assert_eq!(
            BlockMatrix::stacked(&[a.clone(), b.clone()]),
            Some(matrix.clone())
        );
        let (q8, _) = sample(GgmlType::Q8_0, 1, 512);
        let other = BlockMatrix::new(&StoredTensor {
            dtype: GgmlType::Q8_0,
            rows: 1,
            cols: 512,
            bytes: &q8,
        });
        assert_eq!(BlockMatrix::stacked(&[a.clone(), other.clone()]), None);
        let groups = BlockMatrix::grouped(vec![a, b, other.clone()]);
        assert_eq!(groups, vec![matrix, other]);
    }
}
