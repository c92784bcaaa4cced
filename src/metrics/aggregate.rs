//! Aggregation: per-example scores → per-task means with seeded percentile-bootstrap 95%
//! intervals, the task score by CLUE's published rule, and Level 1 / Level 2. An explicit compat
//! switch reproduces the reference code's averaging quirk (first example counted twice).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Metric, SampleScores};
use crate::data::TaskId;

/// Resamples per bootstrap unless the caller asks otherwise.
pub const DEFAULT_RESAMPLES: usize = 1000;

/// Errors in aggregation settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggregateError {
    /// The profile name given for the compat switch is not one of CLUE's two profiles.
    #[error(
        "unknown profile {name:?} for the compat averaging (expected paper-2024-06 or current-2025-01)"
    )]
    UnknownProfile {
        /// The name as given.
        name: String,
    },
}

/// The metrics the paper shows for a task, in its column order; the task score is their mean.
///
/// The order matches the columns of `published-results.json` (`metric_order`), which is what
/// lets the published check map each number array onto metrics by position.
pub fn displayed_metrics(task: TaskId) -> &'static [Metric] {
    match task {
        TaskId::MedNli => &[Metric::Accuracy],
        TaskId::MeqSum => &[
            Metric::RougeL,
            Metric::Rouge1,
            Metric::Rouge2,
            Metric::BertscoreF1,
        ],
        TaskId::ProbSum | TaskId::MeDiSumQa => &[
            Metric::RougeL,
            Metric::Rouge1,
            Metric::Rouge2,
            Metric::BertscoreF1,
            Metric::UmlsF1,
        ],
        TaskId::LongHealth => &[Metric::Task1, Metric::Task2, Metric::Task3],
        TaskId::MeDiSumCode => &[Metric::IcdEmF1, Metric::IcdApF1, Metric::IcdValid],
    }
}

/// The tasks whose means the reference code computes with the first example counted twice,
/// for a profile name (`paper-2024-06`: every task but LongHealth; `current-2025-01`: MedNLI
/// and MeDiSumCode). Pass the result as [`AggregateOptions::compat`] to reproduce its numbers.
pub fn compat_tasks(profile_name: &str) -> Result<BTreeSet<TaskId>, AggregateError> {
    match profile_name {
        "paper-2024-06" => Ok(TaskId::ALL
            .into_iter()
            .filter(|&task| task != TaskId::LongHealth)
            .collect()),
        "current-2025-01" => Ok(BTreeSet::from([TaskId::MedNli, TaskId::MeDiSumCode])),
        _ => Err(AggregateError::UnknownProfile {
            name: profile_name.to_owned(),
        }),
    }
}

/// A score composed as a plain mean of parts, some of which may not have been computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComposedScore<Part> {
    /// The plain mean of all parts; `None` ("not computed") when any part is missing — never a
    /// mean that counts the missing part as 0.
    pub score: Option<f64>,
    /// The parts that were missing, in display order; empty when `score` is set.
    pub not_computed: Vec<Part>,
    /// Only when `score` is `None`: the mean of the parts that exist. Not comparable with the
    /// published numbers, hence its own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_score: Option<f64>,
}

impl<Part> ComposedScore<Part> {
    fn from_parts(parts: impl IntoIterator<Item = (Part, Option<f64>)>) -> ComposedScore<Part> {
        let mut present = Vec::new();
        let mut not_computed = Vec::new();
        for (part, value) in parts {
            match value {
                Some(value) => present.push(value),
                None => not_computed.push(part),
            }
        }
        let mean =
            (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64);
        if not_computed.is_empty() {
            ComposedScore {
                score: mean,
                not_computed,
                partial_score: None,
            }
        } else {
            ComposedScore {
                score: None,
                not_computed,
                partial_score: mean,
            }
        }
    }
}

/// A task's score from its averaged metrics: the plain mean of [`displayed_metrics`].
///
/// The metrics may be fractions or percentages (a plain mean keeps the scale); the per-sample
/// aggregation and the check against the published numbers both go through this one rule.
pub fn task_score(task: TaskId, metrics: &BTreeMap<Metric, f64>) -> ComposedScore<Metric> {
    ComposedScore::from_parts(
        displayed_metrics(task)
            .iter()
            .map(|metric| (*metric, metrics.get(metric).copied())),
    )
}

