//! Reading a Hugging Face `tokenizer.json` (BPE, byte-level or SentencePiece-style) and the
//! optional `tokenizer_config.json` beside it into a [`Vocab`] and its `tokenizers` pipeline.

use serde_json::Value;

use super::TokenizerError;
use super::pieces::{self, Encoding};
use super::vocab::{SpecialIds, Token, TokenKind, Vocab};

const TOKENIZER_JSON: &str = "tokenizer.json";
const CONFIG_JSON: &str = "tokenizer_config.json";

fn invalid(file: &'static str, reason: impl Into<String>) -> TokenizerError {
    TokenizerError::InvalidFile {
        file,
        reason: reason.into(),
    }
}

/// Reads both files; the pipeline is the one `tokenizer.json` describes.
pub(super) fn read(
    tokenizer_json: &[u8],
    config_json: Option<&[u8]>,
) -> Result<(Vocab, tokenizers::Tokenizer), TokenizerError> {
    let document: Value = serde_json::from_slice(tokenizer_json)
        .map_err(|error| invalid(TOKENIZER_JSON, format!("not valid JSON: {error}")))?;
    let model_type = document.pointer("/model/type").and_then(Value::as_str);
    if model_type != Some("BPE") {
        return Err(invalid(
            TOKENIZER_JSON,
            format!(
                "model.type is {}; only BPE models are supported",
                model_type.map_or("missing".to_string(), |kind| format!("\"{kind}\""))
            ),
        ));
    }
    let encoding = piece_encoding(&document)?;
    let mut backend = tokenizers::Tokenizer::from_bytes(tokenizer_json)
        .map_err(|error| invalid(TOKENIZER_JSON, error.to_string()))?;
    // The caller decides what a prompt holds: no truncation, padding or template here.
    backend
        .with_truncation(None)
        .map_err(|error| invalid(TOKENIZER_JSON, error.to_string()))?;
    backend.with_padding(None);

    let mut tokens = vocabulary(&backend)?;
    for added in document
        .get("added_tokens")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        mark_added_token(&mut tokens, added)?;
    }
    for token in &mut tokens {
        if encoding == Encoding::SentencePiece
            && token.kind == TokenKind::Normal
            && pieces::byte_token(&token.text).is_some()
        {
            token.kind = TokenKind::Byte;
        }
    }

    let config = match config_json {
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|error| invalid(CONFIG_JSON, format!("not valid JSON: {error}")))?,
        None => Value::Null,
    };
    let token_id = |name: &str| -> Result<Option<u32>, TokenizerError> {
        let content = match config.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(content)) => content.as_str(),
            Some(other) => other
                .get("content")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        CONFIG_JSON,
                        format!("{name} is neither a string nor has a \"content\""),
                    )
                })?,
        };
        backend.token_to_id(content).map(Some).ok_or_else(|| {
            invalid(
                CONFIG_JSON,
                format!("{name} \"{content}\" is not in the vocabulary"),
            )
        })
    };
    let flag = |name: &str| -> Result<Option<bool>, TokenizerError> {
        match config.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(other) => Err(invalid(
                CONFIG_JSON,
                format!("{name} is {other}, not true or false"),
            )),
        }
    };
    let template_bos = template_bos(&document, &backend);
    let bos = token_id("bos_token")?.or(template_bos);
    let add_bos = flag("add_bos_token")?.unwrap_or(template_bos.is_some());
    let add_eos = flag("add_eos_token")?.unwrap_or(false);

    for token in &mut tokens {
        token.piece = pieces::piece(&token.text, token.kind, encoding);
    }
    let mut vocab = Vocab {
        tokens,
        pre: None,
        bos,
        eos: token_id("eos_token")?,
        add_bos,
        add_eos,
        add_space_prefix: encoding == Encoding::SentencePiece && prepends_space_mark(&document),
        end_of_generation: Vec::new(),
        chat_template: chat_template(&config)?,
    };
    vocab.resolve_special_tokens(SpecialIds::default());
    Ok((vocab, backend))
}

/// Every id from 0 up, with its entry; added tokens are refined by [`mark_added_token`].
fn vocabulary(backend: &tokenizers::Tokenizer) -> Result<Vec<Token>, TokenizerError> {
    let entries = backend.get_vocab(true);
    let size = entries.values().max().map_or(0, |&max| max as usize + 1);
    // Every id below the largest must have its token, so a largest id beyond the number of
    // tokens leaves one out: say which before making room for them all (an id of 655,555,255
    // in a 1 KB file asked for 15 GB here; found by the tokenizer fuzz target).
    if size > entries.len() {
        let mut ids: Vec<u32> = entries.values().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        let missing = ids
            .iter()
            .zip(0u32..)
            .find(|(id, expected)| *id != expected)
            .map_or(ids.len() as u32, |(_, expected)| expected);
        return Err(invalid(
            TOKENIZER_JSON,
            format!("no token has id {missing}"),
        ));
    }
    let mut texts: Vec<Option<String>> = vec![None; size];
    for (text, id) in entries {
        texts[id as usize] = Some(text);
    }
    texts
        .into_iter()
        .enumerate()
        .map(|(id, text)| {
            let text =
                text.ok_or_else(|| invalid(TOKENIZER_JSON, format!("no token has id {id}")))?;
            Ok(Token {
                text,
                kind: TokenKind::Normal,
                piece: Vec::new(),
                score: 0.0,
                lstrip: false,
                rstrip: false,
            })
        })
        .collect()
}

