//! UMLS-F1 as CLUE computes it, from the bridge's file. CLUE's metric (Problem Summary and
//! MeDiSumQA) is scispaCy's `en_core_sci_sm` NER plus its UMLS linker: neither the model nor the
//! licensed knowledge base may be shipped, and neither runs in a browser. The bridge
//! (`umls/clue_umls.py`) runs them on the user's own machine and writes, per sample, the two
//! sets of canonical names with the SHA-256 of the texts it read. This module reads that JSON
//! Lines file, checks each row against the very texts scored here — a row made from another
//! answer or reference is an error naming the id, never a silently wrong score — and recomputes
//! P/R/F1 from the sets by CLUE's rule (an empty side gives 0 for its ratio, so two empty sets
//! give F1 = 0).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Prf;
use crate::data::TaskId;

/// The bridge output this reader understands (the fingerprint's `bridge` field).
pub const BRIDGE_VERSION: &str = "clue-umls 1";

/// Longest accepted line: far above any entity list, low enough to refuse a wrong file early.
const MAX_LINE_BYTES: usize = 16 << 20;

/// How far the bridge's own P/R/F1 may lie from those recomputed here (both are the same
/// float64 arithmetic; a difference means the file was edited).
const TOLERANCE: f64 = 1e-12;

/// The tasks that display UMLS-F1.
pub fn has_umls(task: TaskId) -> bool {
    matches!(task, TaskId::ProbSum | TaskId::MeDiSumQa)
}

/// A bridge file that cannot be used, naming the file, the line and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct UmlsError {
    /// The file name as given.
    pub file: String,
    /// 1-based line, when the problem sits on one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// One sample's row as the bridge writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    task: String,
    id: String,
    prediction_sha256: String,
    reference_sha256: String,
    prediction_entities: Vec<String>,
    reference_entities: Vec<String>,
    precision: f64,
    recall: f64,
    f1: f64,
}

/// A checked row: its line, the text hashes and the scores recomputed from its sets.
#[derive(Debug, Clone, PartialEq)]
struct Checked {
    line: usize,
    prediction_sha256: String,
    reference_sha256: String,
    scores: Prf,
}

/// The bridge's file, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct UmlsFile {
    /// The file name as given.
    pub file: String,
    /// The environment the bridge ran in (versions, model and knowledge-base hashes, linker
    /// settings), recorded with the results.
    pub fingerprint: Map<String, Value>,
    rows: HashMap<(TaskId, String), Checked>,
}

/// What the results record of the UMLS values: the bridge's file and environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UmlsRecord {
    /// The bridge file's name.
    pub file: String,
    /// The bridge's environment fingerprint, as it wrote it.
    pub fingerprint: Map<String, Value>,
    /// Samples that got UMLS values.
    pub samples: usize,
}

/// CLUE's UMLS P/R/F1 of two sets of canonical names: P = |pred ∩ gold| / |pred| (0 for an
/// empty prediction set), R = |gold ∩ pred| / |gold| (0 for an empty gold set), F1 their
/// harmonic mean (0 when both are 0).
pub fn umls_prf(prediction: &BTreeSet<&str>, reference: &BTreeSet<&str>) -> Prf {
    let common = prediction.intersection(reference).count() as f64;
    let ratio = |set: &BTreeSet<&str>| {
        if set.is_empty() {
            0.0
        } else {
            common / set.len() as f64
        }
    };
    Prf::new(ratio(prediction), ratio(reference))
}

/// Lower-case hexadecimal SHA-256 of a text's UTF-8 bytes, as the bridge writes its hashes.
pub fn text_sha256(text: &str) -> String {
    crate::model::hex(&Sha256::digest(text.as_bytes()))
}

