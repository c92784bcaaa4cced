//! LongHealth tasks 1–3 as the reference's `eval_LongHealth.py` builds them: documents fill a
//! token budget (answer documents first), are shuffled, and the model picks an option letter.
//!
//! Order of draws, all from one generator seeded with the recorded seed (the reference leaves
//! Python's unseeded): task 1 for every patient and question in file order, 5 prompts each
//! (one shuffle per prompt); then tasks 2 and 3, per question 10 iterations `j = 0..10`, each
//! drawing 10 texts of other patients with `random.sample` and then shuffling. Even `j` is
//! task 3 (no answer documents, gold `F`), odd `j` task 2. Request ids are
//! `{patient}/{No}/t{task}/i{j}`, with the reference's `j` (task 1: 0–4; task 2: 1, 3, …, 9;
//! task 3: 0, 2, …, 8).

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

use super::conversation::generation;
use super::profile::{self, TaskPrompt};
use super::request::{
    ChatStyle, LongHealthTask, Prompt, Reference, Request, TaskSettings, TokenCounter,
};
use super::{Profile, ReadingMode, TaskError, TaskId};
use crate::data::{Example, LongHealthQuestion, Patient, Record};
use crate::prompt::chat_template::{Message, Role};
use crate::prompt::pyrandom::PyRandom;

/// Joins the chosen documents in the prompt.
const DOCUMENT_SEPARATOR: &str = "\n\n--------------\n\n";
/// What the reference measures as the separator's length (not the separator it joins with).
const MEASURED_SEPARATOR: &str = "\n\n-------------- NEW DOCUMENT --------------\n\n";
/// Option F of tasks 2 and 3.
const OPTION_F: &str = "Question cannot be answered with provided documents";
/// Task 1 prompts per question.
const TASK1_PROMPTS: usize = 5;
/// Task 2/3 iterations per question.
const POOL_ITERATIONS: usize = 10;
/// Other patients' texts drawn per task 2/3 iteration.
const POOL_DISTRACTORS: usize = 10;

/// A document with its token count, measured once.
#[derive(Clone, Copy)]
struct Document<'a> {
    text: &'a str,
    tokens: usize,
}

/// The requests of all three subtasks for the questions in `examples`.
pub(crate) fn requests(
    examples: &[Example],
    patients: &[Patient],
    settings: &TaskSettings,
    counter: &dyn TokenCounter,
) -> Result<Vec<Request>, TaskError> {
    let prompt = profile::task_prompt(settings.profile, TaskId::LongHealth);
    let builder = Builder::new(prompt, patients, settings, counter)?;
    let questions = examples
        .iter()
        .map(|example| match &example.record {
            Record::LongHealth(question) => Ok((example, question)),
            _ => Err(TaskError::WrongRecord {
                id: example.id.clone(),
                task: TaskId::LongHealth,
            }),
        })
        .collect::<Result<Vec<_>, TaskError>>()?;

    let mut rng = PyRandom::new(settings.longhealth_seed);
    let mut requests = Vec::with_capacity(questions.len() * (TASK1_PROMPTS + POOL_ITERATIONS));
    for &(example, question) in &questions {
        let patient = builder.patient(example, question)?;
        let answers = builder.answer_documents(example, question, patient)?;
        let distractors: Vec<Document> = builder.documents[patient]
            .iter()
            .zip(&patients[patient].texts)
            .filter(|(_, (id, _))| !question.answer_text_ids.contains(id))
            .map(|(document, _)| *document)
            .collect();
        for j in 0..TASK1_PROMPTS {
            let text = builder.user_prompt(&answers, &distractors, question, false, &mut rng)?;
            requests.push(builder.request(
                example,
                question,
                LongHealthTask::Task1,
                j,
                text,
                requests.len(),
            )?);
        }
    }
    for &(example, question) in &questions {
        let patient = builder.patient(example, question)?;
        let answers = builder.answer_documents(example, question, patient)?;
        let pool: Vec<Document> = (0..patients.len())
            .filter(|&other| patients[other].id != patients[patient].id)
            .flat_map(|other| builder.documents[other].iter().copied())
            .collect();
        for j in 0..POOL_ITERATIONS {
            let distractors = rng.sample(&pool, POOL_DISTRACTORS.min(pool.len()));
            let (task, answer_documents) = if j % 2 == 0 {
                (LongHealthTask::Task3, &[][..])
            } else {
                (LongHealthTask::Task2, &answers[..])
            };
            let text =
                builder.user_prompt(answer_documents, &distractors, question, true, &mut rng)?;
            requests.push(builder.request(example, question, task, j, text, requests.len())?);
        }
    }
    Ok(requests)
}

