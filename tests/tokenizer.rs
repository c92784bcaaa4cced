//! The tokenizer against llama.cpp (goldens from tests/golden/tokenizer/make.py): the default
//! model's ids for all 2,000 MeQSum texts and hand-made strings, small vocabularies for every
//! supported pre-tokenizer and for SentencePiece, tokenizer.json round trips, errors, streaming.

use std::io::Read;

use clue_wasm::data::{Record, TaskId, read};
use clue_wasm::loader::gguf;
use clue_wasm::loader::tokenizer::{PreTokenizer, TokenKind, Tokenizer, TokenizerError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/tokenizer");
const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
);
const MEQSUM_XLSX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
);
const TINY: [&str; 6] = ["smollm", "gpt2", "default", "llama-bpe", "qwen2", "spm"];

fn golden_lines(name: &str) -> Vec<Value> {
    let path = format!("{GOLDEN}/{name}");
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut text)
        .unwrap_or_else(|error| panic!("{path}: {error}"));
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{path}: {error}")))
        .collect()
}

fn model_bytes() -> Vec<u8> {
    std::fs::read(MODEL).unwrap_or_else(|error| {
        panic!("{MODEL}: {error}; run scripts/setup to fetch the default model")
    })
}

fn tokenizer_of(bytes: &[u8], name: &str) -> Tokenizer {
    let file = gguf::parse(bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
    Tokenizer::from_gguf(&file).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn tiny(name: &str) -> Tokenizer {
    let path = format!("{GOLDEN}/tiny/{name}.gguf");
    tokenizer_of(
        &std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}")),
        name,
    )
}

/// Every CHQ and Summary, in row order, as the crate's MeQSum reader yields them.
fn meqsum_texts() -> Vec<(String, String)> {
    let bytes = std::fs::read(MEQSUM_XLSX).unwrap_or_else(|error| panic!("{MEQSUM_XLSX}: {error}"));
    let dataset = read("MeQSum.xlsx", &bytes, Some(TaskId::MeqSum)).expect("MeQSum reads");
    dataset
        .examples
        .into_iter()
        .map(|example| match example.record {
            Record::MeqSum(inquiry) => (inquiry.chq, inquiry.summary),
            other => panic!("not a MeQSum record: {other:?}"),
        })
        .collect()
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn ids_of(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .expect("ids")
        .iter()
        .map(|id| id.as_u64().expect("id") as u32)
        .collect()
}

/// The text a golden case tokenizes: a hand-made string, or a MeQSum text whose hash must match
/// what the Python script read.
fn case_text<'a>(case: &'a Value, meqsum: &'a [(String, String)]) -> &'a str {
    if let Some(text) = case["text"].as_str() {
        return text;
    }
    let row = case["row"].as_u64().expect("row") as usize;
    let text = match case["column"].as_str() {
        Some("chq") => &meqsum[row].0,
        Some("summary") => &meqsum[row].1,
        other => panic!("column {other:?}"),
    };
    assert_eq!(
        sha256(text),
        case["sha256"],
        "MeQSum row {row} {} differs from Python's",
        case["column"]
    );
    text
}

/// Checks every case line against `tokenizer`; returns how many were checked.
fn check_cases(
    tokenizer: &Tokenizer,
    cases: &[&Value],
    meqsum: &[(String, String)],
    label: &str,
) -> usize {
    let mut mismatches = Vec::new();
    for case in cases {
        let text = case_text(case, meqsum);
        let special = case["special"].as_bool().expect("special");
        let expected = ids_of(&case["ids"]);
        let ids = tokenizer.encode(text, special).expect("encodes");
        if ids != expected {
            mismatches.push(format!(
                "{text:?} (special {special}):\n  ours  {ids:?}\n  llama {expected:?}"
            ));
            continue;
        }
        let rendered = tokenizer.decode(&ids, false).expect("decodes");
        if let Some(detokenized) = case["detokenized"].as_str() {
            assert_eq!(
                rendered, detokenized,
                "{label}: llama.cpp's detokenization of {text:?}"
            );
        }
        // Byte-level vocabularies give the text back exactly; SentencePiece ones put a space
        // in front of every fragment between special tokens (as llama.cpp does).
        if tokenizer.pre_tokenizer().is_some() {
            assert_eq!(rendered, text, "{label}: decode(encode(x)) for {text:?}");
        }
        if !special {
            // Without parsing, no control token can appear: skipping them changes nothing.
            assert_eq!(
                tokenizer.decode(&ids, true).expect("decodes"),
                rendered,
                "{label}: {text:?}"
            );
        }
    }
    assert!(
        mismatches.is_empty(),
        "{label}: {} of {} cases differ from llama.cpp:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    cases.len()
}

/// The vocabulary facts llama.cpp derives, against ours.
fn check_facts(tokenizer: &Tokenizer, facts: &Value, label: &str) {
    assert_eq!(
        tokenizer.vocab_size() as u64,
        facts["vocab_size"],
        "{label}: vocab size"
    );
    let id = |value: &Value| value.as_u64().map(|id| id as u32);
    assert_eq!(tokenizer.bos_id(), id(&facts["bos"]), "{label}: BOS");
    assert_eq!(tokenizer.eos_id(), id(&facts["eos"]), "{label}: EOS");
    assert_eq!(
        Some(tokenizer.add_bos()),
        facts["add_bos"].as_bool(),
        "{label}: add_bos"
    );
    assert_eq!(
        tokenizer.end_of_generation_ids(),
        ids_of(&facts["end_of_generation"]),
        "{label}: end-of-generation ids"
    );
    let control: Vec<u32> = (0..tokenizer.vocab_size() as u32)
        .filter(|&id| tokenizer.token_kind(id) == Some(TokenKind::Control))
        .collect();
    assert_eq!(
        control,
        ids_of(&facts["control"]),
        "{label}: control tokens"
    );
    assert_eq!(
        tokenizer.encode_prompt("Hi").expect("encodes"),
        ids_of(&facts["prompt_ids"]),
        "{label}: prompt"
    );
}

#[test]
fn smollm2_matches_llama_cpp_on_all_meqsum_texts_and_handmade_strings() {
    let tokenizer = tokenizer_of(&model_bytes(), MODEL);
    let lines = golden_lines("smollm2.jsonl.gz");
    let facts = &lines[0];
    assert_eq!(
        sha256_bytes(&model_bytes()),
        facts["model_sha256"],
        "{MODEL} is not the file the goldens were made from; run scripts/setup"
    );
    check_facts(&tokenizer, facts, "SmolLM2");
    assert_eq!(tokenizer.pre_tokenizer(), Some(PreTokenizer::SmolLm));
    assert!(!tokenizer.add_bos(), "SmolLM2 prompts start without BOS");
    assert_eq!(tokenizer.token_text(2), Some("<|im_end|>"));
    assert!(tokenizer.is_end_of_generation(2));
    let template = tokenizer
        .chat_template()
        .expect("SmolLM2 has a chat template");
    assert!(template.contains("<|im_start|>"), "{template}");

    let meqsum = meqsum_texts();
    assert_eq!(meqsum.len(), 1000);
    let cases: Vec<&Value> = lines[1..].iter().collect();
    let from_meqsum = cases
        .iter()
        .filter(|case| case["source"] == "meqsum")
        .count();
    assert_eq!(from_meqsum, 2000, "every CHQ and Summary");
    let checked = check_cases(&tokenizer, &cases, &meqsum, "SmolLM2");
    assert!(checked > 2080, "{checked} cases");
}

fn sha256_bytes(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[test]
fn smollm2_parses_control_tokens_only_when_asked() {
    let tokenizer = tokenizer_of(&model_bytes(), MODEL);
    assert_eq!(tokenizer.encode("<|im_end|>", true).unwrap(), [2]);
    let plain = tokenizer.encode("<|im_end|>", false).unwrap();
    assert!(plain.len() > 1 && !plain.contains(&2), "{plain:?}");
    assert_eq!(tokenizer.decode(&plain, true).unwrap(), "<|im_end|>");
    assert_eq!(tokenizer.decode(&[1, 9690, 2], true).unwrap(), "system");
    assert_eq!(
        tokenizer.decode(&[1, 9690, 2], false).unwrap(),
        "<|im_start|>system<|im_end|>"
    );
    // Digits are split one by one (pre-tokenizer `smollm`).
    let digits = tokenizer.encode("2024", false).unwrap();
    assert_eq!(digits.len(), 4);
}

#[test]
fn tiny_vocabularies_match_llama_cpp_for_every_pre_tokenizer_and_sentencepiece() {
    let lines = golden_lines("tiny.jsonl.gz");
    let meqsum = meqsum_texts();
    for name in TINY {
        let tokenizer = tiny(name);
        let of_vocab: Vec<&Value> = lines.iter().filter(|line| line["vocab"] == name).collect();
        check_facts(&tokenizer, of_vocab[0], name);
        let checked = check_cases(&tokenizer, &of_vocab[1..], &meqsum, name);
        assert!(checked > 250, "{name}: {checked} cases");
    }
}

#[test]
fn pre_tokenizers_split_differently_on_the_same_vocabulary() {
    // The tiny vocabularies share their tokens and merges; only `tokenizer.ggml.pre` differs,
    // so differing ids show that each pre-tokenizer is the one llama.cpp uses.
    let text = "BP 120/80 mmHg (dose 1234) IT'S\n\n  x $(5) ...!!";
    let ids: Vec<Vec<u32>> = ["smollm", "gpt2", "default", "llama-bpe", "qwen2"]
        .iter()
        .map(|name| tiny(name).encode(text, false).unwrap())
        .collect();
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b, "{ids:?}");
        }
    }
    assert_eq!(
        tiny("llama-bpe").pre_tokenizer(),
        Some(PreTokenizer::Llama3)
    );
    assert_eq!(tiny("spm").pre_tokenizer(), None);
}

#[test]
fn sentencepiece_falls_back_to_bytes_and_marks_spaces() {
    let tokenizer = tiny("spm");
    // '😷' is not in the handmade vocabulary: four <0xXX> byte tokens.
    let ids = tokenizer.encode("😷", false).unwrap();
    let bytes: Vec<&str> = ids
        .iter()
        .filter_map(|&id| tokenizer.token_text(id))
        .collect();
    assert_eq!(
        &bytes[bytes.len() - 4..],
        ["<0xF0>", "<0x9F>", "<0x98>", "<0xB7>"],
        "{bytes:?}"
    );
    assert!(tokenizer.token_kind(ids[ids.len() - 1]) == Some(TokenKind::Byte));
    assert_eq!(tokenizer.decode(&ids, true).unwrap(), "😷");
    // A space is put in front of each text fragment, and decoding removes it from the first.
    let first = tokenizer.encode("a", false).unwrap();
    assert!(
        tokenizer.token_text(first[0]).unwrap().starts_with('▁'),
        "{first:?}"
    );
    assert_eq!(
        tokenizer.encode_prompt("a").unwrap()[0],
        tokenizer.bos_id().unwrap()
    );
}

/// Texts for comparing two tokenizers of the same vocabulary.
fn comparison_texts() -> Vec<String> {
    let lines = golden_lines("smollm2.jsonl.gz");
    let mut texts: Vec<String> = lines
        .iter()
        .filter_map(|line| line["text"].as_str().map(str::to_string))
        .collect();
    texts.extend(
        meqsum_texts()
            .into_iter()
            .take(100)
            .flat_map(|(chq, summary)| [chq, summary]),
    );
    texts
}

fn assert_same_ids(a: &Tokenizer, b: &Tokenizer, texts: &[String], label: &str) {
    for text in texts {
        for special in [false, true] {
            assert_eq!(
                a.encode(text, special).unwrap(),
                b.encode(text, special).unwrap(),
                "{label}: {text:?}"
            );
        }
    }
}

#[test]
fn tokenizer_json_export_reads_back_to_the_same_ids() {
    let texts = comparison_texts();
    let mut tokenizers: Vec<(String, Tokenizer)> = TINY
        .iter()
        .map(|name| (name.to_string(), tiny(name)))
        .collect();
    tokenizers.push(("SmolLM2".to_string(), tokenizer_of(&model_bytes(), MODEL)));
    for (label, from_gguf) in &tokenizers {
        let json = from_gguf.to_tokenizer_json().unwrap();
        let from_json = Tokenizer::from_tokenizer_json(json.as_bytes(), None).unwrap();
        assert_eq!(from_json.vocab_size(), from_gguf.vocab_size(), "{label}");
        assert_eq!(
            from_json.end_of_generation_ids(),
            from_gguf.end_of_generation_ids(),
            "{label}"
        );
        assert_same_ids(from_gguf, &from_json, &texts, label);
        for id in 0..from_gguf.vocab_size() as u32 {
            assert_eq!(
                from_json.token_bytes(id, true).unwrap(),
                from_gguf.token_bytes(id, true).unwrap(),
                "{label}: {id}"
            );
        }
    }
}

#[test]
fn tokenizer_config_supplies_bos_eos_and_chat_template() {
    let gguf_tokenizer = tokenizer_of(&model_bytes(), MODEL);
    let json = gguf_tokenizer.to_tokenizer_json().unwrap();
    let config = json!({
        "bos_token": "<|im_start|>",
        "eos_token": {"content": "<|im_end|>", "special": true},
        "add_bos_token": true,
        "chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "{{ messages }}"}],
    });
    let tokenizer =
        Tokenizer::from_tokenizer_json(json.as_bytes(), Some(config.to_string().as_bytes()))
            .unwrap();
    assert_eq!(tokenizer.bos_id(), Some(1));
    assert_eq!(tokenizer.eos_id(), Some(2));
    assert!(tokenizer.add_bos());
    assert_eq!(tokenizer.chat_template(), Some("{{ messages }}"));
    assert_eq!(tokenizer.encode_prompt("Hi").unwrap(), [1, 26843]);

    let unknown = json!({"eos_token": "<|nope|>"}).to_string();
    let error =
        Tokenizer::from_tokenizer_json(json.as_bytes(), Some(unknown.as_bytes())).unwrap_err();
    assert!(
        error.to_string().contains("tokenizer_config.json")
            && error.to_string().contains("<|nope|>"),
        "{error}"
    );
}

#[test]
fn handmade_tokenizer_json_follows_its_added_tokens() {
    // A byte-level BPE written by hand: "a", "b", "ab", "Ġ", "Ġab", and two added tokens.
    let json = json!({
        "version": "1.0",
        "added_tokens": [
            {"id": 5, "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 6, "content": "<pad>", "single_word": false, "lstrip": true, "rstrip": true, "normalized": false, "special": false}
        ],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4, "<|end|>": 5, "<pad>": 6},
            "merges": [["a", "b"], ["Ġ", "ab"]]
        }
    })
    .to_string();
    let tokenizer = Tokenizer::from_tokenizer_json(json.as_bytes(), None).unwrap();
    assert_eq!(tokenizer.encode("ab ab", false).unwrap(), [2, 4]);
    assert_eq!(tokenizer.encode("ab<|end|>", true).unwrap(), [2, 5]);
    // Unparsed, its characters are not in this vocabulary and are dropped, as llama.cpp does.
    assert_eq!(tokenizer.encode("ab<|end|>", false).unwrap(), [2]);
    // `<pad>` is not special: matched either way, with the spaces around it stripped.
    assert_eq!(tokenizer.encode("ab <pad> ab", false).unwrap(), [2, 6, 2]);
    assert!(tokenizer.is_end_of_generation(5), "<|end|> ends generation");
    assert_eq!(tokenizer.token_kind(6), Some(TokenKind::UserDefined));
    assert_eq!(tokenizer.decode(&[4, 5, 6], true).unwrap(), " ab<pad>");
}

