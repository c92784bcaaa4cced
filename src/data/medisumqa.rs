//! MeDiSumQA (a JSON array or JSON Lines of `{without_discharge_summary | discharge_summary,
//! Question, Answer}`): a patient's question about a discharge letter, and the answer.

use super::error::{DataError, Problem};
use super::json;
use super::text::{Limits, SourceText};
use super::{Example, LetterQuestion, Record};

/// The letter field the paper profile reads; the released files may also carry
/// `with_discharge_summary`, which holds the answers and is never read.
const LETTER: &str = "without_discharge_summary";
/// The name the current reference code uses for the same letter.
const LETTER_ALTERNATIVE: &str = "discharge_summary";

/// Reads every question; the id is the `id` field when present, else the 0-based record index.
/// When both letter fields are present, `without_discharge_summary` wins: the question must
/// be answered from the letter without its summary.
pub(crate) fn read(text: &SourceText, limits: Limits) -> Result<Vec<Example>, DataError> {
    json::read_examples(text, limits, "id", |record| {
        let letter = match record.optional_text(LETTER)? {
            Some(letter) => letter,
            None => record.optional_text(LETTER_ALTERNATIVE)?.ok_or_else(|| {
                record.error(
                    LETTER,
                    Problem::MissingField {
                        alternative: Some(LETTER_ALTERNATIVE),
                    },
                )
            })?,
        };
        Ok(Record::MeDiSumQa(LetterQuestion {
            letter,
            question: record.text_field("Question")?,
            answer: record.text_field("Answer")?,
        }))
    })
}
