//! Models offered by name: a short list of small instruct models, one GGUF file each on
//! Hugging Face with its size, SHA-256 (where known), licence, whether the repository is gated,
//! and what it needs. The list is `www/known-models.json`, which the page reads too, so the page
//! and `clue eval --model NAME` name the same files.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// One model of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownModel {
    /// The name the page shows and `--model` takes.
    pub name: String,
    /// Whether it is the model served with the page.
    #[serde(default)]
    pub default: bool,
    /// Where the file is fetched from (relative to the page for the served default).
    pub url: String,
    /// The file's name.
    pub file: String,
    /// Its quantization, as the file name says.
    pub quantization: String,
    /// Its size in bytes, where known.
    pub bytes: Option<u64>,
    /// Its SHA-256, lower-case hex, where known.
    pub sha256: Option<String>,
    /// Its licence.
    pub licence: String,
    /// Whether the repository asks for a login and accepted terms (then a browser cannot fetch
    /// it, and the file must be chosen locally).
    pub gated: bool,
    /// llama.cpp's architecture name.
    pub architecture: String,
    /// Approximate number of parameters.
    pub parameters: u64,
    /// The context the model was trained for.
    pub context: u64,
    /// Bytes of f32 keys and values per position.
    pub kv_bytes_per_position: u64,
    /// The repository and anything to know about it.
    pub source: String,
}

#[derive(Deserialize)]
struct KnownModels {
    models: Vec<KnownModel>,
}

/// Every model of the list, in its order.
pub fn known_models() -> &'static [KnownModel] {
    static MODELS: OnceLock<Vec<KnownModel>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let list: KnownModels = serde_json::from_str(include_str!("../../www/known-models.json"))
            .expect("www/known-models.json is valid (checked by its test)");
        list.models
    })
}

/// The model called `name` (case-insensitive).
pub fn known_model(name: &str) -> Option<&'static KnownModel> {
    known_models()
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_reads_and_is_consistent() {
        let models = known_models();
        assert!(models.len() >= 9);
        assert_eq!(models.iter().filter(|m| m.default).count(), 1);
        for model in models {
            assert!(
                model.url.ends_with(&model.file),
                "{}: url and file",
                model.name
            );
            assert!(
                crate::model::Architecture::from_gguf_name(&model.architecture).is_some(),
                "{}: an architecture the runtime computes",
                model.name
            );
            if let Some(sha) = &model.sha256 {
                assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
            }
            assert!(model.gated || model.bytes.is_some(), "{}: size", model.name);
        }
        for name in [
            "SmolLM2-360M-Instruct",
            "SmolLM2-1.7B-Instruct",
            "Qwen2.5-0.5B-Instruct",
            "Qwen2.5-1.5B-Instruct",
            "Qwen3-0.6B",
            "Qwen3-1.7B",
            "Llama-3.2-1B-Instruct",
            "Gemma-3-1B-it",
        ] {
            assert!(known_model(name).is_some(), "{name}");
        }
        assert_eq!(known_model("qwen3-0.6b").unwrap().name, "Qwen3-0.6B");
    }
}
