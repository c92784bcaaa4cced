//! The runner: datasets → requests → prompts → completions → predictions → metrics → results.
//! An [`Evaluation`] is planned once (every prompt rendered and encoded up front, so a bad file
//! or template fails before the first token), then driven one request at a time by the caller —
//! the `clue eval` loop natively, the Web Worker in the browser — which looks each request's
//! [`Evaluation::cache_key`] up in its completion cache, runs a [`Job`] when it misses, and hands
//! the [`Generated`] text back to [`Evaluation::record`]. Pausing and cancelling are the caller
//! not asking for the next request; nothing here reads a clock or a file, so the same code runs
//! in the browser.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::EvalError;
use crate::data::{Dataset, TaskId};
use crate::loader::tokenizer::Tokenizer;
use crate::metrics::aggregate::{AggregateOptions, Results, aggregate};
use crate::metrics::bertscore::{BertScore, BertScoreOptions, BertScorer};
use crate::metrics::umls::{UmlsFile, UmlsRecord};
use crate::metrics::{Metric, SampleScores};
use crate::model::{
    Control, EncodedPrompt, GenerateSettings, LoadError, LoadedModel, StopReason, hex,
};
use crate::tasks::{
    Answer, ChatStyle, Profile, Prompt, ReadingMode, Reference, Request, TaskSettings,
    TokenCounter, build_requests, read_prediction,
};

/// Version of the cache key's recipe; a change to what a completion depends on bumps it.
const CACHE_KEY_VERSION: &str = "clue-completion-v2";

/// The engine that computes completions: a new release may change the numerics (a kernel's
/// order of summation, a tokenizer fix), so its completions are never taken for another's.
const ENGINE: &str = concat!("clue-wasm ", env!("CARGO_PKG_VERSION"));

/// What a run chooses beyond the model and the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalOptions {
    /// Which reference version to reproduce.
    pub profile: Profile,
    /// How answers are read.
    pub mode: ReadingMode,
    /// Only the first `limit` evaluated examples of each task (a LongHealth question counts
    /// once, with all its 15 requests).
    pub limit: Option<usize>,
    /// Only these examples or requests (ids as in the samples file).
    pub ids: Option<Vec<String>>,
    /// LongHealth: only the first N prompts of each of its three tasks per question (the
    /// reference builds 5 of each; the quick demo takes 1). A cost cut, said in the results.
    pub longhealth_prompts: Option<usize>,
    /// Generation length instead of the profile's.
    pub max_new_tokens: Option<usize>,
    /// The name the reference's model-specific rules look at (Phi answer cut, Llama-3 stop
    /// strings); the model file's name when absent.
    pub model_name: Option<String>,
    /// Base seed of the current profile's sampling.
    pub sampling_seed: u64,
    /// Reproduce the reference's known quirks (see CLUE.md).
    pub compat: bool,
    /// Bootstrap seed.
    pub seed: u64,
    /// Bootstrap resamples per task.
    pub resamples: usize,
}

impl Default for EvalOptions {
    fn default() -> EvalOptions {
        let aggregation = AggregateOptions::default();
        EvalOptions {
            profile: Profile::default(),
            mode: ReadingMode::default(),
            limit: None,
            ids: None,
            longhealth_prompts: None,
            max_new_tokens: None,
            model_name: None,
            sampling_seed: TaskSettings::default().sampling_seed,
            compat: false,
            seed: aggregation.seed,
            resamples: aggregation.resamples,
        }
    }
}

/// LongHealth prompts per task and question in the reference (5 shuffles for task 1, 5
/// iterations each for tasks 2 and 3).
pub const LONGHEALTH_PROMPTS: usize = 5;

/// Longest generation a run may ask for: far above any CLUE task (LongHealth's is 512).
pub const MAX_NEW_TOKENS_LIMIT: usize = 32_768;

/// Most bootstrap resamples a run may ask for.
pub const MAX_RESAMPLES: usize = 100_000;

impl EvalOptions {
    /// Refuses settings that cannot be meant, naming the field.
    pub fn validate(&self) -> Result<(), EvalError> {
        let refuse =
            |field: &'static str, message: String| Err(EvalError::Settings { field, message });
        if self.limit == Some(0) {
            return refuse("limit", "must be at least 1".into());
        }
        if let Some(n) = self.longhealth_prompts
            && !(1..=LONGHEALTH_PROMPTS).contains(&n)
        {
            return refuse(
                "longhealth_prompts",
                format!(
                    "{n} is outside 1..={LONGHEALTH_PROMPTS} (the reference's prompts per task)"
                ),
            );
        }
        if let Some(n) = self.max_new_tokens
            && !(1..=MAX_NEW_TOKENS_LIMIT).contains(&n)
        {
            return refuse(
                "max_new_tokens",
                format!("{n} is outside 1..={MAX_NEW_TOKENS_LIMIT}"),
            );
        }
        if self.resamples > MAX_RESAMPLES {
            return refuse(
                "resamples",
                format!("{} is above {MAX_RESAMPLES}", self.resamples),
            );
        }
        if let Some(ids) = &self.ids
            && ids.is_empty()
        {
            return refuse(
                "ids",
                "is empty; leave it out to evaluate every example".into(),
            );
        }
        Ok(())
    }

