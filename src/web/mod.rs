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

/// The files of a rescoring, gathered from the page's inputs: one data file or several (one per
/// task, to score a whole run's samples with its Levels), the predictions, and optionally the
/// UMLS bridge's output.
#[wasm_bindgen]
#[derive(Default)]
pub struct RescoreFiles {
    data: Vec<(String, Vec<u8>)>,
    predictions: Option<(String, Vec<u8>)>,
    umls: Option<(String, Vec<u8>)>,
}

#[wasm_bindgen]
impl RescoreFiles {
    /// No files yet.
    #[wasm_bindgen(constructor)]
    pub fn new() -> RescoreFiles {
        RescoreFiles::default()
    }

    /// Adds an official data file.
    #[wasm_bindgen(js_name = addData)]
    pub fn add_data(&mut self, name: &str, bytes: &[u8]) {
        self.data.push((name.to_owned(), bytes.to_vec()));
    }

    /// Sets the predictions file (JSON Lines of `{id, prediction}`, or a run's samples).
    #[wasm_bindgen(js_name = setPredictions)]
    pub fn set_predictions(&mut self, name: &str, bytes: &[u8]) {
        self.predictions = Some((name.to_owned(), bytes.to_vec()));
    }

    /// Sets the UMLS bridge's JSON Lines (`umls/clue_umls.py`) for UMLS-F1.
    #[wasm_bindgen(js_name = setUmls)]
    pub fn set_umls(&mut self, name: &str, bytes: &[u8]) {
        self.umls = Some((name.to_owned(), bytes.to_vec()));
    }
}

/// Scores a predictions file against official data files, all given as bytes (File API), with
/// UMLS-F1 when the bridge's file is among them, and returns the results object of `clue score
/// --json`. `options` is an object with any of `task` (with one data file), `profile`, `mode`
/// (`strict`/`flexible`), `compat`, `model_name`, `chat_style`, `seed`, `resamples`. Errors name
/// the file, line and field.
#[wasm_bindgen]
pub fn rescore(files: &RescoreFiles, options: JsValue) -> Result<JsValue, JsError> {
    let (rescored, _, _) = rescore_files(files, options)?;
    to_js(&rescored)
}

/// [`rescore`] with BERTScore from `scorer` on MeQSum, Problem Summary and MeDiSumQA: resolves
/// to the same results object, its BERTScore values filled in and a `bertscore` block naming
/// the model, layer and the tasks where the values are comparable with the paper's.
#[wasm_bindgen(js_name = rescoreWithBertscore)]
pub fn rescore_with_bertscore(
    files: &RescoreFiles,
    options: JsValue,
    scorer: &BertScoreModel,
) -> Result<js_sys::Promise, JsError> {
    let (mut rescored, profile, aggregation) = rescore_files(files, options)?;
    let scorer = scorer.inner.clone();
    Ok(wasm_bindgen_futures::future_to_promise(async move {
        let fail = |e: String| JsValue::from(JsError::new(&e));
        rescored
            .add_bertscore(
                &scorer,
                crate::metrics::bertscore::BertScoreOptions::default(),
                profile,
                &aggregation,
            )
            .await
            .map_err(|e| fail(e.to_string()))?;
        to_js(&rescored).map_err(JsValue::from)
    }))
}

/// The rescoring both exports share, with the profile and aggregation it used.
fn rescore_files(
    files: &RescoreFiles,
    options: JsValue,
) -> Result<
    (
        crate::eval::Rescored,
        crate::tasks::Profile,
        crate::metrics::aggregate::AggregateOptions,
    ),
    JsError,
> {
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
    if files.data.is_empty() {
        return Err(JsError::new("no data file given"));
    }
    if files.data.len() > 1 && options.task.is_some() {
        return Err(JsError::new(
            "rescore options: a task goes with one data file; several are detected each",
        ));
    }
    let Some((predictions_name, predictions)) = &files.predictions else {
        return Err(JsError::new("no predictions file given"));
    };
    let datasets = files
        .data
        .iter()
        .map(|(name, bytes)| crate::data::read(name, bytes, options.task))
        .collect::<Result<Vec<_>, _>>()?;
    let lines = eval::read_predictions(predictions_name, predictions)?;
    let umls = match &files.umls {
        Some((name, bytes)) => Some(crate::metrics::umls::UmlsFile::read(name, bytes)?),
        None => None,
    };
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
    let mut rescored = eval::rescore_all(
        &datasets,
        predictions_name,
        &lines,
        &settings,
        options.mode,
        &aggregation,
    )?;
    if let Some(umls) = &umls {
        rescored.apply_umls(umls, &aggregation)?;
    }
    Ok((rescored, profile, aggregation))
}

