//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum exactly as Google's `rouge_score` 0.1.2 computes
//! them with `use_stemmer=False` (its `tokenize.py` and `rouge_scorer.py`), on interned integer
//! tokens so that scoring a pair costs microseconds instead of Python's hundreds.

use super::{Metric, Prf};

/// The four ROUGE variants CLUE reports for one (prediction, reference) pair.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RougeScores {
    /// Clipped unigram overlap.
    pub rouge1: Prf,
    /// Clipped bigram overlap.
    pub rouge2: Prf,
    /// Longest common subsequence of the whole token sequences.
    pub rouge_l: Prf,
    /// Summary-level union LCS over the newline-separated sentences.
    pub rouge_lsum: Prf,
}

impl RougeScores {
    /// The F-measures under their metric names, as the per-example scores record them.
    pub fn fmeasures(&self) -> [(Metric, f64); 4] {
        [
            (Metric::Rouge1, self.rouge1.fmeasure),
            (Metric::Rouge2, self.rouge2.fmeasure),
            (Metric::RougeL, self.rouge_l.fmeasure),
            (Metric::RougeLsum, self.rouge_lsum.fmeasure),
        ]
    }
}

/// Scores `prediction` against `reference`.
///
/// Note the argument order: `rouge_score`'s `RougeScorer.score(target, prediction)` takes the
/// reference first; here the prediction comes first. Precision divides by the prediction's
/// counts, recall by the reference's. For many pairs, reuse one [`RougeScorer`].
pub fn score(prediction: &str, reference: &str) -> RougeScores {
    RougeScorer::default().score(prediction, reference)
}

/// A ROUGE scorer that keeps its buffers between pairs, so scoring allocates nothing once the
/// buffers have grown to the longest texts seen.
#[derive(Debug, Default)]
pub struct RougeScorer {
    interner: Interner,
    prediction: TokenizedText,
    reference: TokenizedText,
    prediction_counts: Vec<u32>,
    reference_counts: Vec<u32>,
    prediction_bigrams: Vec<u64>,
    reference_bigrams: Vec<u64>,
    bigram_counts: Vec<(u64, u32)>,
    lcs: LcsRows,
    in_union: Vec<bool>,
}

impl RougeScorer {
    /// A scorer with empty buffers.
    pub fn new() -> RougeScorer {
        RougeScorer::default()
    }

    /// Scores `prediction` against `reference`; the prediction comes first, unlike
    /// `rouge_score`'s `score(target, prediction)` (see [`score`]).
    pub fn score(&mut self, prediction: &str, reference: &str) -> RougeScores {
        self.interner.start(prediction.len() + reference.len());
        self.prediction.tokenize(prediction, &mut self.interner);
        self.reference.tokenize(reference, &mut self.interner);

        let vocabulary = self.interner.len();
        count_tokens(
            &self.prediction.ids,
            vocabulary,
            &mut self.prediction_counts,
        );
        count_tokens(&self.reference.ids, vocabulary, &mut self.reference_counts);

        let rouge1 = self.rouge1();
        let rouge2 = self.rouge2();
        let rouge_l = self.rouge_l(vocabulary);
        let rouge_lsum = if self.prediction.lines.len() <= 1 && self.reference.lines.len() <= 1 {
            // With one sentence on each side the union LCS is the LCS itself.
            rouge_l
        } else {
            self.rouge_lsum(vocabulary)
        };
        RougeScores {
            rouge1,
            rouge2,
            rouge_l,
            rouge_lsum,
        }
    }

    fn rouge1(&self) -> Prf {
        let overlap: u32 = self
            .prediction_counts
            .iter()
            .zip(&self.reference_counts)
            .map(|(&predicted, &referenced)| predicted.min(referenced))
            .sum();
        ngram_scores(
            overlap as usize,
            self.prediction.ids.len(),
            self.reference.ids.len(),
        )
    }

