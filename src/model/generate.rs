//! Generation and scoring on any backend: each step reads one row of logits asynchronously and
//! chooses the token on the host (greedy or seeded nucleus sampling); prompt log-probabilities
//! and lm-evaluation-harness log-likelihoods are reduced on the device and read once per window.

use burn::tensor::{Int, Tensor, TensorData, activation};
use serde::{Deserialize, Serialize};

use super::decoder::{Decoder, LogitsAt, ModelError};
use super::device::{Backend, read_f32};
use crate::tasks::Sampling;

/// Length and decoding of one generation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GenerateSettings {
    /// Most tokens to generate.
    pub max_new_tokens: usize,
    /// How each token is chosen: the most likely (the lowest id among equals), or a seeded draw
    /// from the softmax of `logits / temperature` restricted to the smallest set of most likely
    /// tokens whose mass reaches `top_p` (Holtzman et al. 2020; 0 keeps one token, 1 all).
    /// Temperature 0 means greedy, as in vLLM; the same seed draws the same tokens natively and
    /// in the browser.
    pub sampling: Sampling,
}

/// What ends a generation besides its length: end-of-sequence ids and stop strings, checked on
/// the text of the tokens generated so far.
pub struct StopRule<'a> {
    /// Ids that end the generation (the tokenizer's EOS, a chat template's end of turn).
    pub eos_ids: &'a [u32],
    /// Strings whose appearance in the generated text ends the generation.
    pub stop_strings: &'a [String],
    /// Decodes generated ids to text (the tokenizer's decode), for the stop strings.
    pub decode: &'a dyn Fn(&[u32]) -> String,
}

impl StopRule<'_> {
    /// The first stop string the text of `ids` contains; decodes only when there are any.
    fn found_in(&self, ids: &[u32]) -> Option<&String> {
        if self.stop_strings.is_empty() {
            return None;
        }
        let text = (self.decode)(ids);
        self.stop_strings.iter().find(|s| text.contains(s.as_str()))
    }
}

/// The caller's answer after each token: go on or cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Generate the next token.
    Continue,
    /// End the generation now.
    Stop,
}

/// Why a generation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model chose this end-of-sequence id (not included in the completion).
    Eos(u32),
    /// The generated text contains this stop string; the completion keeps the token that
    /// completed it, and the caller cuts the text at the string.
    StopString(String),
    /// `max_new_tokens` tokens were generated.
    Length,
    /// The context is full: the last token has no position left to run at.
    ContextFull,
    /// The caller answered [`Control::Stop`].
    Cancelled,
}

/// The outcome of [`generate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated ids, without the prompt and without an end-of-sequence id.
    pub ids: Vec<u32>,
    /// Natural log-probability of each id under the model (log-softmax of the raw logits,
    /// whatever the sampling).
    pub logprobs: Vec<f32>,
    /// Why the generation ended.
    pub stop_reason: StopReason,
    /// Milliseconds running the prompt up to the first token's logits.
    pub prefill_ms: f64,
    /// Milliseconds generating the rest.
    pub decode_ms: f64,
}

