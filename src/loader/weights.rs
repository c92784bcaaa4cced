//! The one table between llama.cpp's GGUF tensor names (`blk.0.attn_q.weight`) and the Hugging
//! Face names the decoder asks for (`model.layers.0.self_attn.q_proj.weight`), both ways. Shapes
//! need no mapping: [`super::gguf`] already hands them over row-major, as PyTorch holds them.

/// Tensors outside the decoder blocks: (GGUF, Hugging Face).
const GLOBAL: [(&str, &str); 3] = [
    ("token_embd.weight", "model.embed_tokens.weight"),
    ("output_norm.weight", "model.norm.weight"),
    ("output.weight", "lm_head.weight"),
];

/// GGUF's and Hugging Face's prefixes of block `i`'s tensors, before the index.
const BLOCK_PREFIXES: (&str, &str) = ("blk.", "model.layers.");

/// Tensors of one block after the prefix and index: (GGUF, Hugging Face). The biases are
/// Qwen2's (q, k, v) and Llama's `attention_bias` (q, k, v, o).
const PER_BLOCK: [(&str, &str); 13] = [
    ("attn_norm.weight", "input_layernorm.weight"),
    ("attn_q.weight", "self_attn.q_proj.weight"),
    ("attn_k.weight", "self_attn.k_proj.weight"),
    ("attn_v.weight", "self_attn.v_proj.weight"),
    ("attn_output.weight", "self_attn.o_proj.weight"),
    ("attn_q.bias", "self_attn.q_proj.bias"),
    ("attn_k.bias", "self_attn.k_proj.bias"),
    ("attn_v.bias", "self_attn.v_proj.bias"),
    ("attn_output.bias", "self_attn.o_proj.bias"),
    ("ffn_norm.weight", "post_attention_layernorm.weight"),
    ("ffn_gate.weight", "mlp.gate_proj.weight"),
    ("ffn_up.weight", "mlp.up_proj.weight"),
    ("ffn_down.weight", "mlp.down_proj.weight"),
];

/// The Hugging Face name of a GGUF tensor; `None` for tensors the decoder does not read
/// (llama.cpp's `rope_freqs.weight`, say).
pub fn hf_name(gguf: &str) -> Option<String> {
    translate(gguf, |(gguf, hf)| (gguf, hf))
}

/// The GGUF name of a Hugging Face tensor; `None` for names outside the table.
pub fn gguf_name(hf: &str) -> Option<String> {
    translate(hf, |(gguf, hf)| (hf, gguf))
}

/// Puts a (GGUF, Hugging Face) pair in (from, to) order.
type Orient = fn((&'static str, &'static str)) -> (&'static str, &'static str);

/// Maps `name` through the table, each pair oriented (from, to) by `orient`.
fn translate(name: &str, orient: Orient) -> Option<String> {
    if let Some((_, to)) = GLOBAL
        .into_iter()
        .map(orient)
        .find(|&(from, _)| from == name)
    {
        return Some(to.to_owned());
    }
    let (from_prefix, to_prefix) = orient(BLOCK_PREFIXES);
    let (index, suffix) = name.strip_prefix(from_prefix)?.split_once('.')?;
    // Only canonical indices ("3", not "03" or "+3"), so a name maps back to itself.
    let block: usize = index.parse().ok()?;
    if block.to_string() != index {
        return None;
    }
    let (_, to) = PER_BLOCK
        .into_iter()
        .map(orient)
        .find(|&(from, _)| from == suffix)?;
    Some(format!("{to_prefix}{block}.{to}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_maps_both_ways() {
        for (gguf, hf) in GLOBAL {
            assert_eq!(hf_name(gguf).as_deref(), Some(hf));
            assert_eq!(gguf_name(hf).as_deref(), Some(gguf));
        }
        for block in [0, 7, 29] {
            for (gguf, hf) in PER_BLOCK {
                let gguf = format!("blk.{block}.{gguf}");
                let hf = format!("model.layers.{block}.{hf}");
                assert_eq!(hf_name(&gguf), Some(hf.clone()));
                assert_eq!(gguf_name(&hf), Some(gguf));
            }
        }
    }

    #[test]
    fn known_names_map_as_llama_cpp_writes_them() {
        assert_eq!(
            hf_name("blk.12.ffn_down.weight").as_deref(),
            Some("model.layers.12.mlp.down_proj.weight")
        );
        assert_eq!(
            gguf_name("model.layers.3.self_attn.k_proj.bias").as_deref(),
            Some("blk.3.attn_k.bias")
        );
    }

    #[test]
    fn names_outside_the_table_have_no_mapping() {
        for name in [
            "rope_freqs.weight",
            "blk.0.attn_qkv.weight",
            "blk.x.attn_q.weight",
            "blk.03.attn_q.weight",
            "blk.0",
            "model.layers.0.self_attn.rotary_emb.inv_freq",
            "",
        ] {
            assert_eq!(hf_name(name), None, "{name}");
            assert_eq!(gguf_name(name), None, "{name}");
        }
    }
}
