//! The runner: [`Evaluation`] plans a run of a model on datasets and records its samples
//! (`clue eval` and the page's worker drive it); [`rescore`] joins predictions made anywhere to
//! the requests a dataset yields, reads them as CLUE reads answers, scores and aggregates them
//! (`clue score` and the page's Rescore mode), one data file or several ([`rescore_all`]);
//! UMLS-F1 comes in from the bridge's file ([`Rescored::apply_umls`]). [`read_cache`] reads the
//! native completion cache's file.

mod cache_file;
mod predictions;
mod run;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::data::{DataError, Dataset, TaskId};
use crate::metrics::aggregate::{AggregateOptions, Results, aggregate};
use crate::metrics::bertscore::{BertScore, BertScoreOptions, BertScorer};
use crate::metrics::umls::{UmlsError, UmlsFile, UmlsRecord, has_umls};
use crate::metrics::{Metric, Prf, SampleScores};
use crate::tasks::{
    Answer, Prediction, Profile, ReadingMode, Reference, TaskError, TaskSettings, TokenCounter,
    build_requests, read_prediction, score,
};
pub use cache_file::{CacheFile, CacheLine, read_cache};
pub use predictions::{PredictionLine, PredictionsError, read_predictions};
pub use run::{
    BertScoreRecord, DataRecord, EvalOptions, Evaluation, Generated, Job, MAX_NEW_TOKENS_LIMIT,
    MAX_RESAMPLES, ModelRecord, Progress, RequestInfo, RunContext, RunRecord, RunResults,
    SampleRecord, bertscore_by_index, prescribed_bert,
};

