//! The decoder on a tiny random-weight model (2 layers, width 64, 4 query and 2 key/value
//! heads, 97 tokens) against a naive f64 host implementation of the same equations, plus the
//! cache, chunking, generation, scoring and error paths; once on wgpu against the CPU.

use std::num::NonZeroUsize;

use burn::tensor::{Device, Tensor};
use clue_wasm::loader::dequant::{GgmlType, dequantize};
use clue_wasm::loader::weights::{StoredTensor, WeightError, WeightSource};
use clue_wasm::model::Architecture;
use clue_wasm::model::{
    Backend, Completion, Control, Decoder, DecoderConfig, GenerateSettings, KvCache, LogitsAt,
    ModelError, RopeLayout, RopeScaling, StopReason, StopRule, generate, loglikelihood, open,
    prompt_logprobs, read_f32,
};
use clue_wasm::tasks::Sampling;

mod common;

use common::TestWeights;

const TOLERANCE: f64 = 1e-4;

/// A prompt of in-vocabulary ids.
const PROMPT: [u32; 11] = [5, 17, 42, 96, 0, 33, 33, 8, 71, 64, 12];

fn tiny_config(model_type: &str, layout: &str, tied: bool) -> DecoderConfig {
    let json = format!(
        r#"{{"model_type": "{model_type}", "vocab_size": 97, "hidden_size": 64,
             "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "rope_theta": 500.0, "rms_norm_eps": 1e-5,
             "max_position_embeddings": 40, "tie_word_embeddings": {tied},
             "rope_layout": "{layout}"}}"#
    );
    DecoderConfig::from_json(json.as_bytes()).expect("the tiny config is valid")
}

/// A weight's values in f64, for the host reference.
fn f64s(weights: &TestWeights, name: &str) -> Vec<f64> {
    weights.0[name].1.iter().map(|&v| f64::from(v)).collect()
}

/// A weight the config may or may not imply (a bias), in f64.
fn optional(weights: &TestWeights, name: &str) -> Option<Vec<f64>> {
    weights.has(name).then(|| f64s(weights, name))
}

/// `W·x (+ b)` with `W` row-major `[rows, x.len()]`.
fn matvec(w: &[f64], x: &[f64], bias: Option<&Vec<f64>>) -> Vec<f64> {
    w.chunks(x.len())
        .enumerate()
        .map(|(r, row)| {
            let dot: f64 = row.iter().zip(x).map(|(a, b)| a * b).sum();
            dot + bias.map_or(0.0, |b| b[r])
        })
        .collect()
}

fn rms_norm(x: &[f64], weight: &[f64], eps: f64) -> Vec<f64> {
    let mean_square = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let scale = 1.0 / (mean_square + eps).sqrt();
    x.iter().zip(weight).map(|(v, w)| v * scale * w).collect()
}

/// The divisor of rotary frequency `i` (inverse frequency `inverse`) under `scaling`, written
/// out from transformers' `_compute_llama3_parameters` and its linear scaling.
fn rope_divisor(scaling: Option<&RopeScaling>, i: usize, inverse: f64) -> f64 {
    match scaling {
        None => 1.0,
        Some(RopeScaling::Linear { factor }) => *factor,
        Some(RopeScaling::Frequencies { divisors }) => divisors[i],
        Some(&RopeScaling::Llama3 {
            factor,
            low_freq_factor: low,
            high_freq_factor: high,
            original_max_position_embeddings: original,
        }) => {
            let wavelength = 2.0 * std::f64::consts::PI / inverse;
            if wavelength < original / high {
                1.0
            } else if wavelength > original / low {
                factor
            } else {
                let smooth = (original / wavelength - low) / (high - low);
                1.0 / ((1.0 - smooth) / factor + smooth)
            }
        }
    }
}

/// Rotates every head of `x` at `position`, pairing coordinates as `layout` says.
fn rope(
    x: &mut [f64],
    position: usize,
    head_dim: usize,
    theta: f64,
    scaling: Option<&RopeScaling>,
    layout: RopeLayout,
) {
    let half = head_dim / 2;
    for head in x.chunks_mut(head_dim) {
        for i in 0..half {
            let inverse = theta.powf(-2.0 * i as f64 / head_dim as f64);
            let angle = position as f64 * inverse / rope_divisor(scaling, i, inverse);
            let (a, b) = match layout {
                RopeLayout::Interleaved => (2 * i, 2 * i + 1),
                RopeLayout::Halves => (i, i + half),
            };
            let (x0, x1) = (head[a], head[b]);
            head[a] = x0 * angle.cos() - x1 * angle.sin();
            head[b] = x1 * angle.cos() + x0 * angle.sin();
        }
    }
}

fn gelu_tanh(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
}

/// Whether layer `layer` of a Gemma config attends through the sliding window, by llama.cpp's
/// `set_swa_pattern` (with Gemma 2's pattern 2, its even layers; Gemma 3's 6, all but every
/// sixth).
fn sliding(config: &DecoderConfig, layer: usize) -> bool {
    let pattern = match config.architecture {
        Architecture::Gemma2 => config.sliding_window_pattern.unwrap_or(2),
        Architecture::Gemma3 => config.sliding_window_pattern.unwrap_or(6),
        _ => return false,
    };
    layer % pattern < pattern - 1
}

