//! `pytorch_model.bin`: the zip container (or the legacy tar-less format) and the pickle
//! reader with its memo, depth and node budgets.
#![no_main]

use clue_wasm::loader::pytorch::PytorchWeights;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = PytorchWeights::new("pytorch_model.bin", bytes);
});
