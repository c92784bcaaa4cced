//! Problem Summary (BioNLP-2023 task 1A: a CSV file with the header `File ID, Subjectives,
//! Objectives, Assessment, Summary`, quoted fields spanning lines): progress notes and their
//! `;`-separated problem lists.

use super::error::{DataError, Location, Problem};
use super::text::SourceText;
use super::{Example, ProgressNote, Record};

const FILE_ID: &str = "File ID";
const SUBJECTIVES: &str = "Subjectives";
const OBJECTIVES: &str = "Objectives";
const ASSESSMENT: &str = "Assessment";
const SUMMARY: &str = "Summary";

/// Reads every note; the id is `File ID`. Header names may carry surrounding spaces and come
/// in any order; `Objectives` may be absent (CLUE's prompts do not use it). Records whose
/// fields are all empty (trailing `,,,,` rows of spreadsheet exports) are skipped; a record
/// with another number of fields than the header, an empty `File ID` or an empty `Summary`
/// (which the reference code cannot score) is an error.
pub(crate) fn read(text: &SourceText) -> Result<Vec<Example>, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.text.as_bytes());
    let mut records = reader.records();
    let csv_error = |error: csv::Error| {
        let line = error.position().map_or(1, |p| line_at(text, p));
        DataError::new(
            text.source,
            Problem::Csv {
                message: error.to_string(),
            },
        )
        .at(Location::Line(line))
    };

    let header = loop {
        match records.next() {
            None => return Err(DataError::new(text.source, Problem::NoExamples)),
            Some(record) => {
                let record = record.map_err(csv_error)?;
                if !is_blank(&record) {
                    break record;
                }
            }
        }
    };
    let header_line = line_of(text, &header);
    let names: Vec<&str> = header.iter().map(str::trim).collect();
    let column = |name: &str| names.iter().position(|&n| n == name);
    let required = |name: &str| {
        column(name).ok_or_else(|| {
            DataError::new(
                text.source,
                Problem::MissingColumn {
                    found: names.join(", "),
                },
            )
            .at(Location::Line(header_line))
            .with_field(name)
        })
    };
    let file_id = required(FILE_ID)?;
    let subjectives = required(SUBJECTIVES)?;
    let assessment = required(ASSESSMENT)?;
    let summary = required(SUMMARY)?;
    let objectives = column(OBJECTIVES);

    let mut examples = Vec::new();
    for record in records {
        let record = record.map_err(csv_error)?;
        if is_blank(&record) {
            continue;
        }
        let line = line_of(text, &record);
        let at_field = |name: &str, problem: Problem| {
            DataError::new(text.source, problem)
                .at(Location::Line(line))
                .with_field(name)
        };
        if record.len() != names.len() {
            let problem = Problem::ColumnCount {
                expected: names.len(),
                found: record.len(),
            };
            // With fields missing, name the first column that has no value.
            return Err(match names.get(record.len()) {
                Some(first_missing) if record.len() < names.len() => {
                    at_field(first_missing, problem)
                }
                _ => DataError::new(text.source, problem).at(Location::Line(line)),
            });
        }
        let field = |index: usize| record.get(index).unwrap_or_default().to_string();
        let id = field(file_id);
        if id.trim().is_empty() {
            return Err(at_field(FILE_ID, Problem::EmptyValue));
        }
        let note = ProgressNote {
            subjectives: field(subjectives),
            objectives: objectives.map(field).unwrap_or_default(),
            assessment: field(assessment),
            summary: field(summary),
        };
        if note.summary.trim().is_empty() {
            return Err(at_field(SUMMARY, Problem::EmptyValue));
        }
        examples.push(Example {
            id,
            line,
            record: Record::ProbSum(note),
        });
    }
    if examples.is_empty() {
        return Err(DataError::new(text.source, Problem::NoExamples));
    }
    Ok(examples)
}

fn is_blank(record: &csv::StringRecord) -> bool {
    record.iter().all(|field| field.trim().is_empty())
}

/// The 1-based line where the record starts.
fn line_of(text: &SourceText, record: &csv::StringRecord) -> usize {
    record
        .position()
        .map_or(1, |position| line_at(text, position))
}

/// The line of a csv position, from its byte offset: csv's own line count is one short after
/// CRLF line ends (it stops a record at `\r` and counts the `\n` in the next one), so the
/// line breaks before the record are skipped and the offset mapped to a line.
fn line_at(text: &SourceText, position: &csv::Position) -> usize {
    let start = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    let skipped = text.text.as_bytes().get(start..).map_or(0, |rest| {
        rest.iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count()
    });
    text.line_of(start.saturating_add(skipped))
}
