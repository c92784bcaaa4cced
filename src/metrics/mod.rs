//! Per-example metrics (accuracy, ROUGE, BERTScore, ICD-10 code matching, UMLS-F1 from the bridge's file, the Concept-F1 substitute) and their aggregation into task
//! scores, confidence intervals and CLUE's Level 1 and Level 2; CLUE's published results read the
//! same way.

pub mod aggregate;
pub mod bertscore;
pub mod concepts;
pub mod icd10;
mod metric;
pub mod published;
pub mod rouge;
pub mod umls;

pub use metric::{Metric, Prf, SampleScores};
