//! MeDiSumCode: one letter/codes shot, the ICD-10 codes found in the answer by the reference's
//! regex (dots removed), scored by exact and category match and table validity.

use std::sync::OnceLock;

use regex::Regex;

use super::conversation::{Fields, ShotTask};
use super::request::{Reference, TaskSettings};
use super::{ReadingMode, TaskError, TaskId};
use crate::data::{CodedLetter, Example, Record};

/// MeDiSumCode's few-shot setup.
pub(crate) const TASK: ShotTask = ShotTask {
    task: TaskId::MeDiSumCode,
    default_shots: 1,
    truncation_room: None,
    fields,
    reference,
};

fn letter(example: &Example) -> Result<&CodedLetter, TaskError> {
    match &example.record {
        Record::MeDiSumCode(letter) => Ok(letter),
        _ => Err(TaskError::WrongRecord {
            id: example.id.clone(),
            task: TaskId::MeDiSumCode,
        }),
    }
}

fn gold_codes(letter: &CodedLetter) -> Vec<String> {
    letter.codes.iter().map(|c| c.code.clone()).collect()
}

fn fields(example: &Example, _: &TaskSettings) -> Result<Fields, TaskError> {
    let letter = letter(example)?;
    Ok(vec![
        ("text", letter.text.clone()),
        ("codes", gold_codes(letter).join(", ")),
    ])
}

fn reference(example: &Example, _: &TaskSettings) -> Result<Reference, TaskError> {
    Ok(Reference::Codes {
        codes: gold_codes(letter(example)?),
    })
}

/// All matches of `\b[A-TV-Z][0-9]{2}(?:\.?[0-9A-Z]{1,4})?\b` (case-sensitive, no U codes)
/// with dots removed; the regex crate's leftmost-first matching picks what Python's does.
/// Flexible mode also reads lower-case codes (the text is upper-cased first).
pub(crate) fn read_codes(text: &str, mode: ReadingMode) -> Vec<String> {
    static CODE: OnceLock<Regex> = OnceLock::new();
    let code = CODE.get_or_init(|| {
        Regex::new(r"\b[A-TV-Z][0-9]{2}(?:\.?[0-9A-Z]{1,4})?\b").expect("valid regex")
    });
    let text = match mode {
        ReadingMode::Strict => text.to_owned(),
        ReadingMode::Flexible => text.to_uppercase(),
    };
    code.find_iter(&text)
        .map(|m| m.as_str().replace('.', ""))
        .collect()
}
