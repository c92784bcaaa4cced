//! Which CLUE task a file is for, from its content alone: the xlsx zip signature, the CSV
//! header, or the field names of the first JSON record.

use super::TaskId;
use super::error::{DataError, Location, Problem};
use super::json::{self, JsonObject, Span};
use super::text::{self, Limits, SourceText};

/// Tells from the bytes which task's official format the file is in: an xlsx workbook is
/// MeQSum; a CSV header with `File ID`, `Subjectives` and `Assessment` is Problem Summary; a
/// JSON object of patients with `texts` or `questions` is LongHealth; a JSON array or JSON
/// Lines whose first object has `sentence1` is MedNLI, `Question` and `Answer` MeDiSumQA,
/// `icd_codes` (or `hadm_id` with `text`) MeDiSumCode. Only the first record is parsed.
pub fn detect(source: &str, bytes: &[u8]) -> Result<TaskId, DataError> {
    text::check_size(source, bytes, Limits::OFFICIAL)?;
    if text::is_zip(bytes) {
        return Ok(TaskId::MeqSum);
    }
    detect_text(&SourceText::decode(source, bytes)?)
}

/// [`detect`] on a decoded text file.
pub(crate) fn detect_text(text: &SourceText) -> Result<TaskId, DataError> {
    let whole = json::trimmed(text);
    match text.text.as_bytes().get(whole.start) {
        Some(b'[') => {
            json::validate(text, whole)?;
            let first = json::array_elements(text, whole.start)?
                .into_iter()
                .next()
                .ok_or_else(|| DataError::new(text.source, Problem::NoExamples))?;
            let record = json::object_at(
                text,
                first,
                Some("element 1".to_string()),
                String::new(),
                "a JSON object",
            )?;
            record_task(&record).ok_or_else(|| unknown_record(&record))
        }
        Some(b'{') => detect_object(text, whole),
        _ => detect_csv(text, whole.start),
    }
}

/// A file starting with `{`: JSON Lines (one record per line) or one LongHealth object.
fn detect_object(text: &SourceText, whole: Span) -> Result<TaskId, DataError> {
    let first_line_end = text.text[whole.start..]
        .find('\n')
        .map_or(whole.end, |i| whole.start + i);
    let first_line = Span {
        start: whole.start,
        end: whole.start + text.text[whole.start..first_line_end].trim_end().len(),
    };
    let top = if json::validate(text, first_line).is_ok() {
        JsonObject::parse(text, first_line, None, String::new())?
    } else {
        json::validate(text, whole)?;
        JsonObject::parse(text, whole, None, String::new())?
    };
    if let Some(task) = record_task(&top) {
        return Ok(task);
    }
    if is_patient_map(&top)? {
        return Ok(TaskId::LongHealth);
    }
    Err(unknown_record(&top))
}

/// The record task whose fields the object has.
fn record_task(record: &JsonObject) -> Option<TaskId> {
    if record.has("sentence1") {
        Some(TaskId::MedNli)
    } else if record.has("Question") && record.has("Answer") {
        Some(TaskId::MeDiSumQa)
    } else if record.has("icd_codes") || (record.has("hadm_id") && record.has("text")) {
        Some(TaskId::MeDiSumCode)
    } else {
        None
    }
}

/// Whether the object's first member is a patient with `texts` or `questions`.
fn is_patient_map(top: &JsonObject) -> Result<bool, DataError> {
    let Some(&(_, first)) = top.members().first() else {
        return Ok(false);
    };
    if text_byte(top, first) != Some(b'{') {
        return Ok(false);
    }
    let patient = JsonObject::parse(top.text(), first, None, String::new())?;
    Ok(patient.has("texts") || patient.has("questions"))
}

fn text_byte(object: &JsonObject, span: Span) -> Option<u8> {
    object.text().text.as_bytes().get(span.start).copied()
}

fn unknown_record(record: &JsonObject) -> DataError {
    let names: Vec<&str> = record
        .members()
        .iter()
        .take(12)
        .map(|(name, _)| name.as_str())
        .collect();
    DataError::new(
        record.text().source,
        Problem::UnknownFormat {
            reason: format!(
                "the first JSON object has the fields [{}]; expected sentence1 (MedNLI), \
                 Question and Answer (MeDiSumQA), icd_codes (MeDiSumCode) or patients with \
                 texts and questions (LongHealth)",
                names.join(", ")
            ),
        },
    )
    .at(Location::Line(record.line()))
    .in_item(record.item().map(str::to_string))
}

/// Names of the Problem Summary header that detection looks for.
const PROBSUM_MARKERS: [&str; 3] = ["File ID", "Subjectives", "Assessment"];

fn detect_csv(text: &SourceText, start: usize) -> Result<TaskId, DataError> {
    let line = text.line_of(start);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&text.text.as_bytes()[start..]);
    let header = reader.records().next().and_then(Result::ok);
    let names: Vec<String> = header
        .iter()
        .flat_map(|record| record.iter().map(|name| name.trim().to_string()))
        .collect();
    if PROBSUM_MARKERS
        .iter()
        .all(|marker| names.iter().any(|name| name == marker))
    {
        return Ok(TaskId::ProbSum);
    }
    Err(DataError::new(
        text.source,
        Problem::UnknownFormat {
            reason: "the file is neither an xlsx workbook, nor JSON, nor a CSV file with the \
                     Problem Summary header (File ID, Subjectives, Objectives, Assessment, \
                     Summary)"
                .to_string(),
        },
    )
    .at(Location::Line(line)))
}