    /// `_score_ngrams` on bigrams: the shorter list is sorted and counted, and each bigram of
    /// the longer one takes a count while any is left, which sums min(count, count) per bigram.
    fn rouge2(&mut self) -> Prf {
        collect_bigrams(&self.prediction.ids, &mut self.prediction_bigrams);
        collect_bigrams(&self.reference.ids, &mut self.reference_bigrams);
        let (shorter, longer) = if self.prediction_bigrams.len() <= self.reference_bigrams.len() {
            (&mut self.prediction_bigrams, &self.reference_bigrams)
        } else {
            (&mut self.reference_bigrams, &self.prediction_bigrams)
        };
        shorter.sort_unstable();
        self.bigram_counts.clear();
        for &bigram in shorter.iter() {
            match self.bigram_counts.last_mut() {
                Some((last, count)) if *last == bigram => *count += 1,
                _ => self.bigram_counts.push((bigram, 1)),
            }
        }
        let mut overlap = 0;
        for bigram in longer {
            if let Ok(found) = self
                .bigram_counts
                .binary_search_by_key(bigram, |&(key, _)| key)
            {
                let count = &mut self.bigram_counts[found].1;
                if *count > 0 {
                    *count -= 1;
                    overlap += 1;
                }
            }
        }
        ngram_scores(
            overlap,
            self.prediction_bigrams.len(),
            self.reference_bigrams.len(),
        )
    }

    /// `_score_lcs`: 0 when either text has no tokens.
    fn rouge_l(&mut self, vocabulary: usize) -> Prf {
        let (prediction, reference) = (&self.prediction.ids, &self.reference.ids);
        if prediction.is_empty() || reference.is_empty() {
            return Prf::default();
        }
        let lcs = self.lcs.fill(reference, prediction, vocabulary);
        Prf::new(
            lcs as f64 / prediction.len() as f64,
            lcs as f64 / reference.len() as f64,
        )
    }

    /// `_summary_level_lcs`: for each reference sentence, the union of one LCS with every
    /// predicted sentence, each union token counted while both texts still have that token left.
    /// Consumes the token counts, so it runs after ROUGE-1.
    fn rouge_lsum(&mut self, vocabulary: usize) -> Prf {
        let referenced = self.reference.ids.len();
        let predicted = self.prediction.ids.len();
        if referenced == 0 || predicted == 0 {
            return Prf::default();
        }
        let mut hits = 0usize;
        for reference_line in self.reference.lines() {
            self.in_union.clear();
            self.in_union.resize(reference_line.len(), false);
            for prediction_line in self.prediction.lines() {
                self.lcs.fill(reference_line, prediction_line, vocabulary);
                self.lcs
                    .mark_backtrack(reference_line, prediction_line, &mut self.in_union);
            }
            for (&token, _) in reference_line
                .iter()
                .zip(&self.in_union)
                .filter(|(_, in_union)| **in_union)
            {
                let token = token as usize;
                if self.prediction_counts[token] > 0 && self.reference_counts[token] > 0 {
                    hits += 1;
                    self.prediction_counts[token] -= 1;
                    self.reference_counts[token] -= 1;
                }
            }
        }
        Prf::new(
            hits as f64 / predicted as f64,
            hits as f64 / referenced as f64,
        )
    }
}

/// A text as `rouge_score` tokenizes it: the token ids, and the token range of each
/// newline-separated sentence that has tokens (sentences without tokens add nothing to
/// ROUGE-Lsum).
#[derive(Debug, Default)]
struct TokenizedText {
    ids: Vec<u32>,
    line_ends: Vec<usize>,
    lines: Vec<(usize, usize)>,
}

impl TokenizedText {
    /// `tokenize.tokenize(text, None)`: lower-case (Unicode-aware, as `str.lower`), turn every
    /// run of characters outside `[a-z0-9]` into a separator, keep the non-empty runs. A
    /// non-ASCII character matters only if its lower case contains ASCII letters or digits
    /// ('İ' → "i\u{307}", the Kelvin sign → "k"); its other lower-case characters separate.
    /// Splitting on '\n' first, as ROUGE-Lsum does, yields the same tokens line by line, since
    /// '\n' always separates.
    fn tokenize(&mut self, text: &str, interner: &mut Interner) {
        self.ids.clear();
        self.line_ends.clear();
        let bytes = text.as_bytes();
        let mut position = 0;
        while position < bytes.len() {
            let byte = bytes[position];
            if byte.is_ascii_alphanumeric() {
                let run = bytes[position..]
                    .iter()
                    .position(|byte| !byte.is_ascii_alphanumeric())
                    .unwrap_or(bytes.len() - position);
                interner.extend_token(&bytes[position..position + run]);
                position += run;
            } else if byte.is_ascii() {
                self.end_token(interner);
                if byte == b'\n' {
                    self.line_ends.push(self.ids.len());
                }
                position += 1;
            } else {
                let character = text[position..]
                    .chars()
                    .next()
                    .expect("a char boundary inside the text");
                position += character.len_utf8();
                for lower in character.to_lowercase() {
                    if lower.is_ascii_alphanumeric() {
                        interner.extend_token(&[lower as u8]);
                    } else {
                        self.end_token(interner);
                    }
                }
            }
        }
        self.end_token(interner);
        self.line_ends.push(self.ids.len());

        self.lines.clear();
        let mut start = 0;
        for &end in &self.line_ends {
            if end > start {
                self.lines.push((start, end));
            }
            start = end;
        }
    }