/// The logits of every position of `ids`, straight from the equations, in f64: the Llama
/// block, Qwen2's biases, Qwen3's and Gemma 3's QK-norm, Gemma's `1 + w` norms around attention
/// and MLP, GeGLU, scaled embeddings, query scale, sliding windows, local RoPE base and
/// soft-caps.
fn reference_logits(config: &DecoderConfig, w: &TestWeights, ids: &[u32]) -> Vec<Vec<f64>> {
    let (hidden, heads, kv_heads, head_dim) = (
        config.hidden_size,
        config.num_attention_heads,
        config.kv_heads(),
        config.head_dim(),
    );
    let eps = config.rms_norm_eps;
    let gemma = matches!(
        config.architecture,
        Architecture::Gemma2 | Architecture::Gemma3
    );
    // Gemma's checkpoints hold `w` for a scale of `1 + w`.
    let norm_weight = |name: &str| -> Vec<f64> {
        f64s(w, name)
            .into_iter()
            .map(|v| v + config.norm_weight_offset)
            .collect()
    };
    let embedding = f64s(w, "model.embed_tokens.weight");
    let embed_scale = if gemma {
        f64::from((hidden as f32).sqrt())
    } else {
        1.0
    };
    let mut xs: Vec<Vec<f64>> = ids
        .iter()
        .map(|&id| {
            embedding[id as usize * hidden..(id as usize + 1) * hidden]
                .iter()
                .map(|v| v * embed_scale)
                .collect()
        })
        .collect();
    let query_scale = 1.0
        / config
            .query_pre_attn_scalar
            .unwrap_or(head_dim as f64)
            .sqrt();
    for layer in 0..config.num_hidden_layers {
        let p = format!("model.layers.{layer}");
        let attn = |name: &str| f64s(w, &format!("{p}.self_attn.{name}.weight"));
        let bias = |name: &str| optional(w, &format!("{p}.self_attn.{name}.bias"));
        let (wq, wk, wv, wo) = (
            attn("q_proj"),
            attn("k_proj"),
            attn("v_proj"),
            attn("o_proj"),
        );
        let (bq, bk, bv) = (bias("q_proj"), bias("k_proj"), bias("v_proj"));
        let window = if sliding(config, layer) {
            config.sliding_window
        } else {
            None
        };
        let (theta, scaling) =
            if config.architecture == Architecture::Gemma3 && sliding(config, layer) {
                (config.rope_local_base_freq.unwrap_or(10_000.0), None)
            } else {
                (config.rope_theta, config.rope_scaling.as_ref())
            };
        let head_norm = |x: &mut Vec<f64>, name: &str| {
            if w.has(&format!("{p}.self_attn.{name}.weight")) {
                let weight = norm_weight(&format!("{p}.self_attn.{name}.weight"));
                *x = x
                    .chunks(head_dim)
                    .flat_map(|h| rms_norm(h, &weight, eps))
                    .collect();
            }
        };
        let mut queries = Vec::new();
        let mut keys = Vec::new();
        let mut values = Vec::new();
        for (position, x) in xs.iter().enumerate() {
            let normed = rms_norm(x, &norm_weight(&format!("{p}.input_layernorm.weight")), eps);
            let mut q = matvec(&wq, &normed, bq.as_ref());
            let mut k = matvec(&wk, &normed, bk.as_ref());
            head_norm(&mut q, "q_norm");
            head_norm(&mut k, "k_norm");
            rope(
                &mut q,
                position,
                head_dim,
                theta,
                scaling,
                config.rope_layout,
            );
            rope(
                &mut k,
                position,
                head_dim,
                theta,
                scaling,
                config.rope_layout,
            );
            queries.push(q);
            keys.push(k);
            values.push(matvec(&wv, &normed, bv.as_ref()));
        }
        for (i, x) in xs.iter_mut().enumerate() {
            let mut context = vec![0.0; heads * head_dim];
            let first = window.map_or(0, |w| (i + 1).saturating_sub(w));
            for h in 0..heads {
                let g = h / (heads / kv_heads);
                let q = &queries[i][h * head_dim..(h + 1) * head_dim];
                let scores: Vec<f64> = (first..=i)
                    .map(|j| {
                        let k = &keys[j][g * head_dim..(g + 1) * head_dim];
                        let score = q.iter().zip(k).map(|(a, b)| a * b).sum::<f64>() * query_scale;
                        match config.attn_logit_softcapping {
                            Some(cap) => (score / cap).tanh() * cap,
                            None => score,
                        }
                    })
                    .collect();
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = exps.iter().sum();
                for (e, j) in exps.iter().zip(first..=i) {
                    for d in 0..head_dim {
                        context[h * head_dim + d] += e / total * values[j][g * head_dim + d];
                    }
                }
            }
            let mut attended = matvec(&wo, &context, None);
            if gemma {
                attended = rms_norm(
                    &attended,
                    &norm_weight(&format!("{p}.post_attention_layernorm.weight")),
                    eps,
                );
            }
            x.iter_mut().zip(attended).for_each(|(a, b)| *a += b);
            let pre_mlp = if gemma {
                "pre_feedforward_layernorm"
            } else {
                "post_attention_layernorm"
            };
            let normed = rms_norm(x, &norm_weight(&format!("{p}.{pre_mlp}.weight")), eps);
            let gate = matvec(
                &f64s(w, &format!("{p}.mlp.gate_proj.weight")),
                &normed,
                None,
            );
            let up = matvec(&f64s(w, &format!("{p}.mlp.up_proj.weight")), &normed, None);
            let activated: Vec<f64> = gate
                .iter()
                .zip(&up)
                .map(|(&g, u)| {
                    let act = if gemma {
                        gelu_tanh(g)
                    } else {
                        g / (1.0 + (-g).exp())
                    };
                    act * u
                })
                .collect();
            let mut down = matvec(
                &f64s(w, &format!("{p}.mlp.down_proj.weight")),
                &activated,
                None,
            );
            if gemma {
                down = rms_norm(
                    &down,
                    &norm_weight(&format!("{p}.post_feedforward_layernorm.weight")),
                    eps,
                );
            }
            x.iter_mut().zip(down).for_each(|(a, b)| *a += b);
        }
    }
    let head = optional(w, "lm_head.weight")
        .filter(|_| !config.tie_word_embeddings)
        .unwrap_or(embedding);
    let norm = norm_weight("model.norm.weight");
    xs.iter()
        .map(|x| {
            let logits = matvec(&head, &rms_norm(x, &norm, eps), None);
            match config.final_logit_softcapping {
                Some(cap) => logits.iter().map(|l| (l / cap).tanh() * cap).collect(),
                None => logits,
            }
        })
        .collect()
}