    fn aggregation(&self) -> Result<AggregateOptions, EvalError> {
        let options = AggregateOptions {
            seed: self.seed,
            resamples: self.resamples,
            ..AggregateOptions::default()
        };
        if self.compat {
            Ok(options.with_clue_compat(self.profile.as_str())?)
        } else {
            Ok(options)
        }
    }
}

/// The reference measures prompt lengths with the model's tokenizer (`len(tokenizer.encode(…))`,
/// a BOS included where the tokenizer adds one). Encoding text never fails for valid UTF-8; if
/// it did, the length in bytes stands in, which can only over-count and so keeps prompts inside
/// the budget.
impl TokenCounter for Tokenizer {
    fn count(&self, text: &str) -> usize {
        self.encode_prompt(text).map_or(text.len(), |ids| ids.len())
    }

    fn truncate_right(&self, text: &str, max_tokens: usize) -> String {
        match self.encode_prompt(text) {
            Ok(ids) if ids.len() > max_tokens => self
                .decode(&ids[..max_tokens], false)
                .unwrap_or_else(|_| text.to_owned()),
            _ => text.to_owned(),
        }
    }

    fn truncate_left(&self, text: &str, max_tokens: usize) -> String {
        match self.encode_prompt(text) {
            Ok(ids) if ids.len() > max_tokens => self
                .decode(&ids[ids.len() - max_tokens..], false)
                .unwrap_or_else(|_| text.to_owned()),
            _ => text.to_owned(),
        }
    }
}

/// The model as the run record names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// The model file's (or directory's) name.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of the file.
    pub sha256: String,
    /// SHA-256 of the tokenizer, as `tokenizer.json` text.
    pub tokenizer_sha256: String,
    /// SHA-256 of the chat template's source; `None` for a base model.
    pub chat_template_sha256: Option<String>,
    /// How the prompts were put to the model.
    pub chat_style: ChatStyle,
    /// The name the reference's model-specific rules saw.
    pub name: String,
    /// Context length in tokens.
    pub context: usize,
}

/// One dataset of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRecord {
    /// The task.
    pub task: TaskId,
    /// The file's name.
    pub file: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Examples in the file.
    pub examples: usize,
    /// Requests evaluated (after the few-shot rows, the limit and the ids).
    pub requests: usize,
}

/// A completion as the model produced it: what the completion cache stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generated {
    /// The generated text, special tokens left out.
    pub completion: String,
    /// The generated ids (no end-of-sequence id).
    pub completion_ids: Vec<u32>,
    /// Why the generation ended.
    pub stop_reason: StopReason,
    /// Tokens of the prompt the model saw.
    pub prompt_tokens: usize,
    /// Milliseconds of prefill.
    pub prefill_ms: f64,
    /// Milliseconds of decoding.
    pub decode_ms: f64,
}

/// One line of the samples file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// The task.
    pub task: TaskId,
    /// The request id.
    pub id: String,
    /// SHA-256 of the rendered prompt text.
    pub prompt_sha256: String,
    /// The rendered prompt, unless the run leaves prompts out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Tokens of the prompt the model saw.
    pub prompt_tokens: usize,
    /// The generated text.
    pub completion: String,
    /// Generated tokens.
    pub completion_tokens: usize,
    /// Why the generation ended.
    pub stop_reason: StopReason,
    /// The model's answer: the completion cut before a stop string, as an inference server
    /// returns it. `clue score` reads this field.
    pub prediction: String,
    /// The text after the profile's clean-up, which the answer is read from.
    pub cleaned: String,
    /// What was read.
    pub answer: Answer,
    /// How it was read.
    pub mode: ReadingMode,
    /// The sample's metrics (fractions).
    pub metrics: SampleScores,
    /// Whether the completion came from the cache.
    pub cached: bool,
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Requests recorded.
    pub done: usize,
    /// Requests in the run.
    pub total: usize,
    /// Of those recorded, how many came from the cache.
    pub cached: usize,
    /// Of those recorded, how many were generated in this run.
    pub generated: usize,
    /// Tokens generated in this run.
    pub completion_tokens: usize,
    /// Generated tokens per second of decoding in this run.
    pub tokens_per_second: Option<f64>,
    /// Prompt tokens per second of prefill in this run.
    pub prompt_tokens_per_second: Option<f64>,
    /// Seconds left at this run's mean model time per generated request.
    pub eta_seconds: Option<f64>,
    /// The task of the next request to run; `None` when all are done.
    pub task: Option<TaskId>,
}

/// When and where the run happened: what only the caller knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunContext {
    /// Backend name (`cpu`, `webgpu`).
    pub backend: String,
    /// The device's adapter, as the platform describes it.
    pub adapter: String,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// End time, RFC 3339.
    pub ended_at: String,
}