    fn end_token(&mut self, interner: &mut Interner) {
        if let Some(id) = interner.finish_token() {
            self.ids.push(id);
        }
    }

    /// The token ids of each sentence that has tokens, in order.
    fn lines(&self) -> impl Iterator<Item = &[u32]> {
        self.lines.iter().map(|&(start, end)| &self.ids[start..end])
    }
}

/// Maps token strings to dense ids 0, 1, 2, … for one pair. An open-addressing table whose
/// slots carry a generation number, so starting a new pair clears nothing.
#[derive(Debug, Default)]
struct Interner {
    /// The bytes of every distinct token of the pair, then the token being read.
    bytes: Vec<u8>,
    /// Where each id's bytes start in `bytes`; one extra entry marks the current token's start.
    starts: Vec<usize>,
    /// The current token's bytes mixed so far (see [`Interner::extend_token`]).
    hash: u64,
    /// (generation, id) per slot; a slot of an older generation is empty.
    slots: Vec<(u32, u32)>,
    generation: u32,
}

impl Interner {
    /// Forgets the previous pair's tokens; `text_bytes` bounds the number of tokens to come.
    fn start(&mut self, text_bytes: usize) {
        self.bytes.clear();
        self.starts.clear();
        self.starts.push(0);
        self.hash = 0;
        // Tokens are separated, so there are at most about half as many as bytes: a table of
        // `text_bytes` slots stays at most half full and probes stay short.
        let needed = (text_bytes + 2).next_power_of_two().max(16);
        if self.slots.len() < needed {
            self.slots = vec![(0, 0); needed];
            self.generation = 0;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slots.fill((0, 0));
            self.generation = 1;
        }
    }

    /// The number of distinct tokens so far.
    fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Appends ASCII letters and digits, lower-cased, to the current token, and mixes them into
    /// its hash with a rotate and xor per byte (the multiply comes once, in `finish_token`).
    fn extend_token(&mut self, run: &[u8]) {
        let mut hash = self.hash;
        self.bytes.extend(run.iter().map(|&byte| {
            let lower = byte.to_ascii_lowercase();
            hash = hash.rotate_left(5) ^ u64::from(lower);
            lower
        }));
        self.hash = hash;
    }

