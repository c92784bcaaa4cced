//! Reproduces every published Level-1/Level-2 number of CLUE (`modelScores_L1_L2` in
//! `published-results.json`) from the published per-metric numbers (`modelMetrics`), through the
//! same task-score and level functions the sample-level aggregation uses.
//!
//! File layout, as checked below: `modelMetrics` maps a task's display name to
//! `{model: [numbers in %]}`, in the paper's column order (`metric_order`): MedNLI [accuracy];
//! MeQSum [R-L, R-1, R-2, BERT-F1]; Problem Summary and MeDiSumQA [R-L, R-1, R-2, BERT-F1,
//! UMLS-F1]; MeDiSumCode [EM-F1, AP-F1, valid]; LongHealth [Level-2 average (a quirk of the
//! website data), task 1, task 2, task 3]. `modelScores_L1_L2` holds [L1] for the models
//! evaluated on Level 1 only and [L1, L2] for the others; Mixtral-8x7B-v0.1 has Level-1
//! metrics but no published level score.

use std::collections::BTreeMap;

use clue_wasm::data::TaskId;
use clue_wasm::metrics::Metric;
use clue_wasm::metrics::aggregate::{
    ComposedScore, Level, displayed_metrics, level_score, task_score,
};
use serde_json::Value;

const PUBLISHED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/published-results.json");

/// Published numbers are rounded to two decimals, and so are the levels computed from them.
const TOLERANCE: f64 = 0.01 + 1e-9;

fn published() -> Value {
    let text = std::fs::read_to_string(PUBLISHED).unwrap_or_else(|e| panic!("{PUBLISHED}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{PUBLISHED}: {e}"))
}

/// The website's column header for each of our metrics.
fn column(metric: Metric) -> &'static str {
    match metric {
        Metric::Accuracy => "Accuracy",
        Metric::RougeL => "R-L",
        Metric::Rouge1 => "R-1",
        Metric::Rouge2 => "R-2",
        Metric::BertscoreF1 => "BERT F1",
        Metric::UmlsF1 => "UMLS F1",
        Metric::IcdEmF1 => "EM F1",
        Metric::IcdApF1 => "AP F1",
        Metric::IcdValid => "Valid Codes",
        Metric::Task1 => "Task1",
        Metric::Task2 => "Task2",
        Metric::Task3 => "Task3",
        other => panic!("{other} is not a displayed metric"),
    }
}

/// Leading entries of a task's array that are not metrics (LongHealth's Level-2 average).
fn leading_entries(task: TaskId) -> usize {
    usize::from(task == TaskId::LongHealth)
}

fn numbers(value: &Value, what: &str) -> Vec<f64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what}: not an array"))
        .iter()
        .map(|n| {
            n.as_f64()
                .unwrap_or_else(|| panic!("{what}: {n} is not a number"))
        })
        .collect()
}

/// Per model, per task: the published numbers of the task's displayed metrics.
fn model_metrics(file: &Value) -> BTreeMap<String, BTreeMap<TaskId, Vec<f64>>> {
    let mut models: BTreeMap<String, BTreeMap<TaskId, Vec<f64>>> = BTreeMap::new();
    for task in TaskId::ALL {
        let per_model = file["modelMetrics"][task.display_name()]
            .as_object()
            .unwrap_or_else(|| panic!("modelMetrics has no {}", task.display_name()));
        for (model, values) in per_model {
            let values = numbers(values, &format!("{model} {task}"));
            models
                .entry(model.clone())
                .or_default()
                .insert(task, values);
        }
    }
    models
}

fn composed_scores(tasks: &BTreeMap<TaskId, Vec<f64>>) -> BTreeMap<TaskId, ComposedScore<Metric>> {
    tasks
        .iter()
        .map(|(&task, values)| {
            let metrics: BTreeMap<Metric, f64> = displayed_metrics(task)
                .iter()
                .copied()
                .zip(values[leading_entries(task)..].iter().copied())
                .collect();
            (task, task_score(task, &metrics))
        })
        .collect()
}

#[test]
fn column_order_matches_the_displayed_metrics() {
    let file = published();
    for task in TaskId::ALL {
        let order: Vec<&str> = file["metric_order"][task.display_name()]
            .as_array()
            .unwrap_or_else(|| panic!("metric_order has no {}", task.display_name()))
            .iter()
            .map(|name| name.as_str().expect("column names are strings"))
            .collect();
        let expected: Vec<&str> = displayed_metrics(task).iter().map(|&m| column(m)).collect();
        assert_eq!(order[leading_entries(task)..], expected, "{task}");
        for (model, values) in file["modelMetrics"][task.display_name()]
            .as_object()
            .unwrap()
        {
            assert_eq!(
                values.as_array().unwrap().len(),
                order.len(),
                "{model} {task}"
            );
        }
    }
}