/// Why a rescoring could not be done.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The dataset file is malformed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The predictions file is malformed.
    #[error(transparent)]
    Predictions(#[from] PredictionsError),
    /// Requests could not be built or a prediction not scored.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A prediction answers a request the dataset does not yield.
    #[error("{file}, line {line}, field \"id\": {id:?} is not a request of this {task} file{hint}")]
    UnknownId {
        /// The predictions file.
        file: String,
        /// Its line.
        line: usize,
        /// The unknown id.
        id: String,
        /// The task being scored.
        task: TaskId,
        /// What ids of this task look like, where that helps.
        hint: String,
    },
    /// The model could not be loaded, prompted or run.
    #[error(transparent)]
    Model(#[from] crate::model::LoadError),
    /// The aggregation settings are unusable.
    #[error(transparent)]
    Aggregate(#[from] crate::metrics::aggregate::AggregateError),
    /// A setting of the run cannot be meant.
    #[error("setting \"{field}\": {message}")]
    Settings {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A cached completion does not fit its request (the cache holds another run's entry under
    /// this key, which only a corrupted or tampered cache can do). Runners drop such an entry
    /// and generate the completion again.
    #[error("request {id}: the cached completion does not fit it ({reason})")]
    CacheMismatch {
        /// The request id.
        id: String,
        /// What does not fit.
        reason: String,
    },
    /// The UMLS bridge's file is unusable or does not fit the samples scored.
    #[error(transparent)]
    Umls(#[from] UmlsError),
    /// Not one prediction matched a request.
    #[error("{file}: no prediction matches a request of the {task} file")]
    NothingMatched {
        /// The predictions file.
        file: String,
        /// The task being scored.
        task: TaskId,
    },
}

/// One scored prediction, for the per-sample records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredSample {
    /// The task.
    pub task: TaskId,
    /// The request id.
    pub id: String,
    /// The raw output, its cleaned text, the answer read and how.
    pub prediction: Prediction,
    /// The sample's metrics (fractions).
    pub metrics: SampleScores,
    /// What the answer is scored against (BERTScore compares text answers with it).
    #[serde(skip)]
    pub reference: Reference,
}

/// Rescoring's outcome: the aggregate, the scored samples, and what had no prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rescored {
    /// Task and level scores with confidence intervals.
    #[serde(flatten)]
    pub results: Results,
    /// Per task, the ids of requests that had no prediction (they are not scored; the task's
    /// `n` counts only the answered ones).
    pub unanswered: BTreeMap<TaskId, Vec<String>>,
    /// Per task, the ids of predictions for rows the profile uses as few-shot examples; they
    /// are not evaluated (the reference removes them from the evaluated rows).
    pub few_shot_ignored: BTreeMap<TaskId, Vec<String>>,
    /// The BERT model and layer of the BERTScore values, when they were computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bertscore: Option<BertScoreRecord>,
    /// The UMLS bridge's file and environment, when UMLS-F1 was merged in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub umls: Option<UmlsRecord>,
    /// The scored samples in request order.
    #[serde(skip)]
    pub samples: Vec<ScoredSample>,
}

impl Rescored {
    /// The (sample index, answer, reference) pairs BERTScore is computed on: the text answers of
    /// MeQSum, Problem Summary and MeDiSumQA.
    pub fn bertscore_pairs(&self) -> Vec<(usize, String, String)> {
        self.samples
            .iter()
            .enumerate()
            .filter(|(_, sample)| run::has_bertscore(sample.task))
            .filter_map(
                |(i, sample)| match (&sample.prediction.answer, &sample.reference) {
                    (Answer::Text { text }, Reference::Text { text: gold }) => {
                        Some((i, text.clone(), gold.clone()))
                    }
                    _ => None,
                },
            )
            .collect()
    }

    /// Adds BERTScore P/R/F1 (from `model`'s `layer`) to the samples `scores` belong to and
    /// aggregates again with `aggregation`; `profile` says where the values are comparable
    /// with the paper's.
    pub fn apply_bertscore(
        &mut self,
        model: &str,
        layer: usize,
        profile: Profile,
        scores: &[(usize, BertScore)],
        aggregation: &AggregateOptions,
    ) {
        for &(index, score) in scores {
            if let Some(sample) = self.samples.get_mut(index) {
                sample.metrics.insert(Metric::BertscoreP, score.precision);
                sample.metrics.insert(Metric::BertscoreR, score.recall);
                sample.metrics.insert(Metric::BertscoreF1, score.f1);
            }
        }
        self.aggregate_again(aggregation);
        self.bertscore = Some(BertScoreRecord::new(
            model,
            layer,
            profile,
            self.results.tasks.keys().copied(),
            scores.len(),
        ));
    }

    /// Adds UMLS P/R/F1 from the bridge's `file` to every Problem Summary and MeDiSumQA sample
    /// and aggregates again with `aggregation`. Every such sample needs its row, made from the
    /// same answer and reference; otherwise nothing changes and the error names the id.
    pub fn apply_umls(
        &mut self,
        file: &UmlsFile,
        aggregation: &AggregateOptions,
    ) -> Result<(), EvalError> {
        let scores = umls_scores(
            file,
            self.samples
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.task, s.id.as_str(), &s.prediction.answer, &s.reference)),
        )?;
        for &(index, prf) in &scores {
            insert_umls(&mut self.samples[index].metrics, prf);
        }
        self.aggregate_again(aggregation);
        self.umls = Some(file.record(scores.len()));
        Ok(())
    }

    fn aggregate_again(&mut self, aggregation: &AggregateOptions) {
        let mut per_task: BTreeMap<TaskId, Vec<SampleScores>> = BTreeMap::new();
        for sample in &self.samples {
            per_task
                .entry(sample.task)
                .or_default()
                .push(sample.metrics.clone());
        }
        self.results = aggregate(&per_task, aggregation);
    }

    /// Computes BERTScore with `scorer` for every sample that has it (see
    /// [`Rescored::bertscore_pairs`]) and aggregates again.
    pub async fn add_bertscore(
        &mut self,
        scorer: &BertScorer,
        options: BertScoreOptions,
        profile: Profile,
        aggregation: &AggregateOptions,
    ) -> Result<(), EvalError> {
        let scores = run::bertscore_by_index(scorer, &self.bertscore_pairs(), options).await?;
        self.apply_bertscore(
            &scorer.model_name,
            scorer.layer,
            profile,
            &scores,
            aggregation,
        );
        Ok(())
    }
}

/// Stands in for the model's tokenizer where only the requests' ids and references matter:
/// LongHealth's token budget shapes which documents a prompt holds, never a request's id or gold
/// answer, so rescoring (and a test that needs only ids and references) can build requests
/// without the model. Roughly 4 characters a token.
pub struct NoTokenizer;

impl TokenCounter for NoTokenizer {
    fn count(&self, text: &str) -> usize {
        text.chars().count().div_ceil(4)
    }
    fn truncate_right(&self, text: &str, max_tokens: usize) -> String {
        text.chars().take(max_tokens * 4).collect()
    }
    fn truncate_left(&self, text: &str, max_tokens: usize) -> String {
        let skip = text.chars().count().saturating_sub(max_tokens * 4);
        text.chars().skip(skip).collect()
    }
}

/// Scores `predictions` (from the file named `predictions_file`) against the requests that
/// `dataset` yields under `settings`, reading answers in `mode`, and aggregates with
/// `aggregation`. A prediction for an id the dataset does not hold is an error (it usually
/// means the wrong file); predictions for the profile's few-shot rows are set aside and listed;
/// requests without a prediction are listed as unanswered.
pub fn rescore(
    dataset: &Dataset,
    predictions_file: &str,
    predictions: &[PredictionLine],
    settings: &TaskSettings,
    mode: ReadingMode,
    aggregation: &AggregateOptions,
) -> Result<Rescored, EvalError> {
    let requests = build_requests(dataset, settings, &NoTokenizer)?;
    let index: HashMap<&str, usize> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let mut answers: Vec<Option<&PredictionLine>> = vec![None; requests.len()];
    let mut few_shot = Vec::new();
    // A samples file holds every task of a run; only this dataset's lines are scored.
    let predictions: Vec<&PredictionLine> = predictions
        .iter()
        .filter(|line| line.task.is_none_or(|task| task == dataset.task))
        .collect();
    for line in predictions {
        match index.get(line.id.as_str()) {
            Some(&i) => answers[i] = Some(line),
            // Rows that serve as few-shot examples are not evaluated, as in the reference.
            None if dataset.examples.iter().any(|e| e.id == line.id) => {
                few_shot.push(line.id.clone());
            }
            None => {
                let hint = if dataset.task == TaskId::LongHealth {
                    " (LongHealth ids have the form patient/No/tTASK/iITERATION)"
                } else {
                    ""
                };
                return Err(EvalError::UnknownId {
                    file: predictions_file.to_string(),
                    line: line.line,
                    id: line.id.clone(),
                    task: dataset.task,
                    hint: hint.to_string(),
                });
            }
        }
    }

    let mut samples = Vec::new();
    let mut unanswered = Vec::new();
    for (request, answer) in requests.iter().zip(&answers) {
        let Some(answer) = answer else {
            unanswered.push(request.id.clone());
            continue;
        };
        let prediction = read_prediction(request, &answer.prediction, settings, mode);
        let metrics = score_sample(request.task, &prediction, &request.reference)?;
        samples.push(ScoredSample {
            task: request.task,
            id: request.id.clone(),
            prediction,
            metrics,
            reference: request.reference.clone(),
        });
    }
    if samples.is_empty() {
        return Err(EvalError::NothingMatched {
            file: predictions_file.to_string(),
            task: dataset.task,
        });
    }
    let per_task = BTreeMap::from([(
        dataset.task,
        samples
            .iter()
            .map(|s| s.metrics.clone())
            .collect::<Vec<_>>(),
    )]);
    Ok(Rescored {
        results: aggregate(&per_task, aggregation),
        unanswered: BTreeMap::from([(dataset.task, unanswered)]),
        few_shot_ignored: BTreeMap::from([(dataset.task, few_shot)]),
        bertscore: None,
        umls: None,
        samples,
    })
}

/// [`rescore`] over several data files (one per task) and one predictions file, aggregated
/// together, so that a samples file of a whole run gets its Level scores. With more than one
/// data file every prediction line must name its task (samples files do), since ids repeat
/// across tasks.
pub fn rescore_all(
    datasets: &[Dataset],
    predictions_file: &str,
    predictions: &[PredictionLine],
    settings: &TaskSettings,
    mode: ReadingMode,
    aggregation: &AggregateOptions,
) -> Result<Rescored, EvalError> {
    let mut tasks = std::collections::BTreeSet::new();
    for dataset in datasets {
        if !tasks.insert(dataset.task) {
            return Err(EvalError::Settings {
                field: "data",
                message: format!(
                    "two data files of {} ({}); give one file per task",
                    dataset.task, dataset.source
                ),
            });
        }
    }
    if datasets.len() > 1
        && let Some(line) = predictions.iter().find(|line| line.task.is_none())
    {
        return Err(PredictionsError {
            file: predictions_file.to_string(),
            line: Some(line.line),
            message: "field \"task\" is missing; with several data files each prediction \
                      must name its task (a samples file of a run does)"
                .into(),
        }
        .into());
    }
    let mut all: Option<Rescored> = None;
    for dataset in datasets {
        let one = rescore(
            dataset,
            predictions_file,
            predictions,
            settings,
            mode,
            aggregation,
        )?;
        match &mut all {
            None => all = Some(one),
            Some(all) => {
                all.unanswered.extend(one.unanswered);
                all.few_shot_ignored.extend(one.few_shot_ignored);
                all.samples.extend(one.samples);
            }
        }
    }
    let Some(mut all) = all else {
        return Err(EvalError::Settings {
            field: "data",
            message: "no data file given".into(),
        });
    };
    all.aggregate_again(aggregation);
    Ok(all)
}

/// A prediction's metrics: the task's own ([`score`]) and, for the tasks that display UMLS-F1,
/// the Concept-F1 substitute, which stands beside them and never enters a score.
pub(crate) fn score_sample(
    task: TaskId,
    prediction: &Prediction,
    reference: &Reference,
) -> Result<SampleScores, TaskError> {
    let mut metrics = score(prediction, reference)?;
    if has_umls(task)
        && let (Answer::Text { text }, Reference::Text { text: gold }) =
            (&prediction.answer, reference)
    {
        metrics.extend(crate::metrics::concepts::sample_scores(text, gold));
    }
    Ok(metrics)
}

/// The UMLS P/R/F1 of each `(index, task, id, answer, reference)` whose task displays UMLS-F1,
/// all checked against `file` before any is used.
pub(crate) fn umls_scores<'a>(
    file: &UmlsFile,
    samples: impl Iterator<Item = (usize, TaskId, &'a str, &'a Answer, &'a Reference)>,
) -> Result<Vec<(usize, Prf)>, EvalError> {
    let mut scores = Vec::new();
    for (index, task, id, answer, reference) in samples {
        if !has_umls(task) {
            continue;
        }
        if let (Answer::Text { text }, Reference::Text { text: gold }) = (answer, reference) {
            scores.push((index, file.scores(task, id, text, gold)?));
        }
    }
    Ok(scores)
}

/// Puts UMLS P/R/F1 into a sample's metrics.
pub(crate) fn insert_umls(metrics: &mut SampleScores, prf: Prf) {
    metrics.insert(Metric::UmlsP, prf.precision);
    metrics.insert(Metric::UmlsR, prf.recall);
    metrics.insert(Metric::UmlsF1, prf.fmeasure);
}
