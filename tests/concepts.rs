//! The Concept-F1 substitute's linking (`metrics::concepts`) against scikit-learn: for each
//! mention of tests/golden/concepts/nearest.json (written by make.py beside it with the UMLS
//! bridge's pinned scikit-learn), the nearest ICD-10-CM name by TF-IDF character-3-gram cosine
//! is the same, at the same cosine to 1e-5.

use clue_wasm::metrics::concepts::Vocabulary;

#[test]
fn nearest_names_equal_scikit_learns() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("golden/concepts/nearest.json")).unwrap();
    let vocabulary = Vocabulary::icd10cm();
    assert_eq!(vocabulary.len(), 11_861);
    let rows = golden["nearest"].as_array().unwrap();
    assert!(rows.len() > 30);
    for row in rows {
        let mention = row["mention"].as_str().unwrap();
        let got = vocabulary.nearest(mention);
        match row["code"].as_str() {
            None => assert_eq!(got, None, "{mention}"),
            Some(code) => {
                let (got_code, got_name, cosine) =
                    got.unwrap_or_else(|| panic!("{mention}: no name"));
                let want = row["cosine"].as_f64().unwrap();
                assert_eq!(
                    (got_code, got_name),
                    (code, row["name"].as_str().unwrap()),
                    "{mention}"
                );
                assert!(
                    (f64::from(cosine) - want).abs() < 1e-5,
                    "{mention}: {cosine} against {want}"
                );
            }
        }
    }
}

#[test]
fn concept_f1_finds_each_name_of_a_problem_list() {
    let vocabulary = Vocabulary::icd10cm();
    let found = vocabulary.concepts(
        "Acute kidney failure; iron deficiency anemia and heart failure, esophageal varices",
    );
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "Acute kidney failure",
            "Esophageal varices",
            "Heart failure",
            "Iron deficiency anemia"
        ]
    );
    let prf = vocabulary.score(
        "Heart failure and hypokalemia.",
        "Heart failure; acute kidney failure",
    );
    assert_eq!((prf.precision, prf.recall), (0.5, 0.5));
    // No name links: 0, as CLUE's rule gives for empty sets.
    assert_eq!(
        vocabulary.score("Rest at home.", "Rest at home.").fmeasure,
        0.0
    );
}
