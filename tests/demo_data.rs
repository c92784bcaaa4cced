//! The embedded demo sets read through the real readers: every file in its official format,
//! detected as its own task, large enough to score, and internally consistent (balanced MedNLI
//! labels, LongHealth answer locations on the evidence, real ICD-10-CM codes for MeDiSumCode).

use std::collections::{HashMap, HashSet};
use std::io::Read;

use clue_wasm::data::{Dataset, NliLabel, Record, TaskId, demo, read};
use serde_json::Value;

const ICD_TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/icd10cm-codes.json.gz");

/// The fewest examples a demo set may hold: a few go to few-shot prompts, the rest are scored.
const MIN_EXAMPLES: usize = 12;

fn read_demo(task: TaskId) -> Dataset {
    let file = demo::file(task);
    read(file.name, file.bytes, Some(task)).unwrap_or_else(|e| panic!("{}: {e}", file.name))
}

fn demo_json(task: TaskId) -> Value {
    let file = demo::file(task);
    serde_json::from_slice(file.bytes).unwrap_or_else(|e| panic!("{}: {e}", file.name))
}

fn demo_json_lines(task: TaskId) -> Vec<Value> {
    let file = demo::file(task);
    let text = std::str::from_utf8(file.bytes).expect("JSON Lines demo files are UTF-8");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}", file.name)))
        .collect()
}

#[test]
fn every_demo_file_reads_with_enough_examples_and_unique_ids() {
    for task in TaskId::ALL {
        let dataset = read_demo(task);
        assert_eq!(dataset.task, task);
        assert!(
            dataset.examples.len() >= MIN_EXAMPLES,
            "{task}: {} examples",
            dataset.examples.len()
        );
        let ids: HashSet<&str> = dataset.examples.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), dataset.examples.len(), "{task}: repeated ids");
    }
}

#[test]
fn detection_recognises_every_demo_file() {
    for file in demo::all() {
        let dataset = read(file.name, file.bytes, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            dataset.task, file.task,
            "{} detected as {}",
            file.name, dataset.task
        );
    }
}

#[test]
fn mednli_labels_are_balanced() {
    let mut counts: HashMap<NliLabel, usize> = HashMap::new();
    for example in read_demo(TaskId::MedNli).examples {
        let Record::MedNli(pair) = example.record else {
            panic!("{}: not a MedNLI record", example.id)
        };
        *counts.entry(pair.gold_label).or_default() += 1;
    }
    let per_label = counts[&NliLabel::Entailment];
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert_eq!(counts[&NliLabel::Neutral], per_label, "{counts:?}");
    assert_eq!(counts[&NliLabel::Contradiction], per_label, "{counts:?}");
}

#[test]
fn longhealth_has_three_patients_with_three_or_four_documents() {
    let dataset = read_demo(TaskId::LongHealth);
    assert!(
        dataset.patients.len() >= 3,
        "{} patients",
        dataset.patients.len()
    );
    for patient in &dataset.patients {
        assert!(
            (3..=4).contains(&patient.texts.len()),
            "{}: {} texts",
            patient.id,
            patient.texts.len()
        );
    }
}

/// LongHealth stores answer locations as fractions of the text's length (CLUE scales them by
/// each document's token count); the span they mark must hold the correct option's text.
#[test]
fn longhealth_answer_locations_point_at_the_evidence() {
    let file = demo_json(TaskId::LongHealth);
    let dataset = read_demo(TaskId::LongHealth);
    let mut checked = 0;
    for (patient_id, patient) in file.as_object().expect("an object of patients") {
        for question in patient["questions"].as_array().expect("questions") {
            let where_ = format!("{patient_id} question {}", question["No"]);
            let correct = question["correct"]
                .as_str()
                .expect("correct")
                .to_lowercase();
            let location = question["answer_location"]
                .as_object()
                .expect("answer_location");
            assert!(!location.is_empty(), "{where_}: no answer location");
            for (text_id, span) in location {
                let text: Vec<char> = patient["texts"][text_id]
                    .as_str()
                    .unwrap_or_else(|| panic!("{where_}: no text {text_id}"))
                    .chars()
                    .collect();
                let starts = span["start"].as_array().expect("start");
                let ends = span["end"].as_array().expect("end");
                assert_eq!(starts.len(), ends.len(), "{where_}: {text_id}");
                assert!(!starts.is_empty(), "{where_}: {text_id} has no span");
                for (start, end) in starts.iter().zip(ends) {
                    let (start, end) = (start.as_f64().unwrap(), end.as_f64().unwrap());
                    assert!(
                        0.0 <= start && start < end && end <= 1.0,
                        "{where_}: {text_id}"
                    );
                    let n = text.len() as f64;
                    let from = (start * n).floor() as usize;
                    let to = ((end * n).ceil() as usize).min(text.len());
                    let evidence: String = text[from..to].iter().collect();
                    assert!(
                        evidence.to_lowercase().contains(&correct),
                        "{where_}: {text_id} span {evidence:?} does not hold {correct:?}"
                    );
                }
            }
            let id = format!("{patient_id}/{}", question["No"]);
            let example = dataset.examples.iter().find(|e| e.id == id);
            let Some(Record::LongHealth(read_back)) = example.map(|e| &e.record) else {
                panic!("{where_}: the reader has no example {id}")
            };
            let keys: Vec<&String> = location.keys().collect();
            assert_eq!(read_back.answer_text_ids.iter().collect::<Vec<_>>(), keys);
            checked += 1;
        }
    }
    assert_eq!(checked, dataset.examples.len());
}

