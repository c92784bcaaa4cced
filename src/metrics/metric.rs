//! Metric names as they appear in the results JSON, and the per-example values every task
//! produces for the aggregation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One metric of one example or task; the serde name is the key in the results JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Metric {
    /// 1 when the answer is right, else 0 (MedNLI).
    #[serde(rename = "accuracy")]
    Accuracy,
    /// ROUGE-1 F-measure.
    #[serde(rename = "rouge1")]
    Rouge1,
    /// ROUGE-2 F-measure.
    #[serde(rename = "rouge2")]
    Rouge2,
    /// ROUGE-L F-measure (LCS over the whole text).
    #[serde(rename = "rougeL")]
    RougeL,
    /// ROUGE-Lsum F-measure (union LCS over newline-separated sentences).
    #[serde(rename = "rougeLsum")]
    RougeLsum,
    /// BERTScore precision.
    #[serde(rename = "bertscore_p")]
    BertscoreP,
    /// BERTScore recall.
    #[serde(rename = "bertscore_r")]
    BertscoreR,
    /// BERTScore F1.
    #[serde(rename = "bertscore_f1")]
    BertscoreF1,
    /// UMLS precision: share of the answer's linked concept names found in the reference's.
    #[serde(rename = "umls_p")]
    UmlsP,
    /// UMLS recall: share of the reference's linked concept names found in the answer's.
    #[serde(rename = "umls_r")]
    UmlsR,
    /// UMLS F1 (scispaCy's NER and UMLS linker in the reference; here from the bridge's file,
    /// see `metrics::umls`, else not computed).
    #[serde(rename = "umls_f1")]
    UmlsF1,
    /// Concept precision against open vocabularies (`metrics::concepts`): a labelled
    /// substitute, not CLUE's UMLS-F1, never part of a task score.
    #[serde(rename = "concept_p")]
    ConceptP,
    /// Concept recall against open vocabularies (substitute, see [`Metric::ConceptP`]).
    #[serde(rename = "concept_r")]
    ConceptR,
    /// Concept F1 against open vocabularies (substitute, see [`Metric::ConceptP`]).
    #[serde(rename = "concept_f1")]
    ConceptF1,
    /// MeDiSumCode exact-match precision.
    #[serde(rename = "icd_em_p")]
    IcdEmP,
    /// MeDiSumCode exact-match recall.
    #[serde(rename = "icd_em_r")]
    IcdEmR,
    /// MeDiSumCode exact-match F1.
    #[serde(rename = "icd_em_f1")]
    IcdEmF1,
    /// MeDiSumCode category (first three characters) precision.
    #[serde(rename = "icd_ap_p")]
    IcdApP,
    /// MeDiSumCode category recall.
    #[serde(rename = "icd_ap_r")]
    IcdApR,
    /// MeDiSumCode category F1.
    #[serde(rename = "icd_ap_f1")]
    IcdApF1,
    /// Share of predicted codes found in the ICD-10-CM table.
    #[serde(rename = "icd_valid")]
    IcdValid,
    /// LongHealth task 1 accuracy (answer documents, same-patient distractors).
    #[serde(rename = "task1")]
    Task1,
    /// LongHealth task 2 accuracy (answer documents among other patients' texts).
    #[serde(rename = "task2")]
    Task2,
    /// LongHealth task 3 accuracy (no answer documents; the gold answer is F).
    #[serde(rename = "task3")]
    Task3,
}

impl Metric {
    /// The key in the results JSON (`rouge1`, `icd_em_f1`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Rouge1 => "rouge1",
            Metric::Rouge2 => "rouge2",
            Metric::RougeL => "rougeL",
            Metric::RougeLsum => "rougeLsum",
            Metric::BertscoreP => "bertscore_p",
            Metric::BertscoreR => "bertscore_r",
            Metric::BertscoreF1 => "bertscore_f1",
            Metric::UmlsP => "umls_p",
            Metric::UmlsR => "umls_r",
            Metric::UmlsF1 => "umls_f1",
            Metric::ConceptP => "concept_p",
            Metric::ConceptR => "concept_r",
            Metric::ConceptF1 => "concept_f1",
            Metric::IcdEmP => "icd_em_p",
            Metric::IcdEmR => "icd_em_r",
            Metric::IcdEmF1 => "icd_em_f1",
            Metric::IcdApP => "icd_ap_p",
            Metric::IcdApR => "icd_ap_r",
            Metric::IcdApF1 => "icd_ap_f1",
            Metric::IcdValid => "icd_valid",
            Metric::Task1 => "task1",
            Metric::Task2 => "task2",
            Metric::Task3 => "task3",
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metric values of one example, as fractions in [0, 1]. A metric that was not computed
/// for the example (no BERT model given, another LongHealth task) is absent, never 0.
pub type SampleScores = BTreeMap<Metric, f64>;

/// Precision, recall and their harmonic mean, as ROUGE and the code matching report them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Prf {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F-measure: 2PR/(P+R), or 0 when both are 0.
    pub fmeasure: f64,
}

impl Prf {
    /// Builds the triple from precision and recall, with F = 0 when P + R = 0.
    pub fn new(precision: f64, recall: f64) -> Prf {
        let fmeasure = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Prf {
            precision,
            recall,
            fmeasure,
        }
    }
}
