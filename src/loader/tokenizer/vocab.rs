//! The vocabulary as llama.cpp's `llama_vocab::load` sees it — tokens with their kinds, the
//! model family, special ids, end-of-generation set — and the `tokenizers` pipeline built from it.

use std::collections::HashMap;

use tokenizers::AddedToken;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{
    NormalizerWrapper, Prepend, Replace, Sequence as NormalizerSequence,
};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;

use super::TokenizerError;
use super::pieces;
use super::pre::PreTokenizer;

/// What a token is, from GGUF `tokenizer.ggml.token_type` (llama.cpp's `llama_token_type`) or
/// from a `tokenizer.json` (added tokens: special → control, others → user-defined).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An ordinary vocabulary entry (type 1).
    Normal,
    /// The unknown token (type 2): matched in text only when special tokens are parsed.
    Unknown,
    /// A control token such as `<|im_start|>` (type 3): matched in text only when special
    /// tokens are parsed, and left out of decoded text unless asked for.
    Control,
    /// A token added by the model's authors (type 4): always matched literally in text.
    UserDefined,
    /// A reserved, never-used entry (type 5): decodes to nothing.
    Unused,
    /// A SentencePiece byte-fallback token `<0xXX>` (type 6): decodes to that byte.
    Byte,
}

impl TokenKind {
    /// The kind GGUF's `tokenizer.ggml.token_type` code stands for; llama.cpp reads unknown
    /// codes as "undefined", which behaves like an unused token.
    pub(super) fn from_gguf(code: i32) -> TokenKind {
        match code {
            1 => TokenKind::Normal,
            2 => TokenKind::Unknown,
            3 => TokenKind::Control,
            4 => TokenKind::UserDefined,
            6 => TokenKind::Byte,
            _ => TokenKind::Unused,
        }
    }

    /// Cut out of the text literally before BPE (llama.cpp's special-token cache).
    pub(super) fn is_matched_literally(self) -> bool {
        matches!(
            self,
            TokenKind::Unknown | TokenKind::Control | TokenKind::UserDefined
        )
    }

    /// Decodes to nothing unless special tokens are rendered.
    pub(super) fn is_control_like(self) -> bool {
        matches!(self, TokenKind::Unknown | TokenKind::Control)
    }
}

/// One vocabulary entry.
#[derive(Debug, Clone)]
pub(super) struct Token {
    /// The entry as stored in the vocabulary.
    pub text: String,
    pub kind: TokenKind,
    /// The bytes it stands for in text (see [`pieces`]).
    pub piece: Vec<u8>,
    /// SentencePiece score (merge priority); 0 for byte-level BPE.
    pub score: f32,
    pub lstrip: bool,
    pub rstrip: bool,
}

/// How the vocabulary splits words.
#[derive(Debug, Clone)]
pub(super) enum Algorithm {
    /// GPT-2 byte-level BPE with ranked merges (`tokenizer.ggml.model` = `gpt2`).
    ByteLevelBpe {
        /// `(left, right)` pairs, highest priority first.
        merges: Vec<(String, String)>,
    },
    /// SentencePiece-style: spaces become `▁`, pieces merge by score, unknown characters fall
    /// back to `<0xXX>` byte tokens (`tokenizer.ggml.model` = `llama`).
    SentencePiece,
}

/// Everything the tokenizer needs to know about a vocabulary.
#[derive(Debug, Clone)]
pub(super) struct Vocab {
    pub tokens: Vec<Token>,
    pub pre: Option<PreTokenizer>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    /// SentencePiece: a space is put in front of every text fragment, and decoding removes it.
    pub add_space_prefix: bool,
    /// Ascending.
    pub end_of_generation: Vec<u32>,
    pub chat_template: Option<String>,
}

/// Special ids read from metadata, before llama.cpp's detection by token text fills the gaps.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SpecialIds {
    pub eot: Option<u32>,
    pub eom: Option<u32>,
    pub fim_pre: Option<u32>,
    pub fim_suf: Option<u32>,
    pub fim_mid: Option<u32>,
    pub fim_pad: Option<u32>,
    pub fim_rep: Option<u32>,
    pub fim_sep: Option<u32>,
}

// Token texts llama.cpp (`llama_vocab::impl::load`, "auto-detect special tokens by text")
// recognises when the metadata names no id for the role; a token found this way is made a
// control token.
const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];
const EOM_TEXTS: &[&str] = &["<|eom_id|>"];
const FIM_PRE_TEXTS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
];
const FIM_SUF_TEXTS: &[&str] = &[
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
];
const FIM_MID_TEXTS: &[&str] = &[
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];
const FIM_PAD_TEXTS: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP_TEXTS: &[&str] = &[
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
];
const FIM_SEP_TEXTS: &[&str] = &["<|file_sep|>"];
/// Tokens that end generation whatever the metadata says.
const END_OF_GENERATION_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