impl UmlsFile {
    /// Reads the bridge's JSON Lines: first `{"fingerprint": {…}}`, then one row per sample.
    /// Blank lines are ignored; anything else that does not fit is an error naming its line.
    pub fn read(file: &str, bytes: &[u8]) -> Result<UmlsFile, UmlsError> {
        let error = |line: Option<usize>, message: String| UmlsError {
            file: file.to_string(),
            line,
            message,
        };
        let mut fingerprint = None;
        let mut rows = HashMap::new();
        for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = index + 1;
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if raw.len() > MAX_LINE_BYTES {
                return Err(error(
                    Some(line),
                    format!("line is longer than the {} MiB limit", MAX_LINE_BYTES >> 20),
                ));
            }
            if fingerprint.is_none() {
                fingerprint = Some(read_fingerprint(raw).map_err(|m| error(Some(line), m))?);
                continue;
            }
            let row: Row = serde_json::from_slice(raw)
                .map_err(|e| error(Some(line), format!("not a row of the UMLS bridge: {e}")))?;
            let task = TaskId::parse(&row.task)
                .filter(|&task| has_umls(task))
                .ok_or_else(|| {
                    error(
                        Some(line),
                        format!(
                            "field \"task\": {:?} has no UMLS-F1 (probsum or medisumqa)",
                            row.task
                        ),
                    )
                })?;
            for (field, hash) in [
                ("prediction_sha256", &row.prediction_sha256),
                ("reference_sha256", &row.reference_sha256),
            ] {
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(error(
                        Some(line),
                        format!("field \"{field}\" is not a SHA-256 in hexadecimal"),
                    ));
                }
            }
            let prediction: BTreeSet<&str> =
                row.prediction_entities.iter().map(String::as_str).collect();
            let reference: BTreeSet<&str> =
                row.reference_entities.iter().map(String::as_str).collect();
            let scores = umls_prf(&prediction, &reference);
            for (field, written, recomputed) in [
                ("precision", row.precision, scores.precision),
                ("recall", row.recall, scores.recall),
                ("f1", row.f1, scores.fmeasure),
            ] {
                if (written - recomputed).abs() > TOLERANCE {
                    return Err(error(
                        Some(line),
                        format!(
                            "field \"{field}\": {written} does not follow from the entity sets \
                             ({recomputed}); the file was changed after the bridge wrote it"
                        ),
                    ));
                }
            }
            let checked = Checked {
                line,
                prediction_sha256: row.prediction_sha256.to_ascii_lowercase(),
                reference_sha256: row.reference_sha256.to_ascii_lowercase(),
                scores,
            };
            if let Some(first) = rows.insert((task, row.id.clone()), checked) {
                return Err(error(
                    Some(line),
                    format!(
                        "{task} request {:?} was already given on line {}",
                        row.id, first.line
                    ),
                ));
            }
        }
        let Some(fingerprint) = fingerprint else {
            return Err(error(None, "empty: no fingerprint and no rows".into()));
        };
        Ok(UmlsFile {
            file: file.to_string(),
            fingerprint,
            rows,
        })
    }

    /// The UMLS P/R/F1 of one scored sample: its row must exist and have been made from the same
    /// answer and reference text.
    pub fn scores(
        &self,
        task: TaskId,
        id: &str,
        answer: &str,
        reference: &str,
    ) -> Result<Prf, UmlsError> {
        let Some(row) = self.rows.get(&(task, id.to_string())) else {
            return Err(UmlsError {
                file: self.file.clone(),
                line: None,
                message: format!(
                    "no row for {task} request {id:?}; run the bridge on the samples being \
                     scored"
                ),
            });
        };
        for (what, hash, text) in [
            ("answer", &row.prediction_sha256, answer),
            ("reference", &row.reference_sha256, reference),
        ] {
            if *hash != text_sha256(text) {
                return Err(UmlsError {
                    file: self.file.clone(),
                    line: Some(row.line),
                    message: format!(
                        "{task} request {id:?}: the bridge read another {what} than the one \
                         scored here (SHA-256 differs); run it on these samples and this data file"
                    ),
                });
            }
        }
        Ok(row.scores)
    }

    /// The record of these values for the results.
    pub fn record(&self, samples: usize) -> UmlsRecord {
        UmlsRecord {
            file: self.file.clone(),
            fingerprint: self.fingerprint.clone(),
            samples,
        }
    }
}

