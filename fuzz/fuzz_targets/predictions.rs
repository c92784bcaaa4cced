//! Predictions and samples files read back for rescoring (`clue score`, the page's Rescore).
#![no_main]

use clue_wasm::eval::read_predictions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = read_predictions("predictions.jsonl", bytes);
});
