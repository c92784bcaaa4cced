//! The six official file readers through the public API: what they read from well-formed files
//! (the real MeQSum workbook included), the message of every malformed case (file, line or
//! row, field), format detection, and no panic on any truncated file.

use clue_wasm::data::{
    DataError, Dataset, Location, NliLabel, Problem, Record, TaskId, detect, read,
};

const MEQSUM_XLSX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
);

fn read_ok(source: &str, bytes: &[u8], task: Option<TaskId>) -> Dataset {
    read(source, bytes, task).unwrap_or_else(|error| panic!("{source}: {error}"))
}

fn read_err(source: &str, bytes: &[u8], task: Option<TaskId>) -> DataError {
    match read(source, bytes, task) {
        Ok(dataset) => panic!("{source} read {} examples", dataset.examples.len()),
        Err(error) => error,
    }
}

/// Builds minimal xlsx workbooks (stored zip entries, inline strings) for the malformed cases.
mod xlsx {
    fn zip(entries: &[(&str, String)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, body) in entries {
            let mut crc = flate2::Crc::new();
            crc.update(body.as_bytes());
            let offset = out.len() as u32;
            let size = body.len() as u32;
            let fixed = |signature: u32, out: &mut Vec<u8>| {
                out.extend_from_slice(&signature.to_le_bytes());
                if signature == 0x0201_4b50 {
                    out.extend_from_slice(&20u16.to_le_bytes());
                }
                for value in [20u16, 0, 0, 0, 0] {
                    out.extend_from_slice(&value.to_le_bytes());
                }
                for value in [crc.sum(), size, size] {
                    out.extend_from_slice(&value.to_le_bytes());
                }
                out.extend_from_slice(&(name.len() as u16).to_le_bytes());
                out.extend_from_slice(&0u16.to_le_bytes());
            };
            fixed(0x0403_4b50, &mut out);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(body.as_bytes());
            fixed(0x0201_4b50, &mut central);
            for value in [0u16, 0, 0] {
                central.extend_from_slice(&value.to_le_bytes());
            }
            central.extend_from_slice(&0u32.to_le_bytes());
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let central_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        let count = entries.len() as u16;
        for value in [0u16, 0, count, count] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&central_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const RELS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

    /// A workbook whose first sheet holds `rows` from row 1; `""` leaves a cell out and
    /// `=N` writes the number N.
    pub fn workbook(rows: &[&[&str]]) -> Vec<u8> {
        let mut sheet = String::new();
        for (r, cells) in rows.iter().enumerate() {
            sheet.push_str(&format!("<row r=\"{}\">", r + 1));
            for (c, cell) in cells.iter().enumerate() {
                let reference = format!("{}{}", (b'A' + c as u8) as char, r + 1);
                if let Some(number) = cell.strip_prefix('=') {
                    sheet.push_str(&format!("<c r=\"{reference}\"><v>{number}</v></c>"));
                } else if !cell.is_empty() {
                    sheet.push_str(&format!(
                        "<c r=\"{reference}\" t=\"inlineStr\"><is><t>{cell}</t></is></c>"
                    ));
                }
            }
            sheet.push_str("</row>");
        }
        parts(
            "<sheet name=\"QS\" sheetId=\"1\" r:id=\"rId1\"/>",
            Some(format!(
                "<worksheet xmlns=\"{MAIN}\"><sheetData>{sheet}</sheetData></worksheet>"
            )),
        )
    }

    /// A workbook without any sheet.
    pub fn without_sheets() -> Vec<u8> {
        parts("", None)
    }

    fn parts(sheets: &str, sheet: Option<String>) -> Vec<u8> {
        let mut entries = vec![
            (
                "[Content_Types].xml",
                "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
                 <Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>"
                    .to_string(),
            ),
            (
                "_rels/.rels",
                format!(
                    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
                     <Relationship Id=\"rId1\" Type=\"{RELS}/officeDocument\" Target=\"xl/workbook.xml\"/>\
                     </Relationships>"
                ),
            ),
            (
                "xl/workbook.xml",
                format!(
                    "<workbook xmlns=\"{MAIN}\" xmlns:r=\"{RELS}\"><sheets>{sheets}</sheets></workbook>"
                ),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                format!(
                    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
                     <Relationship Id=\"rId1\" Type=\"{RELS}/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
                     </Relationships>"
                ),
            ),
        ];
        if let Some(sheet) = sheet {
            entries.push(("xl/worksheets/sheet1.xml", sheet));
        }
        zip(&entries)
    }
}

// ---------------------------------------------------------------- MedNLI

const MEDNLI: &str = concat!(
    r#"{"sentence1": "No history of blood clots.", "sentence2": "The patient has a history of DVT.", "gold_label": "contradiction", "pairID": "a-1", "sentence1_parse": "(ROOT)"}"#,
    "\n",
    r#"{"sentence1": "Labs were normal.", "sentence2": "Labs were drawn.", "gold_label": "entailment", "pairID": "a-2"}"#,
    "\r\n\n",
    r#"{"sentence1": "He smokes.", "sentence2": "He has COPD.", "gold_label": "neutral", "pairID": "a-3"}"#,
    "\n"
);

#[test]
fn mednli_reads_pairs_with_their_ids_labels_and_lines() {
    let dataset = read_ok("mednli.jsonl", MEDNLI.as_bytes(), Some(TaskId::MedNli));
    assert_eq!(dataset.task, TaskId::MedNli);
    assert!(dataset.patients.is_empty());
    let summary: Vec<(&str, usize)> = dataset
        .examples
        .iter()
        .map(|e| (e.id.as_str(), e.line))
        .collect();
    assert_eq!(summary, vec![("a-1", 1), ("a-2", 2), ("a-3", 4)]);
    let Record::MedNli(pair) = &dataset.examples[1].record else {
        panic!("not a MedNLI record")
    };
    assert_eq!(pair.sentence1, "Labs were normal.");
    assert_eq!(pair.sentence2, "Labs were drawn.");
    assert_eq!(pair.gold_label, NliLabel::Entailment);
}

#[test]
fn mednli_ids_fall_back_to_the_record_index() {
    let file = "\n{\"sentence1\": \"a\", \"sentence2\": \"b\", \"gold_label\": \"neutral\"}\n\n\
                {\"sentence1\": \"c\", \"sentence2\": \"d\", \"gold_label\": \"neutral\", \"pairID\": 7}\n";
    let dataset = read_ok("mednli.jsonl", file.as_bytes(), None);
    let ids: Vec<&str> = dataset.examples.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["0", "7"]);
    assert_eq!(dataset.examples[0].line, 2);
}

/// Six good lines and a bad seventh.
fn mednli_with_line_7(bad: &str) -> String {
    let mut file = String::new();
    for i in 0..6 {
        file.push_str(&format!(
            "{{\"sentence1\": \"s{i}\", \"sentence2\": \"t{i}\", \"gold_label\": \"neutral\", \"pairID\": \"p{i}\"}}\n"
        ));
    }
    file.push_str(bad);
    file.push('\n');
    file
}

#[test]
fn mednli_unknown_label_names_line_field_and_value() {
    let file = mednli_with_line_7(
        r#"{"sentence1": "a", "sentence2": "b", "gold_label": "entails", "pairID": "p7"}"#,
    );
    let error = read_err("mednli.jsonl", file.as_bytes(), Some(TaskId::MedNli));
    assert_eq!(
        error.to_string(),
        "mednli.jsonl, line 7, field \"gold_label\": unknown label \"entails\" \
         (expected entailment, neutral or contradiction)"
    );
    assert_eq!(error.file(), "mednli.jsonl");
    assert_eq!(error.line(), Some(7));
    assert_eq!(error.field(), Some("gold_label"));
}

#[test]
fn mednli_labels_are_lower_case() {
    let file = mednli_with_line_7(
        r#"{"sentence1": "a", "sentence2": "b", "gold_label": "Neutral", "pairID": "p7"}"#,
    );
    let error = read_err("mednli.jsonl", file.as_bytes(), None);
    assert_eq!(
        error.problem(),
        &Problem::UnknownLabel {
            value: "Neutral".to_string()
        }
    );
}

#[test]
fn mednli_missing_field_names_line_and_field() {
    let file = mednli_with_line_7(r#"{"sentence1": "a", "gold_label": "neutral"}"#);
    let error = read_err("mednli.jsonl", file.as_bytes(), Some(TaskId::MedNli));
    assert_eq!(
        error.to_string(),
        "mednli.jsonl, line 7, field \"sentence2\": required field is missing"
    );
}

#[test]
fn mednli_number_where_text_is_expected_says_what_was_found() {
    let file = mednli_with_line_7(r#"{"sentence1": 5, "sentence2": "b", "gold_label": "neutral"}"#);
    let error = read_err("mednli.jsonl", file.as_bytes(), Some(TaskId::MedNli));
    assert_eq!(
        error.to_string(),
        "mednli.jsonl, line 7, field \"sentence1\": expected text, found number 5"
    );
}

#[test]
fn mednli_non_json_line_names_line_and_column() {
    let file = mednli_with_line_7(r#"{"sentence1": "a", "sentence2": oops}"#);
    let error = read_err("mednli.jsonl", file.as_bytes(), Some(TaskId::MedNli));
    assert_eq!(error.line(), Some(7));
    assert!(
        matches!(error.problem(), Problem::InvalidJson { column: 33, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("mednli.jsonl, line 7: invalid JSON at column 33: ")
    );
}

#[test]
fn mednli_line_that_is_not_an_object_is_refused() {
    let file = mednli_with_line_7("[1, 2]");
    let error = read_err("mednli.jsonl", file.as_bytes(), Some(TaskId::MedNli));
    assert_eq!(
        error.to_string(),
        "mednli.jsonl, line 7: expected a JSON object, found an array"
    );
}

#[test]
fn mednli_duplicate_ids_name_both_lines() {
    let file = mednli_with_line_7(
        r#"{"sentence1": "a", "sentence2": "b", "gold_label": "neutral", "pairID": "p2"}"#,
    );
    let error = read_err("mednli.jsonl", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "mednli.jsonl, line 7, field \"pairID\": duplicate id \"p2\" (first used at line 3)"
    );
}

#[test]
fn bad_utf8_names_line_and_byte_offset() {
    let mut file = mednli_with_line_7("").into_bytes();
    let line_7 = file.len() - 1;
    file.splice(
        line_7..line_7,
        b"{\"sentence1\": \"caf\xE9\"}".iter().copied(),
    );
    let error = read_err("mednli.jsonl", &file, Some(TaskId::MedNli));
    assert_eq!(
        error.to_string(),
        format!(
            "mednli.jsonl, line 7: invalid UTF-8 at byte offset {} of the file",
            line_7 + 18
        )
    );
}

#[test]
fn empty_files_are_refused_for_every_task() {
    for task in TaskId::ALL.into_iter().map(Some).chain([None]) {
        for bytes in [&b""[..], b"  \n\r\n", b"\xEF\xBB\xBF\n"] {
            let error = read_err("empty.txt", bytes, task);
            assert_eq!(error.to_string(), "empty.txt: the file is empty");
        }
    }
    let error = detect("empty.txt", b"").unwrap_err();
    assert_eq!(error.problem(), &Problem::EmptyFile);
}

#[test]
fn the_documented_limits_are_one_gib_per_file_and_64_mib_per_line() {
    assert_eq!(clue_wasm::data::MAX_FILE_BYTES, 1 << 30);
    assert_eq!(clue_wasm::data::MAX_LINE_BYTES, 64 << 20);
}

// ---------------------------------------------------------------- MeQSum

#[test]
fn meqsum_reads_the_real_workbook() {
    let bytes = std::fs::read(MEQSUM_XLSX).expect("the MeQSum workbook in data/");
    assert_eq!(detect("MeQSum.xlsx", &bytes), Ok(TaskId::MeqSum));
    let dataset = read_ok("MeQSum.xlsx", &bytes, None);
    assert_eq!(dataset.task, TaskId::MeqSum);
    assert_eq!(dataset.examples.len(), 1000);
    let first = &dataset.examples[0];
    assert_eq!((first.id.as_str(), first.line), ("1-131188152.xml.txt", 2));
    let Record::MeqSum(inquiry) = &first.record else {
        panic!("not a MeQSum record")
    };
    assert!(
        inquiry
            .chq
            .starts_with("SUBJECT: who and where to get cetirizine - D\nMESSAGE: I need/want"),
        "{:?}",
        inquiry.chq
    );
    assert_eq!(inquiry.summary, "Who manufactures cetirizine?");
    let last = dataset.examples.last().unwrap();
    assert_eq!((last.id.as_str(), last.line), ("1-131296355.xml.txt", 1001));
    // Ids are unique in the real file, or `read` would have refused it.
    let mut ids: Vec<&str> = dataset.examples.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1000);
}

#[test]
fn meqsum_finds_columns_by_name_and_skips_blank_rows() {
    let bytes = xlsx::workbook(&[
        &["", "", ""],
        &["Summary", " File ", "CHQ", "Extra"],
        &["What is X?", "q-1", "I wonder what X is.", "ignored"],
        &["  ", " ", ""],
        &["What is Y?", "=42", "Y?"],
        &["", " "],
    ]);
    let dataset = read_ok("meqsum.xlsx", &bytes, Some(TaskId::MeqSum));
    let summary: Vec<(&str, usize)> = dataset
        .examples
        .iter()
        .map(|e| (e.id.as_str(), e.line))
        .collect();
    assert_eq!(summary, vec![("q-1", 3), ("42", 5)]);
    let Record::MeqSum(inquiry) = &dataset.examples[0].record else {
        panic!("not a MeQSum record")
    };
    assert_eq!(inquiry.chq, "I wonder what X is.");
    assert_eq!(inquiry.summary, "What is X?");
}

#[test]
fn meqsum_missing_column_names_header_row_and_column() {
    let bytes = xlsx::workbook(&[&["File", "CHQ"], &["q-1", "What is X?"]]);
    let error = read_err("meqsum.xlsx", &bytes, None);
    assert_eq!(
        error.to_string(),
        "meqsum.xlsx, row 1, field \"Summary\": no such column in the header row (found: File, CHQ)"
    );
    assert_eq!(error.location(), Some(Location::Row(1)));
}

#[test]
fn meqsum_empty_cell_names_row_and_column() {
    let bytes = xlsx::workbook(&[
        &["File", "CHQ", "Summary"],
        &["q-1", "What is X?", "X?"],
        &["q-2", "", "Y?"],
    ]);
    let error = read_err("meqsum.xlsx", &bytes, None);
    assert_eq!(
        error.to_string(),
        "meqsum.xlsx, row 3, field \"CHQ\": the value is empty"
    );
}

#[test]
fn meqsum_duplicate_files_name_both_rows() {
    let bytes = xlsx::workbook(&[
        &["File", "CHQ", "Summary"],
        &["q-1", "What is X?", "X?"],
        &["q-1", "What is Y?", "Y?"],
    ]);
    let error = read_err("meqsum.xlsx", &bytes, None);
    assert_eq!(
        error.to_string(),
        "meqsum.xlsx, row 3, field \"File\": duplicate id \"q-1\" (first used at row 2)"
    );
}

#[test]
fn meqsum_workbook_without_sheet_or_rows_is_refused() {
    let error = read_err("meqsum.xlsx", &xlsx::without_sheets(), None);
    assert_eq!(error.to_string(), "meqsum.xlsx: the workbook has no sheet");
    let error = read_err(
        "meqsum.xlsx",
        &xlsx::workbook(&[&["File", "CHQ", "Summary"]]),
        None,
    );
    assert_eq!(error.problem(), &Problem::NoExamples);
}

#[test]
fn meqsum_file_that_is_not_a_zip_is_refused() {
    let error = read_err("meqsum.xlsx", b"File,CHQ,Summary\n", Some(TaskId::MeqSum));
    assert_eq!(
        error.to_string(),
        "meqsum.xlsx: expected a MeQSum xlsx workbook, found a file that is not a zip archive"
    );
    let mut broken = b"PK\x03\x04".to_vec();
    broken.extend_from_slice(&[0; 40]);
    let error = read_err("meqsum.xlsx", &broken, None);
    assert!(
        matches!(error.problem(), Problem::Spreadsheet { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("meqsum.xlsx: cannot read the xlsx workbook: ")
    );
}

#[test]
fn a_workbook_named_as_another_task_is_refused() {
    let bytes = xlsx::workbook(&[&["File", "CHQ", "Summary"], &["q", "c", "s"]]);
    let error = read_err("data.xlsx", &bytes, Some(TaskId::MedNli));
    assert_eq!(
        error.to_string(),
        "data.xlsx: expected a MedNLI JSON Lines file, found an xlsx workbook (a zip archive)"
    );
}

// ---------------------------------------------------------------- Problem Summary

const PROBSUM: &str = "\u{FEFF} File ID ,Subjectives, Objectives ,Assessment,Summary\r\n\
    123.txt,\"Pt reports pain,\r\nworse at night\",BP 120/80,\"72M with CHF\",CHF;pain\r\n\
    ,,,,\r\n\
    456.txt,cough,\"\",pneumonia,Pneumonia;\r\n\
    \r\n";

#[test]
fn probsum_reads_quoted_multiline_fields_and_trimmed_headers() {
    let dataset = read_ok("probsum.csv", PROBSUM.as_bytes(), None);
    assert_eq!(dataset.task, TaskId::ProbSum);
    let summary: Vec<(&str, usize)> = dataset
        .examples
        .iter()
        .map(|e| (e.id.as_str(), e.line))
        .collect();
    assert_eq!(summary, vec![("123.txt", 2), ("456.txt", 5)]);
    let Record::ProbSum(note) = &dataset.examples[0].record else {
        panic!("not a Problem Summary record")
    };
    assert_eq!(note.subjectives, "Pt reports pain,\r\nworse at night");
    assert_eq!(note.objectives, "BP 120/80");
    assert_eq!(note.assessment, "72M with CHF");
    assert_eq!(note.summary, "CHF;pain");
}

#[test]
fn probsum_missing_column_names_the_header_line() {
    let file = "File ID,Subjectives,Assessment\n1,a,b\n";
    let error = read_err("probsum.csv", file.as_bytes(), Some(TaskId::ProbSum));
    assert_eq!(
        error.to_string(),
        "probsum.csv, line 1, field \"Summary\": no such column in the header row \
         (found: File ID, Subjectives, Assessment)"
    );
}

#[test]
fn probsum_wrong_column_count_names_line_and_missing_column() {
    let file = "File ID,Subjectives,Objectives,Assessment,Summary\n1,a,b,c,d\n2,a,b,c\n";
    let error = read_err("probsum.csv", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "probsum.csv, line 3, field \"Summary\": the record has 4 fields, the header has 5"
    );
    let file = "File ID,Subjectives,Objectives,Assessment,Summary\n1,a,b,c,d,e\n";
    let error = read_err("probsum.csv", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "probsum.csv, line 2: the record has 6 fields, the header has 5"
    );
}

#[test]
fn probsum_empty_summary_and_duplicate_ids_are_refused() {
    let file = "File ID,Subjectives,Objectives,Assessment,Summary\n1,a,b,c, \n";
    let error = read_err("probsum.csv", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "probsum.csv, line 2, field \"Summary\": the value is empty"
    );
    let file =
        "File ID,Subjectives,Objectives,Assessment,Summary\n1,a,b,c,d\n\"1\",\"x\ny\",b,c,d\n";
    let error = read_err("probsum.csv", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "probsum.csv, line 3, field \"File ID\": duplicate id \"1\" (first used at line 2)"
    );
}

// ---------------------------------------------------------------- LongHealth

const LONGHEALTH: &str = r#"{
  "patient_01": {
    "name": "Alice Example",
    "birthday": "1970-01-02",
    "diagnosis": "fixture",
    "texts": {
      "text_0": "Admission letter.",
      "text_1": "Discharge letter."
    },
    "questions": [
      {
        "No": 1,
        "question": "What was she given?",
        "answer_a": "Medication X 5 mg",
        "answer_b": "Medication Y",
        "answer_c": "Medication Z",
        "answer_d": "Water",
        "answer_e": "Food",
        "correct": "Medication X",
        "answer_location": {"text_1": {"start": [0.2], "end": [0.4]}, "text_0": {"start": [], "end": []}}
      },
      {
        "No": "2",
        "question": "When?",
        "answer_a": "Monday",
        "answer_b": "Tuesday",
        "answer_c": "Wednesday",
        "answer_d": "Thursday",
        "answer_e": "Friday",
        "correct": "Friday",
        "answer_location": {"text_0": {"start": [0.1], "end": [0.2]}}
      }
    ]
  },
  "patient_02": {
    "texts": {"text_0": "Only letter."},
    "questions": [
      {
        "No": 1,
        "question": "Which?",
        "answer_a": "A",
        "answer_b": "B",
        "answer_c": "C",
        "answer_d": "D",
        "answer_e": "E",
        "correct": "C",
        "answer_location": {"text_0": {"start": [0.5], "end": [0.6]}}
      }
    ]
  }
}
"#;

#[test]
fn longhealth_reads_patients_texts_and_questions_in_file_order() {
    let dataset = read_ok("benchmark_v5.json", LONGHEALTH.as_bytes(), None);
    assert_eq!(dataset.task, TaskId::LongHealth);
    let summary: Vec<(&str, usize)> = dataset
        .examples
        .iter()
        .map(|e| (e.id.as_str(), e.line))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("patient_01/1", 11),
            ("patient_01/2", 22),
            ("patient_02/1", 38)
        ]
    );
    let patients: Vec<(&str, Vec<&str>)> = dataset
        .patients
        .iter()
        .map(|p| {
            (
                p.id.as_str(),
                p.texts.iter().map(|(id, _)| id.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        patients,
        vec![
            ("patient_01", vec!["text_0", "text_1"]),
            ("patient_02", vec!["text_0"])
        ]
    );
    assert_eq!(dataset.patients[0].texts[1].1, "Discharge letter.");
    let Record::LongHealth(question) = &dataset.examples[0].record else {
        panic!("not a LongHealth record")
    };
    assert_eq!(question.patient_id, "patient_01");
    assert_eq!(question.number, "1");
    assert_eq!(question.question, "What was she given?");
    assert_eq!(question.options[0], "Medication X 5 mg");
    assert_eq!(question.options[4], "Food");
    assert_eq!(question.correct, "Medication X");
    assert_eq!(question.answer_text_ids, vec!["text_1", "text_0"]);
}

#[test]
fn longhealth_correct_in_no_option_names_patient_question_and_line() {
    let file = LONGHEALTH.replace("\"correct\": \"Friday\"", "\"correct\": \"Saturday\"");
    let error = read_err(
        "benchmark_v5.json",
        file.as_bytes(),
        Some(TaskId::LongHealth),
    );
    assert_eq!(
        error.to_string(),
        "benchmark_v5.json, line 30 (patient \"patient_01\", question 2), field \"correct\": \
         \"Saturday\" is not contained in any of answer_a … answer_e"
    );
    assert_eq!(error.item(), Some("patient \"patient_01\", question 2"));
}

#[test]
fn longhealth_answer_location_must_name_the_patients_texts() {
    let file = LONGHEALTH.replace(
        "\"answer_location\": {\"text_0\": {\"start\": [0.5]",
        "\"answer_location\": {\"text_7\": {\"start\": [0.5]",
    );
    let error = read_err("benchmark_v5.json", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "benchmark_v5.json, line 47 (patient \"patient_02\", question 1), \
         field \"answer_location.text_7\": names text \"text_7\", which is not among the \
         patient's texts"
    );
}

#[test]
fn longhealth_malformed_fields_name_their_place() {
    let file = LONGHEALTH.replace("\"answer_c\": \"C\",\n", "");
    let error = read_err("benchmark_v5.json", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "benchmark_v5.json, line 38 (patient \"patient_02\", question 1), \
         field \"answer_c\": required field is missing"
    );
    let file = LONGHEALTH.replace("\"text_1\": \"Discharge letter.\"", "\"text_1\": 3");
    let error = read_err("benchmark_v5.json", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "benchmark_v5.json, line 8 (patient \"patient_01\"), field \"texts.text_1\": \
         expected text, found number 3"
    );
    let file = LONGHEALTH.replace("\"No\": \"2\"", "\"No\": 1");
    let error = read_err("benchmark_v5.json", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "benchmark_v5.json, line 22, field \"No\": duplicate id \"patient_01/1\" \
         (first used at line 11)"
    );
    let file = LONGHEALTH.replace("\"No\": \"2\"", "\"No\": [2]");
    let error = read_err("benchmark_v5.json", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "benchmark_v5.json, line 23 (patient \"patient_01\", question #2), field \"No\": \
         expected text or an integer, found an array"
    );
}

#[test]
fn longhealth_must_be_one_object_of_patients() {
    let error = read_err("longhealth.json", b"[1, 2]", Some(TaskId::LongHealth));
    assert_eq!(
        error.to_string(),
        "longhealth.json, line 1: expected a JSON object of patients, found an array"
    );
    let error = read_err(
        "longhealth.json",
        br#"{"patient_01": "nobody"}"#,
        Some(TaskId::LongHealth),
    );
    assert_eq!(
        error.to_string(),
        "longhealth.json, line 1 (patient \"patient_01\"): expected a patient object with \
         texts and questions, found text \"nobody\""
    );
}

#[test]
fn longhealth_truncated_file_names_the_last_line() {
    let cut = LONGHEALTH.find("\"patient_02\"").unwrap();
    let error = read_err("benchmark_v5.json", &LONGHEALTH.as_bytes()[..cut], None);
    assert_eq!(error.problem(), &Problem::TruncatedJson);
    assert_eq!(error.line(), Some(34));
}

// ---------------------------------------------------------------- MeDiSumQA

const MEDISUMQA: &str = r#"[
  {
    "note_id": "n-1",
    "with_discharge_summary": "Letter. Summary: take aspirin.",
    "without_discharge_summary": "Letter.",
    "Question": "Which drug?",
    "Answer": "Aspirin."
  },
  {"note_id": "n-1", "without_discharge_summary": "Letter.", "Question": "Why?", "Answer": "Pain."}
]
"#;

#[test]
fn medisumqa_reads_a_json_array_with_element_lines() {
    let dataset = read_ok("medisumqa.json", MEDISUMQA.as_bytes(), None);
    assert_eq!(dataset.task, TaskId::MeDiSumQa);
    let summary: Vec<(&str, usize)> = dataset
        .examples
        .iter()
        .map(|e| (e.id.as_str(), e.line))
        .collect();
    assert_eq!(summary, vec![("0", 2), ("1", 9)]);
    let Record::MeDiSumQa(question) = &dataset.examples[0].record else {
        panic!("not a MeDiSumQA record")
    };
    assert_eq!(question.letter, "Letter.");
    assert_eq!(question.question, "Which drug?");
    assert_eq!(question.answer, "Aspirin.");
}

#[test]
fn medisumqa_reads_json_lines_with_either_letter_field() {
    let file = concat!(
        r#"{"id": "q-9", "discharge_summary": "Letter A.", "Question": "Q?", "Answer": "A."}"#,
        "\n",
        r#"{"discharge_summary": "Long.", "without_discharge_summary": "Short.", "Question": "R?", "Answer": "B."}"#,
        "\n"
    );
    let dataset = read_ok("medisumqa.jsonl", file.as_bytes(), Some(TaskId::MeDiSumQa));
    let letters: Vec<(&str, &str)> = dataset
        .examples
        .iter()
        .map(|e| match &e.record {
            Record::MeDiSumQa(q) => (e.id.as_str(), q.letter.as_str()),
            other => panic!("not a MeDiSumQA record: {other:?}"),
        })
        .collect();
    assert_eq!(letters, vec![("q-9", "Letter A."), ("1", "Short.")]);
}

#[test]
fn medisumqa_missing_letter_names_both_accepted_fields() {
    let file = MEDISUMQA.replace(
        "{\"note_id\": \"n-1\", \"without_discharge_summary\": \"Letter.\", ",
        "{\"note_id\": \"n-1\", ",
    );
    let error = read_err("medisumqa.json", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "medisumqa.json, line 9 (element 2), field \"without_discharge_summary\": required \
         field is missing (and so is \"discharge_summary\", accepted instead)"
    );
}

#[test]
fn truncated_json_array_is_reported_as_truncated() {
    let cut = MEDISUMQA.find("\"Why?\"").unwrap();
    let error = read_err(
        "medisumqa.json",
        &MEDISUMQA.as_bytes()[..cut],
        Some(TaskId::MeDiSumQa),
    );
    assert_eq!(
        error.to_string(),
        "medisumqa.json, line 9: the JSON ends in the middle of a value (is the file truncated?)"
    );
    let error = read_err("medisumqa.json", b"[]", Some(TaskId::MeDiSumQa));
    assert_eq!(
        error.to_string(),
        "medisumqa.json: the file holds no examples"
    );
}

#[test]
fn json_array_element_that_is_not_an_object_is_refused() {
    let error = read_err(
        "medisumqa.json",
        b"[\n  \"just text\"\n]",
        Some(TaskId::MeDiSumQa),
    );
    assert_eq!(
        error.to_string(),
        "medisumqa.json, line 2 (element 1): expected a JSON object, found text \"just text\""
    );
}

// ---------------------------------------------------------------- MeDiSumCode

const MEDISUMCODE: &str = concat!(
    r#"{"hadm_id": 20000001, "text": "Letter one.", "icd_codes": [{"code": "I10", "description": "Essential hypertension"}, {"code": "E119"}]}"#,
    "\n",
    r#"{"hadm_id": "20000002", "text": "Letter two.", "icd_codes": []}"#,
    "\n"
);

#[test]
fn medisumcode_reads_ids_of_either_type_and_codes_in_order() {
    let dataset = read_ok("medisumcode.jsonl", MEDISUMCODE.as_bytes(), None);
    assert_eq!(dataset.task, TaskId::MeDiSumCode);
    let ids: Vec<&str> = dataset.examples.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["20000001", "20000002"]);
    let Record::MeDiSumCode(letter) = &dataset.examples[0].record else {
        panic!("not a MeDiSumCode record")
    };
    assert_eq!(letter.text, "Letter one.");
    let codes: Vec<(&str, &str)> = letter
        .codes
        .iter()
        .map(|c| (c.code.as_str(), c.description.as_str()))
        .collect();
    assert_eq!(codes, vec![("I10", "Essential hypertension"), ("E119", "")]);
}

#[test]
fn medisumcode_malformed_codes_name_the_nested_field() {
    let file = MEDISUMCODE.replace(r#"{"code": "E119"}"#, r#""E119""#);
    let error = read_err("medisumcode.jsonl", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "medisumcode.jsonl, line 1, field \"icd_codes[1]\": expected an object with code and \
         description, found text \"E119\""
    );
    let file = MEDISUMCODE.replace(r#"{"code": "E119"}"#, r#"{"code": 119}"#);
    let error = read_err("medisumcode.jsonl", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "medisumcode.jsonl, line 1, field \"icd_codes[1].code\": expected text, found number 119"
    );
    let file = MEDISUMCODE.replace(r#""icd_codes": []"#, r#""icd_codes": "I10""#);
    let error = read_err("medisumcode.jsonl", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "medisumcode.jsonl, line 2, field \"icd_codes\": expected an array, found text \"I10\""
    );
    let file = MEDISUMCODE.replace("20000001", "2.5");
    let error = read_err("medisumcode.jsonl", file.as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "medisumcode.jsonl, line 1, field \"hadm_id\": expected text or an integer, found number 2.5"
    );
}

// ---------------------------------------------------------------- detection

#[test]
fn detection_recognises_every_format_from_content() {
    let cases: [(&str, &[u8], TaskId); 6] = [
        ("a", MEDNLI.as_bytes(), TaskId::MedNli),
        ("b", PROBSUM.as_bytes(), TaskId::ProbSum),
        ("c", LONGHEALTH.as_bytes(), TaskId::LongHealth),
        ("d", MEDISUMQA.as_bytes(), TaskId::MeDiSumQa),
        ("e", MEDISUMCODE.as_bytes(), TaskId::MeDiSumCode),
        (
            "f",
            b"\n[{\"sentence1\": \"a\", \"sentence2\": \"b\", \"gold_label\": \"neutral\"}]",
            TaskId::MedNli,
        ),
    ];
    for (source, bytes, task) in cases {
        assert_eq!(detect(source, bytes), Ok(task), "{source}");
        assert_eq!(read_ok(source, bytes, None).task, task, "{source}");
    }
    let one_line_longhealth =
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(LONGHEALTH).unwrap())
            .unwrap();
    assert_eq!(
        detect("g", one_line_longhealth.as_bytes()),
        Ok(TaskId::LongHealth)
    );
    let xlsx = xlsx::workbook(&[&["File", "CHQ", "Summary"]]);
    assert_eq!(detect("h", &xlsx), Ok(TaskId::MeqSum));
}

#[test]
fn detection_explains_an_unknown_file() {
    let error = detect("notes.jsonl", b"\n{\"note\": 1, \"label\": 2}\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "notes.jsonl, line 2: cannot tell which CLUE task this file is for: the first JSON \
         object has the fields [note, label]; expected sentence1 (MedNLI), Question and \
         Answer (MeDiSumQA), icd_codes (MeDiSumCode) or patients with texts and questions \
         (LongHealth)"
    );
    let error = read_err("notes.txt", b"just some words\n", None);
    assert!(
        matches!(error.problem(), Problem::UnknownFormat { .. }),
        "{error}"
    );
    assert_eq!(error.line(), Some(1));
}

#[test]
fn a_file_read_as_another_task_names_the_missing_field_and_what_it_looks_like() {
    let error = read_err("mednli.jsonl", MEDNLI.as_bytes(), Some(TaskId::MeDiSumCode));
    assert_eq!(
        error.to_string(),
        "mednli.jsonl, line 1, field \"icd_codes\": required field is missing; the file looks \
         like a MedNLI JSON Lines file"
    );
    let error = read_err(
        "benchmark_v5.json",
        LONGHEALTH.as_bytes(),
        Some(TaskId::MedNli),
    );
    assert_eq!(
        error.to_string(),
        "benchmark_v5.json, line 1: expected a JSON array or one JSON object per line (JSON \
         Lines), found one JSON document spread over several lines; the file looks like a \
         LongHealth JSON object of patients"
    );
    let error = read_err("probsum.csv", PROBSUM.as_bytes(), Some(TaskId::MedNli));
    assert_eq!(error.line(), Some(1));
    assert!(
        error
            .to_string()
            .ends_with("; the file looks like a Problem Summary CSV file")
    );
}

// ---------------------------------------------------------------- robustness

/// Every prefix of every valid file, read as its own task and detected, gives a result or an
/// error, never a panic; the same for a few corrupted bytes.
#[test]
fn truncated_or_corrupted_files_never_panic() {
    let texts: [(&str, TaskId); 5] = [
        (MEDNLI, TaskId::MedNli),
        (PROBSUM, TaskId::ProbSum),
        (LONGHEALTH, TaskId::LongHealth),
        (MEDISUMQA, TaskId::MeDiSumQa),
        (MEDISUMCODE, TaskId::MeDiSumCode),
    ];
    for (file, task) in texts {
        let bytes = file.as_bytes();
        for end in 0..bytes.len() {
            let prefix = &bytes[..end];
            let _ = read("prefix", prefix, Some(task));
            let _ = read("prefix", prefix, None);
            let _ = detect("prefix", prefix);
        }
        for position in (0..bytes.len()).step_by(7) {
            let mut corrupted = bytes.to_vec();
            corrupted[position] = b"\"{[,:\\\xFF"[position % 7];
            let _ = read("corrupted", &corrupted, Some(task));
            let _ = read("corrupted", &corrupted, None);
        }
    }
    let workbooks = [
        xlsx::workbook(&[&["File", "CHQ", "Summary"], &["q", "c", "s"]]),
        std::fs::read(MEQSUM_XLSX).expect("the MeQSum workbook in data/"),
    ];
    for bytes in &workbooks {
        let step = (bytes.len() / 300).max(1);
        for end in (0..bytes.len()).step_by(step) {
            let _ = read("prefix.xlsx", &bytes[..end], None);
            let _ = read("prefix.xlsx", &bytes[..end], Some(TaskId::MeqSum));
        }
        for position in (0..bytes.len()).step_by(step) {
            let mut corrupted = bytes.clone();
            corrupted[position] ^= 0x5A;
            let _ = read("corrupted.xlsx", &corrupted, None);
        }
    }
}

/// The embedded demo sets are written in the official formats, so the readers must take them
/// as they are, by detection and by name.
#[test]
fn every_demo_file_reads_as_its_own_task() {
    for demo in clue_wasm::data::demo::all() {
        assert_eq!(
            detect(demo.name, demo.bytes),
            Ok(demo.task),
            "{}",
            demo.name
        );
        let dataset = read_ok(demo.name, demo.bytes, Some(demo.task));
        assert_eq!(dataset.task, demo.task);
        assert!(!dataset.examples.is_empty(), "{}", demo.name);
        assert_eq!(
            dataset.patients.is_empty(),
            demo.task != TaskId::LongHealth,
            "{}",
            demo.name
        );
    }
}
