//! `clue bench`: throughput of the pieces whose speed users compare with other tools. Speed
//! goals are checked with these commands (their output goes into docs/benchmarks.md), not with
//! timed tests.

use std::path::Path;
use std::time::{Duration, Instant};

use clue_wasm::data::{self, Record};
use clue_wasm::metrics::rouge::RougeScorer;
use clue_wasm::model::{Backend, MAX_SPEED_RUNS, measure_speed};

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

/// BERTScore pairs per second on a MeQSum file (Summary against CHQ, as the goldens and
/// `tests/golden/bertscore/bench.py` score them) with a BERT model directory, on the CPU.
/// Prints one JSON line.
pub fn bertscore(data_path: &Path, model: &Path, layer: usize) -> Result<(), String> {
    use clue_wasm::metrics::bertscore::BertScoreOptions;
    let bytes = std::fs::read(data_path).map_err(|e| format!("{}: {e}", data_path.display()))?;
    let dataset =
        data::read(&data_path.display().to_string(), &bytes, None).map_err(|e| e.to_string())?;
    let (candidates, references): (Vec<&str>, Vec<&str>) = dataset
        .examples
        .iter()
        .filter_map(|e| match &e.record {
            Record::MeqSum(q) => Some((q.summary.as_str(), q.chq.as_str())),
            _ => None,
        })
        .unzip();
    if candidates.is_empty() {
        return Err(format!(
            "{}: not a MeQSum file (the benchmark scores Summary against CHQ)",
            data_path.display()
        ));
    }
    let load_started = Instant::now();
    let scorer = super::eval::load_bert(model, Some(layer), Backend::Cpu)?;
    let load_seconds = load_started.elapsed().as_secs_f64();
    let started = Instant::now();
    let scores =
        pollster::block_on(scorer.score(&candidates, &references, BertScoreOptions::default()))
            .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let line = serde_json::json!({
        "impl": concat!("clue-wasm ", env!("CARGO_PKG_VERSION")),
        "backend": "cpu",
        "model": scorer.model_name,
        "layer": layer,
        "pairs": scores.len(),
        "load_seconds": load_seconds,
        "seconds": seconds,
        "pairs_per_s": scores.len() as f64 / seconds,
        "mean_f1": scores.iter().map(|s| s.f1).sum::<f64>() / scores.len() as f64,
    });
    super::score::print_out(&format!("{line}\n"))
}

/// Prefill and decode tokens per second of a GGUF model on each backend (see
/// [`measure_speed`]: a 512-token prompt, then 128 generated tokens, median of `runs`), and the
/// device bytes of its weights and KV cache beside the file's tensor bytes. Prints one JSON line
/// per backend.
pub fn model(model_path: &Path, backends: &[Backend], runs: usize) -> Result<(), String> {
    if !(1..=MAX_SPEED_RUNS).contains(&runs) {
        return Err(format!("--runs {runs} must be in 1..={MAX_SPEED_RUNS}"));
    }
    let name = model_path.display().to_string();
    for &backend in backends {
        let loaded = super::eval::load_model(model_path, backend)?;
        let report = pollster::block_on(measure_speed(&loaded, runs)).map_err(|e| e.to_string())?;
        let line = serde_json::json!({
            "impl": concat!("clue-wasm ", env!("CARGO_PKG_VERSION")),
            "backend": backend.as_str(),
            "model": name,
            "prompt_tokens": report.prompt_tokens,
            "new_tokens": report.new_tokens,
            "runs": report.runs,
            "prefill_tok_s": report.prefill_tok_s,
            "decode_tok_s": report.decode_tok_s,
            "tensor_bytes": loaded.tensor_bytes,
            "weights_bytes": report.weights_bytes,
            "kv_cache_bytes": report.kv_cache_bytes,
            "device_in_use_bytes": report.device_in_use_bytes,
        });
        super::score::print_out(&format!("{line}\n"))?;
    }
    Ok(())
}
