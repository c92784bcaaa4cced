//! Text ↔ token ids for the model, built from GGUF metadata or a Hugging Face `tokenizer.json`,
//! matching llama.cpp's `llama_tokenize`: special tokens are split out first (longest first),
//! the rest goes through the `tokenizers` crate's BPE with llama.cpp's pre-tokenizer regexes.

mod gguf;
mod json;
mod pieces;
mod pre;
mod vocab;
mod wordpiece;

use thiserror::Error;

pub use pre::PreTokenizer;
pub use vocab::TokenKind;
pub use wordpiece::{WordPieceSettings, wordpiece_tokenizer};

use vocab::{Algorithm, Vocab};

/// Why a tokenizer could not be built, or could not encode or decode.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum TokenizerError {
    /// A metadata key the tokenizer needs is absent or of the wrong type.
    #[error("GGUF tokenizer: {0}")]
    Metadata(#[from] crate::loader::gguf::GgufError),
    /// A metadata key has a value this tokenizer cannot use.
    #[error("GGUF metadata: `{key}` = {value}: {reason}")]
    InvalidKey {
        /// The metadata key.
        key: &'static str,
        /// The offending value, quoted when it is text.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `tokenizer.ggml.model` names a tokenizer family that is not implemented.
    #[error(
        "GGUF metadata: `tokenizer.ggml.model` = \"{0}\" is not supported (supported: \"gpt2\", \"llama\")"
    )]
    UnknownModel(String),
    /// `tokenizer.ggml.pre` names a pre-tokenizer that is not implemented.
    #[error("GGUF metadata: `tokenizer.ggml.pre` = \"{0}\" is not supported (supported: {list})", list = PreTokenizer::supported_names())]
    UnknownPreTokenizer(String),
    /// A `tokenizer.json` or `tokenizer_config.json` file cannot be used.
    #[error("{file}: {reason}")]
    InvalidFile {
        /// `tokenizer.json` or `tokenizer_config.json`.
        file: &'static str,
        /// What is wrong, with the JSON path of the field when there is one.
        reason: String,
    },
    /// The `tokenizers` crate refused the vocabulary or the text.
    #[error("tokenizer: {0}")]
    Backend(String),
    /// A token id outside the vocabulary was given to decode.
    #[error("token id {id} is outside the vocabulary of {vocab_size} tokens")]
    UnknownId {
        /// The id.
        id: u32,
        /// The number of tokens in the vocabulary.
        vocab_size: usize,
    },
}

/// A model's tokenizer: encodes text to token ids and decodes ids back to text, as llama.cpp
/// does for the same vocabulary.
#[derive(Clone)]
pub struct Tokenizer {
    vocab: Vocab,
    /// The BPE pipeline for plain text; special tokens never reach it (see `encode`).
    backend: tokenizers::Tokenizer,
    /// Control, unknown and user-defined tokens, longest text first: the order in which
    /// llama.cpp's `tokenizer_st_partition` cuts them out of the text.
    specials: Vec<SpecialToken>,
}

/// A token matched literally in the text before BPE runs.
#[derive(Debug, Clone)]
struct SpecialToken {
    id: u32,
    text: String,
    /// Only matched when the caller parses special tokens (control and unknown tokens);
    /// user-defined tokens are always matched.
    needs_parse_special: bool,
    /// White space next to the token is dropped (tokenizer.json `lstrip` / `rstrip`).
    lstrip: bool,
    rstrip: bool,
}