fn reference_log_softmax(logits: &[f64], id: u32) -> f64 {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = logits.iter().map(|l| (l - max).exp()).sum();
    logits[id as usize] - max - sum.ln()
}

fn device(backend: Backend) -> Device {
    pollster::block_on(open(backend)).expect("the device opens")
}

fn load(config: &DecoderConfig, weights: &TestWeights, backend: Backend) -> Decoder {
    Decoder::load(config, weights, &device(backend)).expect("the tiny model loads")
}

/// Reads a `[rows, vocab]` tensor as rows.
fn rows(backend: Backend, logits: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, vocab] = logits.dims();
    let values = pollster::block_on(read_f32(backend, logits)).expect("the logits read back");
    values.chunks(vocab).map(<[f32]>::to_vec).collect()
}

fn forward_rows(model: &Decoder, cache: &mut KvCache, ids: &[u32], at: LogitsAt) -> Vec<Vec<f32>> {
    rows(
        Backend::Cpu,
        model
            .forward(ids, cache, at)
            .expect("the forward pass runs"),
    )
}

fn max_abs_diff<A: Copy + Into<f64>, B: Copy + Into<f64>>(a: &[Vec<A>], b: &[Vec<B>]) -> f64 {
    assert_eq!(a.len(), b.len(), "row counts differ");
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len(), "row widths differ");
            x.iter().zip(y).map(|(&p, &q)| (p.into() - q.into()).abs())
        })
        .fold(0.0, f64::max)
}

fn assert_close<A: Copy + Into<f64>, B: Copy + Into<f64>>(a: &[Vec<A>], b: &[Vec<B>], what: &str) {
    let diff = max_abs_diff(a, b);
    assert!(diff < TOLERANCE, "{what}: max abs diff {diff}");
}

fn assert_matches_reference(config: &DecoderConfig, seed: u64) {
    let weights = TestWeights::random(config, seed);
    let model = load(config, &weights, Backend::Cpu);
    let logits = forward_rows(&model, &mut model.new_cache(), &PROMPT, LogitsAt::All);
    let expected = reference_logits(config, &weights, &PROMPT);
    // The check must be able to fail: the logits vary by more than the tolerance.
    let spread = expected[3]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
        - expected[3].iter().copied().fold(f64::INFINITY, f64::min);
    assert!(spread > 1.0, "logit spread {spread}");
    assert_close(&logits, &expected, "burn against the host reference");
}

#[test]
fn llama_halves_untied_matches_the_host_reference() {
    assert_matches_reference(&tiny_config("llama", "halves", false), 1);
}

#[test]
fn llama_interleaved_tied_matches_the_host_reference() {
    assert_matches_reference(&tiny_config("llama", "interleaved", true), 2);
}

#[test]
fn qwen2_with_biases_matches_the_host_reference() {
    assert_matches_reference(&tiny_config("qwen2", "halves", true), 3);
}

/// The tiny shape with a different family's fields added (`extra`: JSON members).
fn family_config(model_type: &str, extra: &str) -> DecoderConfig {
    let json = format!(
        r#"{{"model_type": "{model_type}", "vocab_size": 97, "hidden_size": 64,
             "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "rope_theta": 500.0, "rms_norm_eps": 1e-5,
             "max_position_embeddings": 40, "tie_word_embeddings": true{extra}}}"#
    );
    DecoderConfig::from_json(json.as_bytes()).expect("the tiny config is valid")
}

/// Gemma 3 with a window of 4 (shorter than the prompt), layer 0 sliding and layer 1 global
/// (pattern 2), a local base unlike the global one, a query scalar unlike the head width.
fn tiny_gemma3() -> DecoderConfig {
    family_config(
        "gemma3_text",
        r#", "head_dim": 24, "sliding_window": 4, "sliding_window_pattern": 2,
            "rope_local_base_freq": 10.0, "query_pre_attn_scalar": 20,
            "hidden_activation": "gelu_pytorch_tanh""#,
    )
}