/// Reads a dataset file (`task` names its task; without it the format is detected) and returns
/// `{task, examples, patients}`; throws an error naming the file, line and field.
#[wasm_bindgen(js_name = inspectData)]
pub fn inspect_data(name: &str, bytes: &[u8], task: Option<String>) -> Result<JsValue, JsError> {
    let task = parse_task(task.as_deref())?;
    let dataset = crate::data::read(name, bytes, task)?;
    #[derive(Serialize)]
    struct Inspected {
        task: crate::data::TaskId,
        examples: usize,
        patients: usize,
    }
    to_js(&Inspected {
        task: dataset.task,
        examples: dataset.examples.len(),
        patients: dataset.patients.len(),
    })
}

/// Reads a dataset file like [`inspect_data`] and returns its examples: `[{id, line, record}]`,
/// `record` holding the task's fields (`{task: "meqsum", chq, summary}`, …).
#[wasm_bindgen(js_name = readExamples)]
pub fn read_examples(name: &str, bytes: &[u8], task: Option<String>) -> Result<JsValue, JsError> {
    let task = parse_task(task.as_deref())?;
    let dataset = crate::data::read(name, bytes, task)?;
    to_js(&dataset.examples)
}

fn parse_task(task: Option<&str>) -> Result<Option<crate::data::TaskId>, JsError> {
    task.filter(|t| !t.is_empty())
        .map(|t| {
            crate::data::TaskId::parse(t).ok_or_else(|| {
                JsError::new(&format!(
                    "unknown task {t:?} (one of {})",
                    crate::data::TaskId::ALL.map(|t| t.as_str()).join(", ")
                ))
            })
        })
        .transpose()
}

/// The six embedded synthetic demo sets in CLUE's order: `[{task, name, bytes}]`, `bytes` a
/// `Uint8Array` in the task's official format.
#[wasm_bindgen(js_name = demoSets)]
pub fn demo_sets() -> Result<js_sys::Array, JsError> {
    let sets = js_sys::Array::new();
    for file in crate::data::demo::all() {
        let object = js_sys::Object::new();
        let set = |key: &str, value: JsValue| {
            js_sys::Reflect::set(&object, &JsValue::from_str(key), &value)
                .map(drop)
                .map_err(|_| JsError::new("demoSets: could not build the object"))
        };
        set("task", JsValue::from_str(file.task.as_str()))?;
        set("name", JsValue::from_str(file.name))?;
        set("bytes", js_sys::Uint8Array::from(file.bytes).into())?;
        sets.push(&object);
    }
    Ok(sets)
}

/// How many examples of each demo set the page's quick demo evaluates (the default run).
#[wasm_bindgen(js_name = demoQuickLimit)]
pub fn demo_quick_limit() -> usize {
    crate::data::demo::QUICK_LIMIT
}

/// How many of LongHealth's prompts per task and question the quick demo evaluates (the
/// run's `longhealth_prompts` option).
#[wasm_bindgen(js_name = demoQuickLongHealthPrompts)]
pub fn demo_quick_longhealth_prompts() -> usize {
    crate::data::demo::QUICK_LONGHEALTH_PROMPTS
}

/// CLUE's published models with their task scores and levels in percent (see
/// `metrics::published`), for the page's chart.
#[wasm_bindgen(js_name = publishedResults)]
pub fn published_results() -> Result<JsValue, JsError> {
    use crate::metrics::published::{PUBLISHED_RESULTS, published_models};
    to_js(&published_models(PUBLISHED_RESULTS).map_err(|e| JsError::new(&e))?)
}

/// The demo data notice the page shows beside results on demo sets.
#[wasm_bindgen(js_name = demoNotice)]
pub fn demo_notice() -> String {
    crate::data::demo::NOTICE.to_owned()
}

