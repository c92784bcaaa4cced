//! A whole dataset file read into examples: picks the reader for the task (named, or detected
//! from the content), and checks what every format shares: size limits and unique ids.

use std::collections::HashMap;

use super::detect::detect_text;
use super::error::{DataError, Location, Problem, format_name};
use super::text::{self, Limits, SourceText};
use super::{Example, Patient, TaskId};
use super::{longhealth, medisumcode, medisumqa, mednli, meqsum, probsum};

/// A whole file read into examples.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The file name the reader was given, used in messages.
    pub source: String,
    /// The task whose format the file is in.
    pub task: TaskId,
    /// The examples in file order, with unique ids.
    pub examples: Vec<Example>,
    /// LongHealth's patients and their texts in file order; empty for the other tasks.
    pub patients: Vec<Patient>,
}

/// Reads a dataset file of one of the six official CLUE formats (see CLUE.md "File formats").
///
/// `source` is the file name used in messages. With `task: None` the format is detected from
/// the content (see [`detect`](super::detect)); a named task overrides detection, and a file
/// that does not match it fails with the missing field named (and, where detection recognises
/// the file, which task it looks like). Files over [`MAX_FILE_BYTES`](super::MAX_FILE_BYTES)
/// and JSON Lines lines over [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES) are refused before they
/// are parsed. Unknown fields are ignored everywhere; two examples with the same id are an
/// error naming both lines or rows.
pub fn read(source: &str, bytes: &[u8], task: Option<TaskId>) -> Result<Dataset, DataError> {
    read_with(source, bytes, task, Limits::OFFICIAL)
}

/// [`read`] under the given limits.
pub(crate) fn read_with(
    source: &str,
    bytes: &[u8],
    task: Option<TaskId>,
    limits: Limits,
) -> Result<Dataset, DataError> {
    text::check_size(source, bytes, limits)?;
    let (task, examples, patients) = match (text::is_zip(bytes), task) {
        (true, None | Some(TaskId::MeqSum)) | (false, Some(TaskId::MeqSum)) => {
            (TaskId::MeqSum, meqsum::read(source, bytes)?, vec![])
        }
        (true, Some(expected)) => {
            return Err(DataError::new(
                source,
                Problem::WrongFormat {
                    expected,
                    found: "an xlsx workbook (a zip archive)",
                },
            ));
        }
        (false, named) => {
            let text = SourceText::decode(source, bytes)?;
            let task = match named {
                Some(task) => task,
                None => detect_text(&text)?,
            };
            let (examples, patients) = read_text(&text, bytes, task, limits).map_err(|error| {
                match detect_text(&text) {
                    Ok(detected) if detected != task && is_mismatch(&error) => {
                        error.with_note(format!("the file looks like {}", format_name(detected)))
                    }
                    _ => error,
                }
            })?;
            (task, examples, patients)
        }
    };
    check_unique_ids(source, task, &examples)?;
    Ok(Dataset {
        source: source.to_string(),
        task,
        examples,
        patients,
    })
}

type Examples = (Vec<Example>, Vec<Patient>);

fn read_text(
    text: &SourceText,
    bytes: &[u8],
    task: TaskId,
    limits: Limits,
) -> Result<Examples, DataError> {
    Ok(match task {
        TaskId::MedNli => (mednli::read(text, limits)?, vec![]),
        TaskId::ProbSum => (probsum::read(text)?, vec![]),
        TaskId::LongHealth => longhealth::read(text)?,
        TaskId::MeDiSumQa => (medisumqa::read(text, limits)?, vec![]),
        TaskId::MeDiSumCode => (medisumcode::read(text, limits)?, vec![]),
        TaskId::MeqSum => (meqsum::read(text.source, bytes)?, vec![]),
    })
}

/// Errors that a file of another task's format would give.
fn is_mismatch(error: &DataError) -> bool {
    matches!(
        error.problem(),
        Problem::MissingField { .. }
            | Problem::MissingColumn { .. }
            | Problem::WrongType { .. }
            | Problem::NotJsonLines
            | Problem::InvalidJson { .. }
    )
}

/// The field each format takes its ids from, for duplicate-id messages.
fn id_field(task: TaskId) -> &'static str {
    match task {
        TaskId::MedNli => "pairID",
        TaskId::MeqSum => "File",
        TaskId::ProbSum => "File ID",
        TaskId::LongHealth => "No",
        TaskId::MeDiSumQa => "id",
        TaskId::MeDiSumCode => "hadm_id",
    }
}

/// Rejects a repeated id, naming where it was first used and where again: ids key the
/// few-shot selection, predictions and resumed runs, so they must be unique.
fn check_unique_ids(source: &str, task: TaskId, examples: &[Example]) -> Result<(), DataError> {
    let place = |line| match task {
        TaskId::MeqSum => Location::Row(line),
        _ => Location::Line(line),
    };
    let mut first_lines: HashMap<&str, usize> = HashMap::with_capacity(examples.len());
    for example in examples {
        if let Some(&first) = first_lines.get(example.id.as_str()) {
            return Err(DataError::new(
                source,
                Problem::DuplicateId {
                    id: example.id.clone(),
                    first: place(first),
                },
            )
            .at(place(example.line))
            .with_field(id_field(task)));
        }
        first_lines.insert(&example.id, example.line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIR: &str = r#"{"sentence1": "a", "sentence2": "b", "gold_label": "neutral"}"#;

    /// The public limits are too large to test with real files; the same path under small
    /// limits shows they are enforced before any reader runs.
    #[test]
    fn limits_are_enforced_on_the_public_path() {
        let file = format!("{PAIR}\n{PAIR}\n");
        let limits = Limits {
            file_bytes: file.len() - 1,
            line_bytes: PAIR.len(),
        };
        let error = read_with("big.jsonl", file.as_bytes(), None, limits).unwrap_err();
        assert_eq!(
            error.problem(),
            &Problem::FileTooLarge {
                size: file.len(),
                limit: file.len() - 1
            }
        );
        let limits = Limits {
            file_bytes: file.len(),
            line_bytes: PAIR.len() - 1,
        };
        let error =
            read_with("long.jsonl", file.as_bytes(), Some(TaskId::MedNli), limits).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "long.jsonl, line 1: the line is {} bytes long, more than the limit of {} bytes",
                PAIR.len(),
                PAIR.len() - 1
            )
        );
        let limits = Limits {
            file_bytes: file.len(),
            line_bytes: PAIR.len(),
        };
        let dataset = read_with("ok.jsonl", file.as_bytes(), None, limits).unwrap();
        assert_eq!(dataset.examples.len(), 2);
    }

    #[test]
    fn an_xlsx_over_the_limit_is_refused_before_it_is_opened() {
        let limits = Limits {
            file_bytes: 8,
            line_bytes: 8,
        };
        let error = read_with("big.xlsx", b"PK\x03\x04 and more", None, limits).unwrap_err();
        assert!(
            matches!(error.problem(), Problem::FileTooLarge { .. }),
            "{error}"
        );
    }
}
