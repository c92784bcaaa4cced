//! What can be wrong with a dataset file, and where: every [`DataError`] names the file, the
//! line (text files) or row (spreadsheets), the item and field when there is one, and the problem.

use std::fmt;

use super::TaskId;

/// A place in a dataset file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A 1-based line of a text file (JSON, JSON Lines, CSV).
    Line(usize),
    /// A 1-based spreadsheet row, as the spreadsheet program numbers it (xlsx).
    Row(usize),
}

impl Location {
    /// The 1-based line or row number.
    pub fn number(self) -> usize {
        match self {
            Location::Line(number) | Location::Row(number) => number,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(line) => write!(f, "line {line}"),
            Location::Row(row) => write!(f, "row {row}"),
        }
    }
}

/// What is wrong; [`DataError`] adds where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The file has no bytes, or only white space.
    #[error("the file is empty")]
    EmptyFile,
    /// The file is well formed but holds no example (e.g. `[]`, or only a header row).
    #[error("the file holds no examples")]
    NoExamples,
    /// The file is larger than [`MAX_FILE_BYTES`](super::MAX_FILE_BYTES).
    #[error("the file is {size} bytes, more than the limit of {limit} bytes")]
    FileTooLarge {
        /// The file's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A JSON Lines line is longer than [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES).
    #[error("the line is {length} bytes long, more than the limit of {limit} bytes")]
    LineTooLong {
        /// The line's length in bytes.
        length: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The bytes of a text file are not UTF-8.
    #[error("invalid UTF-8 at byte offset {offset} of the file")]
    InvalidUtf8 {
        /// 0-based offset of the first invalid byte in the file.
        offset: usize,
    },
    /// JSON syntax error.
    #[error("invalid JSON at column {column}: {message}")]
    InvalidJson {
        /// The parser's description.
        message: String,
        /// 1-based column on the error's line.
        column: usize,
    },
    /// The JSON stops in the middle of a value, as a file cut short does.
    #[error("the JSON ends in the middle of a value (is the file truncated?)")]
    TruncatedJson,
    /// The file is one JSON document spread over several lines where one object per line
    /// (JSON Lines) or an array was expected.
    #[error(
        "expected a JSON array or one JSON object per line (JSON Lines), found one JSON document spread over several lines"
    )]
    NotJsonLines,
    /// A required field or cell is absent.
    #[error("required field is missing{}", alternative_note(.alternative))]
    MissingField {
        /// Another name the file may use for the same field.
        alternative: Option<&'static str>,
    },
    /// A required value is present but empty.
    #[error("the value is empty")]
    EmptyValue,
    /// A value of the wrong JSON or cell type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the format requires (`text`, `an object`, …).
        expected: &'static str,
        /// What the file holds, with the value when it is short (`number 12`).
        found: String,
    },
    /// A MedNLI `gold_label` that is not one of the three labels.
    #[error("unknown label \"{value}\" (expected entailment, neutral or contradiction)")]
    UnknownLabel {
        /// The label as written in the file.
        value: String,
    },
    /// Two examples share an id.
    #[error("duplicate id \"{id}\" (first used at {first})")]
    DuplicateId {
        /// The repeated id.
        id: String,
        /// Where the id was first used.
        first: Location,
    },
    /// A LongHealth `correct` answer that no option contains.
    #[error("\"{correct}\" is not contained in any of answer_a … answer_e")]
    CorrectNotAnOption {
        /// The `correct` text.
        correct: String,
    },
    /// A LongHealth `answer_location` naming a text the patient does not have.
    #[error("names text \"{text_id}\", which is not among the patient's texts")]
    UnknownText {
        /// The text id as written in `answer_location`.
        text_id: String,
    },
    /// An xlsx workbook that cannot be read.
    #[error("cannot read the xlsx workbook: {message}")]
    Spreadsheet {
        /// The spreadsheet reader's description.
        message: String,
    },
    /// The workbook has no worksheet.
    #[error("the workbook has no sheet")]
    NoSheet,
    /// A workbook beyond what the reader accepts: more cells than a MeQSum sheet could hold, or
    /// a zip entry that would expand far beyond the file (a "zip bomb").
    #[error("the workbook's {what} is {found}, above the limit of {limit}")]
    SpreadsheetLimit {
        /// What was measured (`cells of the first sheet`, `entry "xl/sharedStrings.xml"` …).
        what: String,
        /// Its value.
        found: u64,
        /// The limit.
        limit: u64,
    },
    /// A column the format requires is not in the header row.
    #[error("no such column in the header row (found: {found})")]
    MissingColumn {
        /// The header row's column names, comma-separated.
        found: String,
    },
    /// CSV syntax error.
    #[error("invalid CSV: {message}")]
    Csv {
        /// The CSV parser's description.
        message: String,
    },
    /// A CSV record with another number of fields than the header.
    #[error("the record has {found} fields, the header has {expected}")]
    ColumnCount {
        /// Columns in the header.
        expected: usize,
        /// Fields in this record.
        found: usize,
    },
    /// The file is of another kind than the task's format.
    #[error("expected {}, found {found}", format_name(*.expected))]
    WrongFormat {
        /// The task whose format was expected.
        expected: TaskId,
        /// What the file is (`an xlsx workbook`, …).
        found: &'static str,
    },
    /// Detection found no CLUE format.
    #[error("cannot tell which CLUE task this file is for: {reason}")]
    UnknownFormat {
        /// What the file looked like.
        reason: String,
    },
}

