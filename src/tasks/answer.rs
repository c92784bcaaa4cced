//! Reading the answer out of a completion: the paper profile's clean-up of the raw text, the
//! typed answer each task reads from it, and the mode (CLUE-strict by default).

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::request::{LongHealthTask, Reference, Request, TaskSettings};
use super::{Profile, TaskId, longhealth, medisumcode, mednli};
use crate::data::NliLabel;

/// How strictly an answer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadingMode {
    /// Exactly as the reference reads answers; the published numbers use this.
    #[default]
    Strict,
    /// More lenient, not comparable with published numbers: MedNLI takes the first label word,
    /// LongHealth also accepts "answer is X" or a lone letter, MeDiSumCode also reads lower-case
    /// codes, summaries drop an echoed answer prefix.
    Flexible,
}

/// What was read from a completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Answer {
    /// MedNLI: the labels the answer counts as (strict: each label named exactly once).
    Labels {
        /// The labels.
        labels: Vec<NliLabel>,
    },
    /// A summary or free-text answer.
    Text {
        /// The text.
        text: String,
    },
    /// MeDiSumCode: the codes found, dots removed.
    Codes {
        /// The codes.
        codes: Vec<String>,
    },
    /// LongHealth: the chosen option letter, if any.
    Letter {
        /// The letter.
        letter: Option<char>,
    },
}

/// A completion and what was read from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The generated text as the model produced it.
    pub raw: String,
    /// The text after the profile's clean-up, which the answer is read from.
    pub cleaned: String,
    /// The answer.
    pub answer: Answer,
    /// How it was read.
    pub mode: ReadingMode,
}

/// Reads the answer to `request` out of the generated text `raw`.
pub fn read_prediction(
    request: &Request,
    raw: &str,
    settings: &TaskSettings,
    mode: ReadingMode,
) -> Prediction {
    let cleaned = clean(request, raw, settings);
    let answer = match request.task {
        TaskId::MedNli => Answer::Labels {
            labels: mednli::read_labels(&cleaned, mode),
        },
        TaskId::MeqSum | TaskId::ProbSum | TaskId::MeDiSumQa => Answer::Text {
            text: match mode {
                ReadingMode::Strict => cleaned.clone(),
                ReadingMode::Flexible => without_echoed_prefix(request, &cleaned),
            },
        },
        TaskId::MeDiSumCode => Answer::Codes {
            codes: medisumcode::read_codes(&cleaned, mode),
        },
        TaskId::LongHealth => Answer::Letter {
            letter: longhealth::read_letter(&cleaned, mode),
        },
    };
    Prediction {
        raw: raw.to_owned(),
        cleaned,
        answer,
        mode,
    }
}

/// The paper profile's post-processing: Phi completions are cut at `" <|end|>"`; then
/// self-prompting is removed with `re.sub(r"(You are an AI.*)|(\[INST\].*)|((<\|user\|>).*)",
/// "", output)` — without DOTALL, so each match stops at a newline, and the regex crate's `.`
/// excludes only `\n` as Python's does — except MeDiSumQA, which is stripped instead. The
/// reference skips the Phi cut in LongHealth tasks 2 and 3. The current profile uses the raw
/// text.
fn clean(request: &Request, raw: &str, settings: &TaskSettings) -> String {
    if settings.profile == Profile::Current {
        return raw.to_owned();
    }
    let longhealth_pool_task = matches!(
        request.reference,
        Reference::Choice {
            task: LongHealthTask::Task2 | LongHealthTask::Task3,
            ..
        }
    );
    let mut text = raw;
    if settings.is_phi() && !longhealth_pool_task {
        text = text.split(" <|end|>").next().unwrap_or(text);
    }
    match request.task {
        TaskId::MedNli | TaskId::MeqSum | TaskId::ProbSum | TaskId::MeDiSumCode => {
            static SELF_PROMPTING: OnceLock<Regex> = OnceLock::new();
            SELF_PROMPTING
                .get_or_init(|| {
                    Regex::new(r"(You are an AI.*)|(\[INST\].*)|((<\|user\|>).*)")
                        .expect("valid regex")
                })
                .replace_all(text, "")
                .into_owned()
        }
        // Python's str.strip() also strips U+001C–U+001F, which trim() keeps; nothing else differs.
        TaskId::MeDiSumQa => text.trim().to_owned(),
        TaskId::LongHealth => text.to_owned(),
    }
}

/// Flexible reading of a summary: drops an echoed answer prefix (`Question:`, `Answer:`,
/// `Diagnoses/Patient problems:`, `ICD-10 Codes:`) and surrounding whitespace.
fn without_echoed_prefix(request: &Request, text: &str) -> String {
    let trimmed = text.trim();
    let prefixes = [
        "Question:",
        "Answer:",
        "Diagnoses/Patient problems:",
        "ICD-10 Codes:",
    ];
    let echoed = request
        .assistant_prefix
        .iter()
        .map(|p| p.trim())
        .chain(prefixes)
        .find_map(|prefix| trimmed.strip_prefix(prefix));
    echoed.unwrap_or(trimmed).trim().to_owned()
}
