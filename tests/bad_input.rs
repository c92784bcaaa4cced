//! The bad-input corpus (`tests/bad_input/`, written by its `make_corpus.py`): small hostile or
//! broken files for every reader — datasets of each format, predictions and samples files, the
//! completion cache's lines, PyTorch pickles, chat templates, configs, GGUF, safetensors,
//! tokenizers. Each must be refused with exactly
//! the error `expected.txt` gives (naming the file and what is wrong), without a panic, an
//! abort or a hang, and while reading it the process may allocate at most
//! [`ALLOCATION_BOUND`] above what it held before: a global allocator here counts every byte.
//!
//! The same test runs natively (`cargo test --test bad_input`) and in headless Chromium
//! (`wasm-bindgen-test`, in a dedicated worker like the page's evaluator), where an abort
//! would be a trap that kills the worker. `CLUE_BLESS=1` rewrites `expected.txt` from what the
//! readers say (native only; review the diff).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use clue_wasm::data;
use clue_wasm::eval;
use clue_wasm::loader::pytorch::PytorchWeights;
use clue_wasm::loader::safetensors::SafetensorsWeights;
use clue_wasm::loader::tokenizer::{Tokenizer, WordPieceSettings, wordpiece_tokenizer};
use clue_wasm::model::{Backend, BertConfig, DecoderConfig, LoadedModel};
use clue_wasm::prompt::chat_template::{ChatTemplate, SpecialTokens};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

mod corpus {
    include!("bad_input/corpus.rs");
}

const EXPECTED: &str = include_str!("bad_input/expected.txt");

/// What reading one corpus file may allocate above the bytes held before it, at the peak:
/// the largest file is a few hundred KB, so this is about what a reader needs to say no.
const ALLOCATION_BOUND: usize = 64 << 20;

/// Counts the bytes the process holds and the most it held since the last reset.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let held = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(held, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            if new_size >= layout.size() {
                let held = HELD.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(held, Ordering::Relaxed);
            } else {
                HELD.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Hands `bytes` to the reader its directory names; `Ok` is itself a failure of the corpus.
async fn read(path: &str, bytes: &[u8]) -> Result<(), String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut parts = path.split('/');
    let reader = parts.next().unwrap_or_default();
    match reader {
        "data" => {
            let task = parts.next().and_then(data::TaskId::parse);
            data::read(name, bytes, task)
                .map(drop)
                .map_err(|e| e.to_string())
        }
        "predictions" => eval::read_predictions(name, bytes)
            .map(drop)
            .map_err(|e| e.to_string()),
        // Never an error to the run: the lines it cannot read are skipped and named.
        "cache" => eval::read_cache(bytes).warning(name).map_or(Ok(()), Err),
        "pytorch" => PytorchWeights::new(name, bytes).map(drop),
        "template" => {
            let source = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
            ChatTemplate::new(source, SpecialTokens::default())
                .map(drop)
                .map_err(|e| format!("{name}: {e}"))
        }
        "config" if name.starts_with("bert") => BertConfig::from_json(bytes)
            .map(drop)
            .map_err(|e| format!("{name}: {e}")),
        "config" => DecoderConfig::from_json(bytes)
            .map(drop)
            .map_err(|e| format!("{name}: {e}")),
        "gguf" => LoadedModel::from_gguf(name, bytes, Backend::Cpu)
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        "safetensors" => SafetensorsWeights::new(&[(name, bytes)], None)
            .map(drop)
            .map_err(|e| e.to_string()),
        "tokenizer" => Tokenizer::from_tokenizer_json(bytes, None)
            .map(drop)
            .map_err(|e| format!("{name}: {e}")),
        "vocab" => wordpiece_tokenizer(bytes, &WordPieceSettings::default())
            .map(drop)
            .map_err(|e| format!("{name}: {e}")),
        other => panic!("{path}: no reader is called {other:?}"),
    }
}

/// `path<TAB>error` per line; a newline inside an error is written `\n`.
fn expected() -> Vec<(&'static str, String)> {
    EXPECTED
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (path, error) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("expected.txt: no tab in {line:?}"));
            (path, error.replace("\\n", "\n"))
        })
        .collect()
}

async fn run_corpus() {
    assert!(
        corpus::FILES.len() >= 60,
        "the corpus has {} files",
        corpus::FILES.len()
    );
    let expected = expected();
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for &(path, bytes) in corpus::FILES {
        let before = HELD.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let result = read(path, bytes).await;
        let peak = PEAK.load(Ordering::Relaxed) - before;
        let error = match result {
            Ok(()) => {
                failures.push(format!("{path}: accepted"));
                continue;
            }
            Err(error) => error,
        };
        if peak > ALLOCATION_BOUND {
            failures.push(format!(
                "{path}: allocated {peak} bytes at the peak, above {ALLOCATION_BOUND}"
            ));
        }
        match expected.iter().find(|(p, _)| *p == path) {
            Some((_, want)) if *want == error => {}
            Some((_, want)) => {
                failures.push(format!("{path}:\n  expected {want}\n  found    {error}"))
            }
            None => failures.push(format!("{path}: not in expected.txt (found {error})")),
        }
        found.push((path, error));
    }
    for (path, _) in &expected {
        if !corpus::FILES.iter().any(|(p, _)| p == path) {
            failures.push(format!("{path}: in expected.txt but not in the corpus"));
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("CLUE_BLESS").is_some() {
        let text: String = found
            .iter()
            .map(|(path, error)| format!("{path}\t{}\n", error.replace('\n', "\\n")))
            .collect();
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bad_input/expected.txt");
        std::fs::write(file, text).expect("write expected.txt");
        return;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn every_bad_file_is_refused_by_its_exact_error_within_the_allocation_bound() {
    // A thread with a small stack, as the page's worker has: deep nesting must not overflow.
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| pollster::block_on(run_corpus()))
        .expect("spawn")
        .join()
        .expect("the corpus run panicked");
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn every_bad_file_is_refused_by_its_exact_error_within_the_allocation_bound() {
    run_corpus().await;
}