#[test]
fn qwen3_with_qk_norm_matches_the_host_reference() {
    assert_matches_reference(&family_config("qwen3", r#", "head_dim": 24"#), 4);
}

#[test]
fn gemma3_matches_the_host_reference() {
    let config = tiny_gemma3();
    assert_eq!(
        config.norm_weight_offset, 1.0,
        "Gemma's norms scale by 1 + w"
    );
    assert_matches_reference(&config, 7);
}

#[test]
fn gemma2_with_soft_caps_matches_the_host_reference() {
    // Caps small enough that tanh bends the scores and logits seen here.
    assert_matches_reference(
        &family_config(
            "gemma2",
            r#", "sliding_window": 3, "attn_logit_softcapping": 2.0,
                "final_logit_softcapping": 3.0, "query_pre_attn_scalar": 16"#,
        ),
        8,
    );
}

#[test]
fn llama3_rope_scaling_matches_the_host_reference() {
    // Wavelengths of this head span 6 to 1,440 positions: with an original context of 64,
    // some frequencies are kept, some divided by 8 and some interpolated.
    assert_matches_reference(
        &family_config(
            "llama",
            r#", "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 64}"#,
        ),
        9,
    );
    assert_matches_reference(
        &family_config(
            "llama",
            r#", "rope_scaling": {"type": "linear", "factor": 3.0}"#,
        ),
        10,
    );
}

/// llama.cpp's `convert_hf_to_gguf.py` permutes Llama's q/k rows
/// (`reshape(heads, 2, d/2, in).swapaxes(1, 2)`); the interleaved layout must undo it exactly.
#[test]
fn interleaved_layout_undoes_llama_cpp_permutation() {
    let halves = tiny_config("llama", "halves", false);
    let hf = TestWeights::random(&halves, 4);
    let mut gguf = hf.clone();
    for layer in 0..halves.num_hidden_layers {
        for (name, heads) in [("q_proj", 4), ("k_proj", 2)] {
            let name = format!("model.layers.{layer}.self_attn.{name}.weight");
            let (shape, rows) = &hf.0[&name];
            let (head_dim, width) = (halves.head_dim(), shape[1]);
            let mut permuted = rows.clone();
            for h in 0..heads {
                for a in 0..2 {
                    for i in 0..head_dim / 2 {
                        let from = (h * head_dim + a * head_dim / 2 + i) * width;
                        let to = (h * head_dim + 2 * i + a) * width;
                        permuted[to..to + width].copy_from_slice(&rows[from..from + width]);
                    }
                }
            }
            gguf.0.insert(name, (shape.clone(), permuted));
        }
    }
    let interleaved = DecoderConfig {
        rope_layout: RopeLayout::Interleaved,
        ..halves.clone()
    };
    let from_hf = load(&halves, &hf, Backend::Cpu);
    let from_gguf = load(&interleaved, &gguf, Backend::Cpu);
    assert_close(
        &forward_rows(
            &from_gguf,
            &mut from_gguf.new_cache(),
            &PROMPT,
            LogitsAt::All,
        ),
        &forward_rows(&from_hf, &mut from_hf.new_cache(), &PROMPT, LogitsAt::All),
        "permuted GGUF rows against the HF rows",
    );
}

/// `values` (rows of `cols`) as GGUF blocks of `dtype` (Q8_0 or Q4_1), rounded as llama.cpp's
/// reference quantizers round.
fn quantize(dtype: GgmlType, values: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for block in values.chunks_exact(32) {
        match dtype {
            GgmlType::Q8_0 => {
                let max = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let d = max / 127.0;
                let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
                bytes.extend(half::f16::from_f32(d).to_le_bytes());
                bytes.extend(block.iter().map(|v| (v * inverse).round() as i8 as u8));
            }
            GgmlType::Q4_1 => {
                let min = block.iter().copied().fold(f32::INFINITY, f32::min);
                let max = block.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let d = (max - min) / 15.0;
                let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
                bytes.extend(half::f16::from_f32(d).to_le_bytes());
                bytes.extend(half::f16::from_f32(min).to_le_bytes());
                let q = |v: f32| (((v - min) * inverse).round() as u8).min(15);
                bytes.extend((0..16).map(|j| q(block[j]) | (q(block[j + 16]) << 4)));
            }
            other => panic!("no test quantizer for {other:?}"),
        }
    }
    bytes
}

/// Test weights whose matrices are stored quantized, as a GGUF file would hold them: `tensor`
/// gives the dequantized values, `stored` the blocks.
struct QuantizedTestWeights {
    values: TestWeights,
    blocks: std::collections::BTreeMap<String, (GgmlType, usize, usize, Vec<u8>)>,
}

impl QuantizedTestWeights {
    fn new(weights: &TestWeights, dtype: GgmlType) -> QuantizedTestWeights {
        let mut values = weights.clone();
        let mut blocks = std::collections::BTreeMap::new();
        for (name, (shape, tensor)) in &mut values.0 {
            if let [rows, cols] = shape[..]
                && cols % 32 == 0
            {
                let bytes = quantize(dtype, tensor);
                *tensor = dequantize(dtype, &bytes).expect("whole blocks");
                blocks.insert(name.clone(), (dtype, rows, cols, bytes));
            }
        }
        QuantizedTestWeights { values, blocks }
    }
}

impl WeightSource for QuantizedTestWeights {
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), WeightError> {
        self.values.tensor(name)
    }

    fn has(&self, name: &str) -> bool {
        self.values.has(name)
    }

    fn stored(&self, name: &str) -> Option<StoredTensor<'_>> {
        let (dtype, rows, cols, bytes) = self.blocks.get(name)?;
        Some(StoredTensor {
            dtype: *dtype,
            rows: *rows,
            cols: *cols,
            bytes,
        })
    }
}

