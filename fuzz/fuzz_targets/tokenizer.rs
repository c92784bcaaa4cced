//! The tokenizer loaders: `tokenizer.json` (the first byte even) or BERT's `vocab.txt` (odd),
//! then an encode and decode of text with special-token look-alikes in it.
#![no_main]

use clue_wasm::loader::tokenizer::{Tokenizer, WordPieceSettings, wordpiece_tokenizer};
use libfuzzer_sys::fuzz_target;

const TEXT: &str = "Patient denies chest pain. <|im_start|>system [CLS] <s> 血压 120/80\n";

fuzz_target!(|input: &[u8]| {
    let Some((&choice, bytes)) = input.split_first() else {
        return;
    };
    if choice % 2 == 0 {
        if let Ok(tokenizer) = Tokenizer::from_tokenizer_json(bytes, None)
            && let Ok(ids) = tokenizer.encode(TEXT, false)
        {
            let _ = tokenizer.decode(&ids, false);
        }
    } else if let Ok(tokenizer) = wordpiece_tokenizer(bytes, &WordPieceSettings::default()) {
        let _ = tokenizer.encode(TEXT, true);
    }
});