/// CLUE's two levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// Level 1: MedNLI, MeQSum, Problem Summary (short inputs).
    #[serde(rename = "level1")]
    One,
    /// Level 2: LongHealth, MeDiSumQA, MeDiSumCode (long discharge letters).
    #[serde(rename = "level2")]
    Two,
}

impl Level {
    /// Both levels, in order.
    pub const ALL: [Level; 2] = [Level::One, Level::Two];

    /// The level's number as the paper writes it (1 or 2).
    pub fn number(self) -> u8 {
        match self {
            Level::One => 1,
            Level::Two => 2,
        }
    }

    /// The level's tasks in CLUE's order.
    pub fn tasks(self) -> impl Iterator<Item = TaskId> {
        TaskId::ALL
            .into_iter()
            .filter(move |task| task.level() == self.number())
    }
}

/// A level's score: the mean of its three task scores; the missing or incomplete tasks are
/// listed in `not_computed`.
pub type LevelScore = ComposedScore<TaskId>;

/// A level's score from the composed scores of whichever tasks were evaluated.
///
/// The score needs all of the level's tasks with a full score. The partial variant averages,
/// over the level's evaluated tasks, each task's score or else its partial score.
pub fn level_score(level: Level, tasks: &BTreeMap<TaskId, ComposedScore<Metric>>) -> LevelScore {
    let mut level_score = ComposedScore::from_parts(
        level
            .tasks()
            .map(|task| (task, tasks.get(&task).and_then(|t| t.score))),
    );
    if level_score.score.is_none() {
        let parts: Vec<f64> = level
            .tasks()
            .filter_map(|task| tasks.get(&task))
            .filter_map(|task| task.score.or(task.partial_score))
            .collect();
        level_score.partial_score =
            (!parts.is_empty()).then(|| parts.iter().sum::<f64>() / parts.len() as f64);
    }
    level_score
}

/// How samples are aggregated; recorded in the results so that every number can be redone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateOptions {
    /// Seed of the bootstrap; each task draws from its own stream derived from it and the
    /// task's position in [`TaskId::ALL`], so a task's interval does not depend on the others.
    pub seed: u64,
    /// Bootstrap resamples per task; 0 computes no intervals.
    pub resamples: usize,
    /// Tasks whose means reproduce the reference's quirk of counting the first example twice
    /// (see [`compat_tasks`]); empty for plain means.
    pub compat: BTreeSet<TaskId>,
}

impl Default for AggregateOptions {
    fn default() -> AggregateOptions {
        AggregateOptions {
            seed: 0,
            resamples: DEFAULT_RESAMPLES,
            compat: BTreeSet::new(),
        }
    }
}

impl AggregateOptions {
    /// These options with the compat averaging of a profile (`paper-2024-06`,
    /// `current-2025-01`) switched on.
    pub fn with_clue_compat(self, profile_name: &str) -> Result<AggregateOptions, AggregateError> {
        Ok(AggregateOptions {
            compat: compat_tasks(profile_name)?,
            ..self
        })
    }
}

/// One task's aggregate, as fractions in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScore {
    /// Number of samples.
    pub n: usize,
    /// Mean of each metric over the samples that have it.
    pub metrics: BTreeMap<Metric, f64>,
    /// Percentile-bootstrap 95% interval `[low, high]` of each metric's (plain) mean.
    pub ci95: BTreeMap<Metric, [f64; 2]>,
    /// The task score by the published rule, its missing metrics and partial variant.
    #[serde(flatten)]
    pub composed: ComposedScore<Metric>,
    /// Percentile-bootstrap 95% interval of the task score, where the score is computed.
    pub score_ci95: Option<[f64; 2]>,
    /// Samples that have each metric (LongHealth's three tasks are scored on different samples).
    pub metric_n: BTreeMap<Metric, usize>,
    /// Whether the means (and so the score) count the first sample twice, as the reference
    /// does (compat switch); the intervals stay those of the plain means.
    pub compat_double_first: bool,
}

/// Both levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Levels {
    /// Level 1: MedNLI, MeQSum, Problem Summary.
    pub level1: LevelScore,
    /// Level 2: LongHealth, MeDiSumQA, MeDiSumCode.
    pub level2: LevelScore,
}

/// The results of an evaluation: per task, per level, and how they were aggregated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Per evaluated task.
    pub tasks: BTreeMap<TaskId, TaskScore>,
    /// Level 1 and Level 2.
    pub levels: Levels,
    /// The seed, resamples and compat tasks used.
    pub aggregation: AggregateOptions,
}

