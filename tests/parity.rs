//! Parity of our SmolLM2-135M-Instruct run with llama.cpp (goldens from
//! tests/golden/model/make.py): for six prompts on the CPU the prompt ids, the prompt log-probs,
//! the top-1 next token at every position and the greedy continuation; one greedy run on wgpu.
//! The measured numbers are printed (`cargo test --test parity -- --nocapture`).

use std::sync::LazyLock;

use clue::loader::gguf;
use clue::loader::tokenizer::Tokenizer;
use clue::model::{
    Backend, Control, GenerateSettings, GgufWeights, Llama, LogitsAt, StopRule, config_from_gguf,
    generate, open, prompt_logprobs, read_f32,
};
use clue::tasks::Sampling;
use serde::Deserialize;
use sha2::{Digest, Sha256};

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/model/smollm2.json"
);
const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
);

/// Largest mean absolute difference of the prompt log-probs, in nats per token. llama.cpp
/// multiplies the Q4_1 weights by activations rounded to 8 bits (Q8_1), we by f32 activations:
/// the two runs differ by that rounding, not by the model.
const MAX_MEAN_LOGPROB_DIFF: f64 = 0.10;
/// Smallest share of positions whose most likely next token is llama.cpp's.
const MIN_TOP1_AGREEMENT: f64 = 0.95;
/// Greedy tokens that must agree, unless llama.cpp nearly tied earlier (below).
const GREEDY_AGREEMENT: usize = 8;
/// A top-1/top-2 logit margin below this is a near tie that rounding may break either way.
const NEAR_TIE: f64 = 0.1;

#[derive(Deserialize)]
struct Golden {
    model_sha256: String,
    settings: GoldenSettings,
    prompts: Vec<GoldenPrompt>,
}

#[derive(Deserialize)]
struct GoldenSettings {
    greedy_tokens: usize,
}

/// llama.cpp's view of one prompt.
#[derive(Deserialize)]
struct GoldenPrompt {
    name: String,
    text: String,
    ids: Vec<u32>,
    /// `log p(ids[i] | ids[..i])` for i ≥ 1.
    prompt_logprobs: Vec<f64>,
    /// The most likely id after each position.
    top1: Vec<u32>,
    /// Its logit's lead over the second most likely, at each position.
    top1_margin: Vec<f64>,
    greedy_ids: Vec<u32>,
    greedy_margin: Vec<f64>,
}

static GOLDEN_FILE: LazyLock<Golden> = LazyLock::new(|| {
    let text = std::fs::read_to_string(GOLDEN).unwrap_or_else(|error| panic!("{GOLDEN}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{GOLDEN}: {error}"))
});

/// The model and its tokenizer on one backend.
struct Loaded {
    tokenizer: Tokenizer,
    model: Llama,
    backend: Backend,
}

/// Loaded once for every CPU test of this file.
static CPU: LazyLock<Loaded> = LazyLock::new(|| load(Backend::Cpu));

fn load(backend: Backend) -> Loaded {
    let bytes = std::fs::read(MODEL).unwrap_or_else(|error| {
        panic!("{MODEL}: {error}; run scripts/setup to fetch the default model")
    });
    let sha256: String = Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(
        sha256, GOLDEN_FILE.model_sha256,
        "{MODEL} is not the file the goldens were made from; run scripts/setup"
    );
    let file = gguf::parse(&bytes).unwrap_or_else(|error| panic!("{MODEL}: {error}"));
    let tokenizer = Tokenizer::from_gguf(&file).unwrap_or_else(|error| panic!("{MODEL}: {error}"));
    let config = config_from_gguf(&file).unwrap_or_else(|error| panic!("{MODEL}: {error}"));
    let device = pollster::block_on(open(backend))
        .unwrap_or_else(|error| panic!("the {backend} device: {error}"));
    let model = Llama::load(&config, &GgufWeights::new(&file), &device)
        .unwrap_or_else(|error| panic!("{MODEL}: {error}"));
    Loaded {
        tokenizer,
        model,
        backend,
    }
}

fn golden(name: &str) -> &'static GoldenPrompt {
    GOLDEN_FILE
        .prompts
        .iter()
        .find(|prompt| prompt.name == name)
        .unwrap_or_else(|| panic!("{GOLDEN} has no prompt {name:?}"))
}

/// The greedy continuation of `ids`, every one of `max_new_tokens` tokens: like make.py, it does
/// not stop at end-of-generation tokens.
fn greedy(loaded: &Loaded, ids: &[u32], max_new_tokens: usize) -> Vec<u32> {
    let decode = |_: &[u32]| String::new();
    let stop = StopRule {
        eos_ids: &[],
        stop_strings: &[],
        decode: &decode,
    };
    let settings = GenerateSettings {
        max_new_tokens,
        sampling: Sampling::Greedy,
    };
    let completion = pollster::block_on(generate(
        &loaded.model,
        loaded.backend,
        ids,
        &settings,
        &stop,
        &mut |_| Control::Continue,
    ))
    .expect("greedy generation runs");
    completion.ids
}

/// The most likely id of each row of logits `[positions, vocab]`, the lowest among equals.
fn top1(logits: &[f32], vocab_size: usize) -> Vec<u32> {
    logits
        .chunks_exact(vocab_size)
        .map(|row| {
            let mut best = 0;
            for (id, &logit) in row.iter().enumerate() {
                if logit > row[best] {
                    best = id;
                }
            }
            best as u32
        })
        .collect()
}

