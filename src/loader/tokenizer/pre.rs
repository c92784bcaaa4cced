//! The pre-tokenizers of byte-level BPE vocabularies, named by GGUF `tokenizer.ggml.pre`: the
//! regexes llama.cpp's `llm_tokenizer_bpe` applies one after another, each splitting every
//! piece left by the ones before into matches and the text between them.

use tokenizers::SplitDelimiterBehavior;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};

use super::TokenizerError;

/// GPT-2's word pattern, as llama.cpp writes it (its trailing `\s+` alternative is implied:
/// text no alternative matches stays a piece of its own).
const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
/// Llama 3's pattern with llama.cpp's case-insensitive contractions spelled out.
const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2's pattern: Llama 3's with single digits.
const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A byte-level pre-tokenizer, by the llama.cpp pre-tokenizer type it reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PreTokenizer {
    /// llama.cpp's fallback for a vocabulary without `tokenizer.ggml.pre` (or `default`):
    /// runs of punctuation first, then GPT-2's pattern, then digit runs, then triples.
    Default,
    /// GPT-2's pattern alone (`gpt-2`, `mpt`, `olmo`, `jais`, `phi-2`, …).
    Gpt2,
    /// Every digit on its own, then GPT-2's pattern (`smollm`, `starcoder`, `refact`, …).
    SmolLm,
    /// Llama 3's pattern, whole words looked up before merging (`llama-bpe`, `llama3`, …).
    Llama3,
    /// Qwen2's pattern (`qwen2`, `deepseek-r1-qwen`, `stablelm2`, `megrez`, …).
    Qwen2,
}

/// `tokenizer.ggml.pre` values, grouped as llama.cpp's `llama_vocab::impl::load` groups them
/// (only names whose other settings — BOS, separators — are the group's defaults).
const NAMES: &[(&str, PreTokenizer)] = &[
    ("default", PreTokenizer::Default),
    ("gpt-2", PreTokenizer::Gpt2),
    ("phi-2", PreTokenizer::Gpt2),
    ("jina-es", PreTokenizer::Gpt2),
    ("jina-de", PreTokenizer::Gpt2),
    ("gigachat", PreTokenizer::Gpt2),
    ("a.x-4.0", PreTokenizer::Gpt2),
    ("mellum", PreTokenizer::Gpt2),
    ("mpt", PreTokenizer::Gpt2),
    ("olmo", PreTokenizer::Gpt2),
    ("jais", PreTokenizer::Gpt2),
    ("exaone4", PreTokenizer::Gpt2),
    ("smollm", PreTokenizer::SmolLm),
    ("starcoder", PreTokenizer::SmolLm),
    ("refact", PreTokenizer::SmolLm),
    ("codeshell", PreTokenizer::SmolLm),
    ("exaone", PreTokenizer::SmolLm),
    ("minerva-7b", PreTokenizer::SmolLm),
    ("mellum2", PreTokenizer::SmolLm),
    ("llama3", PreTokenizer::Llama3),
    ("llama-v3", PreTokenizer::Llama3),
    ("llama-bpe", PreTokenizer::Llama3),
    ("falcon3", PreTokenizer::Llama3),
    ("falcon-h1", PreTokenizer::Llama3),
    ("pixtral", PreTokenizer::Llama3),
    ("midm-2.0", PreTokenizer::Llama3),
    ("lfm2", PreTokenizer::Llama3),
    ("qwen2", PreTokenizer::Qwen2),
    ("deepseek-r1-qwen", PreTokenizer::Qwen2),
    ("kormo", PreTokenizer::Qwen2),
    ("f2llmv2", PreTokenizer::Qwen2),
    ("megrez", PreTokenizer::Qwen2),
    ("stablelm2", PreTokenizer::Qwen2),
];

impl PreTokenizer {
    /// The pre-tokenizer a `tokenizer.ggml.pre` value names, if it is supported.
    pub fn from_name(name: &str) -> Option<PreTokenizer> {
        NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(_, pre)| pre)
    }

    /// The supported `tokenizer.ggml.pre` values, quoted and comma-separated.
    pub fn supported_names() -> String {
        NAMES
            .iter()
            .map(|(name, _)| format!("\"{name}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The regexes, applied in order.
    fn regexes(self) -> &'static [&'static str] {
        match self {
            PreTokenizer::Default => &[r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"],
            PreTokenizer::Gpt2 => &[GPT2],
            PreTokenizer::SmolLm => &[r"\p{N}", GPT2],
            PreTokenizer::Llama3 => &[LLAMA3],
            PreTokenizer::Qwen2 => &[QWEN2],
        }
    }

    /// Whether a piece that is a whole vocabulary entry becomes that token without merging
    /// (llama.cpp's `ignore_merges`).
    pub(super) fn ignores_merges(self) -> bool {
        self == PreTokenizer::Llama3
    }

    /// Whether llama.cpp adds BOS by default for this pre-tokenizer (before
    /// `tokenizer.ggml.add_bos_token` has its say).
    pub(super) fn adds_bos_by_default(self) -> bool {
        self == PreTokenizer::Llama3
    }

    /// The `tokenizers` pre-tokenizer: each regex as an isolating split, then the byte-level
    /// mapping of every piece.
    pub(super) fn pipeline(self) -> Result<PreTokenizerWrapper, TokenizerError> {
        let mut steps: Vec<PreTokenizerWrapper> = Vec::new();
        for regex in self.regexes() {
            let split = Split::new(
                SplitPattern::Regex((*regex).to_string()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(|error| {
                TokenizerError::Backend(format!("pre-tokenizer regex {regex}: {error}"))
            })?;
            steps.push(split.into());
        }
        steps.push(ByteLevel::new(false, false, false).into());
        Ok(Sequence::new(steps).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_maps_to_a_pipeline_that_builds() {
        for (name, pre) in NAMES {
            assert_eq!(PreTokenizer::from_name(name), Some(*pre));
            assert!(pre.pipeline().is_ok(), "{name}");
        }
        assert_eq!(
            PreTokenizer::from_name("smollm"),
            Some(PreTokenizer::SmolLm)
        );
        assert_eq!(PreTokenizer::from_name("tekken"), None);
        assert!(PreTokenizer::supported_names().contains("\"llama-bpe\""));
    }
}
