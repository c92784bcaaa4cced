//! The six CLUE tasks: few-shot rows, the messages of each request per profile, generation
//! settings, reading the answer out of a completion, and the per-example metrics.
//!
//! [`build_requests`] turns a task's examples into [`Request`]s; the runner renders each with
//! [`Request::render`], generates, and passes the text to [`read_prediction`] and [`score`].

mod answer;
mod conversation;
mod longhealth;
mod medisumcode;
mod medisumqa;
mod mednli;
mod meqsum;
mod probsum;
mod profile;
mod request;

use thiserror::Error;

use crate::data::Dataset;
pub use crate::data::TaskId;
use crate::metrics::{SampleScores, icd10, rouge};
use crate::prompt::chat_template::ChatTemplateError;
pub use answer::{Answer, Prediction, ReadingMode, read_prediction};
pub use profile::{Profile, TaskPrompt, task_prompt};
pub use request::{
    ChatStyle, DEFAULT_LONGHEALTH_BUDGET, DEFAULT_LONGHEALTH_SEED, GenerationSettings,
    LongHealthTask, Prompt, Reference, Request, Sampling, TaskSettings, TokenCounter,
};

/// Why requests could not be built or scored.
#[derive(Debug, Error)]
pub enum TaskError {
    /// An example of another task was handed to this one.
    #[error("example {id} is not a {task} example")]
    WrongRecord {
        /// The example's id.
        id: String,
        /// The task it was handed to.
        task: TaskId,
    },
    /// A prompt template could not be filled.
    #[error("prompt template: {problem} in {template:?}")]
    Template {
        /// The template.
        template: String,
        /// What is wrong.
        problem: String,
    },
    /// A LongHealth question names a patient the file does not hold.
    #[error("LongHealth question {id}: no patient {patient:?} in the file")]
    UnknownPatient {
        /// The question's id.
        id: String,
        /// The patient id.
        patient: String,
    },
    /// A LongHealth question's `answer_location` names a text its patient does not have.
    #[error(
        "LongHealth question {id}: answer_location names text {text:?}, which the patient does not have"
    )]
    UnknownText {
        /// The question's id.
        id: String,
        /// The text id.
        text: String,
    },
    /// No option of a LongHealth question contains its `correct` text.
    #[error("LongHealth question {id}: no option contains the `correct` text")]
    NoGoldOption {
        /// The question's id.
        id: String,
    },
    /// A chat prompt was rendered without a chat template.
    #[error("request {id} holds chat messages but the model has no chat template")]
    NoChatTemplate {
        /// The request's id.
        id: String,
    },
    /// The chat template failed.
    #[error(transparent)]
    ChatTemplate(#[from] ChatTemplateError),
    /// An answer was scored against a reference of another kind.
    #[error("a {answer} answer cannot be scored against a {reference} reference")]
    Mismatch {
        /// The answer's kind.
        answer: &'static str,
        /// The reference's kind.
        reference: &'static str,
    },
}

/// The requests of a dataset: one per evaluated row, and per LongHealth question 5 task-1
/// prompts and 10 task-2/3 prompts. `counter` measures LongHealth's token budget.
pub fn build_requests(
    dataset: &Dataset,
    settings: &TaskSettings,
    counter: &dyn TokenCounter,
) -> Result<Vec<Request>, TaskError> {
    let examples = &dataset.examples;
    match dataset.task {
        TaskId::MedNli => conversation::few_shot_requests(&mednli::TASK, examples, settings),
        TaskId::MeqSum => conversation::few_shot_requests(&meqsum::TASK, examples, settings),
        TaskId::ProbSum => conversation::few_shot_requests(&probsum::TASK, examples, settings),
        TaskId::MeDiSumQa => conversation::few_shot_requests(&medisumqa::TASK, examples, settings),
        TaskId::MeDiSumCode => {
            conversation::few_shot_requests(&medisumcode::TASK, examples, settings)
        }
        TaskId::LongHealth => longhealth::requests(examples, &dataset.patients, settings, counter),
    }
}

/// The per-example metrics of a prediction: accuracy (MedNLI), ROUGE-1/2/L/Lsum F (summaries),
/// the code metrics (MeDiSumCode), or the subtask's accuracy (LongHealth). BERTScore and UMLS
/// are not computed here and stay absent.
pub fn score(prediction: &Prediction, reference: &Reference) -> Result<SampleScores, TaskError> {
    match (&prediction.answer, reference) {
        (Answer::Labels { labels }, Reference::Label { label }) => {
            Ok(mednli::score(labels, *label))
        }
        (Answer::Text { text }, Reference::Text { text: gold }) => {
            Ok(rouge::score(text, gold).fmeasures().into_iter().collect())
        }
        (Answer::Codes { codes }, Reference::Codes { codes: gold }) => {
            Ok(icd10::score_codes(codes, gold).sample_scores())
        }
        (Answer::Letter { letter }, Reference::Choice { task, letter: gold }) => Ok(
            SampleScores::from([(task.metric(), f64::from(u8::from(*letter == Some(*gold))))]),
        ),
        (answer, reference) => Err(TaskError::Mismatch {
            answer: match answer {
                Answer::Labels { .. } => "label",
                Answer::Text { .. } => "text",
                Answer::Codes { .. } => "codes",
                Answer::Letter { .. } => "letter",
            },
            reference: match reference {
                Reference::Label { .. } => "label",
                Reference::Text { .. } => "text",
                Reference::Codes { .. } => "codes",
                Reference::Choice { .. } => "choice",
            },
        }),
    }
}