/// A GGUF file's quantized matrices are multiplied as stored: on the CPU, decode steps read the
/// quantized rows; on wgpu, every matrix and the embedding stay as blocks on the device, read by
/// our kernels (one-row products, and dequantized scratch in prefill). Token by token and in one
/// prefill, the logits equal the host reference's on the same (dequantized) weights — and on the
/// CPU the all-f32 model's — for every layout the loader handles (interleaved q/k rows, tied and
/// untied heads, Qwen2's q/k/v biases, Gemma 3).
#[test]
fn quantized_weights_decode_like_the_f32_weights() {
    let cases = [
        (tiny_config("llama", "halves", false), GgmlType::Q4_1),
        (tiny_config("llama", "interleaved", true), GgmlType::Q8_0),
        (tiny_config("qwen2", "halves", true), GgmlType::Q4_1),
        (tiny_gemma3(), GgmlType::Q8_0),
    ];
    for (seed, (config, dtype)) in cases.into_iter().enumerate() {
        let weights =
            QuantizedTestWeights::new(&TestWeights::random(&config, 11 + seed as u64), dtype);
        let expected = reference_logits(&config, &weights.values, &PROMPT);
        for backend in Backend::ALL {
            let what = format!("{:?} {dtype:?} on {backend}", config.architecture);
            let model = Decoder::load(&config, &weights, &device(backend)).expect("it loads");
            match backend {
                Backend::Cpu => assert!(model.has_quantized_rows(), "{what}: rows kept"),
                Backend::WebGpu => assert!(model.has_device_blocks(), "{what}: blocks kept"),
            }
            let stepped = decode_one_by_one(backend, &model, &PROMPT);
            assert_close(
                &stepped,
                &expected,
                &format!("{what}: steps against the reference"),
            );
            let prefill = rows(
                backend,
                model
                    .forward(&PROMPT, &mut model.new_cache(), LogitsAt::All)
                    .expect("the prefill runs"),
            );
            assert_close(
                &prefill,
                &expected,
                &format!("{what}: prefill against the reference"),
            );
            if backend == Backend::Cpu {
                let f32_model = model.clone().without_quantized_rows();
                assert_close(
                    &stepped,
                    &decode_one_by_one(Backend::Cpu, &f32_model, &PROMPT),
                    &format!("{what}: quantized against f32 steps"),
                );
            }
        }
    }
}

fn tiny_model() -> (DecoderConfig, TestWeights, Decoder) {
    let config = tiny_config("llama", "interleaved", false);
    let weights = TestWeights::random(&config, 5);
    let model = load(&config, &weights, Backend::Cpu);
    (config, weights, model)
}

/// Runs `ids` one token at a time through the cache and collects each position's logits.
fn decode_one_by_one(backend: Backend, model: &Decoder, ids: &[u32]) -> Vec<Vec<f32>> {
    let mut cache = model.new_cache();
    ids.iter()
        .flat_map(|&id| {
            let logits = model
                .forward(&[id], &mut cache, LogitsAt::Last)
                .expect("a step runs");
            rows(backend, logits)
        })
        .collect()
}

#[test]
fn cached_decoding_equals_one_full_forward() {
    let (_, _, model) = tiny_model();
    let full = forward_rows(&model, &mut model.new_cache(), &PROMPT, LogitsAt::All);
    assert_close(
        &decode_one_by_one(Backend::Cpu, &model, &PROMPT),
        &full,
        "token by token",
    );
    // The cache grows past its first storage (64 positions would not; 40 is the context):
    // a prefill then single steps meet in the middle.
    let mut cache = model.new_cache();
    let mut mixed = forward_rows(&model, &mut cache, &PROMPT[..4], LogitsAt::All);
    for &id in &PROMPT[4..] {
        mixed.extend(forward_rows(&model, &mut cache, &[id], LogitsAt::Last));
    }
    assert_eq!(cache.len(), PROMPT.len());
    assert_close(&mixed, &full, "prefill then steps");
}

#[test]
fn chunked_prefill_equals_unchunked() {
    let (_, _, model) = tiny_model();
    let ids: Vec<u32> = (0..30).map(|i| (i * 37 + 11) % 97).collect();
    let full = forward_rows(&model, &mut model.new_cache(), &ids, LogitsAt::All);
    for chunk in [3, 5] {
        let chunked = model
            .clone()
            .with_prefill_chunk(NonZeroUsize::new(chunk).unwrap());
        let mut cache = chunked.new_cache();
        let logits = forward_rows(&chunked, &mut cache, &ids, LogitsAt::All);
        assert_eq!(cache.len(), ids.len());
        assert_close(&logits, &full, &format!("chunks of {chunk}"));
        // Logits only where asked, wherever the chunk boundaries fall.
        let from = forward_rows(&chunked, &mut chunked.new_cache(), &ids, LogitsAt::From(13));
        assert_close(&from, &full[13..], &format!("from 13 in chunks of {chunk}"));
        let last = forward_rows(&chunked, &mut chunked.new_cache(), &ids, LogitsAt::Last);
        assert_close(&last, &full[29..], &format!("last in chunks of {chunk}"));
    }
}

#[test]
fn truncating_the_cache_rolls_back() {
    let (_, _, model) = tiny_model();
    let mut cache = model.new_cache();
    forward_rows(&model, &mut cache, &PROMPT, LogitsAt::Last);
    cache.truncate(5);
    assert_eq!(cache.len(), 5);
    cache.truncate(9);
    assert_eq!(cache.len(), 5, "truncating never lengthens");
    let branch = [90, 1, 2];
    let resumed = forward_rows(&model, &mut cache, &branch, LogitsAt::All);
    let ids = [&PROMPT[..5], &branch[..]].concat();
    let fresh = forward_rows(&model, &mut model.new_cache(), &ids, LogitsAt::All);
    assert_close(&resumed, &fresh[5..], "after truncation");
    cache.truncate(0);
    assert!(cache.is_empty());
    let restarted = forward_rows(&model, &mut cache, &branch, LogitsAt::All);
    let fresh = forward_rows(&model, &mut model.new_cache(), &branch, LogitsAt::All);
    assert_close(&restarted, &fresh, "after truncating to nothing");
}

