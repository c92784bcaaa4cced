//! UMLS-F1 merged from the bridge's file (`metrics::umls`): a whole run rescored against the six
//! demo sets gets its Levels once BERTScore and UMLS-F1 are in, and not before ("not computed",
//! never 0); a bridge row made from another text is refused naming the id; and the bridge's
//! committed output on its synthetic data (tests/golden/umls, written by umls/test_bridge.py)
//! gives the task scores and both Levels of a hand computation (its whole run is kept as
//! tests/golden/umls/run-samples.jsonl for the page's test).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};

use clue_wasm::data::{self, Dataset, TaskId, demo};
use clue_wasm::eval::{NoTokenizer, Rescored, read_predictions, rescore_all};
use clue_wasm::metrics::Metric;
use clue_wasm::metrics::aggregate::AggregateOptions;
use clue_wasm::metrics::bertscore::BertScore;
use clue_wasm::metrics::umls::{UmlsFile, text_sha256, umls_prf};
use clue_wasm::tasks::{Profile, ReadingMode, Reference, TaskSettings, build_requests};

fn demo_datasets() -> Vec<Dataset> {
    TaskId::ALL
        .iter()
        .map(|&task| {
            let file = demo::file(task);
            data::read(file.name, file.bytes, Some(task)).unwrap()
        })
        .collect()
}

/// A samples-like file answering every request of `datasets`: the first half of each text
/// reference, "entailment" for MedNLI, "A" for LongHealth.
fn predictions(datasets: &[Dataset]) -> String {
    let mut out = String::new();
    for dataset in datasets {
        for request in build_requests(dataset, &TaskSettings::default(), &NoTokenizer).unwrap() {
            let prediction = match (&request.reference, dataset.task) {
                (_, TaskId::MedNli) => "entailment".to_string(),
                (_, TaskId::LongHealth) => "A".to_string(),
                (Reference::Text { text }, _) => {
                    let words: Vec<&str> = text.split_whitespace().collect();
                    words[..words.len().div_ceil(2)].join(" ")
                }
                _ => "I10, E11.9".to_string(),
            };
            let line = serde_json::json!({"task": dataset.task, "id": request.id, "prediction": prediction});
            out.push_str(&format!("{line}\n"));
        }
    }
    out
}

fn rescored(datasets: &[Dataset], predictions: &str) -> Rescored {
    let lines = read_predictions("samples.jsonl", predictions.as_bytes()).unwrap();
    rescore_all(
        datasets,
        "samples.jsonl",
        &lines,
        &TaskSettings::default(),
        ReadingMode::Strict,
        &AggregateOptions::default(),
    )
    .unwrap()
}

/// The entity sets this test pretends the bridge found: the words of seven letters or more.
fn long_words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 7)
        .map(str::to_lowercase)
        .collect()
}

