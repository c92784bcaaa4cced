//! A model ready to answer prompts: a GGUF file's decoder on a device together with the
//! tokenizer and chat template from the same file. The page's worker and the `clue` command
//! load models through this one path, so both see the same ids and the same completions.

use crate::loader::gguf::{self, GgufError};
use crate::loader::tokenizer::{Tokenizer, TokenizerError};
use crate::prompt::chat_template::{ChatTemplate, ChatTemplateError, Message, Role, SpecialTokens};
use crate::tasks::Sampling;

use super::device::{self, Backend, DeviceError};
use super::generate::{Completion, Control, GenerateSettings, StopRule, generate};
use super::gguf::{GgufWeights, config_from_gguf};
use super::llama::{Llama, LlamaConfig, ModelError};
use super::safetensors::{INDEX_FILE, SafetensorsWeights};

/// Why a model could not be loaded or prompted; every variant names the model file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is not a readable GGUF.
    #[error("{file}: {source}")]
    Gguf {
        /// The model file.
        file: String,
        /// What the parser found.
        source: GgufError,
    },
    /// The vocabulary in the file cannot be used.
    #[error("{file}: {source}")]
    Tokenizer {
        /// The model file.
        file: String,
        /// What is wrong.
        source: TokenizerError,
    },
    /// The decoder's config or weights are unusable, or it failed.
    #[error("{file}: {source}")]
    Model {
        /// The model file.
        file: String,
        /// What is wrong.
        source: ModelError,
    },
    /// The device could not be opened.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A Hugging Face model directory lacks a file or holds unreadable safetensors.
    #[error("{directory}: {message}")]
    Directory {
        /// The directory's name.
        directory: String,
        /// What is missing or wrong, naming the file.
        message: String,
    },
    /// The model's chat template failed or is missing.
    #[error("{file}: chat template: {message}")]
    ChatTemplate {
        /// The model file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// A decoder on a device with its tokenizer.
pub struct LoadedModel {
    /// The decoder.
    pub model: Llama,
    /// The tokenizer from the same file.
    pub tokenizer: Tokenizer,
    /// Where the decoder runs.
    pub backend: Backend,
    /// The model file's name, for messages and records.
    pub file: String,
}

impl LoadedModel {
    /// Parses a GGUF file's bytes, builds its tokenizer, and uploads its decoder (dequantized
    /// to f32) to a device of `backend`.
    pub async fn from_gguf(
        file: &str,
        bytes: &[u8],
        backend: Backend,
    ) -> Result<LoadedModel, LoadError> {
        let named = |source| LoadError::Gguf {
            file: file.to_owned(),
            source,
        };
        let parsed = gguf::parse(bytes).map_err(named)?;
        let tokenizer = Tokenizer::from_gguf(&parsed).map_err(|source| LoadError::Tokenizer {
            file: file.to_owned(),
            source,
        })?;
        let model_error = |source| LoadError::Model {
            file: file.to_owned(),
            source,
        };
        let config = config_from_gguf(&parsed).map_err(model_error)?;
        let device = device::open(backend).await?;
        let model =
            Llama::load(&config, &GgufWeights::new(&parsed), &device).map_err(model_error)?;
        Ok(LoadedModel {
            model,
            tokenizer,
            backend,
            file: file.to_owned(),
        })
    }

    /// Builds a model from a Hugging Face directory's files (name, bytes): `config.json`,
    /// `tokenizer.json` with the optional `tokenizer_config.json`, and the `*.safetensors`
    /// weights with `model.safetensors.index.json` when sharded. Names may carry the directory
    /// path; only the last component counts. `directory` names the model in messages.
    pub async fn from_hf_directory(
        directory: &str,
        files: &[(String, Vec<u8>)],
        backend: Backend,
    ) -> Result<LoadedModel, LoadError> {
        let base = |name: &str| name.rsplit(['/', '\\']).next().unwrap_or(name).to_owned();
        let named: Vec<(String, &[u8])> = files
            .iter()
            .map(|(name, bytes)| (base(name), bytes.as_slice()))
            .collect();
        let file = |wanted: &str| {
            named
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|&(_, bytes)| bytes)
        };
        let directory_error = |message: String| LoadError::Directory {
            directory: directory.to_owned(),
            message,
        };
        let required = |wanted: &str| {
            file(wanted).ok_or_else(|| directory_error(format!("{wanted} is missing")))
        };
        let model_error = |source| LoadError::Model {
            file: directory.to_owned(),
            source,
        };
        let config = LlamaConfig::from_json(required("config.json")?).map_err(model_error)?;
        let tokenizer = Tokenizer::from_tokenizer_json(
            required("tokenizer.json")?,
            file("tokenizer_config.json"),
        )
        .map_err(|source| LoadError::Tokenizer {
            file: format!("{directory}/tokenizer.json"),
            source,
        })?;
        let shards: Vec<(&str, &[u8])> = named
            .iter()
            .filter(|(name, _)| name.ends_with(".safetensors"))
            .map(|(name, bytes)| (name.as_str(), *bytes))
            .collect();
        if shards.is_empty() {
            return Err(directory_error("no *.safetensors weights".into()));
        }
        let weights = SafetensorsWeights::new(&shards, file(INDEX_FILE))
            .map_err(|e| directory_error(e.to_string()))?;
        let device = device::open(backend).await?;
        let model = Llama::load(&config, &weights, &device).map_err(model_error)?;
        Ok(LoadedModel {
            model,
            tokenizer,
            backend,
            file: directory.to_owned(),
        })
    }

    /// The ids of a prompt. With `chat`, `text` is one user message rendered with the model's
    /// chat template: the template's own markers become special tokens while the message stays
    /// text, even where it quotes `<|im_end|>`. Without, `text` is the exact prompt and
    /// special-token text in it is parsed as such (BOS added where the model asks for it).
    pub fn prompt_ids(&self, text: &str, chat: bool) -> Result<Vec<u32>, LoadError> {
        let tokenizer = &self.tokenizer;
        let tokenizer_error = |source| LoadError::Tokenizer {
            file: self.file.clone(),
            source,
        };
        if !chat {
            return tokenizer.encode_prompt(text).map_err(tokenizer_error);
        }
        let template_error = |message: String| LoadError::ChatTemplate {
            file: self.file.clone(),
            message,
        };
        let source = tokenizer
            .chat_template()
            .ok_or_else(|| template_error("the model has none".into()))?;
        let token = |id: Option<u32>| id.and_then(|id| tokenizer.token_text(id).map(str::to_owned));
        let template = ChatTemplate::new(
            source,
            SpecialTokens {
                bos_token: token(tokenizer.bos_id()),
                eos_token: token(tokenizer.eos_id()),
                ..SpecialTokens::default()
            },
        )
        .map_err(|e: ChatTemplateError| template_error(e.to_string()))?;
        // The message is rendered as a private-use placeholder, so that only the template's own
        // text is searched for special tokens.
        const PLACEHOLDER: &str = "\u{F8FF}message\u{F8FF}";
        let rendered = template
            .render(&[Message::new(Role::User, PLACEHOLDER)], true)
            .map_err(|e| template_error(e.to_string()))?;
        let (before, after) = rendered
            .split_once(PLACEHOLDER)
            .ok_or_else(|| template_error("it dropped the message".into()))?;
        let mut ids = Vec::new();
        if let (true, Some(bos)) = (tokenizer.add_bos(), tokenizer.bos_id()) {
            ids.push(bos);
        }
        for (part, special) in [(before, true), (text, false), (after, true)] {
            ids.extend(tokenizer.encode(part, special).map_err(tokenizer_error)?);
        }
        Ok(ids)
    }

    /// Greedy generation of at most `max_new_tokens` after `ids`, stopping at the model's
    /// end-of-generation tokens; `on_token` sees each new id and may cancel.
    pub async fn greedy(
        &self,
        ids: &[u32],
        max_new_tokens: usize,
        on_token: &mut dyn FnMut(u32) -> Control,
    ) -> Result<Completion, LoadError> {
        let decode = |ids: &[u32]| self.tokenizer.decode(ids, true).unwrap_or_default();
        let stop = StopRule {
            eos_ids: self.tokenizer.end_of_generation_ids(),
            stop_strings: &[],
            decode: &decode,
        };
        let settings = GenerateSettings {
            max_new_tokens,
            sampling: Sampling::Greedy,
        };
        generate(&self.model, self.backend, ids, &settings, &stop, on_token)
            .await
            .map_err(|source| LoadError::Model {
                file: self.file.clone(),
                source,
            })
    }

    /// The text of generated ids, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.tokenizer.decode(ids, true).unwrap_or_default()
    }
}
