//! A model ready to answer prompts: a GGUF file's decoder on a device together with the
//! tokenizer and chat template from the same file. The page's worker and the `clue` command
//! load models through this one path, so both see the same ids and the same completions.

use sha2::{Digest, Sha256};

use crate::loader::gguf::{self, GgufError};
use crate::loader::safetensors::{INDEX_FILE, SafetensorsWeights};
use crate::loader::tokenizer::{Tokenizer, TokenizerError};
use crate::prompt::chat_template::{ChatTemplate, Message, Role, SpecialTokens};
use crate::tasks::{ChatStyle, Sampling};

use super::config::DecoderConfig;
use super::decoder::{Decoder, ModelError};
use super::device::{self, Backend, DeviceError};
use super::generate::{Completion, Control, GenerateSettings, StopRule, generate};
use super::gguf::decoder_from_gguf;

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
    pub model: Decoder,
    /// The tokenizer from the same file.
    pub tokenizer: Tokenizer,
    /// Where the decoder runs.
    pub backend: Backend,
    /// The model file's name, for messages and records.
    pub file: String,
    /// Size of the model's files in bytes.
    pub size: u64,
    /// Bytes of the weights as the files store them (a GGUF's tensor data; a directory's
    /// safetensors), what the device's weights are compared with.
    pub tensor_bytes: u64,
    /// SHA-256 of the model file (of a directory: of its files' names, lengths and bytes in
    /// name order), lower-case hex; the completion cache is keyed by it.
    pub sha256: String,
}

/// A prompt ready for the model: the text as rendered and the ids the model sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPrompt {
    /// The rendered prompt, special-token text included.
    pub text: String,
    /// Its ids: the chat template's markers as special tokens, data as text.
    pub ids: Vec<u32>,
}