/// A bridge file for `rescored`'s Problem Summary and MeDiSumQA samples, with `long_words` as
/// the entity sets.
fn bridge_file(rescored: &Rescored) -> String {
    let mut out =
        String::from("{\"fingerprint\": {\"bridge\": \"clue-umls 1\", \"test\": true}}\n");
    for sample in &rescored.samples {
        if !matches!(sample.task, TaskId::ProbSum | TaskId::MeDiSumQa) {
            continue;
        }
        let clue_wasm::tasks::Answer::Text { text } = &sample.prediction.answer else {
            panic!("a text task reads text");
        };
        let Reference::Text { text: gold } = &sample.reference else {
            panic!("a text task has a text reference");
        };
        let (p, g) = (long_words(text), long_words(gold));
        let prf = umls_prf(
            &p.iter().map(String::as_str).collect(),
            &g.iter().map(String::as_str).collect(),
        );
        let line = serde_json::json!({
            "task": sample.task, "id": sample.id,
            "prediction_sha256": text_sha256(text), "reference_sha256": text_sha256(gold),
            "prediction_entities": p, "reference_entities": g,
            "precision": prf.precision, "recall": prf.recall, "f1": prf.fmeasure,
        });
        out.push_str(&format!("{line}\n"));
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn a_whole_run_gets_its_levels_once_bertscore_and_umls_are_in() {
    let datasets = demo_datasets();
    let predictions = predictions(&datasets);
    let mut rescored = rescored(&datasets, &predictions);
    assert_eq!(rescored.results.tasks.len(), 6);
    let probsum = &rescored.results.tasks[&TaskId::ProbSum];
    assert_eq!(
        probsum.composed.not_computed,
        [Metric::BertscoreF1, Metric::UmlsF1]
    );
    assert_eq!(rescored.results.levels.level1.score, None);

    // BERTScore, made up here (its own tests check its values): the Levels still wait for UMLS.
    let aggregation = AggregateOptions::default();
    let bert: Vec<(usize, BertScore)> = rescored
        .bertscore_pairs()
        .iter()
        .map(|&(i, _, _)| {
            let f1 = 2.0 * 0.8 * 0.6 / 1.4;
            (
                i,
                BertScore {
                    precision: 0.8,
                    recall: 0.6,
                    f1,
                },
            )
        })
        .collect();
    rescored.apply_bertscore("made-up", 9, Profile::Paper, &bert, &aggregation);
    assert_eq!(rescored.results.levels.level1.score, None);
    assert_eq!(
        rescored.results.levels.level1.not_computed,
        [TaskId::ProbSum]
    );
    assert_eq!(
        rescored.results.levels.level2.not_computed,
        [TaskId::MeDiSumQa]
    );

    let file = UmlsFile::read("umls.jsonl", bridge_file(&rescored).as_bytes()).unwrap();
    rescored.apply_umls(&file, &aggregation).unwrap();
    let results = &rescored.results;
    for task in [TaskId::ProbSum, TaskId::MeDiSumQa] {
        let score = &results.tasks[&task];
        // The task's UMLS-F1: the plain mean of its samples' F1, recomputed here on its own.
        let f1s: Vec<f64> = rescored
            .samples
            .iter()
            .filter(|s| s.task == task)
            .map(|s| {
                let (clue_wasm::tasks::Answer::Text { text }, Reference::Text { text: gold }) =
                    (&s.prediction.answer, &s.reference)
                else {
                    panic!("text");
                };
                let (p, g) = (long_words(text), long_words(gold));
                let common = p.intersection(&g).count() as f64;
                let (precision, recall) = (
                    if p.is_empty() {
                        0.0
                    } else {
                        common / p.len() as f64
                    },
                    if g.is_empty() {
                        0.0
                    } else {
                        common / g.len() as f64
                    },
                );
                if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                }
            })
            .collect();
        let mean = f1s.iter().sum::<f64>() / f1s.len() as f64;
        assert!(close(score.metrics[&Metric::UmlsF1], mean), "{task}");
        assert!(score.metrics.contains_key(&Metric::UmlsP));
        assert!(score.metrics.contains_key(&Metric::UmlsR));
        let m = &score.metrics;
        let task_score = (m[&Metric::RougeL]
            + m[&Metric::Rouge1]
            + m[&Metric::Rouge2]
            + m[&Metric::BertscoreF1]
            + m[&Metric::UmlsF1])
            / 5.0;
        assert!(close(score.composed.score.unwrap(), task_score), "{task}");
    }
    let task = |t: TaskId| results.tasks[&t].composed.score.unwrap();
    let level1 = (task(TaskId::MedNli) + task(TaskId::MeqSum) + task(TaskId::ProbSum)) / 3.0;
    let level2 =
        (task(TaskId::LongHealth) + task(TaskId::MeDiSumQa) + task(TaskId::MeDiSumCode)) / 3.0;
    assert!(close(results.levels.level1.score.unwrap(), level1));
    assert!(close(results.levels.level2.score.unwrap(), level2));
    let record = rescored.umls.as_ref().unwrap();
    assert_eq!(record.fingerprint["test"], true);
    let umls_samples = rescored
        .samples
        .iter()
        .filter(|s| matches!(s.task, TaskId::ProbSum | TaskId::MeDiSumQa))
        .count();
    assert_eq!(record.samples, umls_samples);
    // The BERTScore values survive the second aggregation.
    assert!(close(
        results.tasks[&TaskId::MeqSum].metrics[&Metric::BertscoreF1],
        2.0 * 0.8 * 0.6 / 1.4
    ));
}

#[test]
fn a_row_made_from_another_text_is_refused_naming_the_id() {
    let datasets: Vec<Dataset> = demo_datasets()
        .into_iter()
        .filter(|d| matches!(d.task, TaskId::ProbSum | TaskId::MeDiSumQa))
        .collect();
    let predictions = predictions(&datasets);
    let clean = rescored(&datasets, &predictions);
    let bridge = bridge_file(&clean);
    let aggregation = AggregateOptions::default();

    // Another answer for one sample than the bridge read.
    let first_probsum = clean
        .samples
        .iter()
        .find(|s| s.task == TaskId::ProbSum)
        .unwrap();
    let edited = predictions.replacen(
        &format!("\"id\":\"{}\",\"prediction\":\"", first_probsum.id),
        &format!("\"id\":\"{}\",\"prediction\":\"Also ", first_probsum.id),
        1,
    );
    assert_ne!(edited, predictions, "the edit took");
    let mut changed = rescored(&datasets, &edited);
    let file = UmlsFile::read("umls.jsonl", bridge.as_bytes()).unwrap();
    let error = changed.apply_umls(&file, &aggregation).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "umls.jsonl, line 2: probsum request {:?}: the bridge read another answer than the \
             one scored here (SHA-256 differs); run it on these samples and this data file",
            first_probsum.id
        )
    );
    // Nothing changed: no sample got UMLS values.
    assert!(
        changed
            .samples
            .iter()
            .all(|s| !s.metrics.contains_key(&Metric::UmlsF1))
    );
    assert!(changed.umls.is_none());

    // A sample the bridge has no row for.
    let without_last: Vec<&str> = bridge.lines().collect();
    let short = without_last[..without_last.len() - 1].join("\n");
    let file = UmlsFile::read("umls.jsonl", short.as_bytes()).unwrap();
    let last = clean.samples.last().unwrap();
    let error = rescored(&datasets, &predictions)
        .apply_umls(&file, &aggregation)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "umls.jsonl: no row for {} request {:?}; run the bridge on the samples being scored",
            last.task, last.id
        )
    );
}

