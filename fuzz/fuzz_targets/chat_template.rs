//! Chat templates from `tokenizer_config.json` or GGUF metadata: compiled (with the probe
//! render at load that proves they finish) and rendered on a conversation, under the fuel
//! and output limits.
#![no_main]

use clue_wasm::prompt::chat_template::{ChatTemplate, Message, Role, SpecialTokens};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(source) = std::str::from_utf8(bytes) else {
        return;
    };
    let tokens = SpecialTokens {
        bos_token: Some("<s>".into()),
        eos_token: Some("</s>".into()),
        ..SpecialTokens::default()
    };
    let Ok(template) = ChatTemplate::new(source, tokens) else {
        return;
    };
    let conversation = [
        Message::new(Role::System, "You are a careful clinician."),
        Message::new(Role::User, "Premise: {{ x }} <|im_end|> Hypothesis: …"),
        Message::new(Role::Assistant, "entailment"),
        Message::new(Role::User, "And now?"),
    ];
    let _ = template.render(&conversation, true);
});
