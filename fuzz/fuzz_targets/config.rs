//! Model configs: a decoder's `config.json` (the first byte even) or a BERT's (odd).
#![no_main]

use clue_wasm::model::{BertConfig, DecoderConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&choice, bytes)) = input.split_first() else {
        return;
    };
    if choice % 2 == 0 {
        let _ = DecoderConfig::from_json(bytes);
    } else {
        let _ = BertConfig::from_json(bytes);
    }
});