/// How many leading greedy tokens must agree: [`GREEDY_AGREEMENT`], or up to the first step
/// where llama.cpp's own choice was a near tie (that step may go either way).
fn greedy_tokens_required(margins: &[f64]) -> usize {
    margins
        .iter()
        .take(GREEDY_AGREEMENT)
        .position(|&margin| margin < NEAR_TIE)
        .unwrap_or(GREEDY_AGREEMENT)
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Checks one golden prompt on the CPU against every criterion, printing what it measured.
fn check_prompt(name: &str) {
    let golden = golden(name);
    let loaded = &*CPU;

    let ids = loaded
        .tokenizer
        .encode_prompt(&golden.text)
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    assert_eq!(ids, golden.ids, "{name}: prompt ids differ from llama.cpp's");
    let positions = ids.len();

    let ours: Vec<f64> = pollster::block_on(prompt_logprobs(&loaded.model, loaded.backend, &ids))
        .expect("prompt log-probs compute")
        .into_iter()
        .skip(1)
        .map(|logprob| f64::from(logprob.expect("every position after the first is scored")))
        .collect();
    assert_eq!(ours.len(), golden.prompt_logprobs.len(), "{name}");
    let diffs: Vec<f64> = ours
        .iter()
        .zip(&golden.prompt_logprobs)
        .map(|(a, b)| (a - b).abs())
        .collect();
    let mean_diff = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let (worst_at, worst) = diffs
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("every prompt has two ids or more");
    let logprobs_report = format!(
        "mean |Δ log-prob| {mean_diff:.4} nats over {} tokens (largest {worst:.4} at position {})",
        diffs.len(),
        worst_at + 1
    );

    let mut cache = loaded.model.new_cache();
    let logits = loaded
        .model
        .forward(&ids, &mut cache, LogitsAt::All)
        .expect("the prompt runs");
    let logits = pollster::block_on(read_f32(loaded.backend, logits)).expect("the logits read");
    let ours_top1 = top1(&logits, loaded.model.config().vocab_size);
    let agreeing = ours_top1
        .iter()
        .zip(&golden.top1)
        .filter(|(a, b)| a == b)
        .count();
    let agreement = agreeing as f64 / positions as f64;
    let near_ties = golden
        .top1_margin
        .iter()
        .filter(|&&margin| margin < NEAR_TIE)
        .count();
    let top1_report = format!(
        "top-1 agrees at {agreeing}/{positions} positions ({:.1}%; llama.cpp near ties: {near_ties})",
        100.0 * agreement
    );

    let ours_greedy = greedy(loaded, &ids, GOLDEN_FILE.settings.greedy_tokens);
    let agreed = common_prefix(&ours_greedy, &golden.greedy_ids);
    let required = greedy_tokens_required(&golden.greedy_margin);
    let greedy_report = format!(
        "greedy agrees for {agreed}/{} tokens (required {required}); ours {ours_greedy:?}, \
         llama.cpp {:?}",
        golden.greedy_ids.len(),
        golden.greedy_ids
    );

    let report = format!(
        "{name} ({positions} ids): {logprobs_report}; {top1_report}; {greedy_report}"
    );
    eprintln!("{report}");
    assert!(mean_diff <= MAX_MEAN_LOGPROB_DIFF, "{report}");
    assert!(agreement >= MIN_TOP1_AGREEMENT, "{report}");
    assert!(agreed >= required, "{report}");
}

#[test]
fn plain_text_matches_llama_cpp() {
    check_prompt("plain");
}

#[test]
fn chatml_chat_matches_llama_cpp() {
    check_prompt("chat");
}

#[test]
fn numbers_and_units_match_llama_cpp() {
    check_prompt("numbers");
}

#[test]
fn clinical_paragraph_matches_llama_cpp() {
    check_prompt("discharge");
}

#[test]
fn mednli_prompt_matches_llama_cpp() {
    check_prompt("mednli");
}

#[test]
fn icd10_code_list_matches_llama_cpp() {
    check_prompt("codes");
}

#[test]
fn the_golden_covers_six_prompts() {
    let names: Vec<&str> = GOLDEN_FILE
        .prompts
        .iter()
        .map(|prompt| prompt.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["plain", "chat", "numbers", "discharge", "mednli", "codes"]
    );
}

#[test]
fn near_ties_shorten_the_required_greedy_agreement() {
    assert_eq!(greedy_tokens_required(&[1.0; 16]), GREEDY_AGREEMENT);
    assert_eq!(greedy_tokens_required(&[1.0, 0.5, 0.05, 1.0]), 2);
    assert_eq!(greedy_tokens_required(&[0.01, 1.0]), 0);
    let late_tie: Vec<f64> = (0..16).map(|step| if step == 9 { 0.0 } else { 1.0 }).collect();
    assert_eq!(greedy_tokens_required(&late_tie), GREEDY_AGREEMENT);
}

/// The wgpu backend (Mesa's lavapipe on machines without a GPU) chooses the same greedy tokens
/// as the CPU for the chat prompt.
#[test]
fn wgpu_greedy_chat_matches_cpu() {
    let golden = golden("chat");
    let wgpu = load(Backend::Wgpu);
    let ids = wgpu
        .tokenizer
        .encode_prompt(&golden.text)
        .expect("the chat prompt encodes");
    let on_wgpu = greedy(&wgpu, &ids, GREEDY_AGREEMENT);
    let on_cpu = greedy(&CPU, &ids, GREEDY_AGREEMENT);
    eprintln!("chat greedy on wgpu {on_wgpu:?}, on the CPU {on_cpu:?}");
    assert_eq!(on_wgpu, on_cpu, "chat: greedy tokens on wgpu and the CPU");
}
