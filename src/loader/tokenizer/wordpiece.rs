//! BERT tokenizers from `vocab.txt` alone, as many hub models ship them (SciBERT and
//! Bio_ClinicalBERT have no `tokenizer.json`). transformers then converts its slow
//! `BertTokenizer` to a fast one (`convert_slow_tokenizer.BertConverter`); this builds the same
//! `tokenizer.json` (WordPiece model, BERT normaliser and pre-tokeniser, `[CLS] … [SEP]`
//! post-processor, the special tokens added) and hands it to the `tokenizers` crate.

use serde_json::{Map, Value, json};

/// The `tokenizer_config.json` settings of a slow BERT tokenizer, with transformers' defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct WordPieceSettings {
    /// `do_lower_case` (default true, also for the cased Bio_ClinicalBERT: transformers' default).
    pub lowercase: bool,
    /// `strip_accents` (default: as `lowercase`).
    pub strip_accents: Option<bool>,
    /// `tokenize_chinese_chars` (default true).
    pub chinese_chars: bool,
    /// `unk_token`: what a word without pieces becomes.
    pub unk: String,
    /// `sep_token`: ends the text.
    pub sep: String,
    /// `pad_token`.
    pub pad: String,
    /// `cls_token`: starts the text.
    pub cls: String,
    /// `mask_token`.
    pub mask: String,
}

impl Default for WordPieceSettings {
    fn default() -> WordPieceSettings {
        WordPieceSettings {
            lowercase: true,
            strip_accents: None,
            chinese_chars: true,
            unk: "[UNK]".into(),
            sep: "[SEP]".into(),
            pad: "[PAD]".into(),
            cls: "[CLS]".into(),
            mask: "[MASK]".into(),
        }
    }
}

/// The tokenizer `vocab.txt` (one token per line, its id the line number) describes, or what
/// is wrong with the file.
pub fn wordpiece_tokenizer(
    vocab: &[u8],
    settings: &WordPieceSettings,
) -> Result<tokenizers::Tokenizer, String> {
    let text = std::str::from_utf8(vocab).map_err(|e| format!("not UTF-8 text: {e}"))?;
    // As transformers' `load_vocab`: lines without their "\n"; a later duplicate wins.
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    if lines.is_empty() {
        return Err("holds no tokens".into());
    }
    let mut ids = Map::new();
    for (id, token) in lines.iter().enumerate() {
        ids.insert((*token).to_owned(), json!(id));
    }
    let id_of = |token: &str, field: &str| {
        ids.get(token)
            .cloned()
            .ok_or_else(|| format!("has no {token} token (the {field})"))
    };
    let cls = id_of(&settings.cls, "cls_token")?;
    let sep = id_of(&settings.sep, "sep_token")?;
    id_of(&settings.unk, "unk_token")?;
    // Special tokens are matched before normalisation, so "[SEP]" in a text stays one token.
    let mut added: Vec<(u64, &str)> = [
        &settings.pad,
        &settings.unk,
        &settings.cls,
        &settings.sep,
        &settings.mask,
    ]
    .into_iter()
    .filter_map(|token| Some((ids.get(token.as_str())?.as_u64()?, token.as_str())))
    .collect();
    added.sort();
    added.dedup();
    let added_tokens: Vec<Value> = added
        .iter()
        .map(|(id, content)| {
            json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let definition = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added_tokens,
        "normalizer": {
            "type": "BertNormalizer",
            "clean_text": true,
            "handle_chinese_chars": settings.chinese_chars,
            "strip_accents": settings.strip_accents,
            "lowercase": settings.lowercase,
        },
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "BertProcessing",
            "sep": [settings.sep, sep],
            "cls": [settings.cls, cls],
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {
            "type": "WordPiece",
            "unk_token": settings.unk,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": ids,
        },
    });
    tokenizers::Tokenizer::from_bytes(definition.to_string().as_bytes()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOCAB: &str = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nchest\npain\n##s\n,\nthe\n";

    fn ids(tokenizer: &tokenizers::Tokenizer, text: &str) -> Vec<u32> {
        tokenizer.encode(text, true).unwrap().get_ids().to_vec()
    }

    #[test]
    fn splits_words_into_pieces_and_lowercases() {
        let t = wordpiece_tokenizer(VOCAB.as_bytes(), &WordPieceSettings::default()).unwrap();
        assert_eq!(ids(&t, "Chest PAINS, the"), [2, 5, 6, 7, 8, 9, 3]);
        assert_eq!(ids(&t, "fever"), [2, 1, 3], "an unknown word is one [UNK]");
        assert_eq!(ids(&t, "the [SEP] chest"), [2, 9, 3, 5, 3]);
    }

    #[test]
    fn cased_models_keep_case() {
        let cased = WordPieceSettings {
            lowercase: false,
            ..WordPieceSettings::default()
        };
        let t = wordpiece_tokenizer(VOCAB.as_bytes(), &cased).unwrap();
        assert_eq!(ids(&t, "Chest chest"), [2, 1, 5, 3]);
    }

    #[test]
    fn a_vocabulary_without_its_special_tokens_is_refused() {
        for (vocab, wanted) in [
            ("", "holds no tokens"),
            ("[UNK]\n[SEP]\nchest\n", "[CLS]"),
            ("[CLS]\n[SEP]\nchest\n", "[UNK]"),
        ] {
            let e =
                wordpiece_tokenizer(vocab.as_bytes(), &WordPieceSettings::default()).unwrap_err();
            assert!(e.contains(wanted), "{vocab:?}: {e}");
        }
        let e = wordpiece_tokenizer(&[0xff, 0xfe], &WordPieceSettings::default()).unwrap_err();
        assert!(e.contains("UTF-8"), "{e}");
    }
}
