//! BERTScore (Zhang et al. 2020, arXiv 1904.09675) exactly as the `bert_score` package 0.3.13
//! computes it with idf off and no baseline rescaling (see tests/golden/bertscore/NOTES.md):
//! each text is encoded `[CLS] … [SEP]` (at most `model_max_length` tokens), run through a BERT
//! encoder to layer L, every token vector L2-normalised; precision is the mean over the
//! candidate's tokens of the best cosine with any reference token, recall the reverse, F1 their
//! harmonic mean. `[CLS]`/`[SEP]` weigh 0 in the means but stay as match targets.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::loader::pytorch::{PYTORCH_FILE, PytorchWeights};
use crate::loader::safetensors::{INDEX_FILE, SafetensorsWeights};
use crate::loader::tokenizer::{WordPieceSettings, wordpiece_tokenizer};
use crate::loader::weights::WeightSource;
use crate::model::{Backend, Bert, BertConfig, LoadError, ModelError};

/// `bert_score`'s batch size: its padding leaks into the matching within a batch of this many
/// consecutive pairs (see [`BertScoreOptions::reproduce_batch_padding`]).
pub const BERT_SCORE_BATCH: usize = 64;

/// Precision, recall and F1 of one candidate against one reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BertScore {
    /// Mean best match of the candidate's tokens.
    pub precision: f64,
    /// Mean best match of the reference's tokens.
    pub recall: f64,
    /// `2PR / (P + R)`; 0 where that is undefined.
    pub f1: f64,
}

impl BertScore {
    const ZERO: BertScore = BertScore {
        precision: 0.0,
        recall: 0.0,
        f1: 0.0,
    };
}

/// How the matching is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BertScoreOptions {
    /// `bert_score` pads each batch of 64 pairs and lets the padded positions (similarity 0)
    /// take part in the best-match maximum, so a token whose best cosine is negative scores 0
    /// when the other text is shorter than the longest of its side in the batch. On by default:
    /// the published numbers were computed so (the effect is below 4e-4 on MeQSum).
    pub reproduce_batch_padding: bool,
}

impl Default for BertScoreOptions {
    fn default() -> BertScoreOptions {
        BertScoreOptions {
            reproduce_batch_padding: true,
        }
    }
}

/// One encoded text: its L2-normalised token vectors and which tokens are averaged.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedText {
    /// `[len, hidden]`, row-major, each row of unit length.
    pub vectors: Vec<f32>,
    /// Per token: whether it counts in the means (`false` for `[CLS]`/`[SEP]`).
    pub weighted: Vec<bool>,
}

impl EmbeddedText {
    /// Normalises the hidden states of one text (`[len, hidden]`).
    pub fn new(mut states: Vec<f32>, weighted: Vec<bool>) -> EmbeddedText {
        let len = weighted.len().max(1);
        let hidden = states.len() / len;
        for row in states.chunks_mut(hidden.max(1)) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            row.iter_mut().for_each(|v| *v /= norm);
        }
        EmbeddedText {
            vectors: states,
            weighted,
        }
    }

    fn len(&self) -> usize {
        self.weighted.len()
    }

    /// Empty as `bert_score` sees it: nothing between `[CLS]` and `[SEP]`.
    fn is_empty(&self) -> bool {
        self.len() <= 2
    }

    fn row(&self, i: usize) -> &[f32] {
        let hidden = self.vectors.len() / self.len();
        &self.vectors[i * hidden..(i + 1) * hidden]
    }
}

/// Mean over `from`'s weighted tokens of the best cosine with any token of `to`, each best
/// raised to at least `floor`.
fn mean_best_match(from: &EmbeddedText, to: &EmbeddedText, floor: Option<f32>) -> f64 {
    let mut total = 0.0;
    let mut count = 0usize;
    for i in (0..from.len()).filter(|&i| from.weighted[i]) {
        let a = from.row(i);
        let mut best = (0..to.len())
            .map(|j| a.iter().zip(to.row(j)).map(|(x, y)| x * y).sum::<f32>())
            .fold(f32::NEG_INFINITY, f32::max);
        if let Some(floor) = floor {
            best = best.max(floor);
        }
        total += f64::from(best);
        count += 1;
    }
    if count == 0 {
        f64::NAN
    } else {
        total / count as f64
    }
}

