//! `clue generate` and `clue tokenize`: one prompt through a GGUF model, with the prompt's
//! log-probs and timings as JSON, and tokenization as llama.cpp does it — the commands the
//! parity checks against llama.cpp drive.

use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use clue_wasm::loader::gguf;
use clue_wasm::loader::tokenizer::Tokenizer;
use clue_wasm::model::{self, Backend, Control};

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
    let loaded = crate::eval::load_model(args.model, args.backend)?;
    let ids = loaded
        .prompt_ids(&text, args.chat)
        .map_err(|e| e.to_string())?;
    if ids.is_empty() {
        return Err(format!(
            "{}: the prompt is empty",
            args.prompt_file.display()
        ));
    }
    let prompt_logprobs = if args.json {
        pollster::block_on(model::prompt_logprobs(&loaded.model, loaded.backend, &ids))
            .map_err(|e| e.to_string())?
    } else {
        Vec::new()
    };
    let started = Instant::now();
    let completion =
        pollster::block_on(loaded.greedy(&ids, args.max_tokens, &mut |_| Control::Continue))
            .map_err(|e| e.to_string())?;
    let text = loaded.decode(&completion.ids);
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
