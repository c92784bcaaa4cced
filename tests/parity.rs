//! Parity of our SmolLM2-135M-Instruct run with llama.cpp (goldens from
//! tests/golden/model/make.py): for six prompts on the CPU the prompt ids, the prompt log-probs,
//! the top-1 next token at every position and the greedy continuation, plus the log-probs and
//! top-1 of the exact (float64) model; one greedy run on wgpu. The measured numbers are printed
//! (`cargo test --test parity -- --nocapture`).

use std::sync::LazyLock;

use clue_wasm::loader::gguf;
use clue_wasm::loader::tokenizer::Tokenizer;
use clue_wasm::model::{
    Backend, Control, Decoder, GenerateSettings, LogitsAt, StopRule, decoder_from_gguf, generate,
    open, prompt_logprobs, read_f32,
};
use clue_wasm::tasks::Sampling;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[path = "common/llama_cpp.rs"]
mod llama_cpp;

use llama_cpp::{
    LogprobGap, NEAR_TIE, common_prefix, greedy_tokens_required, top1, top1_agreement,
};

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/model/smollm2.json"
);
const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
);

/// Largest mean absolute difference from llama.cpp's prompt log-probs, in nats per token.
/// llama.cpp multiplies the Q4_1 weights by activations rounded to 8 bits (Q8_1), we by f32
/// activations: on this model that rounding alone moves log-probs by about 0.06 nats.
const MAX_MEAN_LOGPROB_DIFF: f64 = 0.10;
/// Smallest share of positions whose most likely next token is llama.cpp's, counting the
/// positions where llama.cpp's choice is not a near tie.
const MIN_TOP1_AGREEMENT: f64 = 0.95;
/// Greedy tokens that must agree, unless llama.cpp nearly tied earlier (below).
const GREEDY_AGREEMENT: usize = 8;
/// Largest mean and largest single difference from the float64 model's prompt log-probs: what
/// f32 arithmetic leaves (measured: mean 2e-4, largest 3.5e-4 nats).
const MAX_MEAN_F64_DIFF: f64 = 1e-3;
const MAX_F64_DIFF: f64 = 5e-3;
/// A float64 top-1/top-2 margin below this may flip under f32 arithmetic.
const F64_NEAR_TIE: f64 = 0.01;

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
    /// The float64 model's `prompt_logprobs`, `top1` and `top1_margin`.
    f64_logprobs: Vec<f64>,
    f64_top1: Vec<u32>,
    f64_top1_margin: Vec<f64>,
}

static GOLDEN_FILE: LazyLock<Golden> = LazyLock::new(|| {
    let text = std::fs::read_to_string(GOLDEN).unwrap_or_else(|error| panic!("{GOLDEN}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{GOLDEN}: {error}"))
});

