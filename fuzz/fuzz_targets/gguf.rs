//! GGUF model files: the header parser, the tokenizer and config read from its metadata, and
//! the decoder built from its tensors on the CPU backend (`LoadedModel::from_gguf`, the page's
//! and `clue eval`'s path).
#![no_main]

use clue_wasm::model::{Backend, LoadedModel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = pollster::block_on(LoadedModel::from_gguf("fuzz.gguf", bytes, Backend::Cpu));
});