struct Builder<'a> {
    prompt: &'static TaskPrompt,
    template: &'static str,
    patients: &'a [Patient],
    patient_index: HashMap<&'a str, usize>,
    documents: Vec<Vec<Document<'a>>>,
    settings: &'a TaskSettings,
    counter: &'a dyn TokenCounter,
    /// The budget for the user prompt: the setting less the system prompt's tokens.
    max_len: i64,
    separator_tokens: i64,
    template_tokens: i64,
}

impl<'a> Builder<'a> {
    fn new(
        prompt: &'static TaskPrompt,
        patients: &'a [Patient],
        settings: &'a TaskSettings,
        counter: &'a dyn TokenCounter,
    ) -> Result<Builder<'a>, TaskError> {
        let template = prompt
            .prompt_template
            .as_deref()
            .ok_or_else(|| TaskError::Template {
                template: String::new(),
                problem: "prompts.json lacks LongHealth's prompt_template".to_owned(),
            })?;
        let documents = patients
            .iter()
            .map(|patient| {
                patient
                    .texts
                    .iter()
                    .map(|(_, text)| Document {
                        text,
                        tokens: counter.count(text),
                    })
                    .collect()
            })
            .collect();
        Ok(Builder {
            prompt,
            template,
            patients,
            patient_index: patients
                .iter()
                .enumerate()
                .map(|(i, p)| (p.id.as_str(), i))
                .collect(),
            documents,
            settings,
            counter,
            max_len: tokens(settings.longhealth_budget) - tokens(counter.count(&prompt.sys_prompt)),
            separator_tokens: tokens(counter.count(MEASURED_SEPARATOR)),
            template_tokens: tokens(counter.count(template)),
        })
    }

    fn patient(
        &self,
        example: &Example,
        question: &LongHealthQuestion,
    ) -> Result<usize, TaskError> {
        self.patient_index
            .get(question.patient_id.as_str())
            .copied()
            .ok_or_else(|| TaskError::UnknownPatient {
                id: example.id.clone(),
                patient: question.patient_id.clone(),
            })
    }

    /// The answer documents in `answer_location` order.
    fn answer_documents(
        &self,
        example: &Example,
        question: &LongHealthQuestion,
        patient: usize,
    ) -> Result<Vec<Document<'a>>, TaskError> {
        question
            .answer_text_ids
            .iter()
            .map(|text_id| {
                self.patients[patient]
                    .texts
                    .iter()
                    .position(|(id, _)| id == text_id)
                    .map(|at| self.documents[patient][at])
                    .ok_or_else(|| TaskError::UnknownText {
                        id: example.id.clone(),
                        text: text_id.clone(),
                    })
            })
            .collect()
    }

    /// The reference's `create_prompt`: the fixed parts' tokens are counted first; answer
    /// documents are added while they fit (each counting the measured separator too), the
    /// first that does not is cut to the tokens left and ends the answer documents; then
    /// distractors the same way (after a cut the next one is cut to nothing, an empty
    /// document, as in the reference); then the chosen documents are shuffled.
    fn user_prompt(
        &self,
        answers: &[Document],
        distractors: &[Document],
        question: &LongHealthQuestion,
        with_f: bool,
        rng: &mut PyRandom,
    ) -> Result<String, TaskError> {
        let options = options(question, with_f);
        let mut total = tokens(self.counter.count(&question.question))
            + tokens(self.counter.count(&options))
            + self.template_tokens;
        let mut selected: Vec<String> = Vec::new();
        for group in [answers, distractors] {
            for document in group {
                let length = tokens(document.tokens);
                if total + length <= self.max_len {
                    selected.push(document.text.to_owned());
                    total += length + self.separator_tokens;
                } else {
                    let left = usize::try_from(self.max_len - total).unwrap_or(0);
                    selected.push(self.counter.truncate_right(document.text, left));
                    total = self.max_len;
                    break;
                }
            }
        }
        rng.shuffle(&mut selected);
        let documents = selected.join(DOCUMENT_SEPARATOR);
        profile::fill(
            self.template,
            &[
                ("documents", &documents),
                ("question_text", &question.question),
                ("options", &options),
            ],
        )
    }

    fn request(
        &self,
        example: &Example,
        question: &LongHealthQuestion,
        task: LongHealthTask,
        iteration: usize,
        user_prompt: String,
        index: usize,
    ) -> Result<Request, TaskError> {
        let settings = self.settings;
        let letter = match task {
            LongHealthTask::Task3 => Some('F'),
            LongHealthTask::Task1 => gold_letter(question, false, settings.profile),
            LongHealthTask::Task2 => gold_letter(question, true, settings.profile),
        }
        .ok_or_else(|| TaskError::NoGoldOption {
            id: example.id.clone(),
        })?;
        let system = &self.prompt.sys_prompt;
        // The reference joins system and user without a separator here (both carry newlines).
        let prompt = match settings.chat_style {
            ChatStyle::SystemRole => Prompt::Chat(vec![
                Message::new(Role::System, system.clone()),
                Message::new(Role::User, user_prompt),
            ]),
            ChatStyle::NoSystemRole => Prompt::Chat(vec![Message::new(
                Role::User,
                format!("{system}{user_prompt}"),
            )]),
            ChatStyle::BaseModel => Prompt::Plain(format!("{system}\n\n\n{user_prompt}")),
        };
        let max_new_tokens = settings
            .max_new_tokens
            .unwrap_or(self.prompt.max_new_tokens);
        // The paper code truncates, stops Llama-3 and cuts Phi answers in task 1 only.
        let task1_paper = task == LongHealthTask::Task1 && settings.profile == Profile::Paper;
        let stops = if task1_paper {
            settings.llama3_stops()
        } else {
            Vec::new()
        };
        Ok(Request {
            task: TaskId::LongHealth,
            id: format!("{}/t{}/i{iteration}", example.id, task.number()),
            prompt,
            assistant_prefix: None,
            max_prompt_tokens: settings
                .context_size
                .filter(|_| task1_paper)
                .map(|context| context.saturating_sub(max_new_tokens)),
            generation: generation(settings, max_new_tokens, index, stops),
            reference: Reference::Choice { task, letter },
        })
    }
}