#[test]
fn tokenizer_json_errors_name_the_file_and_field() {
    let cases: [(&[u8], &str); 3] = [
        (b"{not json", "not valid JSON"),
        (
            br#"{"model": {"type": "WordPiece"}}"#,
            "model.type is \"WordPiece\"",
        ),
        (
            br#"{"model": {"type": "BPE"}, "decoder": {"type": "WordPiece"}}"#,
            "decoder",
        ),
    ];
    for (bytes, expected) in cases {
        let error = Tokenizer::from_tokenizer_json(bytes, None).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("tokenizer.json: ") && message.contains(expected),
            "{message}"
        );
    }
}

/// A GGUF v3 file with the given metadata and no tensors.
fn gguf_file(entries: &[(&str, Value)]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, text: &str) {
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    fn value(out: &mut Vec<u8>, value: &Value, with_type: bool) {
        let (kind, body): (u32, Vec<u8>) = match value {
            Value::Bool(flag) => (7, vec![u8::from(*flag)]),
            Value::Number(number) => (4, (number.as_u64().unwrap() as u32).to_le_bytes().to_vec()),
            Value::String(text) => {
                let mut body = Vec::new();
                string(&mut body, text);
                (8, body)
            }
            Value::Array(items) => {
                let mut body = Vec::new();
                let element = match items.first() {
                    Some(Value::String(_)) => 8u32,
                    _ => 5,
                };
                body.extend_from_slice(&element.to_le_bytes());
                body.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for item in items {
                    match item {
                        Value::String(text) => string(&mut body, text),
                        other => {
                            body.extend_from_slice(&(other.as_i64().unwrap() as i32).to_le_bytes())
                        }
                    }
                }
                (9, body)
            }
            other => panic!("no GGUF type for {other}"),
        };
        if with_type {
            out.extend_from_slice(&kind.to_le_bytes());
        }
        out.extend_from_slice(&body);
    }
    let mut out = b"GGUF".to_vec();
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (key, entry) in entries {
        string(&mut out, key);
        value(&mut out, entry, true);
    }
    while !out.len().is_multiple_of(32) {
        out.push(0);
    }
    out
}

