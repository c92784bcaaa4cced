//! Reading the `tokenizer.*` metadata of a GGUF file into a [`Vocab`], with the defaults and
//! checks of llama.cpp's `llama_vocab::impl::load`.

use crate::loader::gguf::{Metadata, MetadataValue};

use super::TokenizerError;
use super::pieces::{self, Encoding};
use super::pre::PreTokenizer;
use super::vocab::{Algorithm, SpecialIds, Token, TokenKind, Vocab};

const MODEL: &str = "tokenizer.ggml.model";
const PRE: &str = "tokenizer.ggml.pre";
const TOKENS: &str = "tokenizer.ggml.tokens";
const TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
const SCORES: &str = "tokenizer.ggml.scores";
const MERGES: &str = "tokenizer.ggml.merges";
const ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
const ADD_EOS: &str = "tokenizer.ggml.add_eos_token";
const ADD_SPACE_PREFIX: &str = "tokenizer.ggml.add_space_prefix";
const BOS_ID: &str = "tokenizer.ggml.bos_token_id";
const EOS_ID: &str = "tokenizer.ggml.eos_token_id";
const CHAT_TEMPLATE: &str = "tokenizer.chat_template";

/// The vocabulary and how it splits words.
pub(super) fn read_vocab(metadata: &Metadata) -> Result<(Vocab, Algorithm), TokenizerError> {
    let model = metadata.str(MODEL)?;
    let (algorithm, encoding, pre) = match model {
        "gpt2" => {
            let pre = match metadata.get(PRE) {
                // llama.cpp warns and falls back to its default regexes.
                None => PreTokenizer::Default,
                Some(_) => {
                    let name = metadata.str(PRE)?;
                    PreTokenizer::from_name(name)
                        .ok_or_else(|| TokenizerError::UnknownPreTokenizer(name.to_string()))?
                }
            };
            let merges = metadata
                .strings(MERGES)?
                .into_iter()
                .map(split_merge)
                .collect::<Result<_, _>>()?;
            (
                Algorithm::ByteLevelBpe { merges },
                Encoding::ByteLevel,
                Some(pre),
            )
        }
        "llama" => (Algorithm::SentencePiece, Encoding::SentencePiece, None),
        other => return Err(TokenizerError::UnknownModel(other.to_string())),
    };

    let texts = metadata.strings(TOKENS)?;
    let kinds = match metadata.get(TOKEN_TYPE) {
        Some(_) => metadata.i32s(TOKEN_TYPE)?,
        None => vec![1; texts.len()],
    };
    if kinds.len() < texts.len() {
        return Err(TokenizerError::InvalidKey {
            key: TOKEN_TYPE,
            value: format!("{} entries", kinds.len()),
            reason: format!("fewer than the {} tokens", texts.len()),
        });
    }
    let scores = scores(metadata, texts.len())?;
    let mut tokens = Vec::with_capacity(texts.len());
    for (id, text) in texts.iter().enumerate() {
        // llama.cpp renames empty entries so that every text maps to one id.
        let text = if text.is_empty() {
            format!("[EMPTY_{id}]")
        } else {
            (*text).to_string()
        };
        let kind = TokenKind::from_gguf(kinds[id]);
        tokens.push(Token {
            piece: pieces::piece(&text, kind, encoding),
            text,
            kind,
            score: scores.get(id).copied().unwrap_or(0.0),
            lstrip: false,
            rstrip: false,
        });
    }
    check_unique(&tokens)?;

    let id = |key: &'static str| -> Result<Option<u32>, TokenizerError> {
        if metadata.get(key).is_none() {
            return Ok(None);
        }
        let value = metadata.u64(key)?;
        match u32::try_from(value) {
            Ok(id) if (id as usize) < tokens.len() => Ok(Some(id)),
            _ => Err(TokenizerError::InvalidKey {
                key,
                value: value.to_string(),
                reason: format!("not an id of the {} tokens", tokens.len()),
            }),
        }
    };
    let flag = |key: &'static str| -> Result<Option<bool>, TokenizerError> {
        match metadata.get(key) {
            None => Ok(None),
            Some(_) => Ok(Some(metadata.bool(key)?)),
        }
    };
    let special = SpecialIds {
        eot: id("tokenizer.ggml.eot_token_id")?,
        eom: id("tokenizer.ggml.eom_token_id")?,
        fim_pre: id("tokenizer.ggml.fim_pre_token_id")?.or(id("tokenizer.ggml.prefix_token_id")?),
        fim_suf: id("tokenizer.ggml.fim_suf_token_id")?.or(id("tokenizer.ggml.suffix_token_id")?),
        fim_mid: id("tokenizer.ggml.fim_mid_token_id")?.or(id("tokenizer.ggml.middle_token_id")?),
        fim_pad: id("tokenizer.ggml.fim_pad_token_id")?,
        fim_rep: id("tokenizer.ggml.fim_rep_token_id")?,
        fim_sep: id("tokenizer.ggml.fim_sep_token_id")?,
    };
    // llama.cpp's defaults per family: SentencePiece vocabularies start prompts with BOS and
    // put a space in front of the text; byte-level ones only for the Llama 3 family.
    let spm = matches!(algorithm, Algorithm::SentencePiece);
    let add_bos =
        flag(ADD_BOS)?.unwrap_or(spm || pre.is_some_and(PreTokenizer::adds_bos_by_default));
    let mut vocab = Vocab {
        bos: id(BOS_ID)?,
        eos: id(EOS_ID)?,
        add_bos,
        add_eos: flag(ADD_EOS)?.unwrap_or(false),
        add_space_prefix: spm && flag(ADD_SPACE_PREFIX)?.unwrap_or(true),
        end_of_generation: Vec::new(),
        chat_template: match metadata.get(CHAT_TEMPLATE) {
            None => None,
            Some(_) => Some(metadata.str(CHAT_TEMPLATE)?.to_string()),
        },
        pre,
        tokens,
    };
    vocab.resolve_special_tokens(special);
    Ok((vocab, algorithm))
}