    /// Ends the current token and returns its id, or `None` when the token is empty.
    fn finish_token(&mut self) -> Option<u32> {
        let start = *self
            .starts
            .last()
            .expect("starts holds the current token's start");
        if self.bytes.len() == start {
            return None;
        }
        // FxHash's multiplier, folded so that the slot bits depend on every byte.
        let hash = self.hash.wrapping_mul(0x517c_c1b7_2722_0a95);
        self.hash = 0;
        let mask = self.slots.len() - 1;
        let mut slot = (hash ^ (hash >> 32)) as usize & mask;
        loop {
            let (generation, id) = self.slots[slot];
            if generation != self.generation {
                let id = self.len() as u32;
                self.slots[slot] = (self.generation, id);
                self.starts.push(self.bytes.len());
                return Some(id);
            }
            let known = &self.bytes[self.starts[id as usize]..self.starts[id as usize + 1]];
            if known == &self.bytes[start..] {
                self.bytes.truncate(start);
                return Some(id);
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// Occurrences of each id among `ids`, for ids below `vocabulary`.
fn count_tokens(ids: &[u32], vocabulary: usize, counts: &mut Vec<u32>) {
    counts.clear();
    counts.resize(vocabulary, 0);
    for &id in ids {
        counts[id as usize] += 1;
    }
}

/// The text's bigrams as comparable keys, in text order.
fn collect_bigrams(ids: &[u32], bigrams: &mut Vec<u64>) {
    bigrams.clear();
    bigrams.extend(
        ids.windows(2)
            .map(|pair| (u64::from(pair[0]) << 32) | u64::from(pair[1])),
    );
}

/// `_score_ngrams`: the denominators are at least 1, so empty texts score 0 without dividing
/// by zero.
fn ngram_scores(overlap: usize, predicted: usize, referenced: usize) -> Prf {
    Prf::new(
        overlap as f64 / predicted.max(1) as f64,
        overlap as f64 / referenced.max(1) as f64,
    )
}

/// The LCS table of a reference × prediction pair in bit-parallel form (Hyyrö, "Bit-parallel
/// LCS-length computation revisited", 2004): row i is a bit vector over the prediction whose
/// bit j−1 is clear exactly when `t[i][j] = t[i][j−1] + 1`, so `t[i][j]` is the number of clear
/// bits below j. A row costs one pass over ⌈n/64⌉ words instead of n cells, and the rows kept
/// still answer every comparison rouge_score's backtracking makes.
#[derive(Debug, Default)]
struct LcsRows {
    /// Per token id, the prediction positions holding it; all zero between uses.
    masks: Vec<u64>,
    /// Row i at `rows[i * words..(i + 1) * words]`, row 0 all set (`t[0][j] = 0`).
    rows: Vec<u64>,
    words: usize,
}

impl LcsRows {
    /// Fills the rows of `_lcs_table(reference, prediction)` and returns the LCS length.
    fn fill(&mut self, reference: &[u32], prediction: &[u32], vocabulary: usize) -> usize {
        let words = prediction.len().div_ceil(64).max(1);
        self.words = words;
        if self.masks.len() < vocabulary * words {
            self.masks.resize(vocabulary * words, 0);
        }
        for (j, &token) in prediction.iter().enumerate() {
            self.masks[token as usize * words + j / 64] |= 1 << (j % 64);
        }
        self.rows.clear();
        self.rows.resize((reference.len() + 1) * words, u64::MAX);
        for (i, &token) in reference.iter().enumerate() {
            let matches = &self.masks[token as usize * words..(token as usize + 1) * words];
            let (previous, current) = self.rows[i * words..(i + 2) * words].split_at_mut(words);
            let mut carry = false;
            for ((row, &above), &matched) in current.iter_mut().zip(&*previous).zip(matches) {
                let (sum, overflow) = above.overflowing_add(above & matched);
                let (sum, overflow_carry) = sum.overflowing_add(u64::from(carry));
                carry = overflow || overflow_carry;
                *row = sum | (above & !matched);
            }
        }
        for &token in prediction {
            self.masks[token as usize * words..(token as usize + 1) * words].fill(0);
        }
        self.cell(reference.len(), prediction.len())
    }

    /// `t[i][j]`: the clear bits of row i below bit j.
    fn cell(&self, i: usize, j: usize) -> usize {
        let row = &self.rows[i * self.words..(i + 1) * self.words];
        let full: usize = row[..j / 64]
            .iter()
            .map(|word| word.count_zeros() as usize)
            .sum();
        let partial = if j.is_multiple_of(64) {
            0
        } else {
            (!row[j / 64] & ((1u64 << (j % 64)) - 1)).count_ones() as usize
        };
        full + partial
    }

    /// Whether `t[i][j] = t[i][j−1] + 1`, for j ≥ 1.
    fn steps_up(&self, i: usize, j: usize) -> bool {
        self.rows[i * self.words + (j - 1) / 64] & (1 << ((j - 1) % 64)) == 0
    }

    /// `_backtrack_norec` on the filled rows, marking the reference positions of its LCS: a
    /// match goes diagonally; otherwise left only when the left cell is strictly larger than
    /// the upper one. This choice decides *which* LCS, and so which union, rouge_score reports.
    /// The current cell and the one above it are carried along, so only moves to a new row
    /// count bits.
    fn mark_backtrack(&self, reference: &[u32], prediction: &[u32], in_union: &mut [bool]) {
        let (mut i, mut j) = (reference.len(), prediction.len());
        if i == 0 || j == 0 {
            return;
        }
        let (mut here, mut above) = (self.cell(i, j), self.cell(i - 1, j));
        while i > 0 && j > 0 {
            let left = here - usize::from(self.steps_up(i, j));
            if reference[i - 1] == prediction[j - 1] {
                in_union[i - 1] = true;
                here = above - usize::from(self.steps_up(i - 1, j));
                i -= 1;
                j -= 1;
            } else if left > above {
                above -= usize::from(self.steps_up(i - 1, j));
                here = left;
                j -= 1;
                continue;
            } else {
                here = above;
                i -= 1;
            }
            if i > 0 {
                above = self.cell(i - 1, j);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` tokenized by a fresh interner, which holds the token strings.
    fn tokenized(text: &str) -> (TokenizedText, Interner) {
        let mut interner = Interner::default();
        interner.start(text.len());
        let mut tokenized = TokenizedText::default();
        tokenized.tokenize(text, &mut interner);
        (tokenized, interner)
    }

    fn tokens(text: &str) -> Vec<String> {
        let (tokenized, interner) = tokenized(text);
        tokenized
            .ids
            .iter()
            .map(|&id| {
                let id = id as usize;
                let bytes = &interner.bytes[interner.starts[id]..interner.starts[id + 1]];
                String::from_utf8(bytes.to_vec()).unwrap()
            })
            .collect()
    }

    #[test]
    fn tokenizer_keeps_lowercase_ascii_alphanumeric_runs() {
        assert_eq!(
            tokens("COVID-19's 2nd dose?!"),
            ["covid", "19", "s", "2nd", "dose"]
        );
        assert_eq!(tokens("café naïve"), ["caf", "na", "ve"]);
        assert_eq!(tokens("İstanbul \u{212a}elvin"), ["i", "stanbul", "kelvin"]);
        assert!(tokens(" ... \n ").is_empty());
    }

    #[test]
    fn repeated_tokens_share_an_id_and_distinct_ones_do_not() {
        let (tokenized, interner) = tokenized("a bb A a BB c");
        assert_eq!(tokenized.ids, [0, 1, 0, 0, 1, 2]);
        assert_eq!(interner.len(), 3);
    }

    #[test]
    fn sentences_without_tokens_are_dropped() {
        let (tokenized, _) = tokenized("a b\n\n ?? \nc\n");
        assert_eq!(tokenized.lines, [(0, 2), (2, 3)]);
    }

    #[test]
    fn reused_scorer_gives_the_same_scores_as_a_fresh_one() {
        let mut scorer = RougeScorer::new();
        let long = "word ".repeat(300) + "\nother line here";
        scorer.score(&long, "a completely different reference\nwith lines");
        let pairs = [
            ("the cat sat\non the mat", "a cat sat on\nthe mat today"),
            ("", "x"),
            ("same", "same"),
        ];
        for (prediction, reference) in pairs {
            assert_eq!(
                scorer.score(prediction, reference),
                score(prediction, reference)
            );
        }
    }

    /// `_lcs_table` as rouge_score writes it, cell by cell.
    fn plain_table(reference: &[u32], prediction: &[u32]) -> Vec<Vec<usize>> {
        let mut table = vec![vec![0; prediction.len() + 1]; reference.len() + 1];
        for i in 1..=reference.len() {
            for j in 1..=prediction.len() {
                table[i][j] = if reference[i - 1] == prediction[j - 1] {
                    table[i - 1][j - 1] + 1
                } else {
                    table[i - 1][j].max(table[i][j - 1])
                };
            }
        }
        table
    }

    /// `_backtrack_norec` on a plain table: the reference positions of the LCS it reads out.
    fn plain_backtrack(table: &[Vec<usize>], reference: &[u32], prediction: &[u32]) -> Vec<bool> {
        let mut marked = vec![false; reference.len()];
        let (mut i, mut j) = (reference.len(), prediction.len());
        while i > 0 && j > 0 {
            if reference[i - 1] == prediction[j - 1] {
                marked[i - 1] = true;
                i -= 1;
                j -= 1;
            } else if table[i][j - 1] > table[i - 1][j] {
                j -= 1;
            } else {
                i -= 1;
            }
        }
        marked
    }

    #[test]
    fn bit_parallel_rows_hold_every_cell_and_the_same_backtrack() {
        let mut generator = crate::prompt::pyrandom::PyRandom::new(3);
        let mut rows = LcsRows::default();
        // Lengths around one and two 64-bit words exercise the carry between words.
        for prediction_length in [1, 2, 7, 63, 64, 65, 127, 128, 129, 200] {
            for vocabulary in [2, 5] {
                let mut tokens = |length: usize| -> Vec<u32> {
                    (0..length)
                        .map(|_| generator.randbelow(vocabulary) as u32)
                        .collect()
                };
                let reference = tokens(40);
                let prediction = tokens(prediction_length);
                let table = plain_table(&reference, &prediction);
                let lcs = rows.fill(&reference, &prediction, vocabulary as usize);
                assert_eq!(lcs, table[reference.len()][prediction.len()]);
                for (i, table_row) in table.iter().enumerate() {
                    for (j, &cell) in table_row.iter().enumerate() {
                        assert_eq!(
                            rows.cell(i, j),
                            cell,
                            "cell ({i}, {j}), n {prediction_length}"
                        );
                    }
                }
                let mut marked = vec![false; reference.len()];
                rows.mark_backtrack(&reference, &prediction, &mut marked);
                assert_eq!(marked, plain_backtrack(&table, &reference, &prediction));
            }
        }
        assert!(
            rows.masks.iter().all(|&mask| mask == 0),
            "masks are cleared after use"
        );
    }
}