impl Vocab {
    /// Fills in what llama.cpp derives after reading the ids: roles found by token text (made
    /// control tokens) and the end-of-generation set. Where several tokens fit a role,
    /// llama.cpp takes whichever its hash map yields first; this takes the lowest id.
    pub fn resolve_special_tokens(&mut self, mut ids: SpecialIds) {
        let by_text: HashMap<&str, u32> = self
            .tokens
            .iter()
            .enumerate()
            .rev()
            .map(|(id, token)| (token.text.as_str(), id as u32))
            .collect();
        let find = |texts: &[&str]| {
            texts
                .iter()
                .filter_map(|text| by_text.get(text).copied())
                .min()
        };
        let mut made_control = Vec::new();
        for (slot, texts) in [
            (&mut ids.eot, EOT_TEXTS),
            (&mut ids.eom, EOM_TEXTS),
            (&mut ids.fim_pre, FIM_PRE_TEXTS),
            (&mut ids.fim_suf, FIM_SUF_TEXTS),
            (&mut ids.fim_mid, FIM_MID_TEXTS),
            (&mut ids.fim_pad, FIM_PAD_TEXTS),
            (&mut ids.fim_rep, FIM_REP_TEXTS),
            (&mut ids.fim_sep, FIM_SEP_TEXTS),
        ] {
            if slot.is_none() {
                *slot = find(texts);
                made_control.extend(*slot);
            }
        }
        let mut end: Vec<u32> = [ids.fim_pad, ids.fim_rep, ids.fim_sep]
            .into_iter()
            .flatten()
            .collect();
        for text in END_OF_GENERATION_TEXTS {
            if let Some(&id) = by_text.get(text) {
                end.push(id);
                made_control.push(id);
            }
        }
        end.extend([self.eos, ids.eot, ids.eom].into_iter().flatten());
        end.sort_unstable();
        end.dedup();
        self.end_of_generation = end;
        for id in made_control {
            let token = &mut self.tokens[id as usize];
            if !matches!(token.kind, TokenKind::Control | TokenKind::Unknown) {
                token.kind = TokenKind::Control;
            }
        }
    }

    /// The `tokenizers` pipeline for plain text (special tokens are handled outside it, but
    /// registered so that an exported `tokenizer.json` is complete).
    pub fn backend(&self, algorithm: &Algorithm) -> Result<tokenizers::Tokenizer, TokenizerError> {
        let vocab: tokenizers::models::bpe::Vocab = self
            .tokens
            .iter()
            .enumerate()
            .map(|(id, token)| (token.text.clone(), id as u32))
            .collect();
        let mut tokenizer = match algorithm {
            Algorithm::ByteLevelBpe { merges } => {
                let pre = self.pre.unwrap_or(PreTokenizer::Default);
                let model = BPE::builder()
                    .vocab_and_merges(vocab, merges.clone())
                    .ignore_merges(pre.ignores_merges())
                    .build()
                    .map_err(backend_error)?;
                let mut tokenizer = tokenizers::Tokenizer::new(model);
                tokenizer.with_pre_tokenizer(Some(pre.pipeline()?));
                tokenizer.with_decoder(Some(ByteLevel::new(false, false, false)));
                tokenizer
            }
            Algorithm::SentencePiece => {
                let model = BPE::builder()
                    .vocab_and_merges(vocab, self.score_merges())
                    .byte_fallback(true)
                    .build()
                    .map_err(backend_error)?;
                let mut tokenizer = tokenizers::Tokenizer::new(model);
                let escape =
                    Replace::new(" ", pieces::SPACE_MARK.to_string()).map_err(backend_error)?;
                let normalizer: NormalizerWrapper = if self.add_space_prefix {
                    NormalizerSequence::new(vec![
                        Prepend::new(pieces::SPACE_MARK.to_string()).into(),
                        escape.into(),
                    ])
                    .into()
                } else {
                    escape.into()
                };
                tokenizer.with_normalizer(Some(normalizer));
                let unescape =
                    Replace::new(pieces::SPACE_MARK.to_string(), " ").map_err(backend_error)?;
                let mut decoders: Vec<DecoderWrapper> = vec![
                    unescape.into(),
                    ByteFallback::new().into(),
                    Fuse::new().into(),
                ];
                if self.add_space_prefix {
                    decoders.push(Strip::new(' ', 1, 0).into());
                }
                tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
                tokenizer
            }
        };
        let added: Vec<AddedToken> = self
            .tokens
            .iter()
            .filter(|token| token.kind.is_matched_literally() && !token.text.is_empty())
            .map(|token| {
                AddedToken::from(token.text.clone(), token.kind != TokenKind::UserDefined)
                    .normalized(false)
                    .lstrip(token.lstrip)
                    .rstrip(token.rstrip)
            })
            .collect();
        tokenizer.add_tokens(&added);
        Ok(tokenizer)
    }

    /// Merges that make the `tokenizers` BPE reproduce llama.cpp's SentencePiece tokenizer,
    /// which joins the adjacent pair whose concatenation is the best-scoring token: every
    /// split of every token into two vocabulary entries, best score first (ties by id, then
    /// by where the split falls).
    fn score_merges(&self) -> Vec<(String, String)> {
        let ids: HashMap<&str, usize> = self
            .tokens
            .iter()
            .enumerate()
            .map(|(id, token)| (token.text.as_str(), id))
            .collect();
        let mut merges: Vec<(f32, usize, usize)> = Vec::new();
        for (id, token) in self.tokens.iter().enumerate() {
            if token.kind == TokenKind::Byte {
                continue;
            }
            let text = token.text.as_str();
            for (split, _) in text.char_indices().skip(1) {
                if ids.contains_key(&text[..split]) && ids.contains_key(&text[split..]) {
                    merges.push((token.score, id, split));
                }
            }
        }
        merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        merges
            .into_iter()
            .map(|(_, id, split)| {
                let text = &self.tokens[id].text;
                (text[..split].to_string(), text[split..].to_string())
            })
            .collect()
    }
}

fn backend_error(error: impl std::fmt::Display) -> TokenizerError {
    TokenizerError::Backend(error.to_string())
}