fn tokens(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// `"A: " + answer_a` … one per line; tasks 2 and 3 add option F.
fn options(question: &LongHealthQuestion, with_f: bool) -> String {
    let mut lines: Vec<String> = question
        .options
        .iter()
        .zip('A'..='E')
        .map(|(text, letter)| format!("{letter}: {text}"))
        .collect();
    if with_f {
        lines.push(format!("F: {OPTION_F}"));
    }
    lines.join("\n")
}

/// The option whose text contains `correct` (a substring test, as in the reference). The
/// paper code keeps the last such option, the current code the first; tasks 2 and 3 search
/// option F too, as the reference adds it to the question before looking.
fn gold_letter(question: &LongHealthQuestion, with_f: bool, profile: Profile) -> Option<char> {
    let f = with_f.then_some(OPTION_F);
    let mut matching = question
        .options
        .iter()
        .map(String::as_str)
        .chain(f)
        .zip('A'..='F')
        .filter(|(text, _)| text.contains(question.correct.as_str()))
        .map(|(_, letter)| letter);
    match profile {
        Profile::Paper => matching.last(),
        Profile::Current => matching.next(),
    }
}

/// The option letter of an answer. Strict: the first match of `The correct answer is (\w):`
/// (Python's `\w` and the regex crate's are both Unicode-aware, so `É` counts as a letter in
/// both). Flexible: that, else `answer is X`, else a lone letter A–F opening the answer.
pub(crate) fn read_letter(text: &str, mode: ReadingMode) -> Option<char> {
    static STRICT: OnceLock<Regex> = OnceLock::new();
    static ANSWER_IS: OnceLock<Regex> = OnceLock::new();
    static LONE: OnceLock<Regex> = OnceLock::new();
    let first_capture = |regex: &Regex| {
        regex
            .captures(text)
            .and_then(|c| c.get(1))
            .and_then(|m| m.as_str().chars().next())
    };
    let strict = first_capture(
        STRICT.get_or_init(|| Regex::new(r"The correct answer is (\w):").expect("valid regex")),
    );
    match mode {
        ReadingMode::Strict => strict,
        ReadingMode::Flexible => strict
            .or_else(|| {
                first_capture(ANSWER_IS.get_or_init(|| {
                    Regex::new(r"(?i)answer is:?\s*\(?([A-F])\b").expect("valid regex")
                }))
                .map(|c| c.to_ascii_uppercase())
            })
            .or_else(|| {
                first_capture(LONE.get_or_init(|| {
                    Regex::new(r"^\s*\(?([A-F])(?:[):.]|\s|$)").expect("valid regex")
                }))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(options: [&str; 5], correct: &str) -> LongHealthQuestion {
        LongHealthQuestion {
            patient_id: "p".into(),
            number: "1".into(),
            question: "Q?".into(),
            options: options.map(str::to_owned),
            correct: correct.into(),
            answer_text_ids: vec![],
        }
    }

    #[test]
    fn gold_letter_is_last_match_in_paper_and_first_in_current() {
        let q = question(["Aspirin", "Aspirin 100 mg", "C", "D", "E"], "Aspirin");
        assert_eq!(gold_letter(&q, false, Profile::Paper), Some('B'));
        assert_eq!(gold_letter(&q, false, Profile::Current), Some('A'));
        let none = question(["a", "b", "c", "d", "e"], "z");
        assert_eq!(gold_letter(&none, false, Profile::Paper), None);
    }

    #[test]
    fn options_list_one_per_line() {
        let q = question(["a", "b", "c", "d", "e"], "a");
        assert_eq!(options(&q, false), "A: a\nB: b\nC: c\nD: d\nE: e");
        assert!(
            options(&q, true).ends_with("\nF: Question cannot be answered with provided documents")
        );
    }
}