/// Generates a continuation of `prompt_ids`, calling `on_token` with each generated id as soon
/// as it is chosen. The same code runs on every backend: one asynchronous read of the last
/// position's logits per token, the choice on the host.
pub async fn generate(
    model: &Decoder,
    backend: Backend,
    prompt_ids: &[u32],
    settings: &GenerateSettings,
    stop: &StopRule<'_>,
    on_token: &mut dyn FnMut(u32) -> Control,
) -> Result<Completion, ModelError> {
    let mut chooser = TokenChooser::new(settings.sampling)?;
    if stop.stop_strings.iter().any(String::is_empty) {
        return Err(ModelError::Settings {
            field: "stop_strings",
            message: "contains an empty string, which would stop every generation".into(),
        });
    }
    if prompt_ids.is_empty() {
        return Err(ModelError::EmptyInput { what: "prompt" });
    }
    let mut completion = Completion {
        ids: Vec::new(),
        logprobs: Vec::new(),
        stop_reason: StopReason::Length,
        prefill_ms: 0.0,
        decode_ms: 0.0,
    };
    if settings.max_new_tokens == 0 {
        return Ok(completion);
    }
    let context = model.config().max_position_embeddings;
    let mut cache = model.new_cache();
    let prefill = Stopwatch::start();
    let logits = model.forward(prompt_ids, &mut cache, LogitsAt::Last)?;
    let mut row = read_f32(backend, logits).await?;
    completion.prefill_ms = prefill.elapsed_ms();

    let decode = Stopwatch::start();
    completion.stop_reason = loop {
        let id = chooser.choose(&row);
        if stop.eos_ids.contains(&id) {
            break StopReason::Eos(id);
        }
        completion.ids.push(id);
        completion.logprobs.push(log_softmax_at(&row, id));
        if on_token(id) == Control::Stop {
            break StopReason::Cancelled;
        }
        if let Some(found) = stop.found_in(&completion.ids) {
            break StopReason::StopString(found.clone());
        }
        if completion.ids.len() == settings.max_new_tokens {
            break StopReason::Length;
        }
        if cache.len() == context {
            break StopReason::ContextFull;
        }
        let logits = model.forward(&[id], &mut cache, LogitsAt::Last)?;
        row = read_f32(backend, logits).await?;
    };
    completion.decode_ms = decode.elapsed_ms();
    Ok(completion)
}

/// `log p(token_i | tokens_<i)` for every position of `ids`; the first has no context and gets
/// `None`. Logits are computed and reduced on the device one [`Decoder::logits_window`] at a time.
pub async fn prompt_logprobs(
    model: &Decoder,
    backend: Backend,
    ids: &[u32],
) -> Result<Vec<Option<f32>>, ModelError> {
    let mut logprobs = Vec::with_capacity(ids.len());
    if !ids.is_empty() {
        logprobs.push(None);
        let scores = score_tokens(model, backend, ids, 1).await?;
        logprobs.extend(scores.iter().map(|s| Some(s.logprob)));
    }
    Ok(logprobs)
}

/// The log-likelihood of a continuation given its context, as lm-evaluation-harness's
/// `loglikelihood` requests compute it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogLikelihood {
    /// `Σ log p(continuation_i | context, continuation_<i)`.
    pub logprob_sum: f64,
    /// Number of continuation tokens.
    pub n_tokens: usize,
    /// Whether every continuation token is the most likely one at its position (greedy
    /// decoding would produce the continuation).
    pub is_greedy: bool,
}

/// Scores `continuation_ids` after `context_ids`; the caller tokenizes and splits the two as
/// the harness does (context tokens first, a BOS or end-of-text token for an empty context).
pub async fn loglikelihood(
    model: &Decoder,
    backend: Backend,
    context_ids: &[u32],
    continuation_ids: &[u32],
) -> Result<LogLikelihood, ModelError> {
    if context_ids.is_empty() {
        return Err(ModelError::EmptyInput { what: "context" });
    }
    if continuation_ids.is_empty() {
        return Err(ModelError::EmptyInput {
            what: "continuation",
        });
    }
    let ids = [context_ids, continuation_ids].concat();
    let scores = score_tokens(model, backend, &ids, context_ids.len()).await?;
    Ok(LogLikelihood {
        logprob_sum: scores.iter().map(|s| f64::from(s.logprob)).sum(),
        n_tokens: scores.len(),
        is_greedy: scores
            .iter()
            .zip(continuation_ids)
            .all(|(score, &id)| score.argmax == id),
    })
}

/// What the model thought of one token at its position.
#[derive(Debug, Clone, Copy)]
struct TokenScore {
    logprob: f32,
    /// The most likely id at that position.
    argmax: u32,
}

/// Scores `ids[first..]` (`first ≥ 1`), each given the ids before it. The first pass prefills
/// `ids[..first - 1]` without logits; every pass asks for at most one window of logit rows.
async fn score_tokens(
    model: &Decoder,
    backend: Backend,
    ids: &[u32],
    first: usize,
) -> Result<Vec<TokenScore>, ModelError> {
    // The last id is only ever a target: no position after it needs logits.
    let inputs = &ids[..ids.len() - 1];
    let mut cache = model.new_cache();
    let mut scores = Vec::with_capacity(ids.len() - first);
    let (mut fed, mut scored) = (0, first - 1);
    while fed < inputs.len() {
        let end = (scored + model.logits_window()).min(inputs.len());
        let logits = model.forward(&inputs[fed..end], &mut cache, LogitsAt::From(scored - fed))?;
        scores.extend(score_rows(backend, logits, &ids[scored + 1..end + 1]).await?);
        (fed, scored) = (end, end);
    }
    Ok(scores)
}