/// A piece of the text: either plain text for BPE or a token matched literally (with the
/// text it matched, a slice of the input, so its place can be told).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fragment<'t> {
    Text(&'t str),
    Token(u32, &'t str),
}

impl Tokenizer {
    /// Builds the tokenizer a GGUF file describes in its `tokenizer.*` metadata.
    pub fn from_gguf(file: &crate::loader::gguf::Gguf<'_>) -> Result<Tokenizer, TokenizerError> {
        let (vocab, algorithm) = gguf::read_vocab(&file.metadata)?;
        Tokenizer::from_vocab(vocab, &algorithm)
    }

    /// Builds a tokenizer from a Hugging Face `tokenizer.json` and, when given, the
    /// `tokenizer_config.json` beside it (BOS/EOS tokens, `add_bos_token`, chat template).
    pub fn from_tokenizer_json(
        tokenizer_json: &[u8],
        tokenizer_config_json: Option<&[u8]>,
    ) -> Result<Tokenizer, TokenizerError> {
        let (vocab, backend) = json::read(tokenizer_json, tokenizer_config_json)?;
        Ok(Tokenizer::assemble(vocab, backend))
    }

    fn from_vocab(vocab: Vocab, algorithm: &Algorithm) -> Result<Tokenizer, TokenizerError> {
        let backend = vocab.backend(algorithm)?;
        Ok(Tokenizer::assemble(vocab, backend))
    }

    fn assemble(vocab: Vocab, mut backend: tokenizers::Tokenizer) -> Tokenizer {
        // Special tokens are cut out by `partition` before the backend sees the text, so the
        // backend must treat any left in a fragment as plain text.
        backend.set_encode_special_tokens(true);
        let mut specials: Vec<SpecialToken> = vocab
            .tokens
            .iter()
            .enumerate()
            .filter(|(_, token)| token.kind.is_matched_literally() && !token.text.is_empty())
            .map(|(id, token)| SpecialToken {
                id: id as u32,
                text: token.text.clone(),
                needs_parse_special: token.kind != TokenKind::UserDefined,
                lstrip: token.lstrip,
                rstrip: token.rstrip,
            })
            .collect();
        specials.sort_by(|a, b| b.text.len().cmp(&a.text.len()).then(a.id.cmp(&b.id)));
        Tokenizer {
            vocab,
            backend,
            specials,
        }
    }

    /// The token ids of `text`, without BOS or EOS (llama.cpp's `tokenize(text,
    /// add_special=false, parse_special)`). With `parse_special`, the text of a control token
    /// such as `<|im_start|>` becomes that token; without, it is tokenized as plain text.
    /// User-defined tokens are matched either way.
    pub fn encode(&self, text: &str, parse_special: bool) -> Result<Vec<u32>, TokenizerError> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 1);
        for fragment in self.partition(text, parse_special) {
            match fragment {
                Fragment::Token(id, _) => ids.push(id),
                Fragment::Text(text) => {
                    let encoding = self
                        .backend
                        .encode_fast(text, false)
                        .map_err(|error| TokenizerError::Backend(error.to_string()))?;
                    ids.extend_from_slice(encoding.get_ids());
                }
            }
        }
        Ok(ids)
    }

    /// The ids of a whole prompt: BOS first when the model asks for it
    /// (`tokenizer.ggml.add_bos_token`), special tokens parsed, EOS last when the model asks
    /// for it (llama.cpp's `tokenize(text, add_special=true, parse_special=true)`).
    pub fn encode_prompt(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let mut ids = Vec::new();
        if let (true, Some(bos)) = (self.vocab.add_bos, self.vocab.bos) {
            ids.push(bos);
        }
        ids.extend(self.encode(text, true)?);
        if let (true, Some(eos)) = (self.vocab.add_eos, self.vocab.eos) {
            ids.push(eos);
        }
        Ok(ids)
    }

    /// The byte ranges of `text` that [`Tokenizer::encode`] with `parse_special` turns into
    /// control (or unknown) tokens, in order. User-defined tokens are not listed: they are
    /// matched in any text, data included, as llama.cpp and transformers match them.
    pub fn control_spans(&self, text: &str) -> Vec<std::ops::Range<usize>> {
        let base = text.as_ptr() as usize;
        self.partition(text, true)
            .into_iter()
            .filter_map(|fragment| match fragment {
                Fragment::Token(id, matched)
                    if self.token_kind(id) != Some(TokenKind::UserDefined) =>
                {
                    let start = matched.as_ptr() as usize - base;
                    Some(start..start + matched.len())
                }
                _ => None,
            })
            .collect()
    }

    /// Splits `text` around the special tokens it contains, as llama.cpp's
    /// `tokenizer_st_partition`: each token in turn, longest first, is cut out of every text
    /// fragment left by the tokens before it.
    fn partition<'t>(&self, text: &'t str, parse_special: bool) -> Vec<Fragment<'t>> {
        let mut fragments = Vec::new();
        if text.is_empty() {
            return fragments;
        }
        fragments.push(Fragment::Text(text));
        for special in &self.specials {
            if special.needs_parse_special && !parse_special {
                continue;
            }
            let found = fragments
                .iter()
                .any(|fragment| matches!(fragment, Fragment::Text(t) if t.contains(&special.text)));
            if !found {
                continue;
            }
            let mut split = Vec::with_capacity(fragments.len() + 2);
            for fragment in fragments {
                match fragment {
                    Fragment::Token(..) => split.push(fragment),
                    Fragment::Text(text) => special.cut(text, &mut split),
                }
            }
            fragments = split;
        }
        fragments
    }

    /// Decodes ids to text. With `skip_special`, control tokens add nothing (llama.cpp's
    /// `detokenize(..., unparse_special=false)`); otherwise they appear as their text. Bytes
    /// that do not form UTF-8 become U+FFFD.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, TokenizerError> {
        let mut bytes = Vec::new();
        for (position, &id) in ids.iter().enumerate() {
            bytes.extend_from_slice(self.piece(id, skip_special, position == 0)?);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A decoder for streaming generation: feed it one id at a time and it returns the text
    /// that is complete so far, holding back a UTF-8 character split across tokens.
    pub fn stream(&self, skip_special: bool) -> TextStream<'_> {
        TextStream {
            tokenizer: self,
            skip_special,
            pending: Vec::new(),
            first: true,
        }
    }

    /// The bytes token `id` adds to the text, as llama.cpp's `token_to_piece(id, special)`:
    /// a control token adds its text only when `special` is set.
    pub fn token_bytes(&self, id: u32, special: bool) -> Result<&[u8], TokenizerError> {
        let token = self.token(id)?;
        if token.kind.is_control_like() && !special {
            return Ok(&[]);
        }
        Ok(&token.piece)
    }

    /// What `id` adds to the text, with the leading space an SPM vocabulary puts in front of
    /// the text removed from the first token (llama.cpp's `detokenize` does the same).
    fn piece(&self, id: u32, skip_special: bool, first: bool) -> Result<&[u8], TokenizerError> {
        let bytes = self.token_bytes(id, !skip_special)?;
        let strip = first && self.vocab.add_space_prefix && bytes.first() == Some(&b' ');
        Ok(if strip { &bytes[1..] } else { bytes })
    }

    fn token(&self, id: u32) -> Result<&vocab::Token, TokenizerError> {
        self.vocab
            .tokens
            .get(id as usize)
            .ok_or(TokenizerError::UnknownId {
                id,
                vocab_size: self.vocab.tokens.len(),
            })
    }

    /// The vocabulary entry of `id` as stored (e.g. `Ġthe` in a byte-level vocabulary).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.vocab
            .tokens
            .get(id as usize)
            .map(|token| token.text.as_str())
    }

    /// The id whose vocabulary entry is exactly `text`.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.backend.token_to_id(text)
    }

    /// What kind of token `id` is (normal, control, user-defined, …).
    pub fn token_kind(&self, id: u32) -> Option<TokenKind> {
        self.vocab.tokens.get(id as usize).map(|token| token.kind)
    }

    /// The number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab.tokens.len()
    }

    /// The beginning-of-sequence token, when the vocabulary names one.
    pub fn bos_id(&self) -> Option<u32> {
        self.vocab.bos
    }

    /// The end-of-sequence token, when the vocabulary names one.
    pub fn eos_id(&self) -> Option<u32> {
        self.vocab.eos
    }

    /// Whether a prompt starts with BOS (`tokenizer.ggml.add_bos_token`, or the default
    /// llama.cpp uses for the tokenizer family).
    pub fn add_bos(&self) -> bool {
        self.vocab.add_bos
    }

    /// The tokens that end generation, ascending, as llama.cpp's `llama_vocab_is_eog`: EOS, EOT
    /// (e.g. `<|im_end|>`), EOM and the tokens whose text llama.cpp recognises as an end.
    pub fn end_of_generation_ids(&self) -> &[u32] {
        &self.vocab.end_of_generation
    }

    /// Whether generating `id` ends the completion.
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.vocab.end_of_generation.binary_search(&id).is_ok()
    }

    /// The model's Jinja chat template (`tokenizer.chat_template`), when it has one.
    pub fn chat_template(&self) -> Option<&str> {
        self.vocab.chat_template.as_deref()
    }

    /// The pre-tokenizer a byte-level BPE vocabulary uses; `None` for SentencePiece-style
    /// vocabularies and for tokenizers read from `tokenizer.json`.
    pub fn pre_tokenizer(&self) -> Option<PreTokenizer> {
        self.vocab.pre
    }

    /// This tokenizer as a Hugging Face `tokenizer.json` (the same vocabulary, merges,
    /// pre-tokenizer and special tokens), e.g. to use a GGUF vocabulary with Python
    /// `tokenizers`; [`Tokenizer::from_tokenizer_json`] reads it back.
    pub fn to_tokenizer_json(&self) -> Result<String, TokenizerError> {
        let mut backend = self.backend.clone();
        backend.set_encode_special_tokens(false);
        backend
            .to_string(false)
            .map_err(|error| TokenizerError::Backend(error.to_string()))
    }
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("pre_tokenizer", &self.vocab.pre)
            .field("bos", &self.vocab.bos)
            .field("eos", &self.vocab.eos)
            .field("add_bos", &self.vocab.add_bos)
            .finish_non_exhaustive()
    }
}