/// Aggregates the per-sample scores of every evaluated task into task and level scores.
pub fn aggregate(
    samples: &BTreeMap<TaskId, Vec<SampleScores>>,
    options: &AggregateOptions,
) -> Results {
    let tasks: BTreeMap<TaskId, TaskScore> = samples
        .iter()
        .map(|(&task, task_samples)| (task, aggregate_task(task, task_samples, options)))
        .collect();
    let composed: BTreeMap<TaskId, ComposedScore<Metric>> = tasks
        .iter()
        .map(|(&task, score)| (task, score.composed.clone()))
        .collect();
    Results {
        tasks,
        levels: Levels {
            level1: level_score(Level::One, &composed),
            level2: level_score(Level::Two, &composed),
        },
        aggregation: options.clone(),
    }
}

/// Aggregates one task's per-sample scores (in sample order, which the compat quirk needs).
pub fn aggregate_task(
    task: TaskId,
    samples: &[SampleScores],
    options: &AggregateOptions,
) -> TaskScore {
    let double_first = options.compat.contains(&task);
    let mut sums: BTreeMap<Metric, (f64, usize)> = BTreeMap::new();
    for sample in samples {
        for (&metric, &value) in sample {
            let (sum, count) = sums.entry(metric).or_insert((0.0, 0));
            // The reference appends a metric's first value twice when it creates its list.
            if double_first && *count == 0 {
                *sum += value;
            }
            *sum += value;
            *count += 1;
        }
    }
    let extra = usize::from(double_first);
    let metrics: BTreeMap<Metric, f64> = sums
        .iter()
        .map(|(&metric, &(sum, count))| (metric, sum / (count + extra) as f64))
        .collect();
    let metric_n = sums
        .iter()
        .map(|(&metric, &(_, count))| (metric, count))
        .collect();
    let composed = task_score(task, &metrics);

    let mut rng = SplitMix64::new(task_seed(options.seed, task));
    let bootstrap = bootstrap(
        task,
        samples,
        options.resamples,
        composed.score.is_some(),
        &mut rng,
    );
    TaskScore {
        n: samples.len(),
        metrics,
        ci95: bootstrap.metrics,
        composed,
        score_ci95: bootstrap.score,
        metric_n,
        compat_double_first: double_first,
    }
}

fn task_seed(seed: u64, task: TaskId) -> u64 {
    let position = TaskId::ALL
        .iter()
        .position(|&t| t == task)
        .expect("TaskId::ALL lists every task");
    // The task's stream starts at the seeder's output number `position`.
    let mut seeder = SplitMix64::new(seed);
    for _ in 0..position {
        seeder.next_u64();
    }
    seeder.next_u64()
}

/// The 95% intervals of one task.
struct Intervals {
    metrics: BTreeMap<Metric, [f64; 2]>,
    score: Option<[f64; 2]>,
}

