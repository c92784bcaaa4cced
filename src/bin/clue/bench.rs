//! `clue bench`: throughput of the pieces whose speed users compare with other tools. Speed
//! goals are checked with these commands (their output goes into the README), not with timed
//! tests.

use std::path::Path;
use std::time::{Duration, Instant};

use clue::data::{self, Record};
use clue::metrics::rouge::RougeScorer;

/// ROUGE-1/2/L/Lsum pairs per second on a MeQSum file (Summary scored against CHQ, the pairs
/// `scripts/bench_rouge.py` gives rouge_score), printed as one JSON line.
pub fn rouge(data_path: &Path, min_seconds: f64) -> Result<(), String> {
    let bytes = std::fs::read(data_path).map_err(|e| format!("{}: {e}", data_path.display()))?;
    let dataset =
        data::read(&data_path.display().to_string(), &bytes, None).map_err(|e| e.to_string())?;
    let pairs: Vec<(&str, &str)> = dataset
        .examples
        .iter()
        .filter_map(|e| match &e.record {
            Record::MeqSum(q) => Some((q.summary.as_str(), q.chq.as_str())),
            _ => None,
        })
        .collect();
    if pairs.is_empty() {
        return Err(format!(
            "{}: not a MeQSum file (the benchmark scores Summary against CHQ)",
            data_path.display()
        ));
    }
    if !(min_seconds.is_finite() && min_seconds > 0.0 && min_seconds <= 3600.0) {
        return Err(format!("--seconds {min_seconds} must be in (0, 3600]"));
    }
    let mut scorer = RougeScorer::new();
    let mut scored = 0usize;
    let mut checksum = 0.0;
    let started = Instant::now();
    let budget = Duration::from_secs_f64(min_seconds);
    while started.elapsed() < budget {
        for (prediction, reference) in &pairs {
            checksum += scorer.score(prediction, reference).rouge_l.fmeasure;
        }
        scored += pairs.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let line = serde_json::json!({
            "impl": concat!("clue-wasm ", env!("CARGO_PKG_VERSION")),
            "pairs": scored,
            "seconds": seconds,
            "pairs_per_s": scored as f64 / seconds,
            "mean_rougeL_f": checksum / scored as f64,
    });
    super::score::print_out(&format!("{line}\n"))
}