/// Decodes ids as `<id>` so stop strings can be built from known tokens.
fn decode(ids: &[u32]) -> String {
    ids.iter().map(|id| format!("<{id}>")).collect()
}

/// One generation's length, decoding and stops; stop strings see the text of [`decode`].
struct Generation<'a> {
    settings: GenerateSettings,
    eos_ids: &'a [u32],
    stop_strings: &'a [String],
}

impl Generation<'_> {
    fn new(max_new_tokens: usize, sampling: Sampling) -> Generation<'static> {
        Generation {
            settings: GenerateSettings {
                max_new_tokens,
                sampling,
            },
            eos_ids: &[],
            stop_strings: &[],
        }
    }

    fn run(&self, model: &Decoder, prompt: &[u32]) -> Completion {
        self.run_with(model, prompt, &mut |_| Control::Continue)
            .expect("generation runs")
    }

    fn run_with(
        &self,
        model: &Decoder,
        prompt: &[u32],
        on_token: &mut dyn FnMut(u32) -> Control,
    ) -> Result<Completion, ModelError> {
        let stop = StopRule {
            eos_ids: self.eos_ids,
            stop_strings: self.stop_strings,
            decode: &decode,
        };
        let run = generate(model, Backend::Cpu, prompt, &self.settings, &stop, on_token);
        pollster::block_on(run)
    }
}

/// The greedy continuation of `ids` by the host reference, with each token's log-probability.
fn reference_greedy(
    config: &DecoderConfig,
    weights: &TestWeights,
    ids: &[u32],
    n: usize,
) -> Vec<(u32, f64)> {
    let mut ids = ids.to_vec();
    let mut chosen = Vec::new();
    for _ in 0..n {
        let logits = reference_logits(config, weights, &ids);
        let last = logits.last().expect("a position");
        let id =
            (0..last.len()).fold(0, |best, i| if last[i] > last[best] { i } else { best }) as u32;
        chosen.push((id, reference_log_softmax(last, id)));
        ids.push(id);
    }
    chosen
}

#[test]
fn greedy_generation_follows_the_reference_and_stops() {
    let (config, weights, model) = tiny_model();
    let prompt = &PROMPT[..6];
    let full = Generation::new(8, Sampling::Greedy).run(&model, prompt);
    assert_eq!(full.stop_reason, StopReason::Length);
    let expected = reference_greedy(&config, &weights, prompt, 8);
    assert_eq!(
        full.ids,
        expected.iter().map(|&(id, _)| id).collect::<Vec<_>>()
    );
    for (logprob, (_, expected)) in full.logprobs.iter().zip(&expected) {
        assert!((f64::from(*logprob) - expected).abs() < TOLERANCE);
    }
    assert!(full.prefill_ms >= 0.0 && full.decode_ms >= 0.0);
    let again = Generation::new(8, Sampling::Greedy).run(&model, prompt);
    assert_eq!(
        (&again.ids, &again.logprobs),
        (&full.ids, &full.logprobs),
        "deterministic"
    );

    // End of sequence: the EOS id ends the generation and is not kept.
    let eos = full.ids[2];
    let first_eos = full.ids.iter().position(|&id| id == eos).unwrap();
    let stopped = Generation {
        eos_ids: &[eos],
        ..Generation::new(8, Sampling::Greedy)
    }
    .run(&model, prompt);
    assert_eq!(stopped.stop_reason, StopReason::Eos(eos));
    assert_eq!(stopped.ids, full.ids[..first_eos]);
    assert_eq!(stopped.logprobs.len(), stopped.ids.len());

    // A stop string spanning two tokens ends at the token completing it, which is kept.
    let stop = format!("{}<{}", decode(&full.ids[3..4]), full.ids[4]);
    let stopped = Generation {
        stop_strings: std::slice::from_ref(&stop),
        ..Generation::new(8, Sampling::Greedy)
    }
    .run(&model, prompt);
    assert_eq!(stopped.stop_reason, StopReason::StopString(stop));
    assert_eq!(stopped.ids, full.ids[..5]);

    // The limit, and no tokens at all.
    let short = Generation::new(3, Sampling::Greedy).run(&model, prompt);
    assert_eq!(
        (short.ids.as_slice(), short.stop_reason),
        (&full.ids[..3], StopReason::Length)
    );
    let none = Generation::new(0, Sampling::Greedy).run(&model, prompt);
    assert!(none.ids.is_empty());
}

#[test]
fn generation_stops_when_the_context_is_full_or_the_caller_cancels() {
    let (_, _, model) = tiny_model();
    // 36 prompt positions of 40: tokens are chosen at positions 35..=39, then there is no room.
    let prompt: Vec<u32> = (0..36).map(|i| (i * 7) % 97).collect();
    let full = Generation::new(20, Sampling::Greedy).run(&model, &prompt);
    assert_eq!(full.stop_reason, StopReason::ContextFull);
    assert_eq!(full.ids.len(), 5);

    let mut seen = Vec::new();
    let cancelled = Generation::new(20, Sampling::Greedy)
        .run_with(&model, &PROMPT, &mut |id| {
            seen.push(id);
            if seen.len() == 2 {
                Control::Stop
            } else {
                Control::Continue
            }
        })
        .expect("generation runs");
    assert_eq!(cancelled.stop_reason, StopReason::Cancelled);
    assert_eq!(cancelled.ids, seen);
    assert_eq!(seen.len(), 2);
}

