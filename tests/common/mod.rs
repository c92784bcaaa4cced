//! Shared by the integration tests that need a decoder: seeded random weights of every tensor a
//! tiny decoder config (Llama, Qwen2/3, Gemma 2/3) implies, served through `WeightSource` like a real checkpoint.

use std::collections::BTreeMap;

use clue_wasm::loader::weights::{WeightError, WeightSource};
use clue_wasm::model::{Architecture, DecoderConfig};

/// xorshift64*: the test's own seeded values.
struct Values(u64);

impl Values {
    /// Uniform in `[-scale, scale)`.
    fn uniform(&mut self, scale: f32) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        (bits as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }
}

/// Tensors by Hugging Face name, in name order (so shards split the same way every run).
#[derive(Clone)]
pub struct TestWeights(pub BTreeMap<String, (Vec<usize>, Vec<f32>)>);

impl WeightSource for TestWeights {
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), WeightError> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| WeightError::Missing {
                name: name.to_owned(),
            })
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

impl TestWeights {
    /// Seeded weights of every tensor `config` needs: linear layers with the usual
    /// `1/sqrt(fan_in)` spread, norms near 1, Qwen2's q/k/v biases, `lm_head` when untied.
    pub fn random(config: &DecoderConfig, seed: u64) -> TestWeights {
        let mut values = Values(seed);
        let mut tensors = BTreeMap::new();
        let mut add = |name: String, shape: Vec<usize>, scale: f32, offset: f32| {
            let len = shape.iter().product();
            let data = (0..len).map(|_| offset + values.uniform(scale)).collect();
            tensors.insert(name, (shape, data));
        };
        let (hidden, inter, vocab) = (
            config.hidden_size,
            config.intermediate_size,
            config.vocab_size,
        );
        let (q_rows, kv_rows) = (
            config.num_attention_heads * config.head_dim(),
            config.kv_heads() * config.head_dim(),
        );
        let linear_scale = |fan_in: usize| (3.0 / fan_in as f32).sqrt();
        add(
            "model.embed_tokens.weight".into(),
            vec![vocab, hidden],
            1.0,
            0.0,
        );
        let final_norm_center = if config.norm_weight_offset != 0.0 {
            0.0
        } else {
            1.0
        };
        add(
            "model.norm.weight".into(),
            vec![hidden],
            0.2,
            final_norm_center,
        );
        if !config.tie_word_embeddings {
            add(
                "lm_head.weight".into(),
                vec![vocab, hidden],
                linear_scale(hidden),
                0.0,
            );
        }
        let qwen2 = config.architecture == Architecture::Qwen2;
        // Gemma's norms scale by `1 + w`: weights near 0 mean scales near 1.
        let gemma = config.norm_weight_offset != 0.0;
        let norm_center = if gemma { 0.0 } else { 1.0 };
        let norms: &[&str] = if gemma {
            &[
                "input_layernorm",
                "post_attention_layernorm",
                "pre_feedforward_layernorm",
                "post_feedforward_layernorm",
            ]
        } else {
            &["input_layernorm", "post_attention_layernorm"]
        };
        let qk_norm = matches!(
            config.architecture,
            Architecture::Qwen3 | Architecture::Gemma3
        );
        for layer in 0..config.num_hidden_layers {
            let p = format!("model.layers.{layer}");
            for norm in norms {
                add(format!("{p}.{norm}.weight"), vec![hidden], 0.2, norm_center);
            }
            if qk_norm {
                for norm in ["q_norm", "k_norm"] {
                    add(
                        format!("{p}.self_attn.{norm}.weight"),
                        vec![config.head_dim()],
                        0.3,
                        norm_center,
                    );
                }
            }
            // (name, rows, fan-in, whether Qwen2 gives it a bias)
            for (name, rows, fan_in, biased) in [
                ("self_attn.q_proj", q_rows, hidden, true),
                ("self_attn.k_proj", kv_rows, hidden, true),
                ("self_attn.v_proj", kv_rows, hidden, true),
                ("self_attn.o_proj", hidden, q_rows, false),
                ("mlp.gate_proj", inter, hidden, false),
                ("mlp.up_proj", inter, hidden, false),
                ("mlp.down_proj", hidden, inter, false),
            ] {
                let shape = vec![rows, fan_in];
                add(
                    format!("{p}.{name}.weight"),
                    shape,
                    linear_scale(fan_in),
                    0.0,
                );
                if qwen2 && biased {
                    add(format!("{p}.{name}.bias"), vec![rows], 0.3, 0.0);
                }
            }
        }
        TestWeights(tensors)
    }
}
