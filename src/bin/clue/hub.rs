//! The BERT models CLUE prescribes for BERTScore, by the names the page offers them under
//! (`scibert`, `bio-clinicalbert`, or their hub ids): fetched once from the Hugging Face hub into
//! its standard cache — `$HF_HOME/hub`, by default `~/.cache/huggingface/hub`, shared with
//! transformers and `bert_score` — and read from it afterwards without the network. `HF_ENDPOINT`
//! points at a mirror (the tests point it at a local server). A local directory of the same name
//! always wins over the hub.

use hf_hub::Cache;
use hf_hub::api::sync::{ApiBuilder, ApiError};

/// A prescribed model: its short name, hub id, the directory name results record, and the
/// layer CLUE reads.
pub struct HubBert {
    pub short: &'static str,
    pub repo: &'static str,
    pub name: &'static str,
    pub layer: usize,
}

/// SciBERT (layer 8) and Bio_ClinicalBERT (layer 9), as `prescribed_bert` names them.
pub const PRESCRIBED: [HubBert; 2] = [
    HubBert {
        short: "scibert",
        repo: "allenai/scibert_scivocab_uncased",
        name: "scibert_scivocab_uncased",
        layer: 8,
    },
    HubBert {
        short: "bio-clinicalbert",
        repo: "emilyalsentzer/Bio_ClinicalBERT",
        name: "Bio_ClinicalBERT",
        layer: 9,
    },
];

/// The prescribed model `given` names (its short name or hub id, any case).
pub fn find(given: &str) -> Option<&'static HubBert> {
    PRESCRIBED.iter().find(|model| {
        given.eq_ignore_ascii_case(model.short) || given.eq_ignore_ascii_case(model.repo)
    })
}

/// What the BERT loader reads, each group one file of its alternatives (the hub's SciBERT and
/// Bio_ClinicalBERT have vocab.txt and pytorch_model.bin only), and whether it is required.
const FILES: [(&[&str], bool); 4] = [
    (&["config.json"], true),
    (&["tokenizer.json", "vocab.txt"], true),
    (&["tokenizer_config.json"], false),
    (&["model.safetensors", "pytorch_model.bin"], true),
];

/// The model's files, from the cache or else fetched into it: `(name, bytes)` as the loader
/// takes them.
pub fn fetch(model: &HubBert) -> Result<Vec<(String, Vec<u8>)>, String> {
    let cache = Cache::from_env().model(model.repo.to_string());
    let api = ApiBuilder::from_env()
        .with_progress(true)
        .build()
        .map_err(|e| format!("{}: the hub client: {e}", model.repo))?;
    let remote = api.model(model.repo.to_string());
    // Once config.json is in the cache the model was fetched before: an optional file the hub
    // lacked then is not asked for again, so later runs need no network at all.
    let fetched_before = cache.get("config.json").is_some();
    let mut files = Vec::new();
    for (alternatives, required) in FILES {
        // The cache first, for every alternative: a file the hub lacks is not asked for again.
        let mut path = alternatives
            .iter()
            .find_map(|name| cache.get(name).map(|p| (name, p)));
        if path.is_none() && (required || !fetched_before) {
            for name in alternatives {
                match remote.download(name) {
                    Ok(found) => {
                        path = Some((name, found));
                        break;
                    }
                    Err(ApiError::RequestError(error))
                        if matches!(*error, ureq::Error::Status(404, _)) => {}
                    Err(error) => {
                        return Err(format!(
                            "{}: fetching {name} from {}: {error}",
                            model.repo,
                            endpoint()
                        ));
                    }
                }
            }
        }
        match path {
            Some((name, path)) => {
                let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                files.push((name.to_string(), bytes));
            }
            None if required => {
                return Err(format!(
                    "{}: the hub at {} has none of {}",
                    model.repo,
                    endpoint(),
                    alternatives.join(", ")
                ));
            }
            None => {}
        }
    }
    Ok(files)
}

fn endpoint() -> String {
    std::env::var("HF_ENDPOINT").unwrap_or_else(|_| "https://huggingface.co".into())
}
