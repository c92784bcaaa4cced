//! MedNLI: three sentence-pair shots, the label as the answer; correct when the gold label is
//! named exactly once (upper-cased, as `re.findall(label.upper(), output.upper())` counts).

use super::conversation::{Fields, ShotTask};
use super::request::{Reference, TaskSettings};
use super::{ReadingMode, TaskError, TaskId};
use crate::data::{Example, NliLabel, NliPair, Record};
use crate::metrics::{Metric, SampleScores};

const LABELS: [NliLabel; 3] = [
    NliLabel::Entailment,
    NliLabel::Neutral,
    NliLabel::Contradiction,
];

/// MedNLI's few-shot setup; the paper profile keeps 200 tokens free when truncating.
pub(crate) const TASK: ShotTask = ShotTask {
    task: TaskId::MedNli,
    default_shots: 3,
    truncation_room: Some(200),
    fields,
    reference,
};

fn pair(example: &Example) -> Result<&NliPair, TaskError> {
    match &example.record {
        Record::MedNli(pair) => Ok(pair),
        _ => Err(TaskError::WrongRecord {
            id: example.id.clone(),
            task: TaskId::MedNli,
        }),
    }
}

fn fields(example: &Example, _: &TaskSettings) -> Result<Fields, TaskError> {
    let pair = pair(example)?;
    Ok(vec![
        ("sentence1", pair.sentence1.clone()),
        ("sentence2", pair.sentence2.clone()),
        ("gold_label", pair.gold_label.as_str().to_owned()),
    ])
}

fn reference(example: &Example, _: &TaskSettings) -> Result<Reference, TaskError> {
    Ok(Reference::Label {
        label: pair(example)?.gold_label,
    })
}

/// The labels the answer counts as. Strict: every label whose upper-case name occurs exactly
/// once (non-overlapping, like `re.findall`) in the upper-cased text, so an answer naming two
/// labels once each is right for both. Flexible: the label named first.
pub(crate) fn read_labels(text: &str, mode: ReadingMode) -> Vec<NliLabel> {
    let upper = text.to_uppercase();
    match mode {
        ReadingMode::Strict => LABELS
            .into_iter()
            .filter(|label| upper.matches(&label.as_str().to_uppercase()).count() == 1)
            .collect(),
        ReadingMode::Flexible => LABELS
            .into_iter()
            .filter_map(|label| {
                upper
                    .find(&label.as_str().to_uppercase())
                    .map(|at| (at, label))
            })
            .min_by_key(|(at, _)| *at)
            .map(|(_, label)| label)
            .into_iter()
            .collect(),
    }
}

/// Accuracy: 1 when the gold label is among the labels read.
pub(crate) fn score(labels: &[NliLabel], gold: NliLabel) -> SampleScores {
    SampleScores::from([(
        Metric::Accuracy,
        f64::from(u8::from(labels.contains(&gold))),
    )])
}