/// Log-softmax of each row of `logits` at its target and the row's argmax, reduced on the
/// device and read in one go.
async fn score_rows(
    backend: Backend,
    logits: Tensor<2>,
    targets: &[u32],
) -> Result<Vec<TokenScore>, ModelError> {
    let rows = targets.len();
    let device = logits.device();
    let indices: Vec<i64> = targets.iter().map(|&id| i64::from(id)).collect();
    let indices = Tensor::<2, Int>::from_data(TensorData::new(indices, [rows, 1]), &device);
    let chosen = activation::log_softmax(logits.clone(), 1).gather(1, indices);
    // Ids stay below 2^24, so the argmax is exact as f32.
    let argmax = logits.argmax(1).float();
    let values = read_f32(backend, Tensor::cat(vec![chosen, argmax], 1)).await?;
    Ok(values
        .chunks_exact(2)
        .map(|pair| TokenScore {
            logprob: pair[0],
            argmax: pair[1] as u32,
        })
        .collect())
}

/// `log softmax(logits)[id]`, with the maximum subtracted before exponentiating.
fn log_softmax_at(logits: &[f32], id: u32) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    (f64::from(logits[id as usize] - max) - sum.ln()) as f32
}

/// The lowest id of the largest logit.
fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (id, &logit) in logits.iter().enumerate() {
        if logit > logits[best] {
            best = id;
        }
    }
    best as u32
}

/// Chooses each next token from a row of logits.
enum TokenChooser {
    Greedy,
    Sample {
        temperature: f64,
        top_p: f64,
        rng: SplitMix64,
    },
}

impl TokenChooser {
    /// Checks the sampling settings.
    fn new(sampling: Sampling) -> Result<TokenChooser, ModelError> {
        match sampling {
            Sampling::Greedy => Ok(TokenChooser::Greedy),
            Sampling::Sample {
                temperature,
                top_p,
                seed,
            } => {
                if !(temperature.is_finite() && temperature >= 0.0) {
                    return Err(ModelError::Settings {
                        field: "temperature",
                        message: format!("({temperature}) must be a number ≥ 0"),
                    });
                }
                if !(0.0..=1.0).contains(&top_p) {
                    return Err(ModelError::Settings {
                        field: "top_p",
                        message: format!("({top_p}) must be in [0, 1]"),
                    });
                }
                Ok(if temperature == 0.0 {
                    TokenChooser::Greedy
                } else {
                    TokenChooser::Sample {
                        temperature,
                        top_p,
                        rng: SplitMix64(seed),
                    }
                })
            }
        }
    }

    fn choose(&mut self, logits: &[f32]) -> u32 {
        match self {
            TokenChooser::Greedy => argmax(logits),
            TokenChooser::Sample {
                temperature,
                top_p,
                rng,
            } => sample_nucleus(logits, *temperature, *top_p, rng.next_f64()),
        }
    }
}

/// Draws from the nucleus of `softmax(logits / temperature)` with `uniform` in `[0, 1)`: the
/// most likely tokens (lower id first among equals) until their mass reaches `top_p`, at least
/// one.
fn sample_nucleus(logits: &[f32], temperature: f64, top_p: f64, uniform: f64) -> u32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| (f64::from(l - max) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    let mut kept = order.len();
    if top_p < 1.0 {
        order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
        let mut mass = 0.0;
        kept = order
            .iter()
            .position(|&id| {
                mass += weights[id] / total;
                mass >= top_p
            })
            .map_or(order.len(), |last| last + 1);
    }
    let nucleus = &order[..kept];
    let nucleus_mass: f64 = nucleus.iter().map(|&id| weights[id]).sum();
    let mut threshold = uniform * nucleus_mass;
    for &id in nucleus {
        threshold -= weights[id];
        if threshold < 0.0 {
            return id as u32;
        }
    }
    // Rounding can leave a sliver of the draw past the last token.
    nucleus[kept - 1] as u32
}

