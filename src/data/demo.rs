//! The synthetic demo sets, one per CLUE task, embedded in the library: the default data of the
//! page and of `clue eval`, in each task's official file format. Every example was written by
//! hand for this project (`scripts/demo_data/generate.py`); all of it is fictional, none of it
//! comes from patients or from the credentialed datasets.

use super::TaskId;

/// What the demo sets are, for the page and the CLI to show beside demo results.
pub const NOTICE: &str = "Demo data: a few synthetic, clearly fictional examples per task, \
written for clue-wasm. No patient data; scores on it say nothing about clinical ability.";

/// How many examples of each demo set a quick demo evaluates: the first, so that pressing Run
/// with the page's defaults, or `clue eval` with no arguments, finishes in minutes on two
/// cores. With [`QUICK_LONGHEALTH_PROMPTS`] that is 8 requests, about 9,900 prompt tokens for
/// SmolLM2 (LongHealth's first question in one prompt of each of its three tasks, not all 15,
/// whose 31,000 tokens were most of the 20 requests' time); the full demo sets are 275
/// requests, 210 of them LongHealth's long prompts, and stay one flag (`--full-demo`) or one
/// box ("Full demo sets") away.
pub const QUICK_LIMIT: usize = 1;

/// How many of LongHealth's prompts per task and question the quick demo evaluates (the
/// reference builds 5).
pub const QUICK_LONGHEALTH_PROMPTS: usize = 1;

/// One embedded demo file: a small synthetic set in its task's official format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoFile {
    /// The task whose official format the file follows.
    pub task: TaskId,
    /// The file name, with the official format's extension (`mednli.jsonl`, `meqsum.xlsx`, …).
    pub name: &'static str,
    /// The file's bytes, exactly as the generator wrote them.
    pub bytes: &'static [u8],
}

/// The demo file of `task`.
pub fn file(task: TaskId) -> DemoFile {
    let (name, bytes): (&'static str, &'static [u8]) = match task {
        TaskId::MedNli => ("mednli.jsonl", include_bytes!("demo/mednli.jsonl")),
        TaskId::MeqSum => ("meqsum.xlsx", include_bytes!("demo/meqsum.xlsx")),
        TaskId::ProbSum => ("probsum.csv", include_bytes!("demo/probsum.csv")),
        TaskId::LongHealth => ("longhealth.json", include_bytes!("demo/longhealth.json")),
        TaskId::MeDiSumQa => ("medisumqa.json", include_bytes!("demo/medisumqa.json")),
        TaskId::MeDiSumCode => (
            "medisumcode.jsonl",
            include_bytes!("demo/medisumcode.jsonl"),
        ),
    };
    DemoFile { task, name, bytes }
}

/// The demo files of all six tasks, in CLUE's order (Level 1 first).
pub fn all() -> [DemoFile; 6] {
    TaskId::ALL.map(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_gets_its_own_file_in_its_official_format() {
        for demo in all() {
            let extension = match demo.task {
                TaskId::MedNli | TaskId::MeDiSumCode => ".jsonl",
                TaskId::MeqSum => ".xlsx",
                TaskId::ProbSum => ".csv",
                TaskId::LongHealth | TaskId::MeDiSumQa => ".json",
            };
            assert!(demo.name.starts_with(demo.task.as_str()), "{}", demo.name);
            assert!(demo.name.ends_with(extension), "{}", demo.name);
            assert!(!demo.bytes.is_empty(), "{} is empty", demo.name);
        }
    }

    #[test]
    fn the_workbook_is_a_zip_archive_and_the_text_files_are_utf8() {
        for demo in all() {
            if demo.task == TaskId::MeqSum {
                assert!(
                    demo.bytes.starts_with(b"PK\x03\x04"),
                    "xlsx is a zip archive"
                );
            } else {
                assert!(
                    std::str::from_utf8(demo.bytes).is_ok(),
                    "{} is UTF-8",
                    demo.name
                );
            }
        }
    }
}