/// What a GGUF model will need (see `model::ModelNeeds`), from the first bytes of a file of
/// `file_len` bytes — enough of it to hold the header (metadata and tensor infos); the page
/// asks for a range and for more when this fails with an error about the end of the data.
#[wasm_bindgen(js_name = inspectModel)]
pub fn inspect_model(name: &str, prefix: &[u8], file_len: f64) -> Result<JsValue, JsError> {
    if !(file_len.is_finite() && file_len >= 0.0) {
        return Err(JsError::new(&format!(
            "{name}: file length {file_len} is not a size"
        )));
    }
    let header = crate::loader::gguf::parse_header(prefix, file_len as u64)
        .map_err(|e| JsError::new(&format!("{name}: {e}")))?;
    let needs =
        crate::model::ModelNeeds::of(&header).map_err(|e| JsError::new(&format!("{name}: {e}")))?;
    to_js(&needs)
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

    /// The backend the model runs on (`cpu` or `webgpu`).
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.backend.as_str().to_string()
    }

    /// The model file's name.
    #[wasm_bindgen(getter)]
    pub fn file(&self) -> String {
        self.inner.file.clone()
    }

    /// The model file's size in bytes.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> f64 {
        self.inner.size as f64
    }

    /// Bytes the weights take on the model's device (each counted once; on WebGPU the file's
    /// blocks).
    #[wasm_bindgen(getter, js_name = weightsBytes)]
    pub fn weights_bytes(&self) -> f64 {
        let model = &self.inner.model;
        model.device_bytes(&model.new_cache()).weights as f64
    }

    /// Bytes the device's allocator holds in live buffers now (WebGPU; `undefined` on the CPU).
    #[wasm_bindgen(getter, js_name = deviceInUseBytes)]
    pub fn device_in_use_bytes(&self) -> Option<f64> {
        self.inner
            .model
            .device()
            .memory_pool_usage()
            .map(|usage| usage.bytes_in_use as f64)
    }

    /// Bytes of the weights as the file stores them.
    #[wasm_bindgen(getter, js_name = tensorBytes)]
    pub fn tensor_bytes(&self) -> f64 {
        self.inner.tensor_bytes as f64
    }

    /// SHA-256 of the model file, hex.
    #[wasm_bindgen(getter)]
    pub fn sha256(&self) -> String {
        self.inner.sha256.clone()
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

#[wasm_bindgen]
impl Generator {
    /// The model's speed on its backend as `clue bench model` measures it natively (a 512-token
    /// prompt, then 128 tokens, median of `runs`): resolves to `{prompt_tokens, new_tokens, runs,
    /// prefill_tok_s, decode_tok_s}`.
    pub fn bench(&self, runs: usize) -> js_sys::Promise {
        let model = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let report = crate::model::measure_speed(&model, runs)
                .await
                .map_err(|e| JsValue::from(JsError::new(&e.to_string())))?;
            to_js(&report).map_err(JsValue::from)
        })
    }
}

/// A planned CLUE run in the worker. The worker drives it one request at a time: it looks
/// `request(i).cache_key` up in its completion cache (IndexedDB), calls `generate(i)` on a miss
/// and stores what it returns, and hands the completion to `record(i, generated, cached)`.
/// Pausing and cancelling are the worker not asking for the next request.
#[wasm_bindgen]
pub struct Evaluation {
    inner: std::rc::Rc<std::cell::RefCell<crate::eval::Evaluation>>,
    model: std::rc::Rc<crate::model::LoadedModel>,
}

/// One file the page hands over: its name, bytes and, for datasets, the task it names.
struct PageFile {
    name: String,
    bytes: Vec<u8>,
    task: Option<String>,
}

/// Reads `[{name, bytes, task?}]` (`what` names the array in messages).
fn files_from_js(files: &JsValue, what: &str) -> Result<Vec<PageFile>, JsError> {
    let array: &js_sys::Array = files
        .dyn_ref()
        .ok_or_else(|| JsError::new(&format!("{what} must be an array of {{name, bytes}}")))?;
    let mut out = Vec::new();
    for (i, item) in array.iter().enumerate() {
        let field = |key: &str| js_sys::Reflect::get(&item, &JsValue::from_str(key)).ok();
        let name = field("name").and_then(|v| v.as_string()).ok_or_else(|| {
            JsError::new(&format!("{what}[{i}]: field \"name\" must be a string"))
        })?;
        let bytes = field("bytes")
            .and_then(|v| v.dyn_into::<js_sys::Uint8Array>().ok())
            .ok_or_else(|| JsError::new(&format!("{name}: field \"bytes\" must be a Uint8Array")))?
            .to_vec();
        let task = field("task").and_then(|v| v.as_string());
        out.push(PageFile { name, bytes, task });
    }
    Ok(out)
}