/// The first line: `{"fingerprint": {…, "bridge": "clue-umls 1", …}}`.
fn read_fingerprint(raw: &[u8]) -> Result<Map<String, Value>, String> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|e| format!("not the bridge's fingerprint line: {e}"))?;
    let Value::Object(mut object) = value else {
        return Err("not the bridge's fingerprint line (a JSON object)".into());
    };
    let Some(Value::Object(fingerprint)) = object.remove("fingerprint") else {
        return Err(
            "the first line must be the bridge's {\"fingerprint\": {…}}; is this the output of \
             umls/clue_umls.py?"
                .into(),
        );
    };
    match fingerprint.get("bridge") {
        Some(Value::String(version)) if version == BRIDGE_VERSION => Ok(fingerprint),
        Some(Value::String(version)) => Err(format!(
            "field \"fingerprint.bridge\": {version:?} is not {BRIDGE_VERSION:?}, the bridge \
             version this scorer reads"
        )),
        _ => Err("field \"fingerprint.bridge\" is missing".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
        items.iter().copied().collect()
    }

    #[test]
    fn prf_follows_clue() {
        let p = umls_prf(&set(&["a", "b"]), &set(&["b", "c", "d"]));
        assert_eq!((p.precision, p.recall), (0.5, 1.0 / 3.0));
        assert!((p.fmeasure - 0.4).abs() < 1e-15);
        // Both empty: 0, not 1.
        assert_eq!(umls_prf(&set(&[]), &set(&[])), Prf::new(0.0, 0.0));
        assert_eq!(umls_prf(&set(&["a"]), &set(&[])).fmeasure, 0.0);
    }

    const FINGERPRINT: &str = r#"{"fingerprint": {"bridge": "clue-umls 1"}}"#;

    fn row(id: &str, f1: f64) -> String {
        format!(
            r#"{{"task": "probsum", "id": "{id}", "prediction_sha256": "{}", "reference_sha256": "{}", "prediction_entities": ["x", "y"], "reference_entities": ["y"], "precision": 0.5, "recall": 1.0, "f1": {f1}}}"#,
            text_sha256("pred"),
            text_sha256("ref")
        )
    }

    fn read(text: &str) -> Result<UmlsFile, UmlsError> {
        UmlsFile::read("umls.jsonl", text.as_bytes())
    }

    #[test]
    fn reads_and_checks_rows() {
        let file = read(&format!("{FINGERPRINT}\n\n{}\n", row("n1", 2.0 / 3.0))).unwrap();
        let scores = file.scores(TaskId::ProbSum, "n1", "pred", "ref").unwrap();
        assert!((scores.fmeasure - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(file.record(1).samples, 1);

        let e = file
            .scores(TaskId::ProbSum, "n1", "other", "ref")
            .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.to_string().contains("another answer"), "{e}");
        let e = file
            .scores(TaskId::ProbSum, "n1", "pred", "other")
            .unwrap_err();
        assert!(e.to_string().contains("another reference"), "{e}");
        let e = file
            .scores(TaskId::MeDiSumQa, "n1", "pred", "ref")
            .unwrap_err();
        assert!(
            e.to_string().contains("no row for medisumqa request"),
            "{e}"
        );
    }

    #[test]
    fn refuses_what_is_not_the_bridges() {
        let e = read(&row("n1", 2.0 / 3.0)).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.to_string().contains("fingerprint"), "{e}");

        let e = read(r#"{"fingerprint": {"bridge": "clue-umls 9"}}"#).unwrap_err();
        assert!(e.to_string().contains("clue-umls 9"), "{e}");

        let e = read(&format!("{FINGERPRINT}\n{}", row("n1", 0.9))).unwrap_err();
        assert_eq!(
            (e.line, e.to_string().contains("field \"f1\"")),
            (Some(2), true),
            "{e}"
        );

        let e = read(&format!(
            "{FINGERPRINT}\n{}\n{}",
            row("n1", 2.0 / 3.0),
            row("n1", 2.0 / 3.0)
        ))
        .unwrap_err();
        assert!(e.to_string().contains("already given on line 2"), "{e}");

        let e = read(&format!(
            "{FINGERPRINT}\n{}",
            row("n1", 2.0 / 3.0).replace("probsum", "meqsum")
        ))
        .unwrap_err();
        assert!(e.to_string().contains("has no UMLS-F1"), "{e}");

        let e = read(&format!("{FINGERPRINT}\n{{\"task\": \"probsum\"}}")).unwrap_err();
        assert!(e.to_string().contains("missing field"), "{e}");

        let e = read("\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "umls.jsonl: empty: no fingerprint and no rows"
        );
    }
}