#[test]
fn medisumcode_gold_codes_are_real_icd10cm_codes_with_their_descriptions() {
    let bytes = std::fs::read(ICD_TABLE).unwrap_or_else(|e| panic!("{ICD_TABLE}: {e}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{ICD_TABLE}: {e}"));
    let table: HashMap<String, (bool, String)> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{ICD_TABLE}: {e}"));

    let admissions = demo_json_lines(TaskId::MeDiSumCode);
    assert!(admissions.len() >= MIN_EXAMPLES);
    for admission in admissions {
        let hadm_id = &admission["hadm_id"];
        let codes = admission["icd_codes"].as_array().expect("icd_codes");
        assert!(!codes.is_empty(), "{hadm_id}: no codes");
        for entry in codes {
            let code = entry["code"].as_str().expect("code");
            // MIMIC-IV stores codes without the dot, and CLUE compares predictions (dots
            // removed) with the gold codes as written: a dotted gold code could never match.
            assert!(!code.contains('.'), "{hadm_id}: {code} has a dot");
            let Some((_, description)) = table.get(code) else {
                panic!("{hadm_id}: {code} is not in the ICD-10-CM table")
            };
            assert_eq!(entry["description"].as_str(), Some(description.as_str()));
        }
    }
}

#[test]
fn medisumqa_letters_leave_out_the_discharge_instructions() {
    let dataset = read_demo(TaskId::MeDiSumQa);
    let mut letters = HashSet::new();
    for example in &dataset.examples {
        let Record::MeDiSumQa(question) = &example.record else {
            panic!("{}: not a MeDiSumQA record", example.id)
        };
        assert!(
            question.letter.contains("Brief Hospital Course:"),
            "{}",
            example.id
        );
        assert!(
            !question.letter.contains("Discharge Instructions:"),
            "{}",
            example.id
        );
        letters.insert(question.letter.as_str());
    }
    assert!(
        letters.len() < dataset.examples.len(),
        "no letter has several questions"
    );
}

/// The demo runs a 135M-parameter model on CPU: inputs must stay short.
#[test]
fn demo_inputs_stay_short() {
    let words = |text: &str| text.split_whitespace().count();
    for task in TaskId::ALL {
        for example in read_demo(task).examples {
            let (input, limit) = match &example.record {
                Record::MedNli(pair) => (format!("{} {}", pair.sentence1, pair.sentence2), 80),
                Record::MeqSum(inquiry) => (inquiry.chq.clone(), 120),
                Record::ProbSum(note) => (format!("{} {}", note.subjectives, note.assessment), 120),
                Record::LongHealth(question) => (question.question.clone(), 40),
                Record::MeDiSumQa(question) => (question.letter.clone(), 300),
                Record::MeDiSumCode(letter) => (letter.text.clone(), 300),
            };
            assert!(
                words(&input) <= limit,
                "{task} {}: {} words",
                example.id,
                words(&input)
            );
        }
    }
    for patient in read_demo(TaskId::LongHealth).patients {
        for (text_id, text) in &patient.texts {
            assert!(
                words(text) <= 250,
                "{} {text_id}: {} words",
                patient.id,
                words(text)
            );
        }
    }
}