/// SplitMix64 (Steele, Lea & Flood 2014): integer arithmetic only, so a seed draws the same
/// numbers on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` from the top 53 bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Elapsed wall time: `Instant` natively; in the browser, where `Instant` is unavailable,
/// JavaScript's clock.
struct Stopwatch {
    #[cfg(not(target_arch = "wasm32"))]
    started: std::time::Instant,
    #[cfg(target_arch = "wasm32")]
    started_ms: f64,
}

impl Stopwatch {
    fn start() -> Stopwatch {
        Stopwatch {
            #[cfg(not(target_arch = "wasm32"))]
            started: std::time::Instant::now(),
            #[cfg(target_arch = "wasm32")]
            started_ms: js_sys::Date::now(),
        }
    }

    fn elapsed_ms(&self) -> f64 {
        #[cfg(not(target_arch = "wasm32"))]
        return self.started.elapsed().as_secs_f64() * 1e3;
        #[cfg(target_arch = "wasm32")]
        return js_sys::Date::now() - self.started_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs for seed 0 of Vigna's splitmix64.c.
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
        let uniform = SplitMix64(7).next_f64();
        assert!((0.0..1.0).contains(&uniform));
    }

    #[test]
    fn log_softmax_is_stable_and_normalised() {
        let logits = [1000.0, 999.0, 998.0];
        let logprobs: Vec<f64> = (0..3)
            .map(|id| f64::from(log_softmax_at(&logits, id)))
            .collect();
        let mass: f64 = logprobs.iter().map(|lp| lp.exp()).sum();
        assert!((mass - 1.0).abs() < 1e-6, "{logprobs:?}");
        assert!((logprobs[0] - logprobs[1] - 1.0).abs() < 1e-5);
    }

    #[test]
    fn argmax_takes_the_lowest_of_equal_ids() {
        assert_eq!(argmax(&[0.5, 2.0, -1.0, 2.0]), 1);
    }

    #[test]
    fn nucleus_keeps_the_most_likely_tokens() {
        // Probabilities ∝ 1, 2, 4, 8 (sum 15): top-p 0.5 keeps {3} (8/15 ≥ 0.5), top-p 0.6 keeps
        // {3, 2}.
        let logits = [0.0, 2f32.ln(), 4f32.ln(), 8f32.ln()];
        for uniform in [0.0, 0.3, 0.99] {
            assert_eq!(sample_nucleus(&logits, 1.0, 0.5, uniform), 3);
            assert_eq!(sample_nucleus(&logits, 1.0, 0.0, uniform), 3);
        }
        assert_eq!(sample_nucleus(&logits, 1.0, 0.6, 0.0), 3);
        assert_eq!(sample_nucleus(&logits, 1.0, 0.6, 0.7), 2);
        // Without a nucleus the draw walks ids in order: cumulative 1/15, 3/15, 7/15, 1.
        assert_eq!(sample_nucleus(&logits, 1.0, 1.0, 0.05), 0);
        assert_eq!(sample_nucleus(&logits, 1.0, 1.0, 0.1), 1);
        assert_eq!(sample_nucleus(&logits, 1.0, 1.0, 0.4), 2);
        assert_eq!(sample_nucleus(&logits, 1.0, 1.0, 0.5), 3);
        // A tiny temperature puts all mass on the largest logit.
        assert_eq!(sample_nucleus(&logits, 1e-4, 1.0, 0.0), 3);
    }

    #[test]
    fn sampling_settings_are_checked() {
        let sample = |temperature, top_p| Sampling::Sample {
            temperature,
            top_p,
            seed: 1,
        };
        assert!(matches!(
            TokenChooser::new(sample(-1.0, 1.0)),
            Err(ModelError::Settings {
                field: "temperature",
                ..
            })
        ));
        assert!(matches!(
            TokenChooser::new(sample(f64::NAN, 1.0)),
            Err(ModelError::Settings {
                field: "temperature",
                ..
            })
        ));
        assert!(matches!(
            TokenChooser::new(sample(1.0, 1.5)),
            Err(ModelError::Settings { field: "top_p", .. })
        ));
        assert!(matches!(
            TokenChooser::new(sample(0.0, 1.0)),
            Ok(TokenChooser::Greedy)
        ));
    }
}
