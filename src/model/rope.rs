//! Rotary position embeddings (Su et al. 2021, RoFormer) and the attention masks of a chunk.
//!
//! Angles are computed on the host in f64 for exactly the positions a chunk covers, then
//! uploaded: no table sized by the model's context (Llama 3's 131,072 positions) is ever built,
//! and scaled frequencies (linear, Llama 3, llama.cpp's per-frequency factors) are applied in
//! one place. A chunk carries one pair of tables per rotary kind (Gemma 3's global and local
//! bases) and one mask per window.

use burn::tensor::{Device, Tensor, TensorData};

use super::config::{LayerAttention, RotaryKind};

/// Added to the attention score of a hidden position. Finite, because WGSL lets a shader
/// assume no infinities; after the softmax subtracts the row's maximum it underflows to 0.
const MASKED_SCORE: f32 = -1.0e30;

/// The inverse frequencies `θ^(-2i/d) / divisor_i` of one rotary kind for heads of `head_dim`.
pub(super) fn inverse_frequencies(kind: &RotaryKind, head_dim: usize) -> Vec<f64> {
    let half = head_dim / 2;
    (0..half)
        .map(|i| {
            let inverse = kind.theta.powf(-2.0 * i as f64 / head_dim as f64);
            match &kind.scaling {
                Some(scaling) => inverse / scaling.divisor(i, inverse),
                None => inverse,
            }
        })
        .collect()
}

/// Where the chunk being run sits, as every layer needs it: its first position, the cosines
/// and sines of its rotary angles per kind (shaped to broadcast over heads), and its masks.
pub(super) struct ChunkPositions {
    pub start: usize,
    /// Per rotary kind: `[1, len, head_dim]` cosines and sines, each frequency repeated for
    /// both halves of a head.
    rotary: Vec<(Tensor<3>, Tensor<3>)>,
    /// Per distinct window (`None` first), the additive mask `[1, 1, len, start + len]`, or
    /// `None` where nothing needs hiding (one position attending to everything before it).
    masks: Vec<(Option<usize>, Option<Tensor<4>>)>,
}

impl ChunkPositions {
    /// Positions `start..start + len` for layers described by `layers`; `frequencies` holds per
    /// rotary kind its inverse frequencies and the factor of its cosines and sines.
    pub fn new(
        start: usize,
        len: usize,
        frequencies: &[(Vec<f64>, f64)],
        layers: &[LayerAttention],
        device: &Device,
    ) -> ChunkPositions {
        let rotary = frequencies
            .iter()
            .map(|(inverse, factor)| {
                let factor = *factor;
                let half = inverse.len();
                let head_dim = 2 * half;
                let mut cos = Vec::with_capacity(len * head_dim);
                let mut sin = Vec::with_capacity(len * head_dim);
                for p in start..start + len {
                    for i in 0..head_dim {
                        let angle = p as f64 * inverse[i % half];
                        cos.push((angle.cos() * factor) as f32);
                        sin.push((angle.sin() * factor) as f32);
                    }
                }
                let table = |values: Vec<f32>| -> Tensor<3> {
                    Tensor::from_data(TensorData::new(values, [1, len, head_dim]), device)
                };
                (table(cos), table(sin))
            })
            .collect();
        let mut masks: Vec<(Option<usize>, Option<Tensor<4>>)> = Vec::new();
        for layer in layers {
            if !masks.iter().any(|(window, _)| *window == layer.window) {
                masks.push((
                    layer.window,
                    attention_mask(start, len, layer.window, device),
                ));
            }
        }
        ChunkPositions {
            start,
            rotary,
            masks,
        }
    }

    /// The mask of layers with `window`.
    pub fn mask(&self, window: Option<usize>) -> Option<&Tensor<4>> {
        self.masks
            .iter()
            .find(|(w, _)| *w == window)
            .and_then(|(_, mask)| mask.as_ref())
    }

    /// Rotates `[heads, len, head_dim]` with rotary kind `kind`: `x·cos + rotate_half(x)·sin`,
    /// with `rotate_half([x1, x2]) = [-x2, x1]`.
    pub fn rotate(&self, x: Tensor<3>, kind: usize) -> Tensor<3> {
        let (cos, sin) = &self.rotary[kind];
        let half = x.dims()[2] / 2;
        let rotated = Tensor::cat(
            vec![
                x.clone().narrow(2, half, half).neg(),
                x.clone().narrow(2, 0, half),
            ],
            2,
        );
        x * cos.clone() + rotated * sin.clone()
    }
}

/// Whether query position `query` may attend to key position `key`: causally, and within the
/// last `window` positions when there is one (llama.cpp's and transformers' rule:
/// `query − key < window`).
pub(super) fn visible(query: usize, key: usize, window: Option<usize>) -> bool {
    key <= query && window.is_none_or(|w| query - key < w)
}

/// The additive mask `[1, 1, len, start + len]` of a chunk of `len` positions after `start`
/// cached ones, or `None` when every score stays (a single position, within its window).
fn attention_mask(
    start: usize,
    len: usize,
    window: Option<usize>,
    device: &Device,
) -> Option<Tensor<4>> {
    let total = start + len;
    if len == 1 && window.is_none_or(|w| total <= w) {
        return None;
    }
    let mut values = Vec::with_capacity(len * total);
    for i in 0..len {
        for key in 0..total {
            values.push(if visible(start + i, key, window) {
                0.0
            } else {
                MASKED_SCORE
            });
        }
    }
    Some(Tensor::from_data(
        TensorData::new(values, [1, 1, len, total]),
        device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::RopeScaling;

    #[test]
    fn windows_hide_keys_a_window_or_more_before_the_query() {
        assert!(visible(5, 5, None) && visible(5, 0, None) && !visible(5, 6, None));
        assert!(visible(9, 2, Some(8)) && !visible(10, 2, Some(8)));
    }

    #[test]
    fn masks_are_left_out_only_where_nothing_is_hidden() {
        let device = Device::flex();
        assert!(attention_mask(10, 1, None, &device).is_none());
        assert!(attention_mask(7, 1, Some(8), &device).is_none());
        let mask = attention_mask(8, 1, Some(8), &device).expect("position 8 hides key 0");
        let values = mask.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(values[0], MASKED_SCORE);
        assert!(values[1..].iter().all(|&v| v == 0.0));
        let causal = attention_mask(1, 2, None, &device).unwrap();
        assert_eq!(
            causal.into_data().try_into_vec::<f32>().unwrap(),
            [0.0, 0.0, MASKED_SCORE, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn scaled_frequencies_divide_the_plain_ones() {
        let kind = |scaling| RotaryKind {
            theta: 10_000.0,
            scaling,
            attention_factor: 1.0,
        };
        let plain = kind(None);
        let linear = kind(Some(RopeScaling::Linear { factor: 4.0 }));
        let factors = kind(Some(RopeScaling::Frequencies {
            divisors: vec![1.0, 2.0, 3.0, 4.0],
        }));
        let base = inverse_frequencies(&plain, 8);
        assert_eq!(base[0], 1.0);
        assert!((base[1] - 0.1).abs() < 1e-15);
        for (i, (&b, &l)) in base
            .iter()
            .zip(&inverse_frequencies(&linear, 8))
            .enumerate()
        {
            assert!((b / 4.0 - l).abs() < 1e-18, "{i}");
        }
        for (i, (&b, &f)) in base
            .iter()
            .zip(&inverse_frequencies(&factors, 8))
            .enumerate()
        {
            assert!((b / (i + 1) as f64 - f).abs() < 1e-18, "{i}");
        }
    }
}
