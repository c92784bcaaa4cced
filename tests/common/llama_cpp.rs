//! What the llama.cpp parity tests (tests/parity.rs on the default model, tests/archs.rs on
//! random models of each architecture) measure: prompt log-prob gaps, top-1 agreement outside
//! near ties, and how many greedy tokens must agree.

/// A top-1/top-2 logit margin of llama.cpp below this is a near tie that its 8-bit rounding may
/// break either way.
pub const NEAR_TIE: f64 = 0.1;

/// The most likely id of each row of logits `[positions, vocab]`, the lowest among equals.
pub fn top1(logits: &[f32], vocab_size: usize) -> Vec<u32> {
    logits
        .chunks_exact(vocab_size)
        .map(|row| {
            let mut best = 0;
            for (id, &logit) in row.iter().enumerate() {
                if logit > row[best] {
                    best = id;
                }
            }
            best as u32
        })
        .collect()
}

/// How many leading greedy tokens of `wanted` must agree: up to the first step where llama.cpp's
/// own choice was a near tie (that step may go either way).
pub fn greedy_tokens_required(margins: &[f64], wanted: usize) -> usize {
    margins
        .iter()
        .take(wanted)
        .position(|&margin| margin < NEAR_TIE)
        .unwrap_or(wanted)
}

pub fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// How far our prompt log-probs are from a reference's.
pub struct LogprobGap {
    pub mean: f64,
    pub largest: f64,
    /// The position of the largest difference.
    pub at: usize,
}

impl LogprobGap {
    /// `ours[k]` and `theirs[k]` are both the log-prob of position `k + 1`.
    pub fn new(ours: &[f64], theirs: &[f64]) -> LogprobGap {
        assert_eq!(ours.len(), theirs.len(), "log-probs of different prompts");
        let diffs: Vec<f64> = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let (index, largest) = diffs
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("every prompt has two ids or more");
        LogprobGap {
            mean: diffs.iter().sum::<f64>() / diffs.len() as f64,
            largest,
            at: index + 1,
        }
    }

    pub fn report(&self) -> String {
        format!(
            "mean |Δ log-prob| {:.5} nats (largest {:.5} at position {})",
            self.mean, self.largest, self.at
        )
    }
}

/// At how many of the positions where the reference's top-1 leads by at least `decisive` our
/// top-1 is the same: `(agreeing, counted)`.
pub fn top1_agreement(
    ours: &[u32],
    theirs: &[u32],
    margins: &[f64],
    decisive: f64,
) -> (usize, usize) {
    assert_eq!(ours.len(), theirs.len(), "top-1 of different prompts");
    let counted = || {
        ours.iter()
            .zip(theirs)
            .zip(margins)
            .filter(move |&(_, &margin)| margin >= decisive)
    };
    let agreeing = counted().filter(|((a, b), _)| a == b).count();
    (agreeing, counted().count())
}