/// Scores candidate `i` against reference `i` for every pair.
pub fn score_pairs(
    candidates: &[&EmbeddedText],
    references: &[&EmbeddedText],
    options: BertScoreOptions,
) -> Vec<BertScore> {
    let mut out = Vec::with_capacity(candidates.len());
    let batch = if options.reproduce_batch_padding {
        BERT_SCORE_BATCH
    } else {
        usize::MAX
    };
    for (cands, refs) in candidates.chunks(batch).zip(references.chunks(batch)) {
        let longest_ref = refs.iter().map(|r| r.len()).max().unwrap_or(0);
        let longest_cand = cands.iter().map(|c| c.len()).max().unwrap_or(0);
        for (cand, reference) in cands.iter().zip(refs) {
            if cand.is_empty() || reference.is_empty() {
                out.push(BertScore::ZERO);
                continue;
            }
            let padded = |len: usize, longest: usize| {
                (options.reproduce_batch_padding && len < longest).then_some(0.0)
            };
            let precision = mean_best_match(cand, reference, padded(reference.len(), longest_ref));
            let recall = mean_best_match(reference, cand, padded(cand.len(), longest_cand));
            let f1 = 2.0 * precision * recall / (precision + recall);
            out.push(BertScore {
                precision: if precision.is_nan() { 0.0 } else { precision },
                recall: if recall.is_nan() { 0.0 } else { recall },
                f1: if f1.is_nan() { 0.0 } else { f1 },
            });
        }
    }
    out
}

/// The parts of `tokenizer_config.json` BERTScore reads.
#[derive(Default, Deserialize)]
struct TokenizerConfig {
    #[serde(default)]
    model_max_length: Option<f64>,
    #[serde(default)]
    cls_token: Option<serde_json::Value>,
    #[serde(default)]
    sep_token: Option<serde_json::Value>,
    #[serde(default)]
    unk_token: Option<serde_json::Value>,
    #[serde(default)]
    pad_token: Option<serde_json::Value>,
    #[serde(default)]
    mask_token: Option<serde_json::Value>,
    #[serde(default)]
    do_lower_case: Option<bool>,
    #[serde(default)]
    strip_accents: Option<bool>,
    #[serde(default)]
    tokenize_chinese_chars: Option<bool>,
}

impl TokenizerConfig {
    /// The settings a `vocab.txt` tokenizer is built with (transformers' defaults where unset).
    fn wordpiece(&self) -> WordPieceSettings {
        let defaults = WordPieceSettings::default();
        WordPieceSettings {
            lowercase: self.do_lower_case.unwrap_or(defaults.lowercase),
            strip_accents: self.strip_accents,
            chinese_chars: self
                .tokenize_chinese_chars
                .unwrap_or(defaults.chinese_chars),
            unk: token_text(self.unk_token.as_ref(), &defaults.unk),
            sep: token_text(self.sep_token.as_ref(), &defaults.sep),
            pad: token_text(self.pad_token.as_ref(), &defaults.pad),
            cls: token_text(self.cls_token.as_ref(), &defaults.cls),
            mask: token_text(self.mask_token.as_ref(), &defaults.mask),
        }
    }
}

/// A token named in `tokenizer_config.json`, as a string or an `AddedToken` object.
fn token_text(value: Option<&serde_json::Value>, default: &str) -> String {
    match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Object(o)) => o
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or(default)
            .to_owned(),
        _ => default.to_owned(),
    }
}

/// A BERT model, its tokenizer and the layer BERTScore reads.
pub struct BertScorer {
    model: Bert,
    tokenizer: tokenizers::Tokenizer,
    special: [u32; 2],
    backend: Backend,
    /// The model directory's name, for the run record.
    pub model_name: String,
    /// The layer whose hidden states are compared (0: the embeddings).
    pub layer: usize,
}

