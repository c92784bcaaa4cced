//! Predictions made anywhere, read back for rescoring: JSON Lines of `{"id": …, "prediction":
//! "…"}`, one per request, with the ids the readers and tasks give (numbers are accepted for
//! ids and read as their decimal text). A samples file of `clue eval` is such a file, with a
//! `task` field on each line, so one file can hold every task.

use std::collections::HashMap;

use serde_json::Value;

use crate::data::TaskId;

/// Longest accepted line: far above any completion, low enough to refuse a wrong file early.
const MAX_LINE_BYTES: usize = 64 << 20;

/// One model output for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionLine {
    /// The request id it answers.
    pub id: String,
    /// The raw model output.
    pub prediction: String,
    /// The task the line answers, when the file says (samples files do).
    pub task: Option<TaskId>,
    /// 1-based line in the predictions file.
    pub line: usize,
}

/// A predictions file that cannot be used, with the place it went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct PredictionsError {
    /// The file name as given.
    pub file: String,
    /// 1-based line, when the problem sits on one.
    pub line: Option<usize>,
    /// What is wrong, naming the field.
    pub message: String,
}

/// Reads a predictions file. Each non-blank line is a JSON object with a string or integer
/// `id` and a string `prediction`, and optionally a `task` (`mednli`, `meqsum`, …); other fields
/// (such as those of a samples file) are ignored. Ids must be unique within a task.
pub fn read_predictions(file: &str, bytes: &[u8]) -> Result<Vec<PredictionLine>, PredictionsError> {
    let error = |line: Option<usize>, message: String| PredictionsError {
        file: file.to_string(),
        line,
        message,
    };
    let mut seen: HashMap<(Option<TaskId>, String), usize> = HashMap::new();
    let mut out = Vec::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        if raw.len() > MAX_LINE_BYTES {
            return Err(error(
                Some(line),
                format!("line is longer than the {} MiB limit", MAX_LINE_BYTES >> 20),
            ));
        }
        let text = std::str::from_utf8(raw).map_err(|e| {
            error(
                Some(line),
                format!("not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
            )
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| error(Some(line), format!("not a JSON object: {e}")))?;
        let Value::Object(object) = value else {
            return Err(error(Some(line), "not a JSON object".to_string()));
        };
        let id = match object.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            Some(other) => {
                return Err(error(
                    Some(line),
                    format!(
                        "field \"id\" must be a string or an integer, found {}",
                        shown(other)
                    ),
                ));
            }
            None => return Err(error(Some(line), "missing field \"id\"".to_string())),
        };
        let prediction = match object.get("prediction") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(error(
                    Some(line),
                    format!(
                        "field \"prediction\" must be a string, found {}",
                        shown(other)
                    ),
                ));
            }
            None => {
                return Err(error(
                    Some(line),
                    "missing field \"prediction\"".to_string(),
                ));
            }
        };
        let task = match object.get("task") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(TaskId::parse(name).ok_or_else(|| {
                error(
                    Some(line),
                    format!(
                        "field \"task\": {name:?} is not a CLUE task ({})",
                        TaskId::ALL.map(TaskId::as_str).join(", ")
                    ),
                )
            })?),
            Some(other) => {
                return Err(error(
                    Some(line),
                    format!("field \"task\" must be a string, found {}", shown(other)),
                ));
            }
        };
        if let Some(first) = seen.insert((task, id.clone()), line) {
            return Err(error(
                Some(line),
                format!("field \"id\": {id:?} was already given on line {first}"),
            ));
        }
        out.push(PredictionLine {
            id,
            prediction,
            task,
            line,
        });
    }
    if out.is_empty() {
        return Err(error(None, "no predictions in the file".to_string()));
    }
    Ok(out)
}

/// A wrong field's value for an error message: short values as they are, arrays and objects by
/// their size, so that a field holding megabytes does not make a message of megabytes.
fn shown(value: &Value) -> String {
    match value {
        Value::Array(items) if items.len() == 1 => "an array of 1 item".into(),
        Value::Array(items) => format!("an array of {} items", items.len()),
        Value::Object(fields) if fields.len() == 1 => "an object of 1 field".into(),
        Value::Object(fields) => format!("an object of {} fields", fields.len()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> PredictionsError {
        read_predictions("preds.jsonl", text.as_bytes()).expect_err("must be refused")
    }

    #[test]
    fn reads_string_and_integer_ids_and_skips_blank_lines() {
        let lines = read_predictions(
            "preds.jsonl",
            b"{\"id\": \"a\", \"prediction\": \"x\"}\n\n{\"id\": 7, \"prediction\": \"y\", \"task\": \"meqsum\"}\n",
        )
        .unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].id, "7");
        assert_eq!(lines[1].line, 3);
    }

    #[test]
    fn names_line_and_field_of_each_problem() {
        let e =
            err("{\"id\": \"a\", \"prediction\": \"x\"}\n{\"id\": \"a\", \"prediction\": \"y\"}");
        assert_eq!(e.line, Some(2));
        assert!(e.to_string().contains("already given on line 1"), "{e}");

        let e = err("{\"id\": \"a\"}");
        assert_eq!(
            e.to_string(),
            "preds.jsonl, line 1: missing field \"prediction\""
        );

        let e = err("{\"id\": 1.5, \"prediction\": \"x\"}");
        assert!(e.to_string().contains("field \"id\" must be"), "{e}");

        let e = err("{\"id\": \"a\", \"prediction\": 3}");
        assert!(
            e.to_string()
                .contains("field \"prediction\" must be a string"),
            "{e}"
        );

        let e = err("{\"id\": \"a\", \"prediction\": \"x\"}\nnot json");
        assert_eq!(e.line, Some(2));

        let e =
            read_predictions("p.jsonl", b"{\"id\": \"a\", \"prediction\": \"\xff\"}").unwrap_err();
        assert!(e.to_string().contains("line 1: not UTF-8"), "{e}");

        let e = err("\n\n");
        assert_eq!(e.to_string(), "preds.jsonl: no predictions in the file");
    }
}
