//! MeDiSumCode (a JSON array or JSON Lines of `{hadm_id, text, icd_codes: [{code,
//! description}]}`, as CLUE's generator writes it from MIMIC-IV): a letter and its codes.

use super::error::DataError;
use super::json;
use super::text::{Limits, SourceText};
use super::{CodedLetter, Example, IcdCode, Record};

/// Reads every admission; the id is `hadm_id` (text or integer), else the 0-based record index.
/// A code's `description` may be absent (read as empty); its `code` may not.
pub(crate) fn read(text: &SourceText, limits: Limits) -> Result<Vec<Example>, DataError> {
    json::read_examples(text, limits, "hadm_id", |record| {
        let mut codes = Vec::new();
        for (position, span) in record.array("icd_codes")?.into_iter().enumerate() {
            let entry = json::object_at(
                text,
                span,
                record.item().map(str::to_string),
                format!("icd_codes[{position}]."),
                "an object with code and description",
            )
            .map_err(|error| error.with_field(format!("icd_codes[{position}]")))?;
            codes.push(IcdCode {
                code: entry.text_field("code")?,
                description: entry.optional_text("description")?.unwrap_or_default(),
            });
        }
        Ok(Record::MeDiSumCode(CodedLetter {
            text: record.text_field("text")?,
            codes,
        }))
    })
}
