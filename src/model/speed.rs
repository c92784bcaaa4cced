//! The model's speed as `clue bench model` and the page's benchmark measure it, one code path
//! for both so the native and browser numbers are of the same thing: a fixed 512-token clinical
//! prompt, then 128 greedy tokens (end-of-generation does not stop them), median of N runs.

use serde::Serialize;

use super::{Control, GenerateSettings, LoadError, LoadedModel, ModelError, StopRule, generate};
use crate::tasks::Sampling;

/// Prompt length of the benchmark, in token ids.
pub const SPEED_PROMPT_TOKENS: usize = 512;
/// Tokens generated after the prompt.
pub const SPEED_NEW_TOKENS: usize = 128;
/// The most runs one measurement may take.
pub const MAX_SPEED_RUNS: usize = 20;

/// A clinical-style paragraph, repeated until it is long enough and cut to 512 ids. The browser
/// benchmark gives wllama the same text (`scripts/bench_browser/`); llama.cpp's
/// (`tests/golden/model/bench_llamacpp.py`) takes the same lengths from its fictional discharge.
pub const SPEED_PARAGRAPH: &str = "The patient is a 67-year-old woman admitted with shortness \
    of breath, bilateral leg swelling and a weight gain of 4 kg over two weeks. Echocardiography \
    showed an ejection fraction of 35 percent. She was treated with intravenous furosemide, \
    started on an ACE inhibitor and a beta blocker, and discharged in stable condition with \
    follow-up in the heart failure clinic. ";

/// Medians of prefill and decode throughput.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeedReport {
    /// Prompt tokens per run.
    pub prompt_tokens: usize,
    /// Generated tokens per run.
    pub new_tokens: usize,
    /// Runs the medians are taken over.
    pub runs: usize,
    /// Prompt tokens per second of the prefill.
    pub prefill_tok_s: f64,
    /// Tokens per second of the decode steps (the first new token comes out of the prefill).
    pub decode_tok_s: f64,
    /// Bytes the weights take on the device (each counted once): on a GPU the file's blocks.
    pub weights_bytes: u64,
    /// Bytes of the KV cache holding the prompt and the new tokens, as allocated (storage grows
    /// by doubling with the context actually used).
    pub kv_cache_bytes: u64,
    /// What the GPU's allocator holds in live buffers after the runs (`None` on the CPU).
    pub device_in_use_bytes: Option<u64>,
}

/// Measures `loaded` on its backend, `runs` times (1 to [`MAX_SPEED_RUNS`]).
pub async fn measure_speed(loaded: &LoadedModel, runs: usize) -> Result<SpeedReport, LoadError> {
    let model_error = |source: ModelError| LoadError::Model {
        file: loaded.file.clone(),
        source,
    };
    if !(1..=MAX_SPEED_RUNS).contains(&runs) {
        return Err(model_error(ModelError::Settings {
            field: "runs",
            message: format!("{runs} is outside 1..={MAX_SPEED_RUNS}"),
        }));
    }
    let mut ids = loaded.prompt_ids(&SPEED_PARAGRAPH.repeat(8), false)?;
    if ids.len() < SPEED_PROMPT_TOKENS {
        return Err(model_error(ModelError::Settings {
            field: "prompt",
            message: format!("the benchmark text is only {} tokens", ids.len()),
        }));
    }
    ids.truncate(SPEED_PROMPT_TOKENS);
    let decode = |ids: &[u32]| loaded.decode(ids);
    let stop = StopRule {
        eos_ids: &[],
        stop_strings: &[],
        decode: &decode,
    };
    let settings = GenerateSettings {
        max_new_tokens: SPEED_NEW_TOKENS,
        sampling: Sampling::Greedy,
    };
    let mut prefill = Vec::with_capacity(runs);
    let mut decode_speed = Vec::with_capacity(runs);
    for _ in 0..runs {
        let completion = generate(
            &loaded.model,
            loaded.backend,
            &ids,
            &settings,
            &stop,
            &mut |_| Control::Continue,
        )
        .await
        .map_err(model_error)?;
        prefill.push(SPEED_PROMPT_TOKENS as f64 / (completion.prefill_ms / 1000.0));
        let steps = completion.ids.len().saturating_sub(1) as f64;
        decode_speed.push(steps / (completion.decode_ms / 1000.0));
    }
    let bytes = loaded.model.device_bytes(
        &loaded
            .model
            .cache_for(SPEED_PROMPT_TOKENS + SPEED_NEW_TOKENS),
    );
    Ok(SpeedReport {
        prompt_tokens: SPEED_PROMPT_TOKENS,
        new_tokens: SPEED_NEW_TOKENS,
        runs,
        prefill_tok_s: median(&mut prefill),
        decode_tok_s: median(&mut decode_speed),
        weights_bytes: bytes.weights,
        kv_cache_bytes: bytes.kv_cache,
        device_in_use_bytes: loaded
            .model
            .device()
            .memory_pool_usage()
            .map(|usage| usage.bytes_in_use),
    })
}

/// The median (of an even count, the mean of the middle two).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}
