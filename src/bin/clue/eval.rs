//! `clue eval`: a whole CLUE evaluation on this machine — the model on the chosen backend, the
//! given data files or the embedded demo sets, a progress bar, the score table — written as
//! results JSON, samples JSON Lines and CSV. Completions go to a cache file next to the output
//! as they finish, so a killed run, rerun, recomputes nothing that finished.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use clue_wasm::data::{self, Dataset, TaskId, demo};
use clue_wasm::eval::{CacheLine, EvalOptions, Evaluation, Generated, RunContext, read_cache};
use clue_wasm::metrics::bertscore::{BertScoreOptions, BertScorer};
use clue_wasm::metrics::umls::UmlsFile;
use clue_wasm::model::{Backend, Control, LoadedModel};
use indicatif::{ProgressBar, ProgressStyle};

use crate::score::{print_out, table};

/// What `clue eval` was asked to do.
pub struct EvalArgs {
    pub model: PathBuf,
    pub tasks: Option<Vec<TaskId>>,
    pub data: Vec<(TaskId, PathBuf)>,
    /// Run the demo sets whole instead of the quick demo.
    pub full_demo: bool,
    pub options: EvalOptions,
    pub backend: Backend,
    pub out: PathBuf,
    pub no_cache: bool,
    pub no_prompts: bool,
    pub json: bool,
    pub bert_model: Option<PathBuf>,
    pub bert_layer: Option<usize>,
    /// The UMLS bridge's output for this run's samples.
    pub umls: Option<PathBuf>,
}

/// The completion cache: `cache.jsonl` in the output directory, one completion per line,
/// appended and flushed as each finishes. A line cut short by a kill is skipped on reading.
struct CompletionCache {
    entries: HashMap<String, Generated>,
    file: Option<BufWriter<File>>,
    path: PathBuf,
}

