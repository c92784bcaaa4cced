//! ROUGE against Google's `rouge_score` 0.1.2 (tests/golden/rouge/make.py): all 1,000 MeQSum
//! pairs read from the shared xlsx, against the whole question and its first sentence, plus
//! hand-written edge cases and seeded random multi-line pairs.

use calamine::{Data, Reader, Xlsx, open_workbook};
use clue_wasm::metrics::rouge::{RougeScorer, RougeScores, score};
use serde_json::Value;
use sha2::{Digest, Sha256};

const MEQSUM_XLSX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
);
const TOLERANCE: f64 = 1e-9;

fn golden() -> Value {
    serde_json::from_str(include_str!("golden/rouge/golden.json"))
        .expect("golden.json is valid JSON")
}

/// The 12 values in make.py's order: P, R, F of rouge1, rouge2, rougeL, rougeLsum.
fn flatten(scores: &RougeScores) -> [f64; 12] {
    let [a, b, c, d] = [
        scores.rouge1,
        scores.rouge2,
        scores.rouge_l,
        scores.rouge_lsum,
    ];
    [
        a.precision,
        a.recall,
        a.fmeasure,
        b.precision,
        b.recall,
        b.fmeasure,
        c.precision,
        c.recall,
        c.fmeasure,
        d.precision,
        d.recall,
        d.fmeasure,
    ]
}

fn assert_close(ours: &RougeScores, golden: &Value, what: &str) {
    const NAMES: [&str; 12] = [
        "rouge1 P",
        "rouge1 R",
        "rouge1 F",
        "rouge2 P",
        "rouge2 R",
        "rouge2 F",
        "rougeL P",
        "rougeL R",
        "rougeL F",
        "rougeLsum P",
        "rougeLsum R",
        "rougeLsum F",
    ];
    let golden = golden.as_array().expect("12 scores");
    assert_eq!(golden.len(), 12, "{what}");
    for ((name, ours), expected) in NAMES.iter().zip(flatten(ours)).zip(golden) {
        let expected = expected.as_f64().expect("a float");
        assert!(
            (ours - expected).abs() <= TOLERANCE,
            "{what}: {name} is {ours}, rouge_score says {expected}"
        );
    }
}

/// (CHQ, Summary) of every data row of the first sheet, columns found by header name.
fn meqsum_pairs() -> Vec<(String, String)> {
    let mut workbook: Xlsx<_> = open_workbook(MEQSUM_XLSX).expect("MeQSum xlsx opens");
    let sheet = workbook
        .worksheet_range_at(0)
        .expect("a first sheet")
        .expect("the first sheet reads");
    let mut rows = sheet.rows();
    let header = rows.next().expect("a header row");
    let column = |name: &str| {
        header
            .iter()
            .position(|cell| matches!(cell, Data::String(text) if text == name))
            .unwrap_or_else(|| panic!("no {name} column"))
    };
    let (chq, summary) = (column("CHQ"), column("Summary"));
    rows.filter(|row| !matches!(row[chq], Data::Empty))
        .map(|row| match (&row[chq], &row[summary]) {
            (Data::String(chq), Data::String(summary)) => (chq.clone(), summary.clone()),
            other => panic!("non-text CHQ or Summary: {other:?}"),
        })
        .collect()
}

/// make.py's rule: CHQ up to and including the first '.', '?' or '!' directly followed by a
/// space, tab or newline; all of it when there is none.
fn first_sentence(text: &str) -> &str {
    let bytes = text.as_bytes();
    bytes
        .windows(2)
        .position(|pair| b".?!".contains(&pair[0]) && b" \t\n".contains(&pair[1]))
        .map_or(text, |end| &text[..=end])
}

fn inputs_digest(chq: &str, summary: &str) -> String {
    let digest = Sha256::digest(format!("{chq}\0{summary}").as_bytes());
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[test]
fn meqsum_pairs_match_rouge_score() {
    let golden = golden();
    let rows = golden["meqsum"].as_array().unwrap();
    let pairs = meqsum_pairs();
    assert_eq!(pairs.len(), 1000);
    assert_eq!(rows.len(), pairs.len());
    let mut scorer = RougeScorer::new();
    for (row, (chq, summary)) in rows.iter().zip(&pairs) {
        let index = row["row"].as_u64().unwrap();
        assert_eq!(
            inputs_digest(chq, summary),
            row["inputs"].as_str().unwrap(),
            "row {index}: calamine and openpyxl read different strings"
        );
        let full = scorer.score(summary, chq);
        assert_close(&full, &row["full"], &format!("row {index}, whole CHQ"));
        let first = scorer.score(summary, first_sentence(chq));
        assert_close(
            &first,
            &row["first_sentence"],
            &format!("row {index}, first sentence"),
        );
    }
}

#[test]
fn edge_cases_and_random_multiline_pairs_match_rouge_score() {
    let golden = golden();
    let cases = golden["cases"].as_array().unwrap();
    assert!(cases.len() > 200);
    let mut scorer = RougeScorer::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let prediction = case["prediction"].as_str().unwrap();
        let reference = case["reference"].as_str().unwrap();
        assert_close(&scorer.score(prediction, reference), &case["scores"], name);
        assert_close(&score(prediction, reference), &case["scores"], name);
    }
}

/// Python's `str.lower()` turns exactly these non-ASCII characters into something with ASCII
/// letters or digits; Rust's lower-casing must agree, or tokens would differ.
#[test]
fn unicode_lowering_into_ascii_agrees_with_python() {
    let golden = golden();
    let python: Vec<u32> = golden["ascii_lowering"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_u64().unwrap() as u32)
        .collect();
    let rust: Vec<u32> = (0x80..=0x10_ffff)
        .filter_map(char::from_u32)
        .filter(|c| c.to_lowercase().any(|lower| lower.is_ascii_alphanumeric()))
        .map(u32::from)
        .collect();
    assert_eq!(rust, python);
}

#[test]
fn first_sentence_rule_cuts_after_the_punctuation() {
    assert_eq!(first_sentence("Hi. Is 2.5 mg ok? Thanks"), "Hi.");
    assert_eq!(first_sentence("Dose 2.5mg?\nThanks"), "Dose 2.5mg?");
    assert_eq!(first_sentence("no end"), "no end");
}
