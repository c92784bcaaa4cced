//! `*.safetensors`: the JSON header, offsets and shapes against the data.
#![no_main]

use clue_wasm::loader::safetensors::SafetensorsWeights;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = SafetensorsWeights::new(&[("model.safetensors", bytes)], None);
});