/// A merge rule `"left right"`, split at the first space after the first character as
/// llama.cpp does (`word.find(' ', 1)`), so a left side that is itself a space survives.
fn split_merge(rule: &str) -> Result<(String, String), TokenizerError> {
    let first = rule.chars().next().map_or(0, char::len_utf8);
    let position = rule[first..]
        .find(' ')
        .ok_or_else(|| TokenizerError::InvalidKey {
            key: MERGES,
            value: format!("{rule:?}"),
            reason: "a merge rule needs a space between its two sides".to_string(),
        })?;
    let split = first + position;
    Ok((rule[..split].to_string(), rule[split + 1..].to_string()))
}

/// `tokenizer.ggml.scores` (f32 or i32, as llama.cpp accepts), or none.
fn scores(metadata: &Metadata, count: usize) -> Result<Vec<f32>, TokenizerError> {
    let Some(value) = metadata.get(SCORES) else {
        return Ok(Vec::new());
    };
    let invalid = |reason: String| TokenizerError::InvalidKey {
        key: SCORES,
        value: value.type_name(),
        reason,
    };
    let MetadataValue::Array(items) = value else {
        return Err(invalid("not an array of numbers".to_string()));
    };
    if items.len() < count {
        return Err(invalid(format!("fewer than the {count} tokens")));
    }
    items
        .iter()
        .map(|item| match item {
            MetadataValue::F32(score) => Ok(*score),
            MetadataValue::I32(score) => Ok(*score as f32),
            _ => Err(invalid("not an array of f32 or i32".to_string())),
        })
        .collect()
}

/// llama.cpp asserts that no two ids share a text; here it is an error naming both.
fn check_unique(tokens: &[Token]) -> Result<(), TokenizerError> {
    let mut seen = std::collections::HashMap::with_capacity(tokens.len());
    for (id, token) in tokens.iter().enumerate() {
        if let Some(first) = seen.insert(token.text.as_str(), id) {
            return Err(TokenizerError::InvalidKey {
                key: TOKENS,
                value: format!("{:?}", token.text),
                reason: format!("appears at ids {first} and {id}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_split_at_the_first_space_after_the_first_character() {
        let split = |rule: &str| split_merge(rule).unwrap();
        assert_eq!(split("Ġ t"), ("Ġ".to_string(), "t".to_string()));
        assert_eq!(split("Ġt he"), ("Ġt".to_string(), "he".to_string()));
        // A left side that is a space (SentencePiece-style merges written raw).
        assert_eq!(split("  a"), (" ".to_string(), "a".to_string()));
        assert!(split_merge("ab").is_err());
        assert!(split_merge("").is_err());
    }
}
