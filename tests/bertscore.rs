//! BERTScore against the `bert_score` package: P/R/F1 of all 1,000 MeQSum Summary/CHQ pairs
//! with all-MiniLM-L6-v2 at layers 4 and 6 equal its golden values to 1e-4, and its edge cases
//! (empty and truncated texts). Goldens: tests/golden/bertscore/generate.py.
#![cfg(not(target_arch = "wasm32"))]

use clue_wasm::data::{self, Record};
use clue_wasm::metrics::bertscore::{BertScoreOptions, BertScorer};
use clue_wasm::model::Backend;
use serde::Deserialize;

const MODEL_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
const MEQSUM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
);

#[derive(Deserialize)]
struct Golden {
    meqsum: Triples,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Triples {
    #[serde(rename = "P")]
    p: Vec<f64>,
    #[serde(rename = "R")]
    r: Vec<f64>,
    #[serde(rename = "F1")]
    f1: Vec<f64>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    candidate: String,
    reference: String,
    #[serde(rename = "P")]
    p: f64,
    #[serde(rename = "R")]
    r: f64,
    #[serde(rename = "F1")]
    f1: f64,
}

fn golden(layer: usize) -> Golden {
    let path = format!(
        "{}/tests/golden/bertscore/bertscore-minilm-L{layer}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn model_files() -> Vec<(String, Vec<u8>)> {
    [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "model.safetensors",
    ]
    .iter()
    .map(|name| {
        let path = format!("{MODEL_DIR}/{name}");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{path}: {e}; run scripts/setup to fetch the BERTScore test model")
        });
        (name.to_string(), bytes)
    })
    .collect()
}

fn meqsum_pairs() -> (Vec<String>, Vec<String>) {
    let bytes = std::fs::read(MEQSUM).unwrap();
    let dataset = data::read("meqsum.xlsx", &bytes, None).unwrap();
    dataset
        .examples
        .iter()
        .map(|e| match &e.record {
            Record::MeqSum(row) => (row.summary.clone(), row.chq.clone()),
            other => panic!("not a MeQSum row: {other:?}"),
        })
        .unzip()
}

fn check_layer(layer: usize) {
    let scorer = pollster::block_on(BertScorer::from_hf_directory(
        "all-MiniLM-L6-v2",
        &model_files(),
        layer,
        Backend::Cpu,
    ))
    .unwrap();
    let golden = golden(layer);
    let (candidates, references) = meqsum_pairs();
    assert_eq!(candidates.len(), golden.meqsum.f1.len());
    let cands: Vec<&str> = candidates.iter().map(String::as_str).collect();
    let refs: Vec<&str> = references.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let scores =
        pollster::block_on(scorer.score(&cands, &refs, BertScoreOptions::default())).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let mut worst: f64 = 0.0;
    for (i, s) in scores.iter().enumerate() {
        for (ours, theirs, what) in [
            (s.precision, golden.meqsum.p[i], "P"),
            (s.recall, golden.meqsum.r[i], "R"),
            (s.f1, golden.meqsum.f1[i], "F1"),
        ] {
            let gap = (ours - theirs).abs();
            worst = worst.max(gap);
            assert!(
                gap <= 1e-4,
                "layer {layer}, row {i}, {what}: {ours} vs {theirs}"
            );
        }
    }
    println!(
        "layer {layer}: 1,000 pairs, largest difference from bert_score {worst:.2e}, {seconds:.1} s"
    );
    for case in &golden.cases {
        let s = pollster::block_on(scorer.score(
            &[&case.candidate],
            &[&case.reference],
            BertScoreOptions::default(),
        ))
        .unwrap()[0];
        for (ours, theirs, what) in [
            (s.precision, case.p, "P"),
            (s.recall, case.r, "R"),
            (s.f1, case.f1, "F1"),
        ] {
            assert!(
                (ours - theirs).abs() <= 1e-4,
                "layer {layer}, case {:?}, {what}: {ours} vs {theirs}",
                case.name
            );
        }
    }
}

#[test]
fn meqsum_pairs_match_bert_score_at_layer_4() {
    check_layer(4);
}

#[test]
fn meqsum_pairs_match_bert_score_at_layer_6() {
    check_layer(6);
}