fn sample(temperature: f64, top_p: f64, seed: u64) -> Sampling {
    Sampling::Sample {
        temperature,
        top_p,
        seed,
    }
}

#[test]
fn seeded_sampling_is_reproducible_and_degenerates_to_greedy() {
    let (_, _, model) = tiny_model();
    let ids = |sampling| Generation::new(10, sampling).run(&model, &PROMPT).ids;
    let greedy = ids(Sampling::Greedy);
    let seeded = ids(sample(1.0, 1.0, 7));
    assert_eq!(
        seeded,
        ids(sample(1.0, 1.0, 7)),
        "the same seed draws the same tokens"
    );
    assert_ne!(
        seeded,
        ids(sample(1.0, 1.0, 8)),
        "another seed draws others"
    );
    assert_ne!(seeded, greedy, "temperature 1 over 97 tokens is not greedy");
    assert_eq!(
        ids(sample(1.0, 0.0, 7)),
        greedy,
        "top-p 0 keeps only the best token"
    );
    assert_eq!(
        ids(sample(1e-6, 1.0, 7)),
        greedy,
        "a tiny temperature is greedy"
    );
    assert_eq!(
        ids(sample(0.0, 0.9, 7)),
        greedy,
        "temperature 0 means greedy"
    );
    // Logprobs are the model's, whatever the sampling.
    let sampled = Generation::new(4, sample(1.0, 0.5, 3)).run(&model, &PROMPT);
    let scored = pollster::block_on(loglikelihood(&model, Backend::Cpu, &PROMPT, &sampled.ids))
        .expect("scoring runs");
    let sum: f64 = sampled.logprobs.iter().map(|&l| f64::from(l)).sum();
    assert!((scored.logprob_sum - sum).abs() < TOLERANCE);
}

#[test]
fn prompt_logprobs_and_loglikelihood_match_the_reference() {
    let (config, weights, model) = tiny_model();
    let ids: Vec<u32> = (0..20).map(|i| (i * 53 + 3) % 97).collect();
    let expected = reference_logits(&config, &weights, &ids);
    // Windows of 3 logit rows exercise the scoring loop.
    for model in [
        model.clone(),
        model.with_prefill_chunk(NonZeroUsize::new(3).unwrap()),
    ] {
        let logprobs =
            pollster::block_on(prompt_logprobs(&model, Backend::Cpu, &ids)).expect("scoring runs");
        assert_eq!(logprobs.len(), ids.len());
        assert_eq!(logprobs[0], None);
        for i in 1..ids.len() {
            let want = reference_log_softmax(&expected[i - 1], ids[i]);
            let got = f64::from(logprobs[i].expect("a log-probability"));
            assert!(
                (got - want).abs() < TOLERANCE,
                "position {i}: {got} vs {want}"
            );
        }
        let scored =
            pollster::block_on(loglikelihood(&model, Backend::Cpu, &ids[..12], &ids[12..]))
                .expect("scoring runs");
        let want: f64 = (12..ids.len())
            .map(|i| reference_log_softmax(&expected[i - 1], ids[i]))
            .sum();
        assert_eq!(scored.n_tokens, 8);
        assert!((scored.logprob_sum - want).abs() < TOLERANCE);
        assert!(
            !scored.is_greedy,
            "arbitrary ids are not the greedy continuation"
        );
    }
    let model = load(&config, &weights, Backend::Cpu);
    let single = pollster::block_on(prompt_logprobs(&model, Backend::Cpu, &[4]));
    assert_eq!(single.expect("scoring runs"), [None]);

    let greedy = reference_greedy(&config, &weights, &PROMPT, 3);
    let continuation: Vec<u32> = greedy.iter().map(|&(id, _)| id).collect();
    let scored = pollster::block_on(loglikelihood(&model, Backend::Cpu, &PROMPT, &continuation))
        .expect("scoring runs");
    assert!(scored.is_greedy);
    let want: f64 = greedy.iter().map(|&(_, lp)| lp).sum();
    assert!((scored.logprob_sum - want).abs() < TOLERANCE);
}

#[test]
fn bad_configs_are_errors() {
    let base = tiny_config("llama", "halves", false);
    let cases: [(&str, DecoderConfig); 6] = [
        (
            "hidden_size",
            DecoderConfig {
                hidden_size: 0,
                ..base.clone()
            },
        ),
        (
            "num_key_value_heads",
            DecoderConfig {
                num_key_value_heads: Some(3),
                ..base.clone()
            },
        ),
        (
            "num_attention_heads",
            DecoderConfig {
                num_attention_heads: 5,
                ..base.clone()
            },
        ),
        (
            "head_dim",
            DecoderConfig {
                head_dim: Some(15),
                ..base.clone()
            },
        ),
        (
            "rms_norm_eps",
            DecoderConfig {
                rms_norm_eps: -1.0,
                ..base.clone()
            },
        ),
        (
            "mlp_bias",
            DecoderConfig {
                mlp_bias: true,
                ..base.clone()
            },
        ),
    ];
    let weights = TestWeights::random(&base, 6);
    for (field, config) in cases {
        let error = Decoder::load(&config, &weights, &device(Backend::Cpu)).err();
        assert!(
            matches!(error, Some(ModelError::Config { field: f, .. }) if f == field),
            "{field}: {error:?}"
        );
    }
    let missing = DecoderConfig::from_json(br#"{"vocab_size": 10}"#).err();
    assert!(
        matches!(missing, Some(ModelError::ConfigJson(_))),
        "{missing:?}"
    );
    let unknown = DecoderConfig::from_json(
        br#"{"model_type": "gpt2", "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8,
             "num_hidden_layers": 1, "num_attention_heads": 2}"#,
    );
    assert!(matches!(unknown, Err(ModelError::ConfigJson(_))));
}