impl CompletionCache {
    fn open(path: PathBuf, enabled: bool) -> Result<CompletionCache, String> {
        let mut entries = HashMap::new();
        if !enabled {
            return Ok(CompletionCache {
                entries,
                file: None,
                path,
            });
        }
        if let Ok(bytes) = std::fs::read(&path) {
            let cache = read_cache(&bytes);
            if let Some(warning) = cache.warning(&path.display().to_string()) {
                eprintln!("{warning}");
            }
            entries = cache.entries;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(CompletionCache {
            entries,
            file: Some(BufWriter::new(file)),
            path,
        })
    }

    fn get(&self, key: &str) -> Option<&Generated> {
        self.entries.get(key)
    }

    fn put(&mut self, key: &str, generated: &Generated) -> Result<(), String> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        let line = serde_json::to_string(&CacheLine {
            key: key.to_owned(),
            generated: generated.clone(),
        })
        .map_err(|e| e.to_string())?;
        // A newline first would be safer after a torn line, but the reader skips those anyway.
        writeln!(file, "{line}")
            .and_then(|()| file.flush())
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

/// RFC 3339 time in UTC, from the system clock.
fn now_rfc3339() -> String {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// What the backend runs on, as far as this process can tell.
fn adapter(backend: Backend) -> String {
    match backend {
        Backend::Cpu => format!(
            "CPU ({} threads)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ),
        Backend::WebGpu => "wgpu default adapter (Vulkan/Metal/DX12)".to_owned(),
    }
}

/// The `*.json` and `*.safetensors` files of a model directory, as (name, bytes).
fn read_directory(path: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let listing = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path).map_err(listing)? {
        let entry = entry.map_err(listing)?;
        if entry.path().is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    // pytorch_model.bin only stands in for safetensors (the loaders prefer those), so it is
    // not read, and held in memory, beside them.
    let has_safetensors = names.iter().any(|n| n.ends_with(".safetensors"));
    let mut files = Vec::new();
    for name in names {
        let wanted = name.ends_with(".safetensors")
            || name.ends_with(".json")
            || name == "vocab.txt"
            || (name == clue_wasm::loader::pytorch::PYTORCH_FILE && !has_safetensors);
        if wanted {
            let file = path.join(&name);
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            files.push((name, bytes));
        }
    }
    Ok(files)
}

/// Loads a BERT model for BERTScore: a model directory, or one of the prescribed models by name
/// (`scibert`, `bio-clinicalbert`; fetched once from the hub, see `hub.rs`). Without `layer`,
/// SciBERT and Bio_ClinicalBERT get CLUE's layers (8 and 9); other models must name one.
pub fn load_bert(
    path: &Path,
    layer: Option<usize>,
    backend: Backend,
) -> Result<BertScorer, String> {
    let hub = (!path.exists())
        .then(|| super::hub::find(&path.to_string_lossy()))
        .flatten();
    let name = match hub {
        Some(model) => model.name.to_owned(),
        None => path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
    };
    let lowered = name.to_lowercase();
    let layer = match (layer, hub) {
        (Some(layer), _) => layer,
        (None, Some(model)) => model.layer,
        (None, None) if lowered.contains("scibert") => 8,
        (None, None) if lowered.contains("clinicalbert") => 9,
        (None, None) => {
            return Err(format!(
                "--bert-model {}: say which layer BERTScore reads with --bert-layer",
                path.display()
            ));
        }
    };
    let files = match hub {
        Some(model) => super::hub::fetch(model)?,
        None => read_directory(path)?,
    };
    pollster::block_on(BertScorer::from_hf_directory(&name, &files, layer, backend))
        .map_err(|e| e.to_string())
}

/// Loads a GGUF file or a Hugging Face model directory, or a model of the page's list by name
/// (`Qwen2.5-0.5B-Instruct`), from `models/` — `clue` does not download: the error says from
/// where. A listed model's file must have the list's SHA-256.
pub fn load_model(given: &Path, backend: Backend) -> Result<LoadedModel, String> {
    let known = (!given.exists())
        .then(|| clue_wasm::model::known_model(&given.to_string_lossy()))
        .flatten();
    let listed_path;
    let path = match known {
        Some(model) => {
            listed_path = Path::new("models").join(&model.file);
            if !listed_path.exists() {
                return Err(format!(
                    "{} is a known model, but {} is missing: download {} there ({}; {})",
                    model.name,
                    listed_path.display(),
                    model.url,
                    model.licence,
                    model.source
                ));
            }
            listed_path.as_path()
        }
        None => given,
    };
    let loaded = load_model_file(path, backend)?;
    if let Some(model) = known
        && let Some(sha256) = &model.sha256
        && *sha256 != loaded.sha256
    {
        return Err(format!(
            "{}: SHA-256 {} is not the {} file of the list ({sha256})",
            path.display(),
            loaded.sha256,
            model.name
        ));
    }
    Ok(loaded)
}

fn load_model_file(path: &Path, backend: Backend) -> Result<LoadedModel, String> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if path.is_dir() {
        let files = read_directory(path)?;
        return pollster::block_on(LoadedModel::from_hf_directory(&name, &files, backend))
            .map_err(|e| e.to_string());
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    pollster::block_on(LoadedModel::from_gguf(&name, &bytes, backend)).map_err(|e| e.to_string())
}

/// The datasets to run: each task's `--data` file, else its demo set.
fn datasets(args: &EvalArgs) -> Result<Vec<(Dataset, Vec<u8>)>, String> {
    let tasks: Vec<TaskId> = match &args.tasks {
        Some(tasks) => tasks.clone(),
        None if !args.data.is_empty() => args.data.iter().map(|(task, _)| *task).collect(),
        None => TaskId::ALL.to_vec(),
    };
    for (task, path) in &args.data {
        if !tasks.contains(task) {
            return Err(format!(
                "--data {task}={}: {task} is not among --tasks",
                path.display()
            ));
        }
    }
    let mut out = Vec::new();
    for task in tasks {
        let (name, bytes) = match args.data.iter().find(|(t, _)| *t == task) {
            Some((_, path)) => (
                path.display().to_string(),
                std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
            ),
            None => {
                let file = demo::file(task);
                (format!("demo/{}", file.name), file.bytes.to_vec())
            }
        };
        let dataset = data::read(&name, &bytes, Some(task)).map_err(|e| e.to_string())?;
        out.push((dataset, bytes));
    }
    Ok(out)
}

/// Runs the evaluation, writes its files and prints the table.
pub fn run(mut args: EvalArgs) -> Result<(), String> {
    let started_at = now_rfc3339();
    let datasets = datasets(&args)?;
    // Read before the model loads, so that a wrong file fails at once, not after the run.
    let umls = match &args.umls {
        Some(path) => Some(
            UmlsFile::read(
                &path.display().to_string(),
                &std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
            )
            .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let uses_demo = datasets.iter().any(|(d, _)| d.source.starts_with("demo/"));
    // On the demo sets alone, with no selection of examples, the first impression is the quick
    // demo: the first example of each set, LongHealth's in one prompt per task (8 requests
    // instead of the full sets' 275).
    let demo_only = datasets.iter().all(|(d, _)| d.source.starts_with("demo/"));
    if demo_only && !args.full_demo && args.options.limit.is_none() && args.options.ids.is_none() {
        args.options.limit = Some(demo::QUICK_LIMIT);
        args.options
            .longhealth_prompts
            .get_or_insert(demo::QUICK_LONGHEALTH_PROMPTS);
        let total: usize = datasets.iter().map(|(d, _)| d.examples.len()).sum();
        eprintln!(
            "quick demo: the first example of each demo set, LongHealth's in one prompt per task \
             (--full-demo runs all {total} examples)"
        );
    }
    eprintln!(
        "loading {} on {}",
        args.model.display(),
        args.backend.as_str()
    );
    let model = load_model(&args.model, args.backend)?;
    let borrowed: Vec<(Dataset, &[u8])> = datasets
        .iter()
        .map(|(dataset, bytes)| (dataset.clone(), bytes.as_slice()))
        .collect();
    let mut evaluation =
        Evaluation::plan(&model, &borrowed, args.options.clone()).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut cache = CompletionCache::open(args.out.join("cache.jsonl"), !args.no_cache)?;

    let bar = ProgressBar::new(evaluation.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {msg} · elapsed {elapsed_precise} · ETA {eta_precise}",
        )
        .map_err(|e| e.to_string())?,
    );
    let wall = Instant::now();
    for index in 0..evaluation.len() {
        let key = evaluation
            .cache_key(index)
            .map_err(|e| e.to_string())?
            .to_owned();
        // A cached entry is used only if it fits its request and its text is its ids'; one
        // that does not (a corrupted or tampered cache.jsonl) is dropped with a warning and
        // generated again, and the new line supersedes it.
        let hit = cache.get(&key).cloned().filter(|hit| {
            match evaluation.verify_cached(index, hit, &model) {
                Ok(()) => true,
                Err(error) => {
                    bar.suspend(|| {
                        eprintln!(
                            "{}: {error}; dropped, generating it again",
                            cache.path.display()
                        )
                    });
                    false
                }
            }
        });
        let (generated, cached) = match hit {
            Some(hit) => (hit, true),
            None => {
                let job = evaluation.job(index).map_err(|e| e.to_string())?;
                let generated = pollster::block_on(job.run(&model, &mut |_| Control::Continue))
                    .map_err(|e| e.to_string())?;
                cache.put(&key, &generated)?;
                (generated, false)
            }
        };
        evaluation
            .record(index, &generated, cached)
            .map_err(|e| e.to_string())?;
        let progress = evaluation.progress();
        let speed = progress
            .tokens_per_second
            .map(|s| format!("{s:.1} tok/s"))
            .unwrap_or_else(|| "cached".into());
        bar.set_message(format!(
            "{} · {speed} · {} from cache",
            progress.task.map_or("done", TaskId::as_str),
            progress.cached
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if let Some(file) = &umls {
        evaluation.apply_umls(file).map_err(|e| e.to_string())?;
    }
    if let Some(path) = &args.bert_model {
        let scorer = load_bert(path, args.bert_layer, args.backend)?;
        eprintln!("BERTScore: {} layer {}", scorer.model_name, scorer.layer);
        pollster::block_on(evaluation.add_bertscore(&scorer, BertScoreOptions::default()))
            .map_err(|e| e.to_string())?;
    }

    let context = RunContext {
        backend: model.backend.as_str().to_owned(),
        adapter: adapter(model.backend),
        started_at,
        ended_at: now_rfc3339(),
    };
    let results = evaluation.results(context);
    let write = |name: &str, text: &str| {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())? + "\n";
    write("results.json", &json)?;
    write("samples.jsonl", &evaluation.samples_jsonl(!args.no_prompts))?;
    write("results.csv", &results.to_csv())?;
    let progress = evaluation.progress();
    eprintln!(
        "{} requests in {:.1} s: {} generated, {} from the cache; wrote {}",
        progress.total,
        wall.elapsed().as_secs_f64(),
        progress.generated,
        progress.cached,
        args.out
            .join("{results.json, samples.jsonl, results.csv}")
            .display()
    );
    if uses_demo {
        eprintln!("{}", demo::NOTICE);
    }
    warn_not_comparable(
        results.run.bertscore.as_ref(),
        results.run.options.profile,
        &results.results,
        results.run.data.iter().map(|d| d.task),
    );
    if args.json {
        print_out(&json)
    } else {
        print_out(&table(&results.results, &Default::default()))
    }
}

/// Warns on stderr for each task whose BERTScore came from another model or layer than the
/// profile prescribes: those numbers are not comparable with the paper's.
pub fn warn_not_comparable(
    bert: Option<&clue_wasm::eval::BertScoreRecord>,
    profile: clue_wasm::tasks::Profile,
    results: &clue_wasm::metrics::aggregate::Results,
    tasks: impl IntoIterator<Item = clue_wasm::data::TaskId>,
) {
    let Some(bert) = bert else { return };
    for task in tasks {
        let (model, layer) = clue_wasm::eval::prescribed_bert(profile, task);
        let has_it = results.tasks.get(&task).is_some_and(|t| {
            t.metrics
                .contains_key(&clue_wasm::metrics::Metric::BertscoreF1)
        });
        if has_it && !bert.comparable_tasks.contains(&task) {
            eprintln!(
                "{task}: BERTScore from {} layer {} is not comparable with the paper's ({profile} \
                 profile: {model} layer {layer})",
                bert.model, bert.layer
            );
        }
    }
}