impl SpecialToken {
    /// Appends `text` to `out` with every occurrence of this token replaced by the token.
    fn cut<'t>(&self, text: &'t str, out: &mut Vec<Fragment<'t>>) {
        let mut rest = text;
        while let Some(position) = rest.find(self.text.as_str()) {
            let mut left = &rest[..position];
            if self.lstrip {
                left = left.trim_end_matches(is_c_space);
            }
            if !left.is_empty() {
                out.push(Fragment::Text(left));
            }
            let end = position + self.text.len();
            out.push(Fragment::Token(self.id, &rest[position..end]));
            rest = &rest[end..];
            if self.rstrip {
                rest = rest.trim_start_matches(is_c_space);
            }
        }
        if !rest.is_empty() {
            out.push(Fragment::Text(rest));
        }
    }
}

/// C's `isspace`, which llama.cpp uses to strip around `lstrip`/`rstrip` tokens.
fn is_c_space(character: char) -> bool {
    matches!(character, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Streaming detokenization (see [`Tokenizer::stream`]).
#[derive(Debug)]
pub struct TextStream<'a> {
    tokenizer: &'a Tokenizer,
    skip_special: bool,
    /// Bytes of an unfinished UTF-8 character.
    pending: Vec<u8>,
    first: bool,
}

impl TextStream<'_> {
    /// Adds one generated token; returns the text it completes (possibly empty, when the token
    /// ends inside a multi-byte character).
    pub fn push(&mut self, id: u32) -> Result<String, TokenizerError> {
        let piece = self.tokenizer.piece(id, self.skip_special, self.first)?;
        self.first = false;
        self.pending.extend_from_slice(piece);
        let mut text = String::new();
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(valid) => {
                    text.push_str(valid);
                    start = self.pending.len();
                    break;
                }
                Err(error) => {
                    let valid_end = start + error.valid_up_to();
                    text.push_str(&String::from_utf8_lossy(&self.pending[start..valid_end]));
                    match error.error_len() {
                        // An incomplete character at the end: wait for the next token.
                        None => {
                            start = valid_end;
                            break;
                        }
                        Some(invalid) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            start = valid_end + invalid;
                        }
                    }
                }
            }
        }
        self.pending.drain(..start);
        Ok(text)
    }

    /// Ends the stream: bytes of a character that never completed become U+FFFD.
    pub fn finish(self) -> String {
        String::from_utf8_lossy(&self.pending).into_owned()
    }
}
