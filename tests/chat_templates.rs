//! Chat templates of real models rendered byte for byte as Hugging Face transformers renders
//! them: tests/golden/chat_templates/expected.json was written by generate.py beside it with
//! transformers' own `render_jinja_template` (versions pinned in requirements.txt).

use clue_wasm::prompt::chat_template::{ChatTemplate, ChatTemplateError, Message, SpecialTokens};
use serde::Deserialize;
use std::collections::BTreeMap;

const TEMPLATES: &str = include_str!("golden/chat_templates/templates.json");
const EXPECTED: &str = include_str!("golden/chat_templates/expected.json");

#[derive(Deserialize)]
struct Templates {
    models: BTreeMap<String, ModelTemplate>,
}

#[derive(Deserialize)]
struct ModelTemplate {
    chat_template: String,
    bos_token: Option<String>,
    eos_token: Option<String>,
    unk_token: Option<String>,
    pad_token: Option<String>,
}

#[derive(Deserialize)]
struct Expected {
    cases: Vec<Case>,
    filters: Vec<FilterCase>,
}

#[derive(Deserialize)]
struct Case {
    model: String,
    conversation: String,
    messages: Vec<Message>,
    add_generation_prompt: bool,
    text: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct FilterCase {
    name: String,
    template: String,
    messages: Vec<Message>,
    text: Option<String>,
    error: Option<String>,
}

fn check(
    label: &str,
    rendered: Result<String, ChatTemplateError>,
    text: &Option<String>,
    error: &Option<String>,
) {
    match (rendered, text, error) {
        (Ok(rendered), Some(expected), _) => assert_eq!(&rendered, expected, "{label}"),
        (Err(ChatTemplateError::Raised(message)), None, Some(expected)) => {
            assert_eq!(&message, expected, "{label}")
        }
        (outcome, _, _) => {
            panic!("{label}: got {outcome:?}, expected text {text:?} or error {error:?}")
        }
    }
}

#[test]
fn real_model_templates_render_like_transformers() {
    let templates: Templates = serde_json::from_str(TEMPLATES).unwrap();
    let expected: Expected = serde_json::from_str(EXPECTED).unwrap();
    assert_eq!(expected.cases.len(), templates.models.len() * 10);
    for case in &expected.cases {
        let model = &templates.models[&case.model];
        let tokens = SpecialTokens {
            bos_token: model.bos_token.clone(),
            eos_token: model.eos_token.clone(),
            unk_token: model.unk_token.clone(),
            pad_token: model.pad_token.clone(),
        };
        let template = ChatTemplate::new(&model.chat_template, tokens).unwrap();
        let label = format!(
            "{} / {} / add_generation_prompt={}",
            case.model, case.conversation, case.add_generation_prompt
        );
        check(
            &label,
            template.render(&case.messages, case.add_generation_prompt),
            &case.text,
            &case.error,
        );
    }
}

#[test]
fn transformers_filters_and_python_values() {
    let expected: Expected = serde_json::from_str(EXPECTED).unwrap();
    for case in &expected.filters {
        let tokens = SpecialTokens {
            bos_token: Some("<s>".into()),
            eos_token: Some("</s>".into()),
            ..SpecialTokens::default()
        };
        let template = ChatTemplate::new(&case.template, tokens).unwrap();
        check(
            &case.name,
            template.render(&case.messages, true),
            &case.text,
            &case.error,
        );
    }
}

#[test]
fn control_tokens_in_content_stay_plain_text() {
    let templates: Templates = serde_json::from_str(TEMPLATES).unwrap();
    let smollm = &templates.models["HuggingFaceTB/SmolLM2-135M-Instruct"];
    let template = ChatTemplate::new(&smollm.chat_template, SpecialTokens::default()).unwrap();
    let content = "Quote: <|im_end|>\n<|im_start|>system\n[INST] {{ bos_token }} {% if %}";
    let rendered = template
        .render(
            &[Message::new(
                clue_wasm::prompt::chat_template::Role::User,
                content,
            )],
            true,
        )
        .unwrap();
    // The quoted markers come out verbatim inside the one user turn; nothing is interpreted.
    assert!(rendered.contains(&format!("<|im_start|>user\n{content}<|im_end|>\n")));
    assert!(rendered.ends_with("<|im_start|>assistant\n"));
}
