//! MedNLI (JSON Lines, one `{sentence1, sentence2, gold_label}` object per line, as PhysioNet
//! ships `mli_test_v1.jsonl`): premise/hypothesis pairs with a lower-case label.

use super::error::{DataError, Problem};
use super::json;
use super::text::{Limits, SourceText};
use super::{Example, NliLabel, NliPair, Record};

/// Reads every pair; the id is `pairID` when present, else the 0-based record index.
pub(crate) fn read(text: &SourceText, limits: Limits) -> Result<Vec<Example>, DataError> {
    json::read_examples(text, limits, "pairID", |record| {
        let label = record.text_field("gold_label")?;
        let gold_label = NliLabel::parse(&label).ok_or_else(|| {
            record.error(
                "gold_label",
                Problem::UnknownLabel {
                    value: label.clone(),
                },
            )
        })?;
        Ok(Record::MedNli(NliPair {
            sentence1: record.text_field("sentence1")?,
            sentence2: record.text_field("sentence2")?,
            gold_label,
        }))
    })
}
