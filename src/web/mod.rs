//! The wasm-bindgen surface the page's Web Worker drives. Values cross the boundary as plain
//! objects (serde-wasm-bindgen); every device read inside is asynchronous.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::model::{self, Backend};

/// Installs the panic hook so a Rust panic shows its message in the console, not `unreachable`.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The crate version, shown by the page and written into run records.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Opens `backend` (`"cpu"` or `"webgpu"`), multiplies two fixed `size`×`size` matrices on it,
/// and returns `{backend, size, checksum, max_abs_diff, exact, elapsed_ms}`; rejects with the
/// reason when the backend is missing or fails.
#[wasm_bindgen(js_name = backendCheck)]
pub async fn backend_check(backend: String, size: usize) -> Result<JsValue, JsError> {
    let backend = Backend::parse(&backend)
        .ok_or_else(|| JsError::new(&format!("unknown backend {backend:?} (cpu or webgpu)")))?;
    if !(1..=2048).contains(&size) {
        return Err(JsError::new(&format!(
            "matrix size {size} is outside 1..=2048"
        )));
    }
    let started = js_sys::Date::now();
    let device = model::open(backend).await?;
    let check = model::matmul_check(backend, &device, size).await?;
    let elapsed_ms = js_sys::Date::now() - started;

    #[derive(Serialize)]
    struct Report {
        #[serde(flatten)]
        check: model::MatmulCheck,
        exact: bool,
        elapsed_ms: f64,
    }
    let report = Report {
        exact: check.is_exact(),
        check,
        elapsed_ms,
    };
    to_js(&report)
}

/// Converts a record into a plain JS object (maps become objects, not `Map`s, so the worker can
/// post them and the page can read fields directly).
fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// Settings of [`rescore`], as the page sends them; every field is optional.
#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RescoreOptions {
    task: Option<crate::data::TaskId>,
    profile: crate::tasks::Profile,
    mode: crate::tasks::ReadingMode,
    compat: bool,
    model_name: String,
    chat_style: crate::tasks::ChatStyle,
    seed: u64,
    resamples: usize,
}

impl Default for RescoreOptions {
    fn default() -> RescoreOptions {
        RescoreOptions {
            task: None,
            profile: crate::tasks::Profile::default(),
            mode: crate::tasks::ReadingMode::Strict,
            compat: false,
            model_name: String::new(),
            chat_style: crate::tasks::ChatStyle::SystemRole,
            seed: 0,
            resamples: 1000,
        }
    }
}

/// Scores a predictions file against an official data file, both given as bytes (File API), and
/// returns the results object of `clue score --json`. `options` is an object with any of
/// `task`, `profile`, `mode` (`strict`/`flexible`), `compat`, `model_name`, `chat_style`,
/// `seed`, `resamples`. Errors name the file, line and field.
#[wasm_bindgen]
pub fn rescore(
    data_name: &str,
    data: &[u8],
    predictions_name: &str,
    predictions: &[u8],
    options: JsValue,
) -> Result<JsValue, JsError> {
    use crate::eval;
    use crate::metrics::aggregate::AggregateOptions;
    use crate::tasks::TaskSettings;

    let options: RescoreOptions = if options.is_undefined() || options.is_null() {
        RescoreOptions::default()
    } else {
        serde_wasm_bindgen::from_value(options)
            .map_err(|e| JsError::new(&format!("rescore options: {e}")))?
    };
    let profile = options.profile;
    if options.resamples > 100_000 {
        return Err(JsError::new(
            "rescore options: resamples must be at most 100000",
        ));
    }
    let dataset = crate::data::read(data_name, data, options.task)?;
    let lines = eval::read_predictions(predictions_name, predictions)?;
    let settings = TaskSettings {
        profile,
        chat_style: options.chat_style,
        model_name: options.model_name,
        compat: options.compat,
        ..TaskSettings::default()
    };
    let mut aggregation = AggregateOptions {
        seed: options.seed,
        resamples: options.resamples,
        ..AggregateOptions::default()
    };
    if options.compat {
        aggregation = aggregation.with_clue_compat(profile.as_str())?;
    }
    let rescored = eval::rescore(
        &dataset,
        predictions_name,
        &lines,
        &settings,
        options.mode,
        &aggregation,
    )?;
    to_js(&rescored)
}

/// A model loaded in the worker: a GGUF file's decoder on the CPU or WebGPU with its tokenizer.
#[wasm_bindgen]
pub struct Generator {
    inner: std::rc::Rc<crate::model::LoadedModel>,
}

#[wasm_bindgen]
impl Generator {
    /// Loads a GGUF model from its bytes (`name` is used in messages) onto `backend` (`"cpu"`
    /// or `"webgpu"`).
    pub async fn load(name: String, bytes: Vec<u8>, backend: String) -> Result<Generator, JsError> {
        let backend = Backend::parse(&backend)
            .ok_or_else(|| JsError::new(&format!("unknown backend {backend:?} (cpu or webgpu)")))?;
        let loaded = crate::model::LoadedModel::from_gguf(&name, &bytes, backend).await?;
        Ok(Generator {
            inner: std::rc::Rc::new(loaded),
        })
    }

    /// The backend the model runs on (`cpu` or `wgpu`).
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.backend.as_str().to_string()
    }

    /// Generates greedily after `prompt` (with `chat`, one user message for the model's chat
    /// template; without, the exact prompt text) and resolves to `{prompt_ids, completion_ids,
    /// completion, stop_reason, prefill_ms, decode_ms}`.
    pub fn generate(&self, prompt: String, chat: bool, max_tokens: usize) -> js_sys::Promise {
        let model = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let fail = |e: String| JsValue::from(JsError::new(&e));
            if !(1..=32_768).contains(&max_tokens) {
                return Err(fail(format!(
                    "max_tokens {max_tokens} is outside 1..=32768"
                )));
            }
            let ids = model
                .prompt_ids(&prompt, chat)
                .map_err(|e| fail(e.to_string()))?;
            if ids.is_empty() {
                return Err(fail("the prompt is empty".into()));
            }
            let completion = model
                .greedy(&ids, max_tokens, &mut |_| crate::model::Control::Continue)
                .await
                .map_err(|e| fail(e.to_string()))?;
            #[derive(Serialize)]
            struct Report {
                prompt_ids: Vec<u32>,
                completion_ids: Vec<u32>,
                completion: String,
                stop_reason: crate::model::StopReason,
                prefill_ms: f64,
                decode_ms: f64,
            }
            let report = Report {
                completion: model.decode(&completion.ids),
                prompt_ids: ids,
                completion_ids: completion.ids,
                stop_reason: completion.stop_reason,
                prefill_ms: completion.prefill_ms,
                decode_ms: completion.decode_ms,
            };
            to_js(&report).map_err(JsValue::from)
        })
    }
}