fn gguf_error(entries: &[(&str, Value)]) -> String {
    let bytes = gguf_file(entries);
    let file = gguf::parse(&bytes).expect("the handmade GGUF parses");
    match Tokenizer::from_gguf(&file) {
        Ok(tokenizer) => panic!("built {tokenizer:?}"),
        Err(error) => error.to_string(),
    }
}

fn byte_level_entries(pre: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("tokenizer.ggml.model", json!("gpt2")),
        ("tokenizer.ggml.pre", json!(pre)),
        ("tokenizer.ggml.tokens", json!(["a", "b", "ab"])),
        ("tokenizer.ggml.merges", json!(["a b"])),
    ]
}

#[test]
fn gguf_metadata_errors_name_the_key_and_value() {
    let message = gguf_error(&[("general.architecture", json!("llama"))]);
    assert!(
        message.contains("tokenizer.ggml.model") && message.contains("missing"),
        "{message}"
    );

    let message = gguf_error(&[("tokenizer.ggml.model", json!("bert"))]);
    assert!(
        message.contains("tokenizer.ggml.model") && message.contains("\"bert\""),
        "{message}"
    );

    let message = gguf_error(&byte_level_entries("klingon-7b"));
    assert!(
        message.contains("tokenizer.ggml.pre") && message.contains("\"klingon-7b\""),
        "{message}"
    );
    assert!(
        message.contains("\"smollm\""),
        "lists what is supported: {message}"
    );

    let mut missing_merges = byte_level_entries("gpt-2");
    missing_merges.pop();
    let message = gguf_error(&missing_merges);
    assert!(message.contains("tokenizer.ggml.merges"), "{message}");

    let mut bad_merge = byte_level_entries("gpt-2");
    bad_merge[3].1 = json!(["ab"]);
    let message = gguf_error(&bad_merge);
    assert!(
        message.contains("tokenizer.ggml.merges") && message.contains("\"ab\""),
        "{message}"
    );

    let mut duplicate = byte_level_entries("gpt-2");
    duplicate[2].1 = json!(["a", "b", "ab", "a"]);
    let message = gguf_error(&duplicate);
    assert!(
        message.contains("tokenizer.ggml.tokens") && message.contains("ids 0 and 3"),
        "{message}"
    );

    let mut out_of_range = byte_level_entries("gpt-2");
    out_of_range.push(("tokenizer.ggml.bos_token_id", json!(7)));
    let message = gguf_error(&out_of_range);
    assert!(
        message.contains("tokenizer.ggml.bos_token_id") && message.contains('7'),
        "{message}"
    );

    let mut short_types = byte_level_entries("gpt-2");
    short_types.push(("tokenizer.ggml.token_type", json!([1, 1])));
    let message = gguf_error(&short_types);
    assert!(message.contains("tokenizer.ggml.token_type"), "{message}");

    let mut wrong_type = byte_level_entries("gpt-2");
    wrong_type[0].1 = json!(5);
    let message = gguf_error(&wrong_type);
    assert!(message.contains("tokenizer.ggml.model"), "{message}");
}

