//! Concept-F1 — open vocabularies, **not CLUE's UMLS-F1**. Where the UMLS bridge cannot run
//! (no licence, no Python, the page alone), this gives Problem Summary and MeDiSumQA a concept
//! overlap by the same linking rule as scispaCy's linker, against a vocabulary that may be
//! redistributed: ICD-10-CM's categories and subcategories (U.S. government, public domain; see
//! `scripts/icd10_table/make_names.py`). It is reported under its own keys (`concept_p`,
//! `concept_r`, `concept_f1`), labelled as a substitute, and never enters a task score or a
//! Level.
//!
//! The rule: each name is a TF-IDF vector of its character 3-grams within words (scikit-learn's
//! `TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3))`, smoothed idf, L2 norm, as
//! scispaCy's linker builds its index; here over every gram, since the vocabulary is small); a
//! mention links to the name of highest cosine when that cosine exceeds 0.7 (scispaCy's
//! threshold), ties going to the smallest code. scispaCy searches its index approximately
//! (nmslib); this searches exactly. Mentions stand in for the NER: the word spans of up to
//! [`MAX_SPAN_WORDS`] words inside a clause (text between punctuation) that neither start nor end
//! with a function word, the best-linked first, never overlapping. P/R/F1 compare the sets of linked names
//! by CLUE's rule ([`super::umls::umls_prf`]).

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::sync::OnceLock;

use flate2::read::GzDecoder;

use super::{Metric, Prf, SampleScores};

/// `CODE<TAB>DESCRIPTION` lines of ICD-10-CM's 3- and 4-character codes, gzip.
static EMBEDDED_NAMES: &[u8] = include_bytes!("icd10cm-names.tsv.gz");

/// scispaCy's linker threshold: a link needs a cosine above it.
pub const THRESHOLD: f32 = 0.7;

/// Longest mention tried, in words.
pub const MAX_SPAN_WORDS: usize = 8;

/// Words a mention neither starts nor ends with.
const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had", "has",
    "have", "he", "her", "his", "in", "is", "it", "its", "no", "not", "of", "on", "or", "she",
    "that", "the", "their", "this", "to", "was", "were", "which", "with", "you", "your",
];

/// A vocabulary indexed for linking.
#[derive(Debug)]
pub struct Vocabulary {
    /// Codes and names, in code order.
    concepts: Vec<(String, String)>,
    /// Each gram's column and smoothed idf.
    grams: HashMap<String, (usize, f32)>,
    /// Per gram column, the concepts that have it with their normalised weight.
    postings: Vec<Vec<(u32, f32)>>,
}

/// The character 3-grams of `text` within its words, as scikit-learn's `char_wb` analyzer makes
/// them: lower-cased, each word padded with one space on both sides.
fn char_wb_trigrams(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase();
    let mut grams = Vec::new();
    for word in lowered.split_whitespace() {
        let padded: Vec<char> = std::iter::once(' ')
            .chain(word.chars())
            .chain(std::iter::once(' '))
            .collect();
        for window in padded.windows(3) {
            grams.push(window.iter().collect());
        }
    }
    grams
}

/// Raw counts of each gram.
fn counts(text: &str) -> HashMap<String, f32> {
    let mut counts = HashMap::new();
    for gram in char_wb_trigrams(text) {
        *counts.entry(gram).or_insert(0.0) += 1.0;
    }
    counts
}

