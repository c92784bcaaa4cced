//! What one generation needs: the settings a run chooses, the request each example becomes
//! (messages, prefix, length, decoding, the gold answer), and the token counting the
//! context-length rules go through.

use serde::{Deserialize, Serialize};

use super::{Profile, TaskError, TaskId};
use crate::data::NliLabel;
use crate::metrics::Metric;
use crate::prompt::chat_template::{ChatTemplate, Message};

/// The recorded seed LongHealth draws its distractors and document order with (the reference
/// leaves Python's generator unseeded).
pub const DEFAULT_LONGHEALTH_SEED: u64 = 1;

/// LongHealth's document budget in tokens (`--max_len 8140` in the reference's launch script);
/// the system prompt's tokens come off it.
pub const DEFAULT_LONGHEALTH_BUDGET: usize = 8_140;

/// How the model takes a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatStyle {
    /// An instruct model whose template accepts a system message.
    #[default]
    SystemRole,
    /// An instruct model whose template rejects system messages: the system prompt is put in
    /// front of the first user turn.
    NoSystemRole,
    /// A base model without a chat template: one plain string.
    BaseModel,
}

/// Tokenizer lengths, as the reference measures them with `tokenizer.encode`.
pub trait TokenCounter {
    /// `len(tokenizer.encode(text))`, special tokens the tokenizer adds (a BOS) included.
    fn count(&self, text: &str) -> usize;
    /// `tokenizer.decode(tokenizer.encode(text)[:max_tokens])`: the start of `text`.
    fn truncate_right(&self, text: &str, max_tokens: usize) -> String;
    /// The last `max_tokens` tokens of `text`, decoded: what the inference server keeps of a
    /// prompt that is too long.
    fn truncate_left(&self, text: &str, max_tokens: usize) -> String;
}

/// What a run chooses; everything else comes from the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSettings {
    /// Which reference version to reproduce.
    pub profile: Profile,
    /// How the model takes a conversation.
    pub chat_style: ChatStyle,
    /// The model's Hugging Face name: the reference keys its Phi answer cut and its Llama-3
    /// stop sequences on substrings of it.
    pub model_name: String,
    /// Number of few-shot rows instead of the task's (3, or 1 for the letter tasks).
    pub shots: Option<usize>,
    /// Generation length instead of the profile's.
    pub max_new_tokens: Option<usize>,
    /// The model's `max_position_embeddings`; the paper profile truncates prompts to it.
    pub context_size: Option<usize>,
    /// LongHealth's seed for distractor sampling and document shuffles.
    pub longhealth_seed: u64,
    /// LongHealth's token budget for the prompt.
    pub longhealth_budget: usize,
    /// Base seed of the current profile's sampling; request `i` gets `sampling_seed + i`.
    pub sampling_seed: u64,
    /// Reproduce the reference's known quirks (Problem Summary's trailing `", "`).
    pub compat: bool,
}

impl Default for TaskSettings {
    fn default() -> TaskSettings {
        TaskSettings {
            profile: Profile::Paper,
            chat_style: ChatStyle::SystemRole,
            model_name: String::new(),
            shots: None,
            max_new_tokens: None,
            context_size: None,
            longhealth_seed: DEFAULT_LONGHEALTH_SEED,
            longhealth_budget: DEFAULT_LONGHEALTH_BUDGET,
            sampling_seed: 1,
            compat: false,
        }
    }
}

impl TaskSettings {
    /// Whether the reference would treat the model as a Phi model (`"phi" in name.lower()`).
    pub(crate) fn is_phi(&self) -> bool {
        self.model_name.to_lowercase().contains("phi")
    }

    /// The stop sequences the paper profile sends for Llama-3 models.
    pub(crate) fn llama3_stops(&self) -> Vec<String> {
        let name = self.model_name.to_lowercase();
        if self.profile == Profile::Paper && (name.contains("llama-3") || name.contains("llama3")) {
            [
                "<|start_header_id|>",
                "<|end_header_id|>",
                "<|eot_id|>",
                "<|im_end|>",
            ]
            .map(str::to_owned)
            .to_vec()
        } else {
            Vec::new()
        }
    }
}