#[test]
fn a_minimal_gguf_vocabulary_builds_with_llama_cpp_defaults() {
    let bytes = gguf_file(&byte_level_entries("gpt-2"));
    let tokenizer = Tokenizer::from_gguf(&gguf::parse(&bytes).unwrap()).unwrap();
    assert_eq!(tokenizer.encode("abab", false).unwrap(), [2, 2]);
    assert_eq!(tokenizer.bos_id(), None);
    assert!(!tokenizer.add_bos());
    assert_eq!(tokenizer.chat_template(), None);
    assert!(tokenizer.end_of_generation_ids().is_empty());
    let error = tokenizer.decode(&[3], false).unwrap_err();
    assert_eq!(
        error,
        TokenizerError::UnknownId {
            id: 3,
            vocab_size: 3
        }
    );
    assert!(tokenizer.stream(false).push(9).is_err());
}

#[test]
fn streaming_holds_back_split_characters_and_matches_decode() {
    let tokenizer = tokenizer_of(&model_bytes(), MODEL);
    let text = "Fever 38.5°C 😷, naïve 日本語 👨‍👩‍👧<|im_end|>";
    let ids = tokenizer.encode(text, true).unwrap();
    for skip_special in [false, true] {
        let mut stream = tokenizer.stream(skip_special);
        let mut streamed = String::new();
        let mut held_back = 0;
        for &id in &ids {
            let piece = stream.push(id).unwrap();
            assert!(!piece.contains('\u{FFFD}'), "{piece:?}");
            held_back += usize::from(piece.is_empty());
            streamed.push_str(&piece);
        }
        streamed.push_str(&stream.finish());
        assert_eq!(streamed, tokenizer.decode(&ids, skip_special).unwrap());
        assert!(held_back > 0, "the emoji span several byte tokens");
    }
    // A character cut off at the end becomes U+FFFD, in both.
    let emoji = tokenizer.encode("😷", false).unwrap();
    let cut = &emoji[..emoji.len() - 1];
    let mut stream = tokenizer.stream(false);
    let mut streamed: String = cut.iter().map(|&id| stream.push(id).unwrap()).collect();
    streamed.push_str(&stream.finish());
    assert_eq!(streamed, "\u{FFFD}");
    assert_eq!(tokenizer.decode(cut, false).unwrap(), "\u{FFFD}");
}
