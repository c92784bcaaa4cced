//! MeQSum: three inquiry/summary shots, a one-question summary as the answer, ROUGE against
//! the reference summary.

use super::conversation::{Fields, ShotTask};
use super::request::{Reference, TaskSettings};
use super::{TaskError, TaskId};
use crate::data::{Example, Inquiry, Record};

/// MeQSum's few-shot setup.
pub(crate) const TASK: ShotTask = ShotTask {
    task: TaskId::MeqSum,
    default_shots: 3,
    truncation_room: None,
    fields,
    reference,
};

fn inquiry(example: &Example) -> Result<&Inquiry, TaskError> {
    match &example.record {
        Record::MeqSum(inquiry) => Ok(inquiry),
        _ => Err(TaskError::WrongRecord {
            id: example.id.clone(),
            task: TaskId::MeqSum,
        }),
    }
}

fn fields(example: &Example, _: &TaskSettings) -> Result<Fields, TaskError> {
    let inquiry = inquiry(example)?;
    Ok(vec![
        ("CHQ", inquiry.chq.clone()),
        ("Summary", inquiry.summary.clone()),
    ])
}

fn reference(example: &Example, _: &TaskSettings) -> Result<Reference, TaskError> {
    Ok(Reference::Text {
        text: inquiry(example)?.summary.clone(),
    })
}