/// The `run` block of the results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `clue-wasm`.
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// The model.
    pub model: ModelRecord,
    /// Backend, adapter and times.
    #[serde(flatten)]
    pub context: RunContext,
    /// The options the run was given.
    pub options: EvalOptions,
    /// The datasets.
    pub data: Vec<DataRecord>,
    /// LongHealth's distractor seed.
    pub longhealth_seed: u64,
    /// Requests in the run.
    pub requests: usize,
    /// Requests recorded; fewer than `requests` when the run was cancelled.
    pub completed: usize,
    /// Completions generated in this run.
    pub generated: usize,
    /// Completions taken from the cache.
    pub from_cache: usize,
    /// The BERT model BERTScore was computed with; `None` when it was not computed.
    pub bertscore: Option<BertScoreRecord>,
    /// The UMLS bridge's file and environment fingerprint; absent when UMLS-F1 was not
    /// computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub umls: Option<UmlsRecord>,
}

/// Which BERT model and layer gave the BERTScore values, and where they are comparable with
/// the paper's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertScoreRecord {
    /// The model directory's name.
    pub model: String,
    /// The layer compared.
    pub layer: usize,
    /// Tasks whose BERTScore used the model and layer the profile prescribes (SciBERT layer 8;
    /// Bio_ClinicalBERT layer 9 for Problem Summary and MeDiSumQA in the paper profile). On the
    /// others the values are not comparable with published numbers.
    pub comparable_tasks: Vec<TaskId>,
    /// Samples scored.
    pub samples: usize,
}

impl BertScoreRecord {
    /// The record of `samples` values from `model`'s `layer` on `tasks` under `profile`.
    pub(crate) fn new(
        model: &str,
        layer: usize,
        profile: Profile,
        tasks: impl Iterator<Item = TaskId>,
        samples: usize,
    ) -> BertScoreRecord {
        let lowered = model.to_lowercase();
        let mut comparable_tasks: Vec<TaskId> = tasks
            .filter(|&task| has_bertscore(task))
            .filter(|&task| {
                let (name, wanted) = prescribed_bert(profile, task);
                lowered.contains(&name.to_lowercase()) && layer == wanted
            })
            .collect();
        comparable_tasks.dedup();
        BertScoreRecord {
            model: model.to_owned(),
            layer,
            comparable_tasks,
            samples,
        }
    }
}

/// BERTScore of `(index, candidate, reference)` triples, each paired with its index.
pub async fn bertscore_by_index(
    scorer: &BertScorer,
    pairs: &[(usize, String, String)],
    options: BertScoreOptions,
) -> Result<Vec<(usize, BertScore)>, EvalError> {
    let candidates: Vec<&str> = pairs.iter().map(|(_, c, _)| c.as_str()).collect();
    let references: Vec<&str> = pairs.iter().map(|(_, _, r)| r.as_str()).collect();
    let scores = scorer.score(&candidates, &references, options).await?;
    Ok(pairs.iter().map(|(i, _, _)| *i).zip(scores).collect())
}

/// The model and layer the profile prescribes for a task's BERTScore (see CLUE.md).
pub fn prescribed_bert(profile: Profile, task: TaskId) -> (&'static str, usize) {
    match (profile, task) {
        (Profile::Paper, TaskId::ProbSum | TaskId::MeDiSumQa) => ("Bio_ClinicalBERT", 9),
        _ => ("scibert_scivocab_uncased", 8),
    }
}

/// The tasks BERTScore is computed for.
pub(crate) fn has_bertscore(task: TaskId) -> bool {
    matches!(task, TaskId::MeqSum | TaskId::ProbSum | TaskId::MeDiSumQa)
}

/// The results file: the scores (as `clue score --json` writes them) and the run block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResults {
    /// Task and level scores with confidence intervals.
    #[serde(flatten)]
    pub results: Results,
    /// What was run, on what, and how.
    pub run: RunRecord,
}