/// The model and its tokenizer on one backend.
struct Loaded {
    tokenizer: Tokenizer,
    model: Decoder,
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
    let device = pollster::block_on(open(backend))
        .unwrap_or_else(|error| panic!("the {backend} device: {error}"));
    let model =
        decoder_from_gguf(&file, &device).unwrap_or_else(|error| panic!("{MODEL}: {error}"));
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

/// Checks one golden prompt on the CPU against every criterion, printing what it measured.
fn check_prompt(name: &str) {
    check_prompt_on(name, &CPU);
}

/// Checks one golden prompt on `loaded`'s backend against every criterion.
fn check_prompt_on(name: &str, loaded: &Loaded) {
    let golden = golden(name);

    let ids = loaded
        .tokenizer
        .encode_prompt(&golden.text)
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    assert_eq!(
        ids, golden.ids,
        "{name}: prompt ids differ from llama.cpp's"
    );
    let positions = ids.len();

    let ours: Vec<f64> = pollster::block_on(prompt_logprobs(&loaded.model, loaded.backend, &ids))
        .expect("prompt log-probs compute")
        .into_iter()
        .skip(1)
        .map(|logprob| f64::from(logprob.expect("every position after the first is scored")))
        .collect();
    let to_llama_cpp = LogprobGap::new(&ours, &golden.prompt_logprobs);
    let to_f64 = LogprobGap::new(&ours, &golden.f64_logprobs);

    let mut cache = loaded.model.new_cache();
    let logits = loaded
        .model
        .forward(&ids, &mut cache, LogitsAt::All)
        .expect("the prompt runs");
    let logits = pollster::block_on(read_f32(loaded.backend, logits)).expect("the logits read");
    let ours_top1 = top1(&logits, loaded.model.config().vocab_size);
    let (all_agreeing, _) = top1_agreement(&ours_top1, &golden.top1, &golden.top1_margin, 0.0);
    let (agreeing, decisive) =
        top1_agreement(&ours_top1, &golden.top1, &golden.top1_margin, NEAR_TIE);
    let agreement = agreeing as f64 / decisive as f64;
    let (f64_agreeing, f64_decisive) = top1_agreement(
        &ours_top1,
        &golden.f64_top1,
        &golden.f64_top1_margin,
        F64_NEAR_TIE,
    );

    let ours_greedy = greedy(loaded, &ids, GOLDEN_FILE.settings.greedy_tokens);
    let agreed = common_prefix(&ours_greedy, &golden.greedy_ids);
    let required = greedy_tokens_required(&golden.greedy_margin, GREEDY_AGREEMENT);

    let report = format!(
        "{name} ({positions} ids, equal to llama.cpp's)\n  \
         against llama.cpp: {}; top-1 agrees at {agreeing}/{decisive} positions without a near \
         tie ({:.1}%), at {all_agreeing}/{positions} in all; greedy agrees for {agreed}/{} \
         tokens (required {required})\n  \
         against float64: {}; top-1 agrees at {f64_agreeing}/{f64_decisive} positions without \
         a near tie\n  \
         greedy ours {ours_greedy:?}\n  greedy llama.cpp {:?}",
        to_llama_cpp.report(),
        100.0 * agreement,
        golden.greedy_ids.len(),
        to_f64.report(),
        golden.greedy_ids,
    );
    eprintln!("{report}");
    assert!(to_llama_cpp.mean <= MAX_MEAN_LOGPROB_DIFF, "{report}");
    assert!(agreement >= MIN_TOP1_AGREEMENT, "{report}");
    assert!(agreed >= required, "{report}");
    assert!(to_f64.mean <= MAX_MEAN_F64_DIFF, "{report}");
    assert!(to_f64.largest <= MAX_F64_DIFF, "{report}");
    assert_eq!(f64_agreeing, f64_decisive, "{report}");
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
fn near_ties_are_left_out_of_the_top1_agreement() {
    let margins = [1.0, 0.05, 0.5, 0.2];
    assert_eq!(
        top1_agreement(&[1, 2, 3, 4], &[1, 9, 3, 9], &margins, NEAR_TIE),
        (2, 3)
    );
    assert_eq!(
        top1_agreement(&[1, 2, 3, 4], &[1, 9, 3, 9], &margins, 0.0),
        (2, 4)
    );
}

#[test]
fn near_ties_shorten_the_required_greedy_agreement() {
    assert_eq!(
        greedy_tokens_required(&[1.0; 16], GREEDY_AGREEMENT),
        GREEDY_AGREEMENT
    );
    assert_eq!(
        greedy_tokens_required(&[1.0, 0.5, 0.05, 1.0], GREEDY_AGREEMENT),
        2
    );
    assert_eq!(greedy_tokens_required(&[0.01, 1.0], GREEDY_AGREEMENT), 0);
    let late_tie: Vec<f64> = (0..16)
        .map(|step| if step == 9 { 0.0 } else { 1.0 })
        .collect();
    assert_eq!(
        greedy_tokens_required(&late_tie, GREEDY_AGREEMENT),
        GREEDY_AGREEMENT
    );
}

/// On wgpu the model's matrices stay as the file's Q4_1/Q8_0 blocks, read by our kernels:
/// the same bounds against llama.cpp and the float64 model hold there.
#[test]
fn wgpu_numbers_prompt_matches_llama_cpp() {
    let wgpu = load(Backend::WebGpu);
    assert!(
        wgpu.model.has_device_blocks(),
        "the blocks stay on the device"
    );
    check_prompt_on("numbers", &wgpu);
}

/// The wgpu backend (Mesa's lavapipe on machines without a GPU) chooses the same greedy tokens
/// as the CPU for the chat prompt.
#[test]
fn wgpu_greedy_chat_matches_cpu() {
    let golden = golden("chat");
    let wgpu = load(Backend::WebGpu);
    let ids = wgpu
        .tokenizer
        .encode_prompt(&golden.text)
        .expect("the chat prompt encodes");
    let on_wgpu = greedy(&wgpu, &ids, GREEDY_AGREEMENT);
    let on_cpu = greedy(&CPU, &ids, GREEDY_AGREEMENT);
    eprintln!("chat greedy on wgpu {on_wgpu:?}, on the CPU {on_cpu:?}");
    assert_eq!(on_wgpu, on_cpu, "chat: greedy tokens on wgpu and the CPU");
}

/// The last position's logits after running `ids` on top of `cache`.
fn last_logits(model: &Decoder, cache: &mut clue_wasm::model::KvCache, ids: &[u32]) -> Vec<f32> {
    let logits = model
        .forward(ids, cache, LogitsAt::Last)
        .expect("the forward pass runs");
    pollster::block_on(read_f32(Backend::Cpu, logits)).expect("the logits are read")
}

/// On the CPU a decode step multiplies the file's Q4_1/Q8_0 blocks directly
/// (`model::quantized`); the f32 weights of prefill are the same values, so every decode
/// step's logits must agree with the all-f32 model's to rounding, and so must the tokens.
#[test]
fn quantized_decode_steps_equal_the_f32_model() {
    assert!(
        CPU.model.has_quantized_rows(),
        "the CPU model keeps quantized rows"
    );
    let f32_model = CPU.model.clone().without_quantized_rows();
    assert!(!f32_model.has_quantized_rows());
    let golden = golden("discharge");
    let ids = CPU
        .tokenizer
        .encode_prompt(&golden.text)
        .expect("the prompt encodes");
    let (mut quantized_cache, mut f32_cache) = (CPU.model.new_cache(), f32_model.new_cache());
    let mut step_ids = ids.clone();
    let mut largest = 0.0f32;
    for step in 0..16 {
        let quantized = last_logits(&CPU.model, &mut quantized_cache, &step_ids);
        let exact = last_logits(&f32_model, &mut f32_cache, &step_ids);
        let gap = quantized
            .iter()
            .zip(&exact)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        largest = largest.max(gap);
        let next = top1(&exact, exact.len())[0];
        assert_eq!(
            top1(&quantized, quantized.len())[0],
            next,
            "step {step}: top-1"
        );
        step_ids = vec![next];
    }
    eprintln!("quantized vs f32 decode: largest logit difference {largest:.2e} over 16 steps");
    // Measured 5.8e-5 (logits of magnitude ~20, f32 sums in another order).
    assert!(largest < 5e-4, "largest logit difference {largest}");
}
