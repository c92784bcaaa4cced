//! CLUE's published results, read into task scores and levels through the same functions as our
//! own runs, so a run can be placed among the models CLUE evaluated.
//!
//! The file is `data/published-results.json`, from the CLUE website's data: `modelMetrics` maps
//! a task's display name to `{model: [numbers in %]}` in the order of `metric_order`, which is the
//! order of `displayed_metrics` (LongHealth's arrays lead with a Level-2 average, a quirk of the
//! website data, which is skipped); `modelScores_L1_L2` holds each model's published [L1] or
//! [L1, L2]. Task scores are computed as CLUE composes them (`task_score`); the levels are the
//! published numbers, which `tests/aggregate_published.rs` reproduces from the task scores.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::data::TaskId;
use crate::metrics::Metric;
use crate::metrics::aggregate::{displayed_metrics, task_score};

/// The published results file, embedded.
pub const PUBLISHED_RESULTS: &str = include_str!("../../data/published-results.json");

/// One published model: its task scores (where CLUE evaluated the task) and levels (where CLUE
/// published one), in percent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedModel {
    pub model: String,
    pub tasks: BTreeMap<TaskId, f64>,
    pub level1: Option<f64>,
    pub level2: Option<f64>,
}

/// Leading entries of a task's array that are not metrics (LongHealth's Level-2 average).
fn leading_entries(task: TaskId) -> usize {
    usize::from(task == TaskId::LongHealth)
}

/// The numbers of `value`, or an error naming `what`.
fn numbers(value: &Value, what: &str) -> Result<Vec<f64>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("{what}: not an array"))?
        .iter()
        .map(|n| {
            n.as_f64()
                .ok_or_else(|| format!("{what}: {n} is not a number"))
        })
        .collect()
}

/// The published models of `text` (a published-results file), in the file's order of
/// `modelScores_L1_L2` followed by models with metrics but no level; an error names the field.
pub fn published_models(text: &str) -> Result<Vec<PublishedModel>, String> {
    let file: Value = serde_json::from_str(text).map_err(|e| format!("published results: {e}"))?;
    let mut models: Vec<PublishedModel> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut entry = |models: &mut Vec<PublishedModel>, name: &str| -> usize {
        *index.entry(name.to_string()).or_insert_with(|| {
            models.push(PublishedModel {
                model: name.to_string(),
                tasks: BTreeMap::new(),
                level1: None,
                level2: None,
            });
            models.len() - 1
        })
    };
    let levels = file["modelScores_L1_L2"]
        .as_object()
        .ok_or("published results: modelScores_L1_L2 is not an object")?;
    for (name, values) in levels {
        let values = numbers(values, &format!("modelScores_L1_L2.{name}"))?;
        let at = entry(&mut models, name);
        models[at].level1 = values.first().copied();
        models[at].level2 = values.get(1).copied();
    }
    for task in TaskId::ALL {
        let per_model = file["modelMetrics"][task.display_name()]
            .as_object()
            .ok_or_else(|| {
                format!(
                    "published results: modelMetrics has no {}",
                    task.display_name()
                )
            })?;
        let shown = displayed_metrics(task);
        for (name, values) in per_model {
            let what = format!("modelMetrics.{}.{name}", task.display_name());
            let values = numbers(values, &what)?;
            if values.len() != leading_entries(task) + shown.len() {
                return Err(format!(
                    "{what}: {} numbers, not the {} of its columns",
                    values.len(),
                    leading_entries(task) + shown.len()
                ));
            }
            let metrics: BTreeMap<Metric, f64> = shown
                .iter()
                .copied()
                .zip(values[leading_entries(task)..].iter().copied())
                .collect();
            if let Some(score) = task_score(task, &metrics).score {
                let at = entry(&mut models, name);
                models[at].tasks.insert(task, score);
            }
        }
    }
    Ok(models)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_file_reads_with_a_task_score_per_published_metric_row() {
        let models = published_models(PUBLISHED_RESULTS).unwrap();
        assert!(models.len() >= 25, "{} models", models.len());
        let llama = models
            .iter()
            .find(|m| m.model == "Meta-Llama-3-8B-Instruct")
            .unwrap();
        assert_eq!((llama.level1, llama.level2), (Some(48.37), Some(40.61)));
        assert_eq!(llama.tasks.len(), 6);
        // MedNLI's task score is its accuracy, as published.
        let file: Value = serde_json::from_str(PUBLISHED_RESULTS).unwrap();
        let accuracy = file["modelMetrics"]["MedNLI"]["Meta-Llama-3-8B-Instruct"][0]
            .as_f64()
            .unwrap();
        assert_eq!(llama.tasks[&TaskId::MedNli], accuracy);
    }

    #[test]
    fn a_malformed_file_names_the_field() {
        let error = published_models(r#"{"modelScores_L1_L2": {"m": ["x"]}}"#).unwrap_err();
        assert!(error.contains("modelScores_L1_L2.m"), "{error}");
        let error = published_models(
            r#"{"modelScores_L1_L2": {}, "modelMetrics": {"MedNLI": {"m": [1, 2]}}}"#,
        )
        .unwrap_err();
        assert!(
            error.contains("modelMetrics.MedNLI.m: 2 numbers"),
            "{error}"
        );
    }
}