fn alternative_note(alternative: &Option<&'static str>) -> String {
    alternative
        .map(|name| format!(" (and so is \"{name}\", accepted instead)"))
        .unwrap_or_default()
}

/// The official file format of a task, for messages.
pub(crate) fn format_name(task: TaskId) -> &'static str {
    match task {
        TaskId::MedNli => "a MedNLI JSON Lines file",
        TaskId::MeqSum => "a MeQSum xlsx workbook",
        TaskId::ProbSum => "a Problem Summary CSV file",
        TaskId::LongHealth => "a LongHealth JSON object of patients",
        TaskId::MeDiSumQa => "a MeDiSumQA JSON or JSON Lines file",
        TaskId::MeDiSumCode => "a MeDiSumCode JSON or JSON Lines file",
    }
}

/// A dataset file that cannot be read, with where and why.
///
/// Displays as `file, line 7 (item), field "name": problem`, leaving out the parts that do
/// not apply, e.g. `mednli.jsonl, line 7, field "gold_label": unknown label "entails"
/// (expected entailment, neutral or contradiction)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DataError(Box<Details>);

/// The parts of a [`DataError`], boxed so that results stay small.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{file}{}{}{}: {problem}{}",
    suffix(", ", .location.map(|l| l.to_string())),
    wrapped(" (", .item, ")"),
    wrapped(", field \"", .field, "\""),
    suffix("; ", .note.clone())
)]
struct Details {
    file: String,
    location: Option<Location>,
    item: Option<String>,
    field: Option<String>,
    problem: Problem,
    note: Option<String>,
}

fn suffix(separator: &str, part: Option<String>) -> String {
    part.map(|part| format!("{separator}{part}"))
        .unwrap_or_default()
}

fn wrapped(open: &str, part: &Option<String>, close: &str) -> String {
    part.as_ref()
        .map(|part| format!("{open}{part}{close}"))
        .unwrap_or_default()
}

impl DataError {
    /// A problem with the whole file; narrow it down with `at`, `in_item` and `with_field`.
    pub(crate) fn new(file: &str, problem: Problem) -> DataError {
        DataError(Box::new(Details {
            file: file.to_string(),
            location: None,
            item: None,
            field: None,
            problem,
            note: None,
        }))
    }

    pub(crate) fn at(mut self, location: Location) -> DataError {
        self.0.location = Some(location);
        self
    }

    pub(crate) fn in_item(mut self, item: Option<String>) -> DataError {
        self.0.item = item;
        self
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> DataError {
        self.0.field = Some(field.into());
        self
    }

    pub(crate) fn with_note(mut self, note: String) -> DataError {
        self.0.note = Some(note);
        self
    }

    /// The file name the reader was given.
    pub fn file(&self) -> &str {
        &self.0.file
    }

    /// Where in the file, when the problem is at one place.
    pub fn location(&self) -> Option<Location> {
        self.0.location
    }

    /// The 1-based line (text files) or row (xlsx) of the problem, if at one place.
    pub fn line(&self) -> Option<usize> {
        self.0.location.map(Location::number)
    }

    /// The item within the file, where lines alone do not say it (`element 3` of a JSON
    /// array, `patient "patient_01", question 4` in LongHealth).
    pub fn item(&self) -> Option<&str> {
        self.0.item.as_deref()
    }

    /// The field, column or key at fault, as named in the file.
    pub fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }

    /// What is wrong.
    pub fn problem(&self) -> &Problem {
        &self.0.problem
    }
}
