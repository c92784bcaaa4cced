//! `clue score`: rescoring predictions made anywhere against official CLUE files (one, or one
//! per task for a whole run's samples), with BERTScore and the UMLS bridge's values when given,
//! printed as a table (task, metric, value, 95% CI; Level 1 and Level 2) or as one JSON object.

use std::collections::BTreeMap;
use std::path::Path;

use clue_wasm::data::{self, TaskId};
use clue_wasm::eval::{self, Rescored};
use clue_wasm::metrics::aggregate::{AggregateOptions, ComposedScore, Results};
use clue_wasm::metrics::bertscore::BertScoreOptions;
use clue_wasm::metrics::umls::UmlsFile;
use clue_wasm::model::Backend;
use clue_wasm::tasks::{ChatStyle, Profile, ReadingMode, TaskSettings};

/// What `clue score` was asked to do, validated.
pub struct ScoreArgs<'a> {
    pub task: Option<TaskId>,
    pub data: &'a [(Option<TaskId>, std::path::PathBuf)],
    pub predictions: &'a Path,
    pub umls: Option<&'a Path>,
    pub profile: Profile,
    pub mode: ReadingMode,
    pub compat: bool,
    pub model_name: String,
    pub chat_style: ChatStyle,
    pub seed: u64,
    pub resamples: usize,
    pub json: bool,
    pub bert_model: Option<&'a Path>,
    pub bert_layer: Option<usize>,
    pub backend: Backend,
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs the rescoring and prints it.
pub fn run(args: ScoreArgs<'_>) -> Result<(), String> {
    if args.data.len() > 1 && args.task.is_some() {
        return Err("--task goes with one --data file; give several as TASK=FILE".into());
    }
    let mut datasets = Vec::new();
    for (task, path) in args.data {
        let name = path.display().to_string();
        datasets.push(
            data::read(&name, &read_file(path)?, task.or(args.task)).map_err(|e| e.to_string())?,
        );
    }
    let predictions_name = args.predictions.display().to_string();
    let predictions = eval::read_predictions(&predictions_name, &read_file(args.predictions)?)
        .map_err(|e| e.to_string())?;
    let settings = TaskSettings {
        profile: args.profile,
        chat_style: args.chat_style,
        model_name: args.model_name,
        compat: args.compat,
        ..TaskSettings::default()
    };
    let mut aggregation = AggregateOptions {
        seed: args.seed,
        resamples: args.resamples,
        ..AggregateOptions::default()
    };
    if args.compat {
        aggregation = aggregation
            .with_clue_compat(args.profile.as_str())
            .map_err(|e| e.to_string())?;
    }
    let mut rescored = eval::rescore_all(
        &datasets,
        &predictions_name,
        &predictions,
        &settings,
        args.mode,
        &aggregation,
    )
    .map_err(|e| e.to_string())?;
    if let Some(path) = args.umls {
        let file = UmlsFile::read(&path.display().to_string(), &read_file(path)?)
            .map_err(|e| e.to_string())?;
        rescored
            .apply_umls(&file, &aggregation)
            .map_err(|e| e.to_string())?;
    }
    if let Some(path) = args.bert_model {
        let scorer = super::eval::load_bert(path, args.bert_layer, args.backend)?;
        pollster::block_on(rescored.add_bertscore(
            &scorer,
            BertScoreOptions::default(),
            args.profile,
            &aggregation,
        ))
        .map_err(|e| e.to_string())?;
        super::eval::warn_not_comparable(
            rescored.bertscore.as_ref(),
            args.profile,
            &rescored.results,
            datasets.iter().map(|d| d.task),
        );
    }
    let text = if args.json {
        serde_json::to_string_pretty(&rescored).map_err(|e| e.to_string())? + "\n"
    } else {
        table(&rescored.results, &notes(&rescored))
    };
    print_out(&text)
}

/// Writes to stdout; a reader that stopped early (`| head`) is not an error.
pub fn print_out(text: &str) -> Result<(), String> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

fn percent(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

fn composed<P: std::fmt::Display>(score: &ComposedScore<P>) -> String {
    match (score.score, score.partial_score) {
        (Some(s), _) => percent(s),
        (None, partial) => {
            let missing: Vec<String> = score.not_computed.iter().map(|p| p.to_string()).collect();
            let partial = partial
                .map(|p| format!("; partial {}", percent(p)))
                .unwrap_or_default();
            format!("not computed (missing {}{partial})", missing.join(", "))
        }
    }
}

/// What the table says under each task about predictions that were not scored.
fn notes(rescored: &Rescored) -> BTreeMap<TaskId, Vec<String>> {
    let mut notes: BTreeMap<TaskId, Vec<String>> = BTreeMap::new();
    for (task, missing) in rescored.unanswered.iter().filter(|(_, m)| !m.is_empty()) {
        notes.entry(*task).or_default().push(format!(
            "{} request(s) had no prediction and are not scored (first: {})",
            missing.len(),
            missing[0]
        ));
    }
    for (task, ignored) in rescored
        .few_shot_ignored
        .iter()
        .filter(|(_, m)| !m.is_empty())
    {
        notes.entry(*task).or_default().push(format!(
            "{} prediction(s) for few-shot rows set aside (not evaluated, as in CLUE)",
            ignored.len()
        ));
    }
    notes
}

/// The score table: one row per metric with its 95% CI, the task score, the notes under each
/// task, and the levels.
pub fn table(results: &Results, notes: &BTreeMap<TaskId, Vec<String>>) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<12} {:<14} {:>8}  {:<17} {:>5}\n",
        "task", "metric", "value %", "95% CI", "n"
    ));
    for (task, score) in &results.tasks {
        for (metric, value) in &score.metrics {
            let ci = score
                .ci95
                .get(metric)
                .map(|[lo, hi]| format!("[{}, {}]", percent(*lo), percent(*hi)))
                .unwrap_or_default();
            let n = score.metric_n.get(metric).copied().unwrap_or(score.n);
            out.push_str(&format!(
                "{:<12} {:<14} {:>8}  {:<17} {:>5}\n",
                task.as_str(),
                metric.as_str(),
                percent(*value),
                ci,
                n
            ));
        }
        match (score.composed.score, score.score_ci95) {
            (Some(value), ci) => out.push_str(&format!(
                "{:<12} {:<14} {:>8}  {:<17} {:>5}\n",
                task.as_str(),
                "task score",
                percent(value),
                ci.map(|[lo, hi]| format!("[{}, {}]", percent(lo), percent(hi)))
                    .unwrap_or_default(),
                score.n
            )),
            (None, _) => out.push_str(&format!(
                "{:<12} {:<14} {}\n",
                task.as_str(),
                "task score",
                composed(&score.composed)
            )),
        }
        if score.compat_double_first {
            out.push_str(&format!(
                "{:<12} (compat: means count the first sample twice, as the reference does)\n",
                ""
            ));
        }
        for note in notes.get(task).into_iter().flatten() {
            out.push_str(&format!("{:<12} {note}\n", ""));
        }
    }
    let levels = &results.levels;
    out.push_str(&format!("Level 1      {}\n", composed(&levels.level1)));
    out.push_str(&format!("Level 2      {}\n", composed(&levels.level2)));
    out
}