/// Reads `[{name, bytes, task?}]` from the page as datasets.
fn datasets_from_js(datasets: &JsValue) -> Result<Vec<(crate::data::Dataset, Vec<u8>)>, JsError> {
    let mut out = Vec::new();
    for file in files_from_js(datasets, "datasets")? {
        let task = parse_task(file.task.as_deref())?;
        let dataset = crate::data::read(&file.name, &file.bytes, task)?;
        out.push((dataset, file.bytes));
    }
    Ok(out)
}

#[wasm_bindgen]
impl Evaluation {
    /// Plans a run of `generator`'s model on `datasets` (`[{name, bytes, task?}]`) with
    /// `options` (`{profile, mode, limit, ids, max_new_tokens, model_name, sampling_seed,
    /// compat, seed, resamples}`, all optional). Throws naming the file, line and field.
    #[wasm_bindgen(constructor)]
    pub fn new(
        generator: &Generator,
        datasets: JsValue,
        options: JsValue,
    ) -> Result<Evaluation, JsError> {
        let options: crate::eval::EvalOptions = if options.is_undefined() || options.is_null() {
            crate::eval::EvalOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| JsError::new(&format!("evaluation options: {e}")))?
        };
        let datasets = datasets_from_js(&datasets)?;
        let borrowed: Vec<(crate::data::Dataset, &[u8])> = datasets
            .iter()
            .map(|(dataset, bytes)| (dataset.clone(), bytes.as_slice()))
            .collect();
        let planned = crate::eval::Evaluation::plan(&generator.inner, &borrowed, options)?;
        Ok(Evaluation {
            inner: std::rc::Rc::new(std::cell::RefCell::new(planned)),
            model: generator.inner.clone(),
        })
    }

    /// Requests in the run.
    #[wasm_bindgen(getter)]
    pub fn total(&self) -> usize {
        self.inner.borrow().len()
    }

    /// Whether request `index` has been recorded.
    #[wasm_bindgen(js_name = isDone)]
    pub fn is_done(&self, index: usize) -> bool {
        self.inner.borrow().is_done(index)
    }

    /// `{index, task, id, prompt_sha256, prompt_tokens, cache_key, prompt}` of request `index`.
    pub fn request(&self, index: usize) -> Result<JsValue, JsError> {
        to_js(&self.inner.borrow().request(index)?)
    }

    /// Generates request `index`'s completion and resolves to the object to cache and record:
    /// `{completion, completion_ids, stop_reason, prompt_tokens, prefill_ms, decode_ms}`.
    pub fn generate(&self, index: usize) -> js_sys::Promise {
        let job = self.inner.borrow().job(index);
        let model = self.model.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let fail = |e: String| JsValue::from(JsError::new(&e));
            let job = job.map_err(|e| fail(e.to_string()))?;
            let generated = job
                .run(&model, &mut |_| crate::model::Control::Continue)
                .await
                .map_err(|e| fail(e.to_string()))?;
            to_js(&generated).map_err(JsValue::from)
        })
    }

    /// Checks a cached completion before it is used: `null` when it fits request `index` and
    /// its text is what its ids decode to, else why not (an entry that does not even have the
    /// cached form included). The worker drops such an entry and generates it again.
    #[wasm_bindgen(js_name = verifyCached)]
    pub fn verify_cached(&self, index: usize, generated: JsValue) -> Option<String> {
        let generated: crate::eval::Generated = match serde_wasm_bindgen::from_value(generated) {
            Ok(generated) => generated,
            Err(e) => {
                return Some(format!(
                    "request {index}: the cached entry is unreadable: {e}"
                ));
            }
        };
        self.inner
            .borrow()
            .verify_cached(index, &generated, &self.model)
            .err()
            .map(|e| e.to_string())
    }

    /// Reads, scores and records request `index`'s completion (`generated` as `generate`
    /// resolved, possibly from the cache); returns the sample record.
    pub fn record(
        &self,
        index: usize,
        generated: JsValue,
        cached: bool,
    ) -> Result<JsValue, JsError> {
        let generated: crate::eval::Generated = serde_wasm_bindgen::from_value(generated)
            .map_err(|e| JsError::new(&format!("request {index}: completion: {e}")))?;
        let mut inner = self.inner.borrow_mut();
        let record = inner.record(index, &generated, cached)?;
        to_js(record)
    }

    /// `{done, total, cached, generated, completion_tokens, tokens_per_second, eta_seconds,
    /// task}`.
    pub fn progress(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.borrow().progress())
    }

    /// The results of the samples recorded so far, as `clue eval` writes results.json; `run`
    /// is `{backend, adapter, started_at, ended_at}`.
    pub fn results(&self, run: JsValue) -> Result<JsValue, JsError> {
        to_js(&self.run_results(run)?)
    }

    fn run_results(&self, run: JsValue) -> Result<crate::eval::RunResults, JsError> {
        let context: crate::eval::RunContext = if run.is_undefined() || run.is_null() {
            crate::eval::RunContext::default()
        } else {
            serde_wasm_bindgen::from_value(run).map_err(|e| JsError::new(&format!("run: {e}")))?
        };
        Ok(self.inner.borrow().results(context))
    }

    /// The samples file (JSON Lines); prompts are included unless `include_prompts` is false.
    #[wasm_bindgen(js_name = samplesJsonl)]
    pub fn samples_jsonl(&self, include_prompts: Option<bool>) -> String {
        self.inner
            .borrow()
            .samples_jsonl(include_prompts.unwrap_or(true))
    }

    /// Computes BERTScore with `scorer` for the recorded samples of MeQSum, Problem Summary and
    /// MeDiSumQA (call it after the last sample); resolves to the number of samples scored.
    #[wasm_bindgen(js_name = addBertscore)]
    pub fn add_bertscore(&self, scorer: &BertScoreModel) -> js_sys::Promise {
        let pairs = self.inner.borrow().bertscore_pairs();
        let inner = self.inner.clone();
        let scorer = scorer.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let fail = |e: String| JsValue::from(JsError::new(&e));
            let indexed = crate::eval::bertscore_by_index(
                &scorer,
                &pairs,
                crate::metrics::bertscore::BertScoreOptions::default(),
            )
            .await
            .map_err(|e| fail(e.to_string()))?;
            inner
                .borrow_mut()
                .apply_bertscore(&scorer.model_name, scorer.layer, &indexed);
            Ok(JsValue::from(indexed.len() as f64))
        })
    }

    /// The scores as CSV (as `clue eval` writes results.csv).
    #[wasm_bindgen(js_name = resultsCsv)]
    pub fn results_csv(&self, run: JsValue) -> Result<String, JsError> {
        Ok(self.run_results(run)?.to_csv())
    }
}

