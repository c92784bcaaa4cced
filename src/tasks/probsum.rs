//! Problem Summary (BioNLP-2023 1A): three progress-note shots, the problem list as the
//! answer. The reference rewrites every summary, shots included, replacing `;` with `", "`.

use super::conversation::{Fields, ShotTask};
use super::request::{Reference, TaskSettings};
use super::{TaskError, TaskId};
use crate::data::{Example, ProgressNote, Record};

/// Problem Summary's few-shot setup.
pub(crate) const TASK: ShotTask = ShotTask {
    task: TaskId::ProbSum,
    default_shots: 3,
    truncation_room: None,
    fields,
    reference,
};

fn note(example: &Example) -> Result<&ProgressNote, TaskError> {
    match &example.record {
        Record::ProbSum(note) => Ok(note),
        _ => Err(TaskError::WrongRecord {
            id: example.id.clone(),
            task: TaskId::ProbSum,
        }),
    }
}

/// The summary as the reference uses it: `;` → `", "`. The reference meant to drop a trailing
/// `;` first but its line (`data[i]["Summary"][:-1]`) assigns nothing, so the summary keeps a
/// trailing `", "`; only `compat` reproduces that.
pub(crate) fn reference_summary(summary: &str, compat: bool) -> String {
    let summary = match summary.strip_suffix(';') {
        Some(stripped) if !compat => stripped,
        _ => summary,
    };
    summary.replace(';', ", ")
}

fn fields(example: &Example, settings: &TaskSettings) -> Result<Fields, TaskError> {
    let note = note(example)?;
    Ok(vec![
        ("Subjectives", note.subjectives.clone()),
        ("Objectives", note.objectives.clone()),
        ("Assessment", note.assessment.clone()),
        ("Summary", reference_summary(&note.summary, settings.compat)),
    ])
}

fn reference(example: &Example, settings: &TaskSettings) -> Result<Reference, TaskError> {
    Ok(Reference::Text {
        text: reference_summary(&note(example)?.summary, settings.compat),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_semicolon_becomes_a_comma_only_in_compat() {
        assert_eq!(reference_summary("a;b;", true), "a, b, ");
        assert_eq!(reference_summary("a;b;", false), "a, b");
        assert_eq!(reference_summary("a;b", false), "a, b");
        assert_eq!(reference_summary("", false), "");
    }
}
