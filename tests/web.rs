//! wasm-side tests, run in headless Chromium by `wasm-bindgen-test-runner` (see README): the
//! same device code the page uses, inside a dedicated worker like the page's evaluator.
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
    let device = model::open(Backend::Wgpu)
        .await
        .expect("headless Chromium with --enable-unsafe-webgpu exposes a WebGPU adapter");
    let check = model::matmul_check(Backend::Wgpu, &device, 256)
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
    let results = clue_wasm::web::rescore(
        demo.name,
        demo.bytes,
        "preds.jsonl",
        predictions.as_bytes(),
        JsValue::UNDEFINED,
    )
    .map_err(JsValue::from)
    .expect("rescoring succeeds");
    let accuracy = js_sys::Reflect::get(&results, &"tasks".into())
        .and_then(|t| js_sys::Reflect::get(&t, &"mednli".into()))
        .and_then(|t| js_sys::Reflect::get(&t, &"metrics".into()))
        .and_then(|m| js_sys::Reflect::get(&m, &"accuracy".into()))
        .expect("results.tasks.mednli.metrics.accuracy exists");
    assert_eq!(accuracy.as_f64(), Some(1.0));

    let error = clue_wasm::web::rescore(
        demo.name,
        demo.bytes,
        "preds.jsonl",
        b"{\"id\": \"no-such-row\", \"prediction\": \"x\"}\n",
        JsValue::UNDEFINED,
    )
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
