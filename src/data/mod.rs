//! Bytes → examples: one reader per official CLUE file format, format detection from content,
//! and errors that name the file, the line or row, and the field.

mod dataset;
mod detect;
mod error;
mod example;
mod json;
mod longhealth;
mod medisumcode;
mod medisumqa;
mod mednli;
mod meqsum;
mod probsum;
mod text;

pub use dataset::{Dataset, read};
pub use detect::detect;
pub use error::{DataError, Location, Problem};
pub use example::{
    CodedLetter, Example, IcdCode, Inquiry, LetterQuestion, LongHealthQuestion, NliLabel, NliPair,
    Patient, ProgressNote, Record, TaskId,
};
pub use text::{MAX_FILE_BYTES, MAX_LINE_BYTES};

pub mod demo;