impl BertScorer {
    /// Builds the scorer from a Hugging Face directory's files (name, bytes): `config.json`,
    /// `tokenizer.json` or `vocab.txt` with the optional `tokenizer_config.json`, and
    /// `model.safetensors` (or its shards) or `pytorch_model.bin`; only the first `layer`
    /// encoder layers are loaded, on `backend`.
    pub async fn from_hf_directory(
        directory: &str,
        files: &[(String, Vec<u8>)],
        layer: usize,
        backend: Backend,
    ) -> Result<BertScorer, LoadError> {
        let base = |name: &str| name.rsplit(['/', '\\']).next().unwrap_or(name).to_owned();
        let file = |wanted: &str| {
            files
                .iter()
                .find(|(name, _)| base(name) == wanted)
                .map(|(_, bytes)| bytes.as_slice())
        };
        let directory_error = |message: String| LoadError::Directory {
            directory: directory.to_owned(),
            message,
        };
        let required = |wanted: &str| {
            file(wanted).ok_or_else(|| directory_error(format!("{wanted} is missing")))
        };
        let model_error = |source: ModelError| LoadError::Model {
            file: directory.to_owned(),
            source,
        };
        let config = BertConfig::from_json(required("config.json")?).map_err(model_error)?;
        let settings: TokenizerConfig = match file("tokenizer_config.json") {
            Some(bytes) => serde_json::from_slice(bytes)
                .map_err(|e| directory_error(format!("tokenizer_config.json: {e}")))?,
            None => TokenizerConfig::default(),
        };
        let mut tokenizer = match (file("tokenizer.json"), file("vocab.txt")) {
            (Some(json), _) => tokenizers::Tokenizer::from_bytes(json)
                .map_err(|e| directory_error(format!("tokenizer.json: {e}")))?,
            (None, Some(vocab)) => wordpiece_tokenizer(vocab, &settings.wordpiece())
                .map_err(|e| directory_error(format!("vocab.txt: {e}")))?,
            (None, None) => {
                return Err(directory_error(
                    "tokenizer.json (or vocab.txt) is missing".into(),
                ));
            }
        };
        // `bert_score` truncates to the tokenizer's `model_max_length`; transformers' "no limit"
        // sentinel (1e30) and anything past the position table fall back to the table's size.
        let max_length = settings
            .model_max_length
            .filter(|&n| n >= 3.0 && n <= config.max_position_embeddings as f64)
            .map_or(config.max_position_embeddings, |n| n as usize);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(|e| directory_error(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        let special_id = |text: String| {
            tokenizer
                .token_to_id(&text)
                .ok_or_else(|| directory_error(format!("tokenizer.json has no {text} token")))
        };
        let special = [
            special_id(token_text(settings.cls_token.as_ref(), "[CLS]"))?,
            special_id(token_text(settings.sep_token.as_ref(), "[SEP]"))?,
        ];
        // As transformers, safetensors first, then the PyTorch checkpoint.
        let weight_files: Vec<(&str, &[u8])> = files
            .iter()
            .filter(|(name, _)| name.ends_with(".safetensors"))
            .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
            .collect();
        let weights: Box<dyn WeightSource + '_> = if !weight_files.is_empty() {
            Box::new(
                SafetensorsWeights::new(&weight_files, file(INDEX_FILE))
                    .map_err(|e| directory_error(e.to_string()))?,
            )
        } else if let Some(bytes) = file(PYTORCH_FILE) {
            Box::new(PytorchWeights::new(PYTORCH_FILE, bytes).map_err(directory_error)?)
        } else {
            return Err(directory_error(format!(
                "model.safetensors (or {PYTORCH_FILE}) is missing"
            )));
        };
        let device = crate::model::open(backend).await?;
        let model = Bert::load(&config, weights.as_ref(), layer, &device).map_err(model_error)?;
        Ok(BertScorer {
            model,
            tokenizer,
            special,
            backend,
            model_name: directory.to_owned(),
            layer,
        })
    }

    /// The ids of a text as `bert_score` encodes it: stripped, `[CLS] … [SEP]`, truncated.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LoadError> {
        let encoding =
            self.tokenizer
                .encode(text.trim(), true)
                .map_err(|e| LoadError::Directory {
                    directory: self.model_name.clone(),
                    message: format!("tokenizer: {e}"),
                })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The texts' token vectors from the scorer's layer, L2-normalised, as BERTScore matches them.
    pub async fn embed(&self, texts: &[&str]) -> Result<Vec<EmbeddedText>, LoadError> {
        let ids: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<_, _>>()?;
        let states = self
            .model
            .hidden_states(self.backend, &ids)
            .await
            .map_err(|source| LoadError::Model {
                file: self.model_name.clone(),
                source,
            })?;
        Ok(states
            .into_iter()
            .zip(&ids)
            .map(|(states, ids)| {
                EmbeddedText::new(
                    states,
                    ids.iter().map(|id| !self.special.contains(id)).collect(),
                )
            })
            .collect())
    }

    /// BERTScore of each candidate against the reference at the same index.
    pub async fn score(
        &self,
        candidates: &[&str],
        references: &[&str],
        options: BertScoreOptions,
    ) -> Result<Vec<BertScore>, LoadError> {
        if candidates.len() != references.len() {
            return Err(LoadError::Model {
                file: self.model_name.clone(),
                source: ModelError::Settings {
                    field: "references",
                    message: format!(
                        "{} candidates but {} references",
                        candidates.len(),
                        references.len()
                    ),
                },
            });
        }
        // Each distinct text is encoded once.
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut texts: Vec<&str> = Vec::new();
        for text in candidates.iter().chain(references) {
            index.entry(text).or_insert_with(|| {
                texts.push(text);
                texts.len() - 1
            });
        }
        let embedded = self.embed(&texts).await?;
        let pick = |texts: &[&str]| -> Vec<&EmbeddedText> {
            texts.iter().map(|t| &embedded[index[t]]).collect()
        };
        Ok(score_pairs(&pick(candidates), &pick(references), options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[[f32; 2]]) -> EmbeddedText {
        let mut weighted = vec![true; rows.len()];
        weighted[0] = false;
        *weighted.last_mut().unwrap() = false;
        EmbeddedText::new(rows.concat(), weighted)
    }

    #[test]
    fn identical_texts_score_one_and_specials_are_targets_not_averaged() {
        let a = text(&[[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [1.0, 0.0]]);
        let s = score_pairs(&[&a], &[&a], BertScoreOptions::default())[0];
        assert!((s.f1 - 1.0).abs() < 1e-6, "{s:?}");
        // The candidate's only weighted token matches the reference's [CLS] perfectly.
        let cand = text(&[[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]);
        let reference = text(&[[1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 0.0]]);
        let s = score_pairs(&[&cand], &[&reference], BertScoreOptions::default())[0];
        assert!((s.precision - 1.0).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn empty_texts_score_zero() {
        let empty = text(&[[1.0, 0.0], [0.0, 1.0]]);
        let full = text(&[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]);
        let scores = score_pairs(
            &[&empty, &full],
            &[&full, &empty],
            BertScoreOptions::default(),
        );
        assert_eq!(scores, vec![BertScore::ZERO, BertScore::ZERO]);
    }

    #[test]
    fn batch_padding_raises_negative_best_matches_only_when_shorter() {
        // The candidate's token points away from every reference token: best cosine -1.
        let cand = text(&[[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]]);
        let short = text(&[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]);
        let long = text(&[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]);
        let quirk = BertScoreOptions::default();
        let exact = BertScoreOptions {
            reproduce_batch_padding: false,
        };
        let with = score_pairs(&[&cand, &cand], &[&short, &long], quirk);
        assert_eq!(with[0].precision, 0.0, "padded to the longer reference");
        assert_eq!(
            with[1].precision, -1.0,
            "the longest reference is not padded"
        );
        let without = score_pairs(&[&cand, &cand], &[&short, &long], exact);
        assert_eq!(without[0].precision, -1.0);
    }
}
