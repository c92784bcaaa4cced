//! The native completion cache's file, `cache.jsonl` beside a run's results: one completion per
//! line, `{"key": …, "generated": {…}}`, appended and flushed as each finishes. Reading it never
//! fails a run: a line that does not parse (one torn by a kill, or edited) is skipped and named,
//! and a line that parses but does not fit its request is caught later by
//! [`Evaluation::verify_cached`](super::Evaluation::verify_cached). A later line for a key
//! supersedes an earlier one (a regenerated completion is appended, not rewritten).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Generated;

/// Longest line kept: far above any completion (the generation limit is 8,192 tokens).
const MAX_LINE_BYTES: usize = 16 << 20;

/// One cache line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheLine {
    /// The request's cache key (model, prompt, settings, engine).
    pub key: String,
    /// The completion.
    pub generated: Generated,
}

/// What a cache file held: its completions by key, and the lines it skipped.
#[derive(Debug, Default)]
pub struct CacheFile {
    /// The completions, the last line of each key winning.
    pub entries: HashMap<String, Generated>,
    /// Each skipped line, as "line N: why".
    pub skipped: Vec<String>,
}

impl CacheFile {
    /// The warning for the skipped lines of `file` (at most five named), or None.
    pub fn warning(&self, file: &str) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let shown = self.skipped.iter().take(5).cloned().collect::<Vec<_>>();
        let more = self.skipped.len().saturating_sub(shown.len());
        Some(format!(
            "{file}: skipped {} unreadable line(s), their requests are generated again: {}{}",
            self.skipped.len(),
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ))
    }
}

/// Reads a cache file's bytes. Blank lines are ignored.
pub fn read_cache(bytes: &[u8]) -> CacheFile {
    let mut cache = CacheFile::default();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if raw.len() > MAX_LINE_BYTES {
            cache.skipped.push(format!(
                "line {line}: longer than the {} MiB limit",
                MAX_LINE_BYTES >> 20
            ));
            continue;
        }
        match serde_json::from_slice::<CacheLine>(raw) {
            Ok(entry) => {
                cache.entries.insert(entry.key, entry.generated);
            }
            Err(error) => cache.skipped.push(format!("line {line}: {error}")),
        }
    }
    cache
}
