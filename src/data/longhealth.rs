//! LongHealth (`benchmark_v5.json`: one JSON object of fictional patients, each with `texts`
//! and multiple-choice `questions`): the patients' documents, and one example per question.

use std::collections::HashMap;

use super::error::{DataError, Location, Problem};
use super::json;
use super::text::SourceText;
use super::{Example, LongHealthQuestion, Patient, Record};

const OPTIONS: [&str; 5] = ["answer_a", "answer_b", "answer_c", "answer_d", "answer_e"];

/// Reads every patient and question in file order; the example id is `{patient_id}/{No}`.
/// Other patient fields (`name`, `birthday`, `diagnosis`, …) are ignored. `correct` must be
/// contained in one of the five options, as the reference code finds the gold letter by
/// containment; every `answer_location` key must name one of the patient's texts.
pub(crate) fn read(text: &SourceText) -> Result<(Vec<Example>, Vec<Patient>), DataError> {
    let whole = json::trimmed(text);
    json::validate(text, whole)?;
    let top = json::object_at(
        text,
        whole,
        None,
        String::new(),
        "a JSON object of patients",
    )?;
    let mut patients = Vec::new();
    let mut examples = Vec::new();
    let mut first_lines: HashMap<&str, usize> = HashMap::new();
    for (patient_id, span) in top.members() {
        let item = format!("patient \"{patient_id}\"");
        let line = text.line_of(span.start);
        if let Some(&first) = first_lines.get(patient_id.as_str()) {
            return Err(DataError::new(
                text.source,
                Problem::DuplicateId {
                    id: patient_id.clone(),
                    first: Location::Line(first),
                },
            )
            .at(Location::Line(line))
            .in_item(Some(item)));
        }
        first_lines.insert(patient_id, line);
        let patient = json::object_at(
            text,
            *span,
            Some(item.clone()),
            String::new(),
            "a patient object with texts and questions",
        )?;

        let documents = patient.object("texts", Some(item.clone()), "texts.".to_string())?;
        let mut texts: Vec<(String, String)> = Vec::new();
        for (text_id, _) in documents.members() {
            // A repeated key keeps its first position and last value, as in Python's `json`.
            if !texts.iter().any(|(id, _)| id == text_id) {
                texts.push((text_id.clone(), documents.text_field(text_id)?));
            }
        }

        for (position, span) in patient.array("questions")?.into_iter().enumerate() {
            let mut question = json::object_at(
                text,
                span,
                Some(format!("{item}, question #{}", position + 1)),
                String::new(),
                "a question object",
            )?;
            let number = question.required_id("No")?;
            question.set_item(format!("{item}, question {number}"));
            let mut options: [String; 5] = Default::default();
            for (option, key) in options.iter_mut().zip(OPTIONS) {
                *option = question.text_field(key)?;
            }
            let correct = question.text_field("correct")?;
            if !options
                .iter()
                .any(|option| option.contains(correct.as_str()))
            {
                return Err(question.error("correct", Problem::CorrectNotAnOption { correct }));
            }
            let location = question.object(
                "answer_location",
                question.item().map(str::to_string),
                "answer_location.".to_string(),
            )?;
            let mut answer_text_ids: Vec<String> = Vec::new();
            for (text_id, _) in location.members() {
                if !texts.iter().any(|(id, _)| id == text_id) {
                    return Err(location.error(
                        text_id,
                        Problem::UnknownText {
                            text_id: text_id.clone(),
                        },
                    ));
                }
                if !answer_text_ids.contains(text_id) {
                    answer_text_ids.push(text_id.clone());
                }
            }
            examples.push(Example {
                id: format!("{patient_id}/{number}"),
                line: question.line(),
                record: Record::LongHealth(LongHealthQuestion {
                    patient_id: patient_id.clone(),
                    number,
                    question: question.text_field("question")?,
                    options,
                    correct,
                    answer_text_ids,
                }),
            });
        }
        patients.push(Patient {
            id: patient_id.clone(),
            texts,
        });
    }
    if examples.is_empty() {
        return Err(DataError::new(text.source, Problem::NoExamples));
    }
    Ok((examples, patients))
}
