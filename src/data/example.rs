//! The examples every reader produces: one typed record per CLUE task, with the stable id the
//! rest of the pipeline (few-shot selection, predictions, per-sample records) refers to.

use serde::{Deserialize, Serialize};

/// One row of an official CLUE file, ready for prompt building and scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// The file's own id where it has one (MedNLI `pairID`, MeQSum `File`, Problem Summary
    /// `File ID`, MeDiSumCode `hadm_id`, LongHealth `patient/No`), else the 0-based row index.
    pub id: String,
    /// Where the example sits in its file, for messages: the 1-based line (JSONL, CSV, the line
    /// where a JSON array element or a LongHealth question starts) or spreadsheet row (xlsx).
    pub line: usize,
    /// The task-specific fields.
    pub record: Record,
}

/// The fields of one example, per task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "lowercase")]
pub enum Record {
    /// MedNLI: a premise/hypothesis pair and its label.
    MedNli(NliPair),
    /// MeQSum: a consumer health question and its one-sentence summary.
    MeqSum(Inquiry),
    /// Problem Summary (BioNLP-2023 1A): progress-note sections and the problem list.
    ProbSum(ProgressNote),
    /// LongHealth: one multiple-choice question about a fictional patient.
    LongHealth(LongHealthQuestion),
    /// MeDiSumQA: a discharge letter, a patient's question and the answer.
    MeDiSumQa(LetterQuestion),
    /// MeDiSumCode: a discharge letter and its ICD-10 codes.
    MeDiSumCode(CodedLetter),
}

/// MedNLI's three labels (lower-case in the files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NliLabel {
    /// The hypothesis follows from the premise.
    Entailment,
    /// Neither follows nor contradicts.
    Neutral,
    /// The hypothesis contradicts the premise.
    Contradiction,
}

impl NliLabel {
    /// The label as written in the files (`entailment`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            NliLabel::Entailment => "entailment",
            NliLabel::Neutral => "neutral",
            NliLabel::Contradiction => "contradiction",
        }
    }

    /// Parses the label as written in the files; `None` for anything else.
    pub fn parse(text: &str) -> Option<NliLabel> {
        match text {
            "entailment" => Some(NliLabel::Entailment),
            "neutral" => Some(NliLabel::Neutral),
            "contradiction" => Some(NliLabel::Contradiction),
            _ => None,
        }
    }
}

/// A MedNLI sentence pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NliPair {
    /// The premise (`sentence1`).
    pub sentence1: String,
    /// The hypothesis (`sentence2`).
    pub sentence2: String,
    /// The gold relation (`gold_label`).
    pub gold_label: NliLabel,
}

/// A MeQSum consumer health question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inquiry {
    /// The consumer health question as the patient wrote it (`CHQ`).
    pub chq: String,
    /// The reference summary question (`Summary`).
    pub summary: String,
}

/// A Problem Summary progress note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressNote {
    /// `Subjectives` section.
    pub subjectives: String,
    /// `Objectives` section (read, not used in CLUE's prompts).
    pub objectives: String,
    /// `Assessment` section.
    pub assessment: String,
    /// The reference problem list, `;`-separated as in the file (`Summary`).
    pub summary: String,
}

/// A MeDiSumQA question about a discharge letter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LetterQuestion {
    /// The letter without its discharge summary (`without_discharge_summary` or
    /// `discharge_summary`, whichever the file has).
    pub letter: String,
    /// The question (`Question`).
    pub question: String,
    /// The reference answer (`Answer`).
    pub answer: String,
}

/// A MeDiSumCode admission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodedLetter {
    /// The discharge letter (`text`).
    pub text: String,
    /// The gold codes in file order (`icd_codes[].code`).
    pub codes: Vec<IcdCode>,
}

/// One gold ICD-10 code of a MeDiSumCode admission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IcdCode {
    /// The code as written in the file (e.g. `I10`, `E11.9` or `E119`).
    pub code: String,
    /// Its description (may be empty).
    pub description: String,
}

/// A LongHealth question; the patient's documents live in [`Patient`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LongHealthQuestion {
    /// The patient this question is about (key in the file's top-level object).
    pub patient_id: String,
    /// The question's `No` as written in the file.
    pub number: String,
    /// The question text.
    pub question: String,
    /// `answer_a` … `answer_e`.
    pub options: [String; 5],
    /// The correct option's text (`correct`).
    pub correct: String,
    /// Ids of the patient's texts that hold the answer (`answer_location` keys), in file order.
    pub answer_text_ids: Vec<String>,
}

/// A LongHealth patient's documents, in file order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    /// The patient id (key in the file's top-level object).
    pub id: String,
    /// `(text_id, text)` pairs in file order.
    pub texts: Vec<(String, String)>,
}

/// The six CLUE tasks; also names the official file format each one ships in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaskId {
    /// MedNLI (JSONL).
    #[serde(rename = "mednli")]
    MedNli,
    /// MeQSum (xlsx).
    #[serde(rename = "meqsum")]
    MeqSum,
    /// Problem Summary (CSV).
    #[serde(rename = "probsum")]
    ProbSum,
    /// LongHealth (one JSON object of patients).
    #[serde(rename = "longhealth")]
    LongHealth,
    /// MeDiSumQA (JSON array or JSONL).
    #[serde(rename = "medisumqa")]
    MeDiSumQa,
    /// MeDiSumCode (JSON array or JSONL).
    #[serde(rename = "medisumcode")]
    MeDiSumCode,
}

impl TaskId {
    /// All tasks in CLUE's order: Level 1 first, then Level 2.
    pub const ALL: [TaskId; 6] = [
        TaskId::MedNli,
        TaskId::MeqSum,
        TaskId::ProbSum,
        TaskId::LongHealth,
        TaskId::MeDiSumQa,
        TaskId::MeDiSumCode,
    ];

    /// The short id used on the command line and in JSON (`mednli`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskId::MedNli => "mednli",
            TaskId::MeqSum => "meqsum",
            TaskId::ProbSum => "probsum",
            TaskId::LongHealth => "longhealth",
            TaskId::MeDiSumQa => "medisumqa",
            TaskId::MeDiSumCode => "medisumcode",
        }
    }

    /// The display name used in the paper (`MedNLI`, `Problem Summary`, …).
    pub fn display_name(self) -> &'static str {
        match self {
            TaskId::MedNli => "MedNLI",
            TaskId::MeqSum => "MeQSum",
            TaskId::ProbSum => "Problem Summary",
            TaskId::LongHealth => "LongHealth",
            TaskId::MeDiSumQa => "MeDiSumQA",
            TaskId::MeDiSumCode => "MeDiSumCode",
        }
    }

    /// Parses a short id (`mednli`, …); `None` for anything else.
    pub fn parse(id: &str) -> Option<TaskId> {
        TaskId::ALL.into_iter().find(|t| t.as_str() == id)
    }

    /// CLUE's level: 1 for the short-input tasks, 2 for the discharge-letter tasks.
    pub fn level(self) -> u8 {
        match self {
            TaskId::MedNli | TaskId::MeqSum | TaskId::ProbSum => 1,
            TaskId::LongHealth | TaskId::MeDiSumQa | TaskId::MeDiSumCode => 2,
        }
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