impl RunResults {
    /// The scores as CSV: one row per task metric, task score and level, with the 95% interval
    /// and the number of samples (`value` empty where a score is not computed).
    pub fn to_csv(&self) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut rows: Vec<[String; 6]> = Vec::new();
        let number = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
        for (task, score) in &self.results.tasks {
            for (metric, value) in &score.metrics {
                let ci = score.ci95.get(metric);
                rows.push([
                    task.as_str().to_owned(),
                    metric.as_str().to_owned(),
                    value.to_string(),
                    number(ci.map(|c| c[0])),
                    number(ci.map(|c| c[1])),
                    score
                        .metric_n
                        .get(metric)
                        .copied()
                        .unwrap_or(score.n)
                        .to_string(),
                ]);
            }
            rows.push([
                task.as_str().to_owned(),
                "task_score".to_owned(),
                number(score.composed.score),
                number(score.score_ci95.map(|c| c[0])),
                number(score.score_ci95.map(|c| c[1])),
                score.n.to_string(),
            ]);
        }
        for (name, level) in [
            ("level1", &self.results.levels.level1),
            ("level2", &self.results.levels.level2),
        ] {
            rows.push([
                name.to_owned(),
                "level_score".to_owned(),
                number(level.score),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        // Writing to memory fails only on allocation failure.
        let _ = writer.write_record(["task", "metric", "value", "ci95_low", "ci95_high", "n"]);
        for row in rows {
            let _ = writer.write_record(&row);
        }
        String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

/// A planned request: its prompt as the model will see it and what the completion depends on.
#[derive(Debug, Clone)]
struct Planned {
    request: Request,
    prompt: EncodedPrompt,
    prompt_sha256: String,
    cache_key: String,
    generation: GenerateSettings,
}

impl Planned {
    /// Refuses a completion of another prompt's length or longer than the generation length:
    /// one that cannot be this request's.
    fn check_lengths(&self, generated: &Generated) -> Result<(), EvalError> {
        let reason = if generated.prompt_tokens != self.prompt.ids.len() {
            format!(
                "{} prompt tokens, the request has {}",
                generated.prompt_tokens,
                self.prompt.ids.len()
            )
        } else if generated.completion_ids.len() > self.generation.max_new_tokens {
            format!(
                "{} completion tokens, at most {} are generated",
                generated.completion_ids.len(),
                self.generation.max_new_tokens
            )
        } else {
            return Ok(());
        };
        Err(EvalError::CacheMismatch {
            id: self.request.id.clone(),
            reason,
        })
    }
}

/// What a caller needs to show and cache one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestInfo {
    /// Position in the run.
    pub index: usize,
    /// The task.
    pub task: TaskId,
    /// The request id.
    pub id: String,
    /// SHA-256 of the rendered prompt.
    pub prompt_sha256: String,
    /// Tokens of the prompt the model sees.
    pub prompt_tokens: usize,
    /// The completion cache's key.
    pub cache_key: String,
    /// The rendered prompt.
    pub prompt: String,
}

/// One generation to run, owning what it needs so that it can outlive a borrow of the run.
#[derive(Debug, Clone)]
pub struct Job {
    ids: Vec<u32>,
    generation: GenerateSettings,
    stop_strings: Vec<String>,
}

impl Job {
    /// Generates the completion on `model` (the one the run was planned with); `on_token` sees
    /// each new id and may cancel.
    pub async fn run(
        &self,
        model: &LoadedModel,
        on_token: &mut dyn FnMut(u32) -> Control,
    ) -> Result<Generated, LoadError> {
        let completion = model
            .complete(&self.ids, &self.generation, &self.stop_strings, on_token)
            .await?;
        Ok(Generated {
            completion: model.decode(&completion.ids),
            completion_ids: completion.ids,
            stop_reason: completion.stop_reason,
            prompt_tokens: self.ids.len(),
            prefill_ms: completion.prefill_ms,
            decode_ms: completion.decode_ms,
        })
    }
}

/// A planned run and the samples recorded so far.
pub struct Evaluation {
    bertscore: Option<BertScoreRecord>,
    umls: Option<UmlsRecord>,
    settings: TaskSettings,
    options: EvalOptions,
    aggregation: AggregateOptions,
    model: ModelRecord,
    data: Vec<DataRecord>,
    planned: Vec<Planned>,
    samples: Vec<Option<SampleRecord>>,
    /// Model milliseconds spent prefilling and decoding the completions generated in this run.
    prefill_ms: f64,
    decode_ms: f64,
    /// Prompt tokens prefilled in this run.
    prefilled_tokens: usize,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Whether request `id` belongs to example `example` (LongHealth requests extend the
/// question's id with `/tT/iI`).
fn belongs_to(id: &str, example: &str) -> bool {
    id == example
        || id
            .strip_prefix(example)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl Evaluation {
    /// Plans a run of `model` on `datasets` (each with the bytes it was read from, for the
    /// record): builds every request, renders and encodes its prompt, and keys its completion.
    pub fn plan(
        model: &LoadedModel,
        datasets: &[(Dataset, &[u8])],
        options: EvalOptions,
    ) -> Result<Evaluation, EvalError> {
        options.validate()?;
        let aggregation = options.aggregation()?;
        if datasets.is_empty() {
            return Err(EvalError::Settings {
                field: "tasks",
                message: "no dataset to evaluate".into(),
            });
        }
        let mut seen: BTreeMap<TaskId, &str> = BTreeMap::new();
        for (dataset, _) in datasets {
            if let Some(first) = seen.insert(dataset.task, &dataset.source) {
                return Err(EvalError::Settings {
                    field: "data",
                    message: format!(
                        "{} and {first} are both {} files; give one file per task",
                        dataset.source, dataset.task
                    ),
                });
            }
        }
        let chat_style = model.chat_style()?;
        let template = model.chat_template()?;
        let context = model.model.config().max_position_embeddings;
        let settings = TaskSettings {
            profile: options.profile,
            chat_style,
            model_name: options
                .model_name
                .clone()
                .unwrap_or_else(|| model.file.clone()),
            max_new_tokens: options.max_new_tokens,
            context_size: Some(context),
            sampling_seed: options.sampling_seed,
            compat: options.compat,
            ..TaskSettings::default()
        };
        let tokenizer_json =
            model
                .tokenizer
                .to_tokenizer_json()
                .map_err(|source| LoadError::Tokenizer {
                    file: model.file.clone(),
                    source,
                })?;
        let model_record = ModelRecord {
            file: model.file.clone(),
            size: model.size,
            sha256: model.sha256.clone(),
            tokenizer_sha256: sha256_hex(tokenizer_json.as_bytes()),
            chat_template_sha256: model
                .tokenizer
                .chat_template()
                .map(|source| sha256_hex(source.as_bytes())),
            chat_style,
            name: settings.model_name.clone(),
            context,
        };
        let eos_ids = model.tokenizer.end_of_generation_ids().to_vec();

        let mut wanted: Option<BTreeSet<&str>> = options
            .ids
            .as_ref()
            .map(|ids| ids.iter().map(String::as_str).collect());
        let mut matched: BTreeSet<String> = BTreeSet::new();
        let mut planned = Vec::new();
        let mut data = Vec::new();
        // CLUE's order, whatever order the files came in.
        let mut ordered: Vec<&(Dataset, &[u8])> = datasets.iter().collect();
        ordered.sort_by_key(|(dataset, _)| dataset.task);
        for (dataset, bytes) in ordered {
            let requests = build_requests(dataset, &settings, &model.tokenizer)?;
            let mut kept_examples = Vec::new();
            let mut longhealth_kept: BTreeMap<(String, u8), usize> = BTreeMap::new();
            let selected: Vec<Request> = requests
                .into_iter()
                .filter(|request| match &wanted {
                    Some(ids) => {
                        let hit = ids.iter().find(|&&id| belongs_to(&request.id, id));
                        if let Some(id) = hit {
                            matched.insert((*id).to_owned());
                        }
                        hit.is_some()
                    }
                    None => true,
                })
                .filter(|request| {
                    let Some(limit) = options.limit else {
                        return true;
                    };
                    let example = dataset
                        .examples
                        .iter()
                        .find(|e| belongs_to(&request.id, &e.id))
                        .map_or(request.id.as_str(), |e| e.id.as_str());
                    if kept_examples.iter().any(|k| k == example) {
                        return true;
                    }
                    if kept_examples.len() < limit {
                        kept_examples.push(example.to_owned());
                        return true;
                    }
                    false
                })
                .filter(|request| {
                    let (Some(most), Reference::Choice { task, .. }) =
                        (options.longhealth_prompts, &request.reference)
                    else {
                        return true;
                    };
                    // The question is the id without its `/t{task}/i{iteration}` tail.
                    let question = request.id.rsplitn(3, '/').nth(2).unwrap_or(&request.id);
                    let kept = longhealth_kept
                        .entry((question.to_owned(), task.number()))
                        .or_insert(0);
                    *kept += 1;
                    *kept <= most
                })
                .collect();
            data.push(DataRecord {
                task: dataset.task,
                file: dataset.source.clone(),
                sha256: sha256_hex(bytes),
                examples: dataset.examples.len(),
                requests: selected.len(),
            });
            for request in selected {
                planned.push(plan_request(
                    model,
                    template.is_some(),
                    &model_record,
                    &eos_ids,
                    request,
                )?);
            }
        }
        if let Some(ids) = wanted.take() {
            let missing: Vec<&str> = ids
                .into_iter()
                .filter(|id| !matched.contains(*id))
                .collect();
            if !missing.is_empty() {
                return Err(EvalError::Settings {
                    field: "ids",
                    message: format!(
                        "no example or request has the id {}",
                        missing
                            .iter()
                            .map(|id| format!("{id:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        if planned.is_empty() {
            return Err(EvalError::Settings {
                field: "data",
                message: "the files yield no request to evaluate (every row is a few-shot row?)"
                    .into(),
            });
        }
        let samples = vec![None; planned.len()];
        Ok(Evaluation {
            bertscore: None,
            umls: None,
            settings,
            options,
            aggregation,
            model: model_record,
            data,
            planned,
            samples,
            prefill_ms: 0.0,
            decode_ms: 0.0,
            prefilled_tokens: 0,
        })
    }

    /// Requests in the run.
    pub fn len(&self) -> usize {
        self.planned.len()
    }

    /// Whether the run has no request (never true for a planned run).
    pub fn is_empty(&self) -> bool {
        self.planned.is_empty()
    }

    /// Whether request `index` has been recorded.
    pub fn is_done(&self, index: usize) -> bool {
        self.samples.get(index).is_some_and(Option::is_some)
    }

    /// The requests not yet recorded, in run order.
    pub fn pending(&self) -> Vec<usize> {
        (0..self.planned.len())
            .filter(|&i| !self.is_done(i))
            .collect()
    }

    fn planned(&self, index: usize) -> Result<&Planned, EvalError> {
        self.planned.get(index).ok_or(EvalError::Settings {
            field: "index",
            message: format!("{index} is not a request of this run of {}", self.len()),
        })
    }

    /// What a caller shows and caches of request `index`.
    pub fn request(&self, index: usize) -> Result<RequestInfo, EvalError> {
        let planned = self.planned(index)?;
        Ok(RequestInfo {
            index,
            task: planned.request.task,
            id: planned.request.id.clone(),
            prompt_sha256: planned.prompt_sha256.clone(),
            prompt_tokens: planned.prompt.ids.len(),
            cache_key: planned.cache_key.clone(),
            prompt: planned.prompt.text.clone(),
        })
    }

    /// The ids the model sees for request `index`.
    pub fn prompt_ids(&self, index: usize) -> Result<&[u32], EvalError> {
        Ok(&self.planned(index)?.prompt.ids)
    }

    /// The completion cache's key of request `index`: a hash of the model file, the backend,
    /// the prompt's ids and the generation settings, so a hit is the completion this run would
    /// generate.
    pub fn cache_key(&self, index: usize) -> Result<&str, EvalError> {
        Ok(&self.planned(index)?.cache_key)
    }

    /// The generation of request `index`, ready to run.
    pub fn job(&self, index: usize) -> Result<Job, EvalError> {
        let planned = self.planned(index)?;
        Ok(Job {
            ids: planned.prompt.ids.clone(),
            generation: planned.generation,
            stop_strings: planned.request.generation.stop_sequences.clone(),
        })
    }

    /// Checks that a cached completion fits request `index` and is what its ids say: the
    /// prompt's length, at most the generation length, ids of the vocabulary, and the text
    /// the tokenizer decodes from them. A runner drops an entry that fails (with a warning)
    /// and generates it again; nothing unchecked from a cache reaches the scores.
    pub fn verify_cached(
        &self,
        index: usize,
        generated: &Generated,
        model: &LoadedModel,
    ) -> Result<(), EvalError> {
        let planned = self.planned(index)?;
        let mismatch = |reason: String| {
            Err(EvalError::CacheMismatch {
                id: planned.request.id.clone(),
                reason,
            })
        };
        planned.check_lengths(generated)?;
        let vocab = model.tokenizer.vocab_size();
        if let Some(id) = generated
            .completion_ids
            .iter()
            .find(|&&id| id as usize >= vocab)
        {
            return mismatch(format!(
                "token id {id} is outside the vocabulary of {vocab}"
            ));
        }
        if model.decode(&generated.completion_ids) != generated.completion {
            return mismatch("its text is not what its token ids decode to".into());
        }
        Ok(())
    }

    /// Reads the answer out of `generated`, scores it and records the sample. A cached entry
    /// that does not fit the request (another prompt length) is refused; check it first with
    /// [`Evaluation::verify_cached`].
    pub fn record(
        &mut self,
        index: usize,
        generated: &Generated,
        cached: bool,
    ) -> Result<&SampleRecord, EvalError> {
        let planned = self.planned(index)?;
        planned.check_lengths(generated)?;
        let request = &planned.request;
        let prediction_text = cut_at_stop(
            &generated.completion,
            &generated.stop_reason,
            &request.generation.stop_sequences,
        );
        let prediction =
            read_prediction(request, &prediction_text, &self.settings, self.options.mode);
        let metrics = super::score_sample(request.task, &prediction, &request.reference)?;
        let record = SampleRecord {
            task: request.task,
            id: request.id.clone(),
            prompt_sha256: planned.prompt_sha256.clone(),
            prompt: Some(planned.prompt.text.clone()),
            prompt_tokens: planned.prompt.ids.len(),
            completion: generated.completion.clone(),
            completion_tokens: generated.completion_ids.len(),
            stop_reason: generated.stop_reason.clone(),
            prediction: prediction.raw,
            cleaned: prediction.cleaned,
            answer: prediction.answer,
            mode: prediction.mode,
            metrics,
            cached,
        };
        if !cached && !self.is_done(index) {
            self.prefill_ms += generated.prefill_ms;
            self.decode_ms += generated.decode_ms;
            self.prefilled_tokens += generated.prompt_tokens;
        }
        Ok(self.samples[index].insert(record))
    }

    /// The (sample index, candidate, reference) triples BERTScore is computed on: the recorded
    /// samples of MeQSum, Problem Summary and MeDiSumQA, the answer read against the reference.
    pub fn bertscore_pairs(&self) -> Vec<(usize, String, String)> {
        self.planned
            .iter()
            .zip(&self.samples)
            .enumerate()
            .filter_map(|(i, (planned, sample))| {
                let sample = sample.as_ref()?;
                match (&sample.answer, &planned.request.reference) {
                    (Answer::Text { text }, Reference::Text { text: gold })
                        if has_bertscore(sample.task) =>
                    {
                        Some((i, text.clone(), gold.clone()))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// Adds BERTScore P/R/F1 (from `model`'s `layer`) to the samples `scores` belong to.
    pub fn apply_bertscore(&mut self, model: &str, layer: usize, scores: &[(usize, BertScore)]) {
        for &(index, score) in scores {
            if let Some(Some(sample)) = self.samples.get_mut(index) {
                sample.metrics.insert(Metric::BertscoreP, score.precision);
                sample.metrics.insert(Metric::BertscoreR, score.recall);
                sample.metrics.insert(Metric::BertscoreF1, score.f1);
            }
        }
        self.bertscore = Some(BertScoreRecord::new(
            model,
            layer,
            self.options.profile,
            self.data.iter().map(|d| d.task),
            scores.len(),
        ));
    }

    /// Computes BERTScore with `scorer` for every sample that has it (see
    /// [`Evaluation::bertscore_pairs`]).
    pub async fn add_bertscore(
        &mut self,
        scorer: &BertScorer,
        options: BertScoreOptions,
    ) -> Result<(), EvalError> {
        let scores = bertscore_by_index(scorer, &self.bertscore_pairs(), options).await?;
        self.apply_bertscore(&scorer.model_name, scorer.layer, &scores);
        Ok(())
    }

    /// Adds UMLS P/R/F1 from the bridge's `file` to every recorded Problem Summary and
    /// MeDiSumQA sample; each needs its row, made from the same answer and reference, or nothing
    /// changes and the error names the id.
    pub fn apply_umls(&mut self, file: &UmlsFile) -> Result<(), EvalError> {
        let scores = super::umls_scores(
            file,
            self.planned
                .iter()
                .zip(&self.samples)
                .enumerate()
                .filter_map(|(i, (planned, sample))| {
                    let sample = sample.as_ref()?;
                    Some((
                        i,
                        sample.task,
                        sample.id.as_str(),
                        &sample.answer,
                        &planned.request.reference,
                    ))
                }),
        )?;
        for &(index, prf) in &scores {
            if let Some(Some(sample)) = self.samples.get_mut(index) {
                super::insert_umls(&mut sample.metrics, prf);
            }
        }
        self.umls = Some(file.record(scores.len()));
        Ok(())
    }

    /// The samples recorded so far, in run order.
    pub fn samples(&self) -> impl Iterator<Item = &SampleRecord> {
        self.samples.iter().flatten()
    }

    /// Where the run stands.
    pub fn progress(&self) -> Progress {
        let done = self.samples().count();
        let cached = self.samples().filter(|s| s.cached).count();
        let generated = done - cached;
        let completion_tokens: usize = self
            .samples()
            .filter(|s| !s.cached)
            .map(|s| s.completion_tokens)
            .sum();
        let seconds = (self.prefill_ms + self.decode_ms) / 1e3;
        let rate = |tokens: usize, ms: f64| (ms > 0.0).then(|| tokens as f64 * 1e3 / ms);
        let remaining = self.planned.len() - done;
        Progress {
            done,
            total: self.planned.len(),
            cached,
            generated,
            completion_tokens,
            tokens_per_second: rate(completion_tokens, self.decode_ms),
            prompt_tokens_per_second: rate(self.prefilled_tokens, self.prefill_ms),
            eta_seconds: (generated > 0).then(|| remaining as f64 * seconds / generated as f64),
            task: self
                .planned
                .iter()
                .zip(&self.samples)
                .find(|(_, s)| s.is_none())
                .map(|(p, _)| p.request.task),
        }
    }

    /// The scores of the samples recorded so far, with the run block.
    pub fn results(&self, context: RunContext) -> RunResults {
        let mut per_task: BTreeMap<TaskId, Vec<SampleScores>> = BTreeMap::new();
        for sample in self.samples() {
            per_task
                .entry(sample.task)
                .or_default()
                .push(sample.metrics.clone());
        }
        let progress = self.progress();
        RunResults {
            results: aggregate(&per_task, &self.aggregation),
            run: RunRecord {
                tool: env!("CARGO_PKG_NAME").to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                model: self.model.clone(),
                context,
                options: self.options.clone(),
                data: self.data.clone(),
                longhealth_seed: self.settings.longhealth_seed,
                requests: self.planned.len(),
                completed: progress.done,
                generated: progress.generated,
                from_cache: progress.cached,
                bertscore: self.bertscore.clone(),
                umls: self.umls.clone(),
            },
        }
    }

    /// The samples file: one JSON object per recorded request, in run order; without
    /// `include_prompts` the prompt text is left out (its hash stays).
    pub fn samples_jsonl(&self, include_prompts: bool) -> String {
        let mut out = String::new();
        for sample in self.samples() {
            let line = if include_prompts {
                serde_json::to_string(sample)
            } else {
                serde_json::to_string(&SampleRecord {
                    prompt: None,
                    ..sample.clone()
                })
            };
            // A record of strings, numbers and maps with string keys always serialises.
            out.push_str(&line.unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

/// Renders and encodes one request and keys its completion.
fn plan_request(
    model: &LoadedModel,
    has_template: bool,
    model_record: &ModelRecord,
    eos_ids: &[u32],
    request: Request,
) -> Result<Planned, EvalError> {
    let suffix = request.assistant_prefix.as_deref().unwrap_or("");
    let mut prompt = match &request.prompt {
        Prompt::Chat(messages) if has_template => model.encode_chat(messages, suffix)?,
        Prompt::Chat(_) => {
            return Err(crate::tasks::TaskError::NoChatTemplate {
                id: request.id.clone(),
            }
            .into());
        }
        Prompt::Plain(text) => model.encode_plain(&format!("{text}{suffix}"))?,
    };
    let prompt_sha256 = sha256_hex(prompt.text.as_bytes());
    // The paper profile's inference server keeps the last tokens of a prompt that is too long.
    if let Some(limit) = request.max_prompt_tokens
        && prompt.ids.len() > limit
    {
        prompt.ids.drain(..prompt.ids.len() - limit);
    }
    let generation = GenerateSettings {
        max_new_tokens: request.generation.max_new_tokens,
        sampling: request.generation.sampling,
    };
    #[derive(Serialize)]
    struct KeyParts<'a> {
        recipe: &'static str,
        engine: &'static str,
        model_sha256: &'a str,
        backend: &'static str,
        prompt_ids_sha256: String,
        generation: &'a GenerateSettings,
        stop_sequences: &'a [String],
        eos_ids: &'a [u32],
    }
    let id_bytes: Vec<u8> = prompt.ids.iter().flat_map(|id| id.to_le_bytes()).collect();
    let parts = KeyParts {
        recipe: CACHE_KEY_VERSION,
        engine: ENGINE,
        model_sha256: &model_record.sha256,
        // Greedy completions agree across backends only up to float rounding; a run records
        // the backend it ran on, so a completion is reused only on the backend that made it.
        backend: model.backend.as_str(),
        prompt_ids_sha256: sha256_hex(&id_bytes),
        generation: &generation,
        stop_sequences: &request.generation.stop_sequences,
        eos_ids,
    };
    let cache_key = sha256_hex(serde_json::to_string(&parts).unwrap_or_default().as_bytes());
    Ok(Planned {
        request,
        prompt,
        prompt_sha256,
        cache_key,
        generation,
    })
}

/// The completion as an inference server returns it: cut before the stop string that ended it.
fn cut_at_stop(completion: &str, reason: &StopReason, stops: &[String]) -> String {
    match reason {
        StopReason::StopString(stop) => completion
            .find(stop.as_str())
            .map_or(completion, |at| &completion[..at])
            .to_owned(),
        _ => {
            // A stop string can also sit inside the last token's text without being checked yet
            // (the generation ended for another reason at the same step); cut there too.
            let first = stops
                .iter()
                .filter_map(|s| completion.find(s.as_str()))
                .min();
            first.map_or(completion, |at| &completion[..at]).to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_belong_to_their_examples() {
        assert!(belongs_to("p1/3/t2/i4", "p1/3"));
        assert!(belongs_to("17", "17"));
        assert!(!belongs_to("171", "17"));
        assert!(!belongs_to("p1/30/t1/i0", "p1/3"));
    }

    #[test]
    fn completions_are_cut_before_the_stop_string() {
        let stops = vec!["<|eot_id|>".to_owned()];
        let reason = StopReason::StopString("<|eot_id|>".into());
        assert_eq!(cut_at_stop("yes<|eot_id|>x", &reason, &stops), "yes");
        assert_eq!(cut_at_stop("plain", &StopReason::Length, &stops), "plain");
        assert_eq!(cut_at_stop("a<|eot_id|>", &StopReason::Length, &stops), "a");
    }

    #[test]
    fn absurd_settings_name_their_field() {
        let bad = [
            EvalOptions {
                limit: Some(0),
                ..EvalOptions::default()
            },
            EvalOptions {
                max_new_tokens: Some(0),
                ..EvalOptions::default()
            },
            EvalOptions {
                resamples: 10_000_000,
                ..EvalOptions::default()
            },
            EvalOptions {
                ids: Some(Vec::new()),
                ..EvalOptions::default()
            },
            EvalOptions {
                longhealth_prompts: Some(6),
                ..EvalOptions::default()
            },
        ];
        let fields: Vec<String> = bad
            .iter()
            .map(|o| o.validate().unwrap_err().to_string())
            .collect();
        for (message, field) in fields.iter().zip([
            "limit",
            "max_new_tokens",
            "resamples",
            "ids",
            "longhealth_prompts",
        ]) {
            assert!(message.contains(field), "{message}");
        }
    }
}
