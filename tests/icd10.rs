//! The embedded ICD-10-CM table against the json.gz in data/ it was built from, and MeDiSumCode
//! scoring on hand-checked cases that follow the reference's `compute_icd_f1`.

use std::io::Read;

use clue_wasm::metrics::icd10::{IcdTable, is_valid_code, score_codes};
use clue_wasm::metrics::{Metric, Prf};

const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/icd10cm-codes.json.gz");

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-12,
        "{what}: {actual} != {expected}"
    );
}

fn assert_prf(actual: Prf, precision: f64, recall: f64, fmeasure: f64, what: &str) {
    assert_close(actual.precision, precision, &format!("{what} precision"));
    assert_close(actual.recall, recall, &format!("{what} recall"));
    assert_close(actual.fmeasure, fmeasure, &format!("{what} F1"));
}

#[test]
fn embedded_table_holds_exactly_the_codes_of_the_json() {
    let bytes = std::fs::read(SOURCE).unwrap_or_else(|e| panic!("{SOURCE}: {e}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{SOURCE}: {e}"));
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{SOURCE}: {e}"));

    let table = IcdTable::embedded();
    for code in json.keys() {
        assert!(table.contains(code), "{code} from {SOURCE} is missing");
    }
    let mut expected: Vec<&str> = json.keys().map(String::as_str).collect();
    expected.sort_unstable();
    let embedded: Vec<&str> = table.codes().collect();
    assert_eq!(embedded.len(), 95_622);
    assert_eq!(embedded, expected);
}

#[test]
fn categories_and_non_billable_codes_are_valid() {
    // E11 and Z00 are categories (not billable); Z0000 and I10 are billable.
    for code in ["E11", "Z00", "Z0000", "I10", "S52521A", "E11.9"] {
        assert!(is_valid_code(code), "{code}");
    }
}

#[test]
fn codes_outside_the_table_are_invalid() {
    // U07.1 (COVID-19) is not in this table version; lower case is not found by the reference.
    for code in ["U071", "E1199", "E1", "E11999", "e119", "", "S52521AA"] {
        assert!(!is_valid_code(code), "{code:?}");
    }
}

#[test]
fn partial_overlap_with_dotted_predictions() {
    let scores = score_codes(&["E11.9", "I10", "Z00"], &["E119", "I10", "N179"]);
    assert_prf(scores.em, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, "EM");
    assert_prf(scores.ap, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, "AP");
    assert_close(scores.valid, 1.0, "valid");
}

#[test]
fn gold_written_with_dots_matches() {
    let scores = score_codes(&["E119"], &["E11.9"]);
    assert_prf(scores.em, 1.0, 1.0, 1.0, "EM");
}

#[test]
fn repeated_predictions_count_in_exact_match_but_not_in_categories() {
    // EM P = 2/3 (both I10 count), R = 1/2, F1 = 4/7; AP on sets {I10, E11} vs {I10, N17}.
    let scores = score_codes(&["I10", "I10", "E119"], &["I10", "N179"]);
    assert_prf(scores.em, 2.0 / 3.0, 0.5, 4.0 / 7.0, "EM");
    assert_prf(scores.ap, 0.5, 0.5, 0.5, "AP");
    assert_close(scores.valid, 1.0, "valid");
}

#[test]
fn repeated_gold_codes_count_in_recall() {
    let scores = score_codes(&["I10"], &["I10", "I10", "E119"]);
    assert_prf(scores.em, 1.0, 2.0 / 3.0, 0.8, "EM");
    assert_prf(scores.ap, 1.0, 0.5, 2.0 / 3.0, "AP");
}

#[test]
fn same_category_scores_only_in_approximate_match() {
    let scores = score_codes(&["E118"], &["E119"]);
    assert_prf(scores.em, 0.0, 0.0, 0.0, "EM");
    assert_prf(scores.ap, 1.0, 1.0, 1.0, "AP");
}

#[test]
fn valid_share_counts_every_prediction() {
    let scores = score_codes(&["E1199", "I10", "U071", "I10"], &["I10"]);
    assert_close(scores.valid, 0.5, "valid");
    assert_prf(scores.em, 0.5, 1.0, 2.0 / 3.0, "EM");
}

#[test]
fn empty_prediction_scores_zero_everywhere() {
    let scores = score_codes(&[] as &[&str], &["I10"]);
    assert_prf(scores.em, 0.0, 0.0, 0.0, "EM");
    assert_prf(scores.ap, 0.0, 0.0, 0.0, "AP");
    assert_close(scores.valid, 0.0, "valid");
}

#[test]
fn empty_gold_scores_zero_but_keeps_validity() {
    let scores = score_codes(&["I10"], &[] as &[&str]);
    assert_prf(scores.em, 0.0, 0.0, 0.0, "EM");
    assert_prf(scores.ap, 0.0, 0.0, 0.0, "AP");
    assert_close(scores.valid, 1.0, "valid");
}

#[test]
fn sample_scores_use_the_result_keys() {
    let scores = score_codes(&["I10", "E118"], &["I10", "E119"]).sample_scores();
    let expected = [
        (Metric::IcdEmP, 0.5),
        (Metric::IcdEmR, 0.5),
        (Metric::IcdEmF1, 0.5),
        (Metric::IcdApP, 1.0),
        (Metric::IcdApR, 1.0),
        (Metric::IcdApF1, 1.0),
        (Metric::IcdValid, 1.0),
    ];
    assert_eq!(scores.len(), expected.len());
    for (metric, value) in expected {
        assert_close(scores[&metric], value, metric.as_str());
    }
}