#[test]
fn several_data_files_need_the_task_on_every_line() {
    let datasets = demo_datasets();
    let lines = read_predictions(
        "preds.jsonl",
        b"{\"task\": \"mednli\", \"id\": \"x\", \"prediction\": \"a\"}\n{\"id\": \"y\", \"prediction\": \"b\"}\n",
    )
    .unwrap();
    let error = rescore_all(
        &datasets,
        "preds.jsonl",
        &lines,
        &TaskSettings::default(),
        ReadingMode::Strict,
        &AggregateOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "preds.jsonl, line 2: field \"task\" is missing; with several data files each \
         prediction must name its task (a samples file of a run does)"
    );
    let twice = [datasets[0].clone(), datasets[0].clone()];
    let error = rescore_all(
        &twice,
        "preds.jsonl",
        &lines,
        &TaskSettings::default(),
        ReadingMode::Strict,
        &AggregateOptions::default(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("two data files of mednli"),
        "{error}"
    );
}

/// The bridge's committed output on its synthetic data (tests/golden/umls: umls/test_bridge.py
/// ran scispaCy's linker on a made-up knowledge base, with an entity_ruler for the NER) gives the
/// task scores and both Levels of a hand computation: a whole run, the four other tasks on their
/// demo sets, BERTScore made up as above.
#[test]
fn the_bridge_output_gives_the_levels_of_a_hand_computation() {
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/umls");
    let read = |name: &str| std::fs::read(format!("{golden}/{name}")).unwrap();
    let mut datasets: Vec<Dataset> = demo_datasets()
        .into_iter()
        .filter(|d| !matches!(d.task, TaskId::ProbSum | TaskId::MeDiSumQa))
        .collect();
    let mut predictions = predictions(&datasets);
    predictions.push_str(std::str::from_utf8(&read("samples.jsonl")).unwrap());
    // The same whole run, kept for the page's test (rescore.test.mjs): CLUE_BLESS=1 rewrites it.
    let run_samples = format!("{golden}/run-samples.jsonl");
    if std::env::var_os("CLUE_BLESS").is_some() {
        std::fs::write(&run_samples, &predictions).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&run_samples).unwrap(),
        predictions,
        "{run_samples} is not this test's run (CLUE_BLESS=1 rewrites it)"
    );
    datasets.push(data::read("probsum.csv", &read("probsum.csv"), Some(TaskId::ProbSum)).unwrap());
    datasets.push(
        data::read(
            "medisumqa.json",
            &read("medisumqa.json"),
            Some(TaskId::MeDiSumQa),
        )
        .unwrap(),
    );
    let mut rescored = rescored(&datasets, &predictions);
    let aggregation = AggregateOptions::default();
    let bert_f1 = 0.7;
    let bert: Vec<(usize, BertScore)> = rescored
        .bertscore_pairs()
        .iter()
        .map(|&(i, _, _)| {
            let score = BertScore {
                precision: bert_f1,
                recall: bert_f1,
                f1: bert_f1,
            };
            (i, score)
        })
        .collect();
    rescored.apply_bertscore("made-up", 9, Profile::Paper, &bert, &aggregation);
    let file = UmlsFile::read("umls.jsonl", &read("umls.jsonl")).unwrap();
    rescored.apply_umls(&file, &aggregation).unwrap();
    let results = &rescored.results;

    // By hand from the entity sets of umls.jsonl (P, R → F1):
    // Problem Summary: ps-names 2/2, 2/3 → 0.8; ps-semicolon 1, 1 → 1; ps-empty (both sets
    // empty) → 0; ps-threshold 1/1, 1/2 → 2/3; ps-partial 2/3, 2/3 → 2/3.
    let probsum = [0.8, 1.0, 0.0, 2.0 / 3.0, 2.0 / 3.0];
    // MeDiSumQA: mq-tie 1 → 1; mq-definition (two different names) → 0; mq-nolink 1 → 1;
    // mq-empty → 0; mq-noref (reference empty) → 0; mq-partial 1/2, 1 → 2/3.
    let medisumqa = [1.0, 0.0, 1.0, 0.0, 0.0, 2.0 / 3.0];
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    let mut task_scores = BTreeMap::new();
    for (task, f1s) in [
        (TaskId::ProbSum, &probsum[..]),
        (TaskId::MeDiSumQa, &medisumqa[..]),
    ] {
        let score = &results.tasks[&task];
        assert_eq!(score.n, f1s.len(), "{task}");
        assert!(close(score.metrics[&Metric::UmlsF1], mean(f1s)), "{task}");
        let m = &score.metrics;
        let by_hand =
            (m[&Metric::RougeL] + m[&Metric::Rouge1] + m[&Metric::Rouge2] + bert_f1 + mean(f1s))
                / 5.0;
        assert!(close(score.composed.score.unwrap(), by_hand), "{task}");
        task_scores.insert(task, by_hand);
    }
    assert!(close(mean(&probsum), 47.0 / 75.0));
    assert!(close(mean(&medisumqa), 4.0 / 9.0));
    let task = |t: TaskId| {
        task_scores
            .get(&t)
            .copied()
            .unwrap_or_else(|| results.tasks[&t].composed.score.unwrap())
    };
    let level1 = (task(TaskId::MedNli) + task(TaskId::MeqSum) + task(TaskId::ProbSum)) / 3.0;
    let level2 =
        (task(TaskId::LongHealth) + task(TaskId::MeDiSumQa) + task(TaskId::MeDiSumCode)) / 3.0;
    assert!(close(results.levels.level1.score.unwrap(), level1));
    assert!(close(results.levels.level2.score.unwrap(), level2));
    let record = rescored.umls.as_ref().unwrap();
    assert_eq!(record.samples, 11);
    assert_eq!(record.fingerprint["packages"]["scispacy"], "0.5.5");
}