/// A BERT model for BERTScore in the worker: an encoder on the CPU or WebGPU, its tokenizer and
/// the layer compared.
#[wasm_bindgen]
pub struct BertScoreModel {
    inner: std::rc::Rc<crate::metrics::bertscore::BertScorer>,
}

#[wasm_bindgen]
impl BertScoreModel {
    /// Loads a Hugging Face BERT directory from its files (`[{name, bytes}]`: `config.json`,
    /// `tokenizer.json` or `vocab.txt`, the optional `tokenizer_config.json`, `model.safetensors`
    /// or `pytorch_model.bin`) onto `backend`, reading `layer`.
    pub async fn load(
        directory: String,
        files: JsValue,
        layer: usize,
        backend: String,
    ) -> Result<BertScoreModel, JsError> {
        let backend = Backend::parse(&backend)
            .ok_or_else(|| JsError::new(&format!("unknown backend {backend:?} (cpu or webgpu)")))?;
        let named: Vec<(String, Vec<u8>)> = files_from_js(&files, "files")?
            .into_iter()
            .map(|file| (file.name, file.bytes))
            .collect();
        let scorer = crate::metrics::bertscore::BertScorer::from_hf_directory(
            &directory, &named, layer, backend,
        )
        .await?;
        Ok(BertScoreModel {
            inner: std::rc::Rc::new(scorer),
        })
    }

    /// The model directory's name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.model_name.clone()
    }

    /// The layer compared.
    #[wasm_bindgen(getter)]
    pub fn layer(&self) -> usize {
        self.inner.layer
    }

    /// BERTScore of each candidate against the reference at the same index: resolves to
    /// `[{precision, recall, f1}]`.
    pub fn score(&self, candidates: Vec<String>, references: Vec<String>) -> js_sys::Promise {
        let scorer = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let fail = |e: String| JsValue::from(JsError::new(&e));
            let candidates: Vec<&str> = candidates.iter().map(String::as_str).collect();
            let references: Vec<&str> = references.iter().map(String::as_str).collect();
            let scores = scorer
                .score(
                    &candidates,
                    &references,
                    crate::metrics::bertscore::BertScoreOptions::default(),
                )
                .await
                .map_err(|e| fail(e.to_string()))?;
            to_js(&scores).map_err(JsValue::from)
        })
    }
}