/// Level numbers are means, blind to the order inside a task; these inequalities, which hold for
/// ROUGE and code matching by construction, pin each column to its metric.
#[test]
fn columns_behave_like_their_metrics() {
    let file = published();
    for (model, tasks) in model_metrics(&file) {
        for (task, values) in tasks {
            let value: BTreeMap<Metric, f64> = displayed_metrics(task)
                .iter()
                .copied()
                .zip(values[leading_entries(task)..].iter().copied())
                .collect();
            match task {
                TaskId::MeqSum | TaskId::ProbSum | TaskId::MeDiSumQa => {
                    let ordered = [
                        Metric::Rouge2,
                        Metric::RougeL,
                        Metric::Rouge1,
                        Metric::BertscoreF1,
                    ];
                    assert!(
                        ordered.windows(2).all(|p| value[&p[0]] <= value[&p[1]]),
                        "{model} {task}"
                    );
                }
                TaskId::MeDiSumCode => {
                    assert!(
                        value[&Metric::IcdEmF1] <= value[&Metric::IcdApF1],
                        "{model}"
                    );
                }
                TaskId::MedNli | TaskId::LongHealth => {}
            }
        }
    }
}

#[test]
fn every_published_level_score_is_reproduced() {
    let file = published();
    let metrics = model_metrics(&file);
    let published_levels = file["modelScores_L1_L2"]
        .as_object()
        .expect("modelScores_L1_L2");
    let mut checked = 0;
    for (model, levels) in published_levels {
        let levels = numbers(levels, model);
        let tasks = metrics
            .get(model)
            .unwrap_or_else(|| panic!("{model} has no metrics"));
        let composed = composed_scores(tasks);
        let level1 = level_score(Level::One, &composed);
        let level2 = level_score(Level::Two, &composed);

        let computed = level1
            .score
            .unwrap_or_else(|| panic!("{model}: Level 1 not computed"));
        assert!(
            (computed - levels[0]).abs() <= TOLERANCE,
            "{model} L1 {computed} vs {}",
            levels[0]
        );
        checked += 1;
        match levels.get(1) {
            Some(&published) => {
                let computed = level2
                    .score
                    .unwrap_or_else(|| panic!("{model}: Level 2 not computed"));
                assert!(
                    (computed - published).abs() <= TOLERANCE,
                    "{model} L2 {computed} vs {published}"
                );
                let site_average = tasks[&TaskId::LongHealth][0];
                assert!(
                    (computed - site_average).abs() <= TOLERANCE,
                    "{model} LongHealth[0]"
                );
                checked += 1;
            }
            None => {
                assert_eq!(
                    level2.score, None,
                    "{model}: Level 2 without a published number"
                );
                assert_eq!(
                    level2.not_computed,
                    Level::Two.tasks().collect::<Vec<_>>(),
                    "{model}"
                );
            }
        }
    }
    // 25 models on Level 1, 18 of them also on Level 2.
    assert_eq!(published_levels.len(), 25);
    assert_eq!(checked, 43);
    let unpublished: Vec<&String> = metrics
        .keys()
        .filter(|m| !published_levels.contains_key(*m))
        .collect();
    assert_eq!(unpublished, ["Mixtral-8x7B-v0.1"]);
}

#[test]
fn meta_llama_3_8b_instruct_example_from_the_spec() {
    let metrics = model_metrics(&published());
    let composed = composed_scores(&metrics["Meta-Llama-3-8B-Instruct"]);
    let level1 = level_score(Level::One, &composed).score.unwrap();
    let level2 = level_score(Level::Two, &composed).score.unwrap();
    assert!((level1 - 48.37).abs() <= TOLERANCE, "{level1}");
    assert!((level2 - 40.61).abs() <= TOLERANCE, "{level2}");
}

#[test]
fn a_missing_metric_leaves_the_level_not_computed() {
    let metrics = model_metrics(&published());
    let mut tasks = metrics["Meta-Llama-3-8B-Instruct"].clone();
    // Without UMLS-F1 the Problem Summary score, and so Level 1, is not computed.
    tasks.get_mut(&TaskId::ProbSum).unwrap().pop();
    let composed = composed_scores(&tasks);
    assert_eq!(composed[&TaskId::ProbSum].score, None);
    assert_eq!(composed[&TaskId::ProbSum].not_computed, [Metric::UmlsF1]);
    let level1 = level_score(Level::One, &composed);
    assert_eq!(level1.score, None);
    assert_eq!(level1.not_computed, [TaskId::ProbSum]);
    assert!(level1.partial_score.is_some());
}