/// The input of one generation before the chat template is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prompt {
    /// Messages for the model's chat template (instruct models).
    Chat(Vec<Message>),
    /// The finished text (base models).
    Plain(String),
}

/// How tokens are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Sampling {
    /// Always the most likely token (paper profile).
    Greedy,
    /// Nucleus sampling with a recorded seed (current profile: temperature 1, top-p 1).
    Sample {
        /// Softmax temperature.
        temperature: f64,
        /// Nucleus mass.
        top_p: f64,
        /// Seed of this request's generator.
        seed: u64,
    },
}

/// How long and how to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationSettings {
    /// Most tokens to generate.
    pub max_new_tokens: usize,
    /// Decoding.
    pub sampling: Sampling,
    /// Strings that end the generation (the paper profile's Llama-3 list), beside the model's
    /// end-of-sequence tokens.
    pub stop_sequences: Vec<String>,
}

/// The three LongHealth subtasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LongHealthTask {
    /// Answer documents among the patient's other documents.
    Task1,
    /// Answer documents among other patients' documents.
    Task2,
    /// Only other patients' documents; the answer is F.
    Task3,
}

impl LongHealthTask {
    /// The subtask's number, 1–3.
    pub fn number(self) -> u8 {
        match self {
            LongHealthTask::Task1 => 1,
            LongHealthTask::Task2 => 2,
            LongHealthTask::Task3 => 3,
        }
    }

    /// The metric its accuracy is reported under.
    pub fn metric(self) -> Metric {
        match self {
            LongHealthTask::Task1 => Metric::Task1,
            LongHealthTask::Task2 => Metric::Task2,
            LongHealthTask::Task3 => Metric::Task3,
        }
    }
}

/// What scoring compares the answer with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Reference {
    /// MedNLI's gold label.
    Label {
        /// The label.
        label: NliLabel,
    },
    /// The reference text of a summary or answer (Problem Summary's with `;` → `", "`).
    Text {
        /// The text.
        text: String,
    },
    /// MeDiSumCode's gold codes, as written in the file.
    Codes {
        /// The codes.
        codes: Vec<String>,
    },
    /// A LongHealth question's gold option letter.
    Choice {
        /// Which subtask the request belongs to.
        task: LongHealthTask,
        /// `A`–`E`, or `F` for task 3.
        letter: char,
    },
}

/// One generation to run and how to score it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The task.
    pub task: TaskId,
    /// The example's id; LongHealth: `{patient}/{No}/t{task}/i{iteration}`.
    pub id: String,
    /// Messages or plain text.
    pub prompt: Prompt,
    /// Appended after the rendered generation prompt (paper profile: `"Question: "`, …).
    pub assistant_prefix: Option<String>,
    /// The paper profile keeps only this many prompt tokens, from the end (the inference
    /// server's `truncate`).
    pub max_prompt_tokens: Option<usize>,
    /// Length and decoding.
    pub generation: GenerationSettings,
    /// The gold answer.
    pub reference: Reference,
}

impl Request {
    /// The prompt text: messages rendered with `template` and the generation prompt, or the
    /// plain text; then the assistant prefix; then, when the prompt has more tokens than
    /// [`Request::max_prompt_tokens`], only its last tokens.
    pub fn render(
        &self,
        template: Option<&ChatTemplate>,
        counter: &dyn TokenCounter,
    ) -> Result<String, TaskError> {
        let mut text = match (&self.prompt, template) {
            (Prompt::Plain(text), _) => text.clone(),
            (Prompt::Chat(messages), Some(template)) => template.render(messages, true)?,
            (Prompt::Chat(_), None) => {
                return Err(TaskError::NoChatTemplate {
                    id: self.id.clone(),
                });
            }
        };
        if let Some(prefix) = &self.assistant_prefix {
            text.push_str(prefix);
        }
        match self.max_prompt_tokens {
            Some(limit) if counter.count(&text) > limit => Ok(counter.truncate_left(&text, limit)),
            _ => Ok(text),
        }
    }
}
