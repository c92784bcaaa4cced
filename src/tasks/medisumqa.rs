//! MeDiSumQA: one letter/question/answer shot after `random.seed(1)` shuffles the rows (in
//! both profiles), the answer scored with ROUGE. The letter field is `without_discharge_summary`
//! in the paper profile's template and `discharge_summary` in the current one.

use super::conversation::{Fields, ShotTask};
use super::request::{Reference, TaskSettings};
use super::{TaskError, TaskId};
use crate::data::{Example, LetterQuestion, Record};

/// MeDiSumQA's few-shot setup.
pub(crate) const TASK: ShotTask = ShotTask {
    task: TaskId::MeDiSumQa,
    default_shots: 1,
    truncation_room: None,
    fields,
    reference,
};

fn question(example: &Example) -> Result<&LetterQuestion, TaskError> {
    match &example.record {
        Record::MeDiSumQa(question) => Ok(question),
        _ => Err(TaskError::WrongRecord {
            id: example.id.clone(),
            task: TaskId::MeDiSumQa,
        }),
    }
}

fn fields(example: &Example, _: &TaskSettings) -> Result<Fields, TaskError> {
    let question = question(example)?;
    Ok(vec![
        ("without_discharge_summary", question.letter.clone()),
        ("discharge_summary", question.letter.clone()),
        ("Question", question.question.clone()),
        ("Answer", question.answer.clone()),
    ])
}

fn reference(example: &Example, _: &TaskSettings) -> Result<Reference, TaskError> {
    Ok(Reference::Text {
        text: question(example)?.answer.clone(),
    })
}