impl Vocabulary {
    /// ICD-10-CM's categories and subcategories, indexed on first use.
    pub fn icd10cm() -> &'static Vocabulary {
        static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
        VOCABULARY.get_or_init(|| {
            let mut text = String::new();
            GzDecoder::new(EMBEDDED_NAMES)
                .read_to_string(&mut text)
                .expect("the embedded ICD-10-CM names are valid gzip and UTF-8");
            Vocabulary::new(
                text.lines()
                    .filter_map(|line| line.split_once('\t'))
                    .map(|(code, name)| (code.to_owned(), name.to_owned())),
            )
        })
    }

    /// Indexes `(code, name)` pairs.
    pub fn new(concepts: impl IntoIterator<Item = (String, String)>) -> Vocabulary {
        let mut concepts: Vec<(String, String)> = concepts.into_iter().collect();
        concepts.sort();
        let documents: Vec<HashMap<String, f32>> =
            concepts.iter().map(|(_, name)| counts(name)).collect();
        let mut frequency: HashMap<&str, usize> = HashMap::new();
        for document in &documents {
            for gram in document.keys() {
                *frequency.entry(gram).or_insert(0) += 1;
            }
        }
        let n = documents.len() as f64;
        let mut names: Vec<&str> = frequency.keys().copied().collect();
        names.sort_unstable();
        let grams: HashMap<String, (usize, f32)> = names
            .iter()
            .enumerate()
            .map(|(column, &gram)| {
                // scikit-learn's smooth_idf: ln((1 + n) / (1 + df)) + 1.
                let idf = ((1.0 + n) / (1.0 + frequency[gram] as f64)).ln() + 1.0;
                (gram.to_owned(), (column, idf as f32))
            })
            .collect();
        let mut postings = vec![Vec::new(); grams.len()];
        for (row, document) in documents.iter().enumerate() {
            let mut weights: Vec<(usize, f32)> = document
                .iter()
                .map(|(gram, &count)| {
                    let (column, idf) = grams[gram];
                    (column, count * idf)
                })
                .collect();
            weights.sort_unstable_by_key(|&(column, _)| column);
            let norm = weights.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            for (column, weight) in weights {
                postings[column].push((row as u32, weight / norm));
            }
        }
        Vocabulary {
            concepts,
            grams,
            postings,
        }
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.concepts.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }

    /// The best-matching concept of `mention` — its code, name and cosine — or `None` when no
    /// gram of the mention is in the vocabulary. Ties go to the smallest code.
    pub fn nearest(&self, mention: &str) -> Option<(&str, &str, f32)> {
        let mut weights: Vec<(usize, f32)> = counts(mention)
            .iter()
            .filter_map(|(gram, &count)| {
                let &(column, idf) = self.grams.get(gram)?;
                Some((column, count * idf))
            })
            .collect();
        // A fixed order of summation: the same cosine in every run, natively and in wasm.
        weights.sort_unstable_by_key(|&(column, _)| column);
        let norm = weights.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if weights.is_empty() || norm == 0.0 {
            return None;
        }
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for (column, weight) in weights {
            for &(row, value) in &self.postings[column] {
                *scores.entry(row).or_insert(0.0) += weight / norm * value;
            }
        }
        // Rows are in code order, so the smallest row of the best score is the smallest code.
        let (row, score) = scores
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
        let (code, name) = &self.concepts[row as usize];
        Some((code, name, score))
    }

    /// The linked names of `text`: of its candidate mentions that link above [`THRESHOLD`],
    /// the best-linked first (the longer on cosines equal to 5 decimals), each kept when it overlaps no
    /// mention kept before — so "cholera and type 2 diabetes mellitus" gives two names, not one
    /// loose match of the whole.
    pub fn concepts(&self, text: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for clause in text.split(|c: char| ",;:.!?()[]/\n".contains(c)) {
            let words: Vec<&str> = clause
                .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
                .filter(|w| !w.is_empty())
                .collect();
            // (cosine, length, start, name) of every span that links.
            let mut linked = Vec::new();
            for length in 1..=MAX_SPAN_WORDS.min(words.len()) {
                for start in 0..=words.len() - length {
                    let span = &words[start..start + length];
                    if is_function_word(span[0]) || is_function_word(span[length - 1]) {
                        continue;
                    }
                    if let Some((_, name, score)) = self.nearest(&span.join(" "))
                        && score > THRESHOLD
                    {
                        linked.push((score, length, start, name));
                    }
                }
            }
            // Cosines are compared to 5 decimals: an exact name scores 1 or 0.99999994 in f32
            // depending on its grams, and the longer exact mention must win over the shorter.
            let rank = |score: f32| (f64::from(score) * 1e5).round() as i64;
            linked.sort_by(|a, b| {
                rank(b.0)
                    .cmp(&rank(a.0))
                    .then(b.1.cmp(&a.1))
                    .then(a.2.cmp(&b.2))
            });
            let mut taken = vec![false; words.len()];
            for (_, length, start, name) in linked {
                if !taken[start..start + length].iter().any(|&t| t) {
                    taken[start..start + length].fill(true);
                    found.insert(name.to_owned());
                }
            }
        }
        found
    }

    /// Concept P/R/F1 of an answer against its reference.
    pub fn score(&self, answer: &str, reference: &str) -> Prf {
        let (answer, reference) = (self.concepts(answer), self.concepts(reference));
        super::umls::umls_prf(
            &answer.iter().map(String::as_str).collect(),
            &reference.iter().map(String::as_str).collect(),
        )
    }
}

fn is_function_word(word: &str) -> bool {
    FUNCTION_WORDS.contains(&word.to_lowercase().as_str())
}

/// Concept-F1 of a text answer against ICD-10-CM, as sample metrics.
pub fn sample_scores(answer: &str, reference: &str) -> SampleScores {
    let prf = Vocabulary::icd10cm().score(answer, reference);
    SampleScores::from([
        (Metric::ConceptP, prf.precision),
        (Metric::ConceptR, prf.recall),
        (Metric::ConceptF1, prf.fmeasure),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigrams_pad_each_word() {
        assert_eq!(char_wb_trigrams("Ab cD"), [" ab", "ab ", " cd", "cd "]);
        assert_eq!(char_wb_trigrams("a"), [" a "]);
    }

    fn small() -> Vocabulary {
        Vocabulary::new(
            [
                ("E11", "Type 2 diabetes mellitus"),
                ("I10", "Essential (primary) hypertension"),
                ("J44", "Other chronic obstructive pulmonary disease"),
                ("A01", "Cholera"),
                ("A00", "Cholera"),
            ]
            .map(|(c, n)| (c.to_owned(), n.to_owned())),
        )
    }

    #[test]
    fn links_a_mention_to_its_nearest_name() {
        let vocabulary = small();
        let (code, _, score) = vocabulary.nearest("type 2 diabetes mellitus").unwrap();
        assert_eq!(code, "E11");
        assert!((score - 1.0).abs() < 1e-5, "{score}");
        // Two codes, one name: the smallest code.
        assert_eq!(vocabulary.nearest("cholera").unwrap().0, "A00");
        assert_eq!(vocabulary.nearest("zzzz"), None);
    }

    #[test]
    fn finds_names_best_linked_first() {
        let vocabulary = small();
        let found = vocabulary.concepts("Type 2 diabetes mellitus, and cholera; no hypertension.");
        assert_eq!(
            found,
            BTreeSet::from(["Cholera".to_owned(), "Type 2 diabetes mellitus".to_owned()]),
            "\"no hypertension\" is too far from \"Essential (primary) hypertension\""
        );
        let prf = vocabulary.score("cholera", "Cholera and type 2 diabetes mellitus");
        assert_eq!((prf.precision, prf.recall), (1.0, 0.5));
    }
}