/// Applies one `added_tokens` entry: special ones are control tokens, the others user-defined.
fn mark_added_token(tokens: &mut [Token], added: &Value) -> Result<(), TokenizerError> {
    let id = added.get("id").and_then(Value::as_u64).ok_or_else(|| {
        invalid(
            TOKENIZER_JSON,
            format!("added_tokens entry without an id: {added}"),
        )
    })?;
    let token = usize::try_from(id)
        .ok()
        .and_then(|id| tokens.get_mut(id))
        .ok_or_else(|| {
            invalid(
                TOKENIZER_JSON,
                format!("added token id {id} is outside the vocabulary"),
            )
        })?;
    let flag = |name: &str| added.get(name).and_then(Value::as_bool).unwrap_or(false);
    token.kind = if flag("special") {
        TokenKind::Control
    } else {
        TokenKind::UserDefined
    };
    token.lstrip = flag("lstrip");
    token.rstrip = flag("rstrip");
    Ok(())
}

/// Byte-level when a `ByteLevel` step decodes; SentencePiece-style when the model falls back
/// to bytes or a step turns `▁` back into spaces.
fn piece_encoding(document: &Value) -> Result<Encoding, TokenizerError> {
    let decoder = document.get("decoder").unwrap_or(&Value::Null);
    if contains_type(decoder, "ByteLevel") {
        return Ok(Encoding::ByteLevel);
    }
    let byte_fallback = document
        .pointer("/model/byte_fallback")
        .and_then(Value::as_bool)
        == Some(true);
    if byte_fallback
        || contains_type(decoder, "Metaspace")
        || contains_type(decoder, "ByteFallback")
    {
        return Ok(Encoding::SentencePiece);
    }
    Err(invalid(
        TOKENIZER_JSON,
        format!("decoder {decoder} is not supported (byte-level or SentencePiece-style BPE only)"),
    ))
}

/// Whether `value` or anything nested in it is an object of `"type": kind`.
fn contains_type(value: &Value, kind: &str) -> bool {
    match value {
        Value::Object(object) => {
            object.get("type").and_then(Value::as_str) == Some(kind)
                || object.values().any(|nested| contains_type(nested, kind))
        }
        Value::Array(items) => items.iter().any(|nested| contains_type(nested, kind)),
        _ => false,
    }
}

/// Whether the normalizer puts `▁` in front of the text (`Prepend`, or a `Metaspace`
/// pre-tokenizer that prepends).
fn prepends_space_mark(document: &Value) -> bool {
    let normalizer = document.get("normalizer").unwrap_or(&Value::Null);
    let pre_tokenizer = document.get("pre_tokenizer").unwrap_or(&Value::Null);
    contains_type(normalizer, "Prepend")
        || (contains_type(pre_tokenizer, "Metaspace")
            && !pre_tokenizer
                .to_string()
                .contains("\"prepend_scheme\":\"never\""))
}

/// The BOS token a `TemplateProcessing` post-processor puts in front of a single sequence.
fn template_bos(document: &Value, backend: &tokenizers::Tokenizer) -> Option<u32> {
    fn find(value: &Value) -> Option<&Value> {
        match value {
            Value::Object(object)
                if object.get("type").and_then(Value::as_str) == Some("TemplateProcessing") =>
            {
                Some(value)
            }
            Value::Object(object) => object.values().find_map(find),
            Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    let template = find(document.get("post_processor")?)?;
    let first = template.get("single")?.as_array()?.first()?;
    let name = first.pointer("/SpecialToken/id")?.as_str()?;
    backend.token_to_id(name)
}

/// `chat_template`: a string, or a list of named templates of which `default` is used.
fn chat_template(config: &Value) -> Result<Option<String>, TokenizerError> {
    match config.get("chat_template") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(template)) => Ok(Some(template.clone())),
        Some(Value::Array(named)) => Ok(named
            .iter()
            .find(|entry| entry.get("name").and_then(Value::as_str) == Some("default"))
            .and_then(|entry| entry.get("template"))
            .and_then(Value::as_str)
            .map(str::to_string)),
        Some(other) => Err(invalid(
            CONFIG_JSON,
            format!("chat_template is {other}, neither a string nor a list of named templates"),
        )),
    }
}
