//! `clue generate` and `clue tokenize`: one prompt through a GGUF model, with the prompt's
//! log-probs and timings as JSON, and tokenization as llama.cpp does it — the commands the
//! parity checks against llama.cpp drive.

use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use clue::loader::gguf;
use clue::loader::tokenizer::Tokenizer;
use clue::model::{
    self, Backend, Control, GenerateSettings, GgufWeights, Llama, StopRule, config_from_gguf,
};
use clue::prompt::chat_template::{ChatTemplate, Message, Role, SpecialTokens};
use clue::tasks::Sampling;

/// A loaded model: the weights on a device and the tokenizer from the same file.
pub struct Loaded {
    pub model: Llama,
    pub tokenizer: Tokenizer,
    pub backend: Backend,
}

/// Reads a GGUF file and puts its decoder on `backend`.
pub fn load(path: &Path, backend: Backend) -> Result<Loaded, String> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    let file = gguf::parse(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let tokenizer = Tokenizer::from_gguf(&file).map_err(|e| format!("{name}: {e}"))?;
    let config = config_from_gguf(&file).map_err(|e| format!("{name}: {e}"))?;
    let device = pollster::block_on(model::open(backend)).map_err(|e| e.to_string())?;
    let model = Llama::load(&config, &GgufWeights::new(&file), &device)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(Loaded {
        model,
        tokenizer,
        backend,
    })
}

/// The ids of a prompt file: with `chat`, its text is one user message rendered with the
/// model's chat template (template markers become special tokens, the message stays text);
/// without, the file is the exact prompt and special-token text in it is parsed as such.
fn prompt_ids(loaded: &Loaded, text: &str, chat: bool) -> Result<Vec<u32>, String> {
    let tokenizer = &loaded.tokenizer;
    if !chat {
        return tokenizer.encode_prompt(text).map_err(|e| e.to_string());
    }
    let source = tokenizer
        .chat_template()
        .ok_or("--chat: the model has no chat template")?;
    let token = |id: Option<u32>| id.and_then(|id| tokenizer.token_text(id).map(str::to_owned));
    let template = ChatTemplate::new(
        source,
        SpecialTokens {
            bos_token: token(tokenizer.bos_id()),
            eos_token: token(tokenizer.eos_id()),
            ..SpecialTokens::default()
        },
    )
    .map_err(|e| e.to_string())?;
    // The message is rendered as a private-use placeholder, so that only the template's own
    // text is searched for special tokens and the user's text reaches the model as text.
    const PLACEHOLDER: &str = "\u{F8FF}message\u{F8FF}";
    let rendered = template
        .render(&[Message::new(Role::User, PLACEHOLDER)], true)
        .map_err(|e| e.to_string())?;
    let (before, after) = rendered
        .split_once(PLACEHOLDER)
        .ok_or("--chat: the chat template dropped the message")?;
    let mut ids = Vec::new();
    if let (true, Some(bos)) = (tokenizer.add_bos(), tokenizer.bos_id()) {
        ids.push(bos);
    }
    for (part, special) in [(before, true), (text, false), (after, true)] {
        ids.extend(tokenizer.encode(part, special).map_err(|e| e.to_string())?);
    }
    Ok(ids)
}

/// What `clue generate` was asked to do.
pub struct GenerateArgs<'a> {
    pub model: &'a Path,
    pub prompt_file: &'a Path,
    pub chat: bool,
    pub max_tokens: usize,
    pub backend: Backend,
    pub json: bool,
}

/// Greedy generation from a prompt file; prints the completion, or with `json` the ids,
/// prompt log-probs, completion and speeds.
pub fn generate(args: GenerateArgs<'_>) -> Result<(), String> {
    let text = std::fs::read_to_string(args.prompt_file)
        .map_err(|e| format!("{}: {e}", args.prompt_file.display()))?;
    let loaded = load(args.model, args.backend)?;
    let ids = prompt_ids(&loaded, &text, args.chat)?;
    if ids.is_empty() {
        return Err(format!(
            "{}: the prompt is empty",
            args.prompt_file.display()
        ));
    }
    let tokenizer = &loaded.tokenizer;
    let decode = |ids: &[u32]| tokenizer.decode(ids, true).unwrap_or_default();
    let stop = StopRule {
        eos_ids: tokenizer.end_of_generation_ids(),
        stop_strings: &[],
        decode: &decode,
    };
    let settings = GenerateSettings {
        max_new_tokens: args.max_tokens,
        sampling: Sampling::Greedy,
    };
    let prompt_logprobs = if args.json {
        pollster::block_on(model::prompt_logprobs(&loaded.model, loaded.backend, &ids))
            .map_err(|e| e.to_string())?
    } else {
        Vec::new()
    };
    let started = Instant::now();
    let completion = pollster::block_on(model::generate(
        &loaded.model,
        loaded.backend,
        &ids,
        &settings,
        &stop,
        &mut |_| Control::Continue,
    ))
    .map_err(|e| e.to_string())?;
    let text = decode(&completion.ids);
    if !args.json {
        return super::score::print_out(&format!("{text}\n"));
    }
    let per_second = |tokens: usize, ms: f64| (ms > 0.0).then(|| tokens as f64 / (ms / 1000.0));
    let line = serde_json::json!({
        "prompt_ids": ids,
        "prompt_logprobs": prompt_logprobs,
        "completion_ids": completion.ids,
        "completion": text,
        "stop_reason": completion.stop_reason,
        "prefill_tok_s": per_second(ids.len(), completion.prefill_ms),
        "decode_tok_s": per_second(completion.ids.len().saturating_sub(1), completion.decode_ms),
        "wall_s": started.elapsed().as_secs_f64(),
        "backend": loaded.backend.as_str(),
    });
    super::score::print_out(&format!("{line}\n"))
}

/// Reads one JSON string per stdin line and prints its ids as a JSON array (no BOS, special
/// tokens not parsed: llama.cpp's `tokenize(text, add_special=false, parse_special=false)`).
pub fn tokenize(model_path: &Path, parse_special: bool) -> Result<(), String> {
    let name = model_path.display().to_string();
    let bytes = std::fs::read(model_path).map_err(|e| format!("{name}: {e}"))?;
    let file = gguf::parse(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let tokenizer = Tokenizer::from_gguf(&file).map_err(|e| format!("{name}: {e}"))?;
    let mut out = String::new();
    for (index, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| format!("stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let text: String = serde_json::from_str(&line)
            .map_err(|e| format!("stdin, line {}: not a JSON string: {e}", index + 1))?;
        let ids = tokenizer
            .encode(&text, parse_special)
            .map_err(|e| format!("stdin, line {}: {e}", index + 1))?;
        out.push_str(&serde_json::to_string(&ids).map_err(|e| e.to_string())?);
        out.push('\n');
    }
    super::score::print_out(&out)
}