/// Lower-case hex of a SHA-256 digest.
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
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
        let tensor_bytes = parsed
            .tensors
            .iter()
            .map(|info| info.byte_size().unwrap_or(0))
            .sum();
        let device = device::open(backend).await?;
        let model = decoder_from_gguf(&parsed, &device).map_err(model_error)?;
        Ok(LoadedModel {
            model,
            tokenizer,
            backend,
            file: file.to_owned(),
            size: bytes.len() as u64,
            tensor_bytes,
            sha256: hex(&Sha256::digest(bytes)),
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
        let config = DecoderConfig::from_json(required("config.json")?).map_err(model_error)?;
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
        let model = Decoder::load(&config, &weights, &device).map_err(model_error)?;
        let mut files_in_order: Vec<&(String, &[u8])> = named.iter().collect();
        files_in_order.sort_by(|a, b| a.0.cmp(&b.0));
        let mut hasher = Sha256::new();
        for (name, bytes) in &files_in_order {
            hasher.update((name.len() as u64).to_le_bytes());
            hasher.update(name.as_bytes());
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        }
        Ok(LoadedModel {
            model,
            tokenizer,
            backend,
            file: directory.to_owned(),
            size: files.iter().map(|(_, bytes)| bytes.len() as u64).sum(),
            tensor_bytes: shards.iter().map(|(_, bytes)| bytes.len() as u64).sum(),
            sha256: hex(&hasher.finalize()),
        })
    }

    /// The ids of a prompt. With `chat`, `text` is one user message rendered with the model's
    /// chat template: the template's own markers become special tokens while the message stays
    /// text, even where it quotes `<|im_end|>`. Without, `text` is the exact prompt and
    /// special-token text in it is parsed as such (BOS added where the model asks for it).
    pub fn prompt_ids(&self, text: &str, chat: bool) -> Result<Vec<u32>, LoadError> {
        if chat {
            Ok(self.encode_chat(&[Message::new(Role::User, text)], "")?.ids)
        } else {
            self.tokenizer
                .encode_prompt(text)
                .map_err(|source| self.tokenizer_error(source))
        }
    }

    fn tokenizer_error(&self, source: TokenizerError) -> LoadError {
        LoadError::Tokenizer {
            file: self.file.clone(),
            source,
        }
    }

    fn template_error(&self, message: String) -> LoadError {
        LoadError::ChatTemplate {
            file: self.file.clone(),
            message,
        }
    }

    /// The model's chat template with its special tokens, or `None` for a base model.
    pub fn chat_template(&self) -> Result<Option<ChatTemplate>, LoadError> {
        let tokenizer = &self.tokenizer;
        let Some(source) = tokenizer.chat_template() else {
            return Ok(None);
        };
        let token = |id: Option<u32>| id.and_then(|id| tokenizer.token_text(id).map(str::to_owned));
        ChatTemplate::new(
            source,
            SpecialTokens {
                bos_token: token(tokenizer.bos_id()),
                eos_token: token(tokenizer.eos_id()),
                ..SpecialTokens::default()
            },
        )
        .map(Some)
        .map_err(|e| self.template_error(e.to_string()))
    }

    /// How the model takes a conversation: a base model without a template; an instruct model
    /// whose template renders a system message; or one whose template refuses or drops it
    /// (the system prompt then goes in front of the first user turn, as the reference does).
    pub fn chat_style(&self) -> Result<ChatStyle, LoadError> {
        let Some(template) = self.chat_template()? else {
            return Ok(ChatStyle::BaseModel);
        };
        const PROBE: &str = "\u{F8FF}system probe\u{F8FF}";
        let messages = [
            Message::new(Role::System, PROBE),
            Message::new(Role::User, "Hello"),
        ];
        Ok(match template.render(&messages, true) {
            Ok(text) if text.contains(PROBE) => ChatStyle::SystemRole,
            _ => ChatStyle::NoSystemRole,
        })
    }

    /// Renders `messages` with the model's chat template and the generation prompt, appends
    /// `suffix` (an assistant-turn prefix), and encodes the result. Data is text, never control:
    /// a message that quotes control-token text (`<|im_end|>`, `[INST]`), or whose text would
    /// form one with the template or the next message where they meet (`…<|im_` + `end|>`), is
    /// encoded apart as plain text, and only the template's own markers become control tokens.
    /// Other messages are encoded together with the template around them, so their ids are
    /// exactly those of encoding the whole rendered prompt. User-defined tokens (added tokens
    /// that are not special, such as Qwen3's `<think>`) are matched in messages too, on purpose:
    /// llama.cpp and transformers match them in any text, and the model was trained so.
    pub fn encode_chat(
        &self,
        messages: &[Message],
        suffix: &str,
    ) -> Result<EncodedPrompt, LoadError> {
        let template = self
            .chat_template()?
            .ok_or_else(|| self.template_error("the model has none".into()))?;
        let render = |messages: &[Message]| {
            template
                .render(messages, true)
                .map_err(|e| self.template_error(e.to_string()))
        };
        let rendered = render(messages)?;
        // Each message rendered as a private-use placeholder shows where the template puts it.
        let placeholder = |i: usize| format!("\u{F8FF}message {i}\u{F8FF}");
        let marked: Vec<Message> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| Message::new(m.role, placeholder(i)))
            .collect();
        let skeleton = render(&marked)?;
        let mut places = Vec::with_capacity(messages.len());
        for i in 0..messages.len() {
            let mark = placeholder(i);
            let found: Vec<usize> = skeleton.match_indices(&mark).map(|(at, _)| at).collect();
            match found.as_slice() {
                [at] => places.push((*at, mark.len(), i)),
                [] => return Err(self.template_error(format!("it drops message {i}"))),
                _ => return Err(self.template_error(format!("it repeats message {i}"))),
            }
        }
        places.sort_unstable();
        // The template may trim message text (Llama 3's does); find which reading rebuilds the
        // rendered prompt exactly, so the pieces encoded are the pieces the model would see.
        let pieces = |trim: bool| {
            let mut parts: Vec<(&str, Option<usize>)> = Vec::new();
            let mut at = 0;
            for &(start, len, i) in &places {
                parts.push((&skeleton[at..start], None));
                let content = messages[i].content.as_str();
                parts.push((if trim { content.trim() } else { content }, Some(i)));
                at = start + len;
            }
            parts.push((&skeleton[at..], None));
            parts
        };
        let parts = [false, true]
            .into_iter()
            .map(pieces)
            .find(|parts| parts.iter().map(|(text, _)| *text).collect::<String>() == rendered)
            .ok_or_else(|| {
                self.template_error(
                    "it changes the message text in a way the prompt cannot be traced back to"
                        .into(),
                )
            })?;

        let tokenizer = &self.tokenizer;
        let mut ids = Vec::new();
        if let (true, Some(bos)) = (tokenizer.add_bos(), tokenizer.bos_id()) {
            let bos_text = tokenizer.token_text(bos).unwrap_or_default();
            if bos_text.is_empty() || !rendered.starts_with(bos_text) {
                ids.push(bos);
            }
        }
        // Which messages must be encoded apart, as text: each one that a control token of the
        // trusted encoding would touch — quoted inside it, or formed across its edge with the
        // template or with the next message. Splitting the trusted text there can let another
        // token match in what is left, so this runs until nothing changes.
        let mut apart = vec![false; parts.len()];
        loop {
            let mut changed = false;
            let mut segment_start = 0;
            while segment_start < parts.len() {
                if apart[segment_start] {
                    segment_start += 1;
                    continue;
                }
                let segment_end = (segment_start..parts.len())
                    .find(|&i| apart[i])
                    .unwrap_or(parts.len());
                let mut joined = String::new();
                let mut messages_at = Vec::new();
                for (index, (text, message)) in parts[segment_start..segment_end].iter().enumerate()
                {
                    let start = joined.len();
                    joined.push_str(text);
                    if message.is_some() && !text.is_empty() {
                        messages_at.push((segment_start + index, start..joined.len()));
                    }
                }
                if segment_end == parts.len() {
                    joined.push_str(suffix);
                }
                for span in tokenizer.control_spans(&joined) {
                    for (index, at) in &messages_at {
                        if span.start < at.end && at.start < span.end && !apart[*index] {
                            apart[*index] = true;
                            changed = true;
                        }
                    }
                }
                segment_start = segment_end;
            }
            if !changed {
                break;
            }
        }
        let mut trusted = String::new();
        for ((text, _), apart) in parts.iter().zip(&apart) {
            if *apart {
                ids.extend(
                    tokenizer
                        .encode(&std::mem::take(&mut trusted), true)
                        .map_err(|e| self.tokenizer_error(e))?,
                );
                ids.extend(
                    tokenizer
                        .encode(text, false)
                        .map_err(|e| self.tokenizer_error(e))?,
                );
            } else {
                trusted.push_str(text);
            }
        }
        trusted.push_str(suffix);
        ids.extend(
            tokenizer
                .encode(&trusted, true)
                .map_err(|e| self.tokenizer_error(e))?,
        );
        Ok(EncodedPrompt {
            text: rendered + suffix,
            ids,
        })
    }

    /// Encodes a base model's prompt: all of it is text (special-token text in it included),
    /// with the BOS the model asks for.
    pub fn encode_plain(&self, text: &str) -> Result<EncodedPrompt, LoadError> {
        let tokenizer = &self.tokenizer;
        let mut ids = Vec::new();
        if let (true, Some(bos)) = (tokenizer.add_bos(), tokenizer.bos_id()) {
            ids.push(bos);
        }
        ids.extend(
            tokenizer
                .encode(text, false)
                .map_err(|e| self.tokenizer_error(e))?,
        );
        Ok(EncodedPrompt {
            text: text.to_owned(),
            ids,
        })
    }

    /// Generates after `ids` with `settings`, stopping at the model's end-of-generation tokens
    /// or one of `stop_strings`; `on_token` sees each new id and may cancel.
    pub async fn complete(
        &self,
        ids: &[u32],
        settings: &GenerateSettings,
        stop_strings: &[String],
        on_token: &mut dyn FnMut(u32) -> Control,
    ) -> Result<Completion, LoadError> {
        let decode = |ids: &[u32]| self.tokenizer.decode(ids, true).unwrap_or_default();
        let stop = StopRule {
            eos_ids: self.tokenizer.end_of_generation_ids(),
            stop_strings,
            decode: &decode,
        };
        generate(&self.model, self.backend, ids, settings, &stop, on_token)
            .await
            .map_err(|source| LoadError::Model {
                file: self.file.clone(),
                source,
            })
    }

    /// Greedy generation of at most `max_new_tokens` after `ids`, stopping at the model's
    /// end-of-generation tokens; `on_token` sees each new id and may cancel.
    pub async fn greedy(
        &self,
        ids: &[u32],
        max_new_tokens: usize,
        on_token: &mut dyn FnMut(u32) -> Control,
    ) -> Result<Completion, LoadError> {
        let settings = GenerateSettings {
            max_new_tokens,
            sampling: Sampling::Greedy,
        };
        self.complete(ids, &settings, &[], on_token).await
    }

    /// The text of generated ids, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.tokenizer.decode(ids, true).unwrap_or_default()
    }
}
