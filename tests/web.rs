//! wasm-side tests, run in headless Chromium by `wasm-bindgen-test-runner` (see
//! docs/development.md): the same device code the page uses, inside a dedicated worker like the
//! page's evaluator.
#![cfg(target_arch = "wasm32")]

use clue_wasm::model::{self, Backend};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
async fn cpu_backend_multiplies_exactly_in_the_browser() {
    let device = model::open(Backend::Cpu).await.expect("CPU always opens");
    let check = model::matmul_check(Backend::Cpu, &device, 128)
        .await
        .expect("CPU computes");
    assert!(check.is_exact(), "max abs diff {}", check.max_abs_diff);
}

#[wasm_bindgen_test]
async fn webgpu_backend_multiplies_exactly_in_the_browser() {
    let device = model::open(Backend::WebGpu)
        .await
        .expect("headless Chromium with --enable-unsafe-webgpu exposes a WebGPU adapter");
    let check = model::matmul_check(Backend::WebGpu, &device, 256)
        .await
        .expect("WebGPU computes");
    assert!(check.is_exact(), "max abs diff {}", check.max_abs_diff);
}

/// The page's Rescore mode: the demo MedNLI file scored against predictions that repeat each
/// row's gold label, in the worker, through the same code as `clue score`.
#[wasm_bindgen_test]
fn rescoring_runs_in_the_browser() {
    use clue_wasm::data::{self, Record, TaskId};
    use wasm_bindgen::JsValue;

    let demo = data::demo::file(TaskId::MedNli);
    let dataset = data::read(demo.name, demo.bytes, None).expect("the demo set reads");
    let predictions: String = dataset
        .examples
        .iter()
        .map(|e| match &e.record {
            Record::MedNli(pair) => format!(
                "{{\"id\": {:?}, \"prediction\": {:?}}}\n",
                e.id,
                pair.gold_label.as_str().to_uppercase()
            ),
            other => panic!("a MedNLI demo file holds MedNLI rows, not {other:?}"),
        })
        .collect();
    let mut files = clue_wasm::web::RescoreFiles::new();
    files.add_data(demo.name, demo.bytes);
    files.set_predictions("preds.jsonl", predictions.as_bytes());
    let results = clue_wasm::web::rescore(&files, JsValue::UNDEFINED)
        .map_err(JsValue::from)
        .expect("rescoring succeeds");
    let accuracy = js_sys::Reflect::get(&results, &"tasks".into())
        .and_then(|t| js_sys::Reflect::get(&t, &"mednli".into()))
        .and_then(|t| js_sys::Reflect::get(&t, &"metrics".into()))
        .and_then(|m| js_sys::Reflect::get(&m, &"accuracy".into()))
        .expect("results.tasks.mednli.metrics.accuracy exists");
    assert_eq!(accuracy.as_f64(), Some(1.0));

    files.set_predictions(
        "preds.jsonl",
        b"{\"id\": \"no-such-row\", \"prediction\": \"x\"}\n",
    );
    let error = clue_wasm::web::rescore(&files, JsValue::UNDEFINED)
        .map_err(JsValue::from)
        .expect_err("an unknown id is refused");
    let message = js_sys::Reflect::get(&error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_default();
    assert!(
        message.contains("preds.jsonl, line 1, field \"id\""),
        "{message}"
    );
}

/// One golden prompt of tests/golden/archs/goldens.json.
#[derive(serde::Deserialize)]
struct ArchPrompt {
    ids: Vec<u32>,
    prompt_logprobs: Vec<f64>,
    f64_logprobs: Vec<f64>,
    top1: Vec<u32>,
    top1_margin: Vec<f64>,
}

#[derive(serde::Deserialize)]
struct ArchFile {
    prompts: Vec<ArchPrompt>,
}

#[derive(serde::Deserialize)]
struct ArchGoldens {
    files: std::collections::BTreeMap<String, ArchFile>,
}

/// Random-weight models of every architecture, quantized by llama.cpp: between them every block
/// type the kernels read (Q4_K, Q5_K, Q6_K, Q5_0, Q5_1, Q8_0, Q4_0).
const ARCH_FILES: [(&str, &[u8]); 8] = [
    (
        "llama-Q4_K_M.gguf",
        include_bytes!("golden/archs/llama-Q4_K_M.gguf"),
    ),
    (
        "llama-Q8_0.gguf",
        include_bytes!("golden/archs/llama-Q8_0.gguf"),
    ),
    (
        "qwen2-Q4_0.gguf",
        include_bytes!("golden/archs/qwen2-Q4_0.gguf"),
    ),
    (
        "qwen3-Q4_K_M.gguf",
        include_bytes!("golden/archs/qwen3-Q4_K_M.gguf"),
    ),
    (
        "gemma2-Q4_K_M.gguf",
        include_bytes!("golden/archs/gemma2-Q4_K_M.gguf"),
    ),
    (
        "gemma3-Q4_K_M.gguf",
        include_bytes!("golden/archs/gemma3-Q4_K_M.gguf"),
    ),
    (
        "gemma3-Q5_K_M.gguf",
        include_bytes!("golden/archs/gemma3-Q5_K_M.gguf"),
    ),
    (
        "phi3-Q5_K_M.gguf",
        include_bytes!("golden/archs/phi3-Q5_K_M.gguf"),
    ),
];

/// On WebGPU in the browser, each architecture's model keeps its blocks on the device and gives
/// llama.cpp's prompt log-probs (mean within 0.10 nats per token), the float64 decoder's within
/// 1e-3, and llama.cpp's top-1 wherever its lead exceeds 0.1 — as natively (tests/archs.rs).
#[wasm_bindgen_test]
async fn every_architecture_matches_llama_cpp_on_webgpu() {
    let goldens: ArchGoldens =
        serde_json::from_str(include_str!("golden/archs/goldens.json")).expect("goldens parse");
    let device = model::open(Backend::WebGpu).await.expect("WebGPU opens");
    for (name, bytes) in ARCH_FILES {
        let file = clue_wasm::loader::gguf::parse(bytes).expect("the fixture parses");
        let decoder = model::decoder_from_gguf(&file, &device).expect("the fixture loads");
        assert!(decoder.has_device_blocks(), "{name}: blocks on the device");
        let vocab = decoder.config().vocab_size;
        for (index, prompt) in goldens.files[name].prompts.iter().enumerate() {
            let logits = decoder
                .forward(&prompt.ids, &mut decoder.new_cache(), model::LogitsAt::All)
                .expect("the prompt runs");
            let logits = model::read_f32(Backend::WebGpu, logits)
                .await
                .expect("reads back");
            let (mut to_llama_cpp, mut to_f64) = (0.0, 0.0);
            for i in 1..prompt.ids.len() {
                let row = &logits[(i - 1) * vocab..i * vocab];
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
                let sum: f64 = row.iter().map(|&l| (l as f64 - max).exp()).sum();
                let ours = row[prompt.ids[i] as usize] as f64 - max - sum.ln();
                to_llama_cpp += (ours - prompt.prompt_logprobs[i - 1]).abs();
                to_f64 += (ours - prompt.f64_logprobs[i - 1]).abs();
            }
            let scored = (prompt.ids.len() - 1) as f64;
            let (to_llama_cpp, to_f64) = (to_llama_cpp / scored, to_f64 / scored);
            let what = format!(
                "{name} prompt {index}: mean |Δ| {to_llama_cpp:.4} to llama.cpp, {to_f64:.5} to float64"
            );
            web_sys::console::log_1(&what.clone().into());
            assert!(to_llama_cpp <= 0.10, "{what}");
            assert!(to_f64 <= 1e-3, "{what}");
            for (position, row) in logits.chunks_exact(vocab).enumerate() {
                if prompt.top1_margin[position] > 0.1 {
                    let mut best = 0;
                    for (id, &l) in row.iter().enumerate() {
                        if l > row[best] {
                            best = id;
                        }
                    }
                    assert_eq!(
                        best as u32, prompt.top1[position],
                        "{what}: top-1 at {position}"
                    );
                }
            }
        }
    }
}