/// Percentile bootstrap: draw `samples.len()` samples with replacement, `resamples` times; take
/// each metric's plain mean over the drawn samples that have it (a resample where none has it
/// gives no value for it) and the task score from those means; the interval is the 2.5th and
/// 97.5th percentile of the resampled values.
fn bootstrap(
    task: TaskId,
    samples: &[SampleScores],
    resamples: usize,
    with_score: bool,
    rng: &mut SplitMix64,
) -> Intervals {
    let metrics: Vec<Metric> = samples
        .iter()
        .flat_map(|sample| sample.keys().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rows: Vec<Vec<Option<f64>>> = samples
        .iter()
        .map(|sample| metrics.iter().map(|m| sample.get(m).copied()).collect())
        .collect();
    let mut metric_draws = vec![Vec::with_capacity(resamples); metrics.len()];
    let mut score_draws = Vec::new();
    if !rows.is_empty() {
        for _ in 0..resamples {
            let mut sums = vec![(0.0, 0usize); metrics.len()];
            for _ in 0..rows.len() {
                let row = &rows[rng.below(rows.len())];
                for ((sum, count), value) in sums.iter_mut().zip(row) {
                    if let Some(value) = value {
                        *sum += value;
                        *count += 1;
                    }
                }
            }
            let mut means = BTreeMap::new();
            for ((&metric, (sum, count)), draws) in metrics.iter().zip(sums).zip(&mut metric_draws)
            {
                if count > 0 {
                    let mean = sum / count as f64;
                    draws.push(mean);
                    means.insert(metric, mean);
                }
            }
            if with_score && let Some(score) = task_score(task, &means).score {
                score_draws.push(score);
            }
        }
    }
    Intervals {
        metrics: metrics
            .into_iter()
            .zip(metric_draws)
            .filter_map(|(metric, draws)| Some((metric, interval95(draws)?)))
            .collect(),
        score: interval95(score_draws),
    }
}

/// The 2.5th and 97.5th percentiles, linearly interpolated as NumPy's default `percentile`.
fn interval95(mut draws: Vec<f64>) -> Option<[f64; 2]> {
    if draws.is_empty() {
        return None;
    }
    draws.sort_by(f64::total_cmp);
    Some([percentile(&draws, 0.025), percentile(&draws, 0.975)])
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    let fraction = position - low as f64;
    sorted[low] + fraction * (sorted[high] - sorted[low])
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator with integer-only steps, so the same
/// seed draws the same resamples natively and in WebAssembly.
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A draw from `0..n` by multiply-shift (Lemire); its bias, below n / 2⁶⁴, is immaterial here.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs of the C reference (prng.di.unimi.it/splitmix64.c) for seeds 0 and 1234567.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
        let mut rng = SplitMix64::new(1_234_567);
        let outputs: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            outputs,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = SplitMix64::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            seen[rng.below(5)] = true;
        }
        assert_eq!(seen, [true; 5]);
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], [2.5, 97.5]) == [1.075, 3.925]
        let [low, high] = interval95(vec![4.0, 1.0, 3.0, 2.0]).unwrap();
        assert!((low - 1.075).abs() < 1e-12 && (high - 3.925).abs() < 1e-12);
        assert_eq!(interval95(vec![0.5]), Some([0.5, 0.5]));
        assert_eq!(interval95(Vec::new()), None);
    }

    fn sample(values: &[(Metric, f64)]) -> SampleScores {
        values.iter().copied().collect()
    }

    fn summaries(count: usize) -> Vec<SampleScores> {
        (0..count)
            .map(|i| {
                let x = (i * 37 % 101) as f64 / 100.0;
                sample(&[
                    (Metric::Rouge1, x),
                    (Metric::Rouge2, x * x),
                    (Metric::RougeL, 1.0 - x),
                    (Metric::BertscoreF1, 0.5 + x / 2.0),
                ])
            })
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn bootstrap_is_deterministic_for_a_seed() {
        let samples = BTreeMap::from([(TaskId::MeqSum, summaries(50))]);
        let options = AggregateOptions {
            seed: 42,
            ..AggregateOptions::default()
        };
        let first = aggregate(&samples, &options);
        assert_eq!(first, aggregate(&samples, &options));
        let other = aggregate(
            &samples,
            &AggregateOptions {
                seed: 43,
                ..options
            },
        );
        assert_ne!(
            first.tasks[&TaskId::MeqSum].ci95,
            other.tasks[&TaskId::MeqSum].ci95
        );
        assert_eq!(first.aggregation.seed, 42);
    }

    #[test]
    fn a_task_interval_does_not_depend_on_the_other_tasks() {
        let options = AggregateOptions::default();
        let alone = aggregate(&BTreeMap::from([(TaskId::MeqSum, summaries(30))]), &options);
        let with_other = aggregate(
            &BTreeMap::from([
                (TaskId::MedNli, vec![sample(&[(Metric::Accuracy, 1.0)])]),
                (TaskId::MeqSum, summaries(30)),
            ]),
            &options,
        );
        assert_eq!(
            alone.tasks[&TaskId::MeqSum],
            with_other.tasks[&TaskId::MeqSum]
        );
    }

    #[test]
    fn intervals_contain_the_means() {
        let task = aggregate_task(TaskId::MeqSum, &summaries(80), &AggregateOptions::default());
        assert_eq!(task.ci95.len(), 4);
        for (metric, [low, high]) in &task.ci95 {
            let mean = task.metrics[metric];
            assert!(
                low < &mean && &mean < high,
                "{metric}: {mean} outside [{low}, {high}]"
            );
        }
        let score = task.composed.score.unwrap();
        let [low, high] = task.score_ci95.unwrap();
        assert!(
            low < score && score < high,
            "{score} outside [{low}, {high}]"
        );
    }

    #[test]
    fn interval_of_two_opposite_samples_spans_both() {
        // Resample means are 0, ½ or 1 with chances ¼, ½, ¼: the 2.5th percentile is 0 and the
        // 97.5th is 1 for any reasonable number of resamples.
        let samples = [
            sample(&[(Metric::Accuracy, 0.0)]),
            sample(&[(Metric::Accuracy, 1.0)]),
        ];
        let task = aggregate_task(TaskId::MedNli, &samples, &AggregateOptions::default());
        assert_eq!(task.ci95[&Metric::Accuracy], [0.0, 1.0]);
        assert_eq!(task.score_ci95, Some([0.0, 1.0]));
        assert!(close(task.metrics[&Metric::Accuracy], 0.5));
    }

    #[test]
    fn a_single_sample_has_a_point_interval() {
        let samples = [sample(&[
            (Metric::IcdEmF1, 0.25),
            (Metric::IcdApF1, 0.5),
            (Metric::IcdValid, 0.75),
        ])];
        let task = aggregate_task(TaskId::MeDiSumCode, &samples, &AggregateOptions::default());
        assert_eq!(task.n, 1);
        assert_eq!(task.ci95[&Metric::IcdApF1], [0.5, 0.5]);
        assert!(close(task.composed.score.unwrap(), 0.5));
        assert_eq!(task.score_ci95, Some([0.5, 0.5]));
    }

    #[test]
    fn no_resamples_no_intervals() {
        let options = AggregateOptions {
            resamples: 0,
            ..AggregateOptions::default()
        };
        let task = aggregate_task(TaskId::MeqSum, &summaries(5), &options);
        assert!(task.ci95.is_empty());
        assert_eq!(task.score_ci95, None);
        assert!(task.composed.score.is_some());
    }

    #[test]
    fn compat_counts_the_first_sample_twice() {
        let samples: Vec<SampleScores> = [1.0, 0.0, 0.0, 1.0]
            .iter()
            .map(|&x| sample(&[(Metric::Accuracy, x)]))
            .collect();
        let plain = aggregate_task(TaskId::MedNli, &samples, &AggregateOptions::default());
        assert!(close(plain.metrics[&Metric::Accuracy], 0.5));
        assert!(!plain.compat_double_first);
        let options = AggregateOptions::default()
            .with_clue_compat("paper-2024-06")
            .unwrap();
        let compat = aggregate_task(TaskId::MedNli, &samples, &options);
        // (2·1 + 0 + 0 + 1) / 5
        assert!(close(compat.metrics[&Metric::Accuracy], 0.6));
        assert!(close(compat.composed.score.unwrap(), 0.6));
        assert!(compat.compat_double_first);
        assert_eq!(compat.n, 4);
    }

    #[test]
    fn compat_doubles_each_metric_at_its_own_first_sample() {
        let samples = [
            sample(&[(Metric::Task1, 1.0)]),
            sample(&[(Metric::Task2, 0.0)]),
            sample(&[(Metric::Task2, 1.0)]),
        ];
        let options = AggregateOptions {
            compat: BTreeSet::from([TaskId::LongHealth]),
            ..AggregateOptions::default()
        };
        let task = aggregate_task(TaskId::LongHealth, &samples, &options);
        assert!(close(task.metrics[&Metric::Task1], 1.0));
        // (2·0 + 1) / 3
        assert!(close(task.metrics[&Metric::Task2], 1.0 / 3.0));
        assert_eq!(task.metric_n[&Metric::Task2], 2);
    }

    #[test]
    fn compat_tasks_per_profile() {
        let paper = compat_tasks("paper-2024-06").unwrap();
        assert_eq!(paper.len(), 5);
        assert!(!paper.contains(&TaskId::LongHealth));
        assert_eq!(
            compat_tasks("current-2025-01").unwrap(),
            BTreeSet::from([TaskId::MedNli, TaskId::MeDiSumCode])
        );
        assert_eq!(
            compat_tasks("paper"),
            Err(AggregateError::UnknownProfile {
                name: "paper".into()
            })
        );
    }

    #[test]
    fn absent_metrics_are_not_counted_as_zero() {
        // LongHealth: each sample belongs to one of the three tasks.
        let samples = [
            sample(&[(Metric::Task1, 1.0)]),
            sample(&[(Metric::Task1, 1.0)]),
            sample(&[(Metric::Task2, 0.5)]),
            sample(&[(Metric::Task3, 0.0)]),
        ];
        let task = aggregate_task(TaskId::LongHealth, &samples, &AggregateOptions::default());
        assert!(close(task.metrics[&Metric::Task1], 1.0));
        assert!(close(task.metrics[&Metric::Task2], 0.5));
        assert!(close(task.composed.score.unwrap(), 0.5));
        assert_eq!(task.n, 4);
        assert_eq!(task.metric_n[&Metric::Task1], 2);
    }

    #[test]
    fn a_displayed_metric_never_computed_leaves_the_score_out() {
        // MeQSum without a BERT model: no BERTScore, so no task score, only a partial one.
        let samples = [
            sample(&[
                (Metric::Rouge1, 0.3),
                (Metric::Rouge2, 0.1),
                (Metric::RougeL, 0.2),
            ]),
            sample(&[
                (Metric::Rouge1, 0.5),
                (Metric::Rouge2, 0.3),
                (Metric::RougeL, 0.4),
            ]),
        ];
        let task = aggregate_task(TaskId::MeqSum, &samples, &AggregateOptions::default());
        assert_eq!(task.composed.score, None);
        assert_eq!(task.score_ci95, None);
        assert_eq!(task.composed.not_computed, [Metric::BertscoreF1]);
        assert!(close(task.composed.partial_score.unwrap(), 0.3));
    }

    #[test]
    fn levels_need_all_their_tasks() {
        let full = |score: f64| ComposedScore {
            score: Some(score),
            not_computed: vec![],
            partial_score: None,
        };
        let mut tasks = BTreeMap::from([
            (TaskId::MedNli, full(0.6)),
            (TaskId::MeqSum, full(0.3)),
            (TaskId::ProbSum, full(0.3)),
            (TaskId::LongHealth, full(0.5)),
        ]);
        let level1 = level_score(Level::One, &tasks);
        assert!(close(level1.score.unwrap(), 0.4));
        assert_eq!(level1.partial_score, None);
        let level2 = level_score(Level::Two, &tasks);
        assert_eq!(level2.score, None);
        assert_eq!(
            level2.not_computed,
            [TaskId::MeDiSumQa, TaskId::MeDiSumCode]
        );
        assert!(close(level2.partial_score.unwrap(), 0.5));

        tasks.insert(
            TaskId::ProbSum,
            ComposedScore {
                score: None,
                not_computed: vec![Metric::UmlsF1],
                partial_score: Some(0.9),
            },
        );
        let level1 = level_score(Level::One, &tasks);
        assert_eq!(level1.score, None);
        assert_eq!(level1.not_computed, [TaskId::ProbSum]);
        assert!(close(level1.partial_score.unwrap(), 0.6));
    }

    #[test]
    fn results_serialize_with_metric_and_task_keys() {
        let samples = BTreeMap::from([
            (TaskId::MedNli, vec![sample(&[(Metric::Accuracy, 1.0)])]),
            (TaskId::MeqSum, vec![sample(&[(Metric::Rouge1, 0.5)])]),
        ]);
        let results = aggregate(&samples, &AggregateOptions::default());
        let json = serde_json::to_value(&results).unwrap();
        assert_eq!(json["tasks"]["mednli"]["n"], 1);
        assert_eq!(json["tasks"]["mednli"]["score"], 1.0);
        assert_eq!(
            json["tasks"]["mednli"]["ci95"]["accuracy"],
            serde_json::json!([1.0, 1.0])
        );
        assert_eq!(json["tasks"]["meqsum"]["metrics"]["rouge1"], 0.5);
        assert_eq!(json["tasks"]["meqsum"]["score"], serde_json::Value::Null);
        assert_eq!(
            json["tasks"]["meqsum"]["not_computed"],
            serde_json::json!(["rougeL", "rouge2", "bertscore_f1"])
        );
        assert_eq!(json["tasks"]["meqsum"]["partial_score"], 0.5);
        assert_eq!(json["levels"]["level1"]["score"], serde_json::Value::Null);
        assert_eq!(
            json["levels"]["level1"]["not_computed"],
            serde_json::json!(["meqsum", "probsum"])
        );
        assert_eq!(json["aggregation"]["resamples"], DEFAULT_RESAMPLES);
        let back: Results = serde_json::from_value(json).unwrap();
        assert_eq!(back, results);
    }

    #[test]
    fn task_seeds_differ_per_task() {
        let seeds: BTreeSet<u64> = TaskId::ALL.iter().map(|&t| task_seed(3, t)).collect();
        assert_eq!(seeds.len(), TaskId::ALL.len());
    }
}