#[test]
fn bad_weights_are_errors() {
    let config = tiny_config("llama", "halves", false);
    let device = device(Backend::Cpu);
    let mut weights = TestWeights::random(&config, 7);
    let name = "model.layers.1.mlp.up_proj.weight";
    let (_, values) = weights.0[name].clone();
    weights.0.insert(name.into(), (vec![64, 96], values));
    let error = Decoder::load(&config, &weights, &device).expect_err("a shape error");
    assert_eq!(
        error.to_string(),
        "weight `model.layers.1.mlp.up_proj.weight` has shape [64, 96], the config expects [96, 64]"
    );
    weights.0.remove(name);
    assert!(matches!(
        Decoder::load(&config, &weights, &device),
        Err(ModelError::MissingWeight { name: n }) if n == name
    ));
    // Qwen2 needs biases the Llama weights lack.
    let qwen = tiny_config("qwen2", "halves", false);
    assert!(matches!(
        Decoder::load(&qwen, &TestWeights::random(&config, 7), &device),
        Err(ModelError::MissingWeight { name }) if name == "model.layers.0.self_attn.q_proj.bias"
    ));
}

#[test]
fn bad_inputs_are_errors() {
    let (_, _, model) = tiny_model();
    let mut cache = model.new_cache();
    assert!(matches!(
        model.forward(&[3, 97], &mut cache, LogitsAt::Last),
        Err(ModelError::TokenOutOfRange {
            id: 97,
            position: 1,
            vocab_size: 97
        })
    ));
    assert!(matches!(
        model.forward(&[], &mut cache, LogitsAt::Last),
        Err(ModelError::EmptyInput { .. })
    ));
    assert!(matches!(
        model.forward(&[1, 2], &mut cache, LogitsAt::From(2)),
        Err(ModelError::LogitsPosition { from: 2, len: 2 })
    ));
    assert!(
        cache.is_empty(),
        "a refused input leaves the cache as it was"
    );
    let long: Vec<u32> = vec![1; 41];
    assert!(matches!(
        model.forward(&long, &mut cache, LogitsAt::Last),
        Err(ModelError::ContextOverflow {
            needed: 41,
            max: 40
        })
    ));
    let settings_error = |sampling, stops: &[String]| {
        let generation = Generation {
            stop_strings: stops,
            ..Generation::new(4, sampling)
        };
        generation
            .run_with(&model, &PROMPT, &mut |_| Control::Continue)
            .err()
    };
    assert!(matches!(
        settings_error(sample(1.0, 2.0, 1), &[]),
        Some(ModelError::Settings { field: "top_p", .. })
    ));
    assert!(matches!(
        settings_error(Sampling::Greedy, &[String::new()]),
        Some(ModelError::Settings {
            field: "stop_strings",
            ..
        })
    ));
    assert!(matches!(
        Generation::new(4, Sampling::Greedy).run_with(&model, &[], &mut |_| Control::Continue),
        Err(ModelError::EmptyInput { what: "prompt" })
    ));
    assert!(matches!(
        pollster::block_on(loglikelihood(&model, Backend::Cpu, &[], &[1])),
        Err(ModelError::EmptyInput { what: "context" })
    ));
}

/// Sliding windows, two rotary kinds and Gemma's norms on wgpu, step by step through the cache
/// and in one prefill, against the host reference.
#[test]
fn wgpu_gemma3_matches_the_host_reference() {
    let config = tiny_gemma3();
    let weights = TestWeights::random(&config, 12);
    let expected = reference_logits(&config, &weights, &PROMPT);
    let model = load(&config, &weights, Backend::WebGpu);
    assert_close(
        &decode_one_by_one(Backend::WebGpu, &model, &PROMPT),
        &expected,
        "wgpu steps against the host reference",
    );
    let prefill = rows(
        Backend::WebGpu,
        model
            .forward(&PROMPT, &mut model.new_cache(), LogitsAt::All)
            .expect("wgpu runs"),
    );
    assert_close(
        &prefill,
        &expected,
        "wgpu prefill against the host reference",
    );
}

/// The wgpu backend (Mesa's lavapipe on machines without a GPU) computes the same logits
/// step by step through its cache as the CPU does in one pass.
#[test]
fn wgpu_cached_decoding_matches_cpu() {
    let (config, weights, cpu_model) = tiny_model();
    let cpu = forward_rows(
        &cpu_model,
        &mut cpu_model.new_cache(),
        &PROMPT,
        LogitsAt::All,
    );
    let gpu_model = load(&config, &weights, Backend::WebGpu);
    assert_close(
        &decode_one_by_one(Backend::WebGpu, &gpu_model, &PROMPT),
        &cpu,
        "wgpu steps against the CPU",
    );
    let mut cache = gpu_model.new_cache();
    let prefill = rows(
        Backend::WebGpu,
        gpu_model
            .forward(&PROMPT, &mut cache, LogitsAt::All)
            .expect("wgpu runs"),
    );
    assert_close(&prefill, &cpu, "wgpu prefill against the CPU");
}
