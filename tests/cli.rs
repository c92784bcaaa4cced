//! The `clue` command as a user runs it: `score` on the real MeQSum file, its errors, `serve`'s
//! headers, and `eval` (real data, a killed run resumed from its cache, bad settings).
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const MEQSUM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
);

fn clue() -> Command {
    Command::new(env!("CARGO_BIN_EXE_clue"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clue-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Predictions that copy each row's reference summary, so ROUGE must be exactly 1.
fn perfect_meqsum_predictions(path: &Path) {
    let bytes = std::fs::read(MEQSUM).unwrap();
    let dataset = clue_wasm::data::read("meqsum.xlsx", &bytes, None).unwrap();
    let mut out = String::new();
    for example in &dataset.examples {
        let clue_wasm::data::Record::MeqSum(inquiry) = &example.record else {
            panic!("not a MeQSum row");
        };
        let line = serde_json::json!({"id": example.id, "prediction": inquiry.summary});
        out.push_str(&format!("{line}\n"));
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn score_prints_json_for_the_real_meqsum_file() {
    let predictions = scratch("perfect.jsonl");
    perfect_meqsum_predictions(&predictions);
    let output = clue()
        .args([
            "score",
            "--task",
            "meqsum",
            "--data",
            MEQSUM,
            "--json",
            "--predictions",
        ])
        .arg(&predictions)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let meqsum = &json["tasks"]["meqsum"];
    // The paper profile's three few-shot rows are not evaluated.
    assert_eq!(meqsum["n"], 997);
    for metric in ["rouge1", "rouge2", "rougeL", "rougeLsum"] {
        assert_eq!(meqsum["metrics"][metric], 1.0, "{metric}");
        assert_eq!(
            meqsum["ci95"][metric],
            serde_json::json!([1.0, 1.0]),
            "{metric}"
        );
    }
    // BERTScore is not computed here, so the task score is not either: null, never 0.
    assert_eq!(meqsum["score"], serde_json::Value::Null);
    assert_eq!(meqsum["not_computed"], serde_json::json!(["bertscore_f1"]));
    assert_eq!(
        json["few_shot_ignored"]["meqsum"].as_array().unwrap().len(),
        3
    );
    assert_eq!(json["levels"]["level1"]["score"], serde_json::Value::Null);
}

#[test]
fn score_with_a_bert_model_computes_bertscore_and_the_task_score() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/src/data/demo/meqsum.xlsx");
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
    let dataset =
        clue_wasm::data::read("meqsum.xlsx", &std::fs::read(data).unwrap(), None).unwrap();
    let rows: Vec<(String, String, String)> = dataset
        .examples
        .iter()
        .enumerate()
        .map(|(i, example)| {
            let clue_wasm::data::Record::MeqSum(inquiry) = &example.record else {
                panic!("not a MeQSum row");
            };
            let prediction = format!("What is the treatment for condition number {i}?");
            (example.id.clone(), prediction, inquiry.summary.clone())
        })
        .collect();
    let predictions = scratch("bert-predictions.jsonl");
    let lines: String = rows
        .iter()
        .map(|(id, prediction, _)| {
            format!(
                "{}\n",
                serde_json::json!({"id": id, "prediction": prediction})
            )
        })
        .collect();
    std::fs::write(&predictions, lines).unwrap();
    let output = clue()
        .args(["score", "--data", data, "--json", "--bert-model", model])
        .args(["--bert-layer", "6", "--predictions"])
        .arg(&predictions)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let meqsum = &json["tasks"]["meqsum"];
    let few_shot: Vec<&str> = json["few_shot_ignored"]["meqsum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    let scored: Vec<&(String, String, String)> = rows
        .iter()
        .filter(|(id, ..)| !few_shot.contains(&id.as_str()))
        .collect();
    assert_eq!(meqsum["n"], scored.len());
    // The same pairs in the same order through the library: the same batches, the same values.
    let files: Vec<(String, Vec<u8>)> = ["config.json", "tokenizer.json", "tokenizer_config.json"]
        .into_iter()
        .chain(["model.safetensors"])
        .map(|name| {
            (
                name.to_string(),
                std::fs::read(format!("{model}/{name}")).unwrap(),
            )
        })
        .collect();
    let scorer = pollster::block_on(
        clue_wasm::metrics::bertscore::BertScorer::from_hf_directory(
            "all-MiniLM-L6-v2",
            &files,
            6,
            clue_wasm::model::Backend::Cpu,
        ),
    )
    .unwrap();
    let candidates: Vec<&str> = scored.iter().map(|(_, p, _)| p.as_str()).collect();
    let references: Vec<&str> = scored.iter().map(|(_, _, r)| r.as_str()).collect();
    let scores =
        pollster::block_on(scorer.score(&candidates, &references, Default::default())).unwrap();
    let mean_f1 = scores.iter().map(|s| s.f1).sum::<f64>() / scores.len() as f64;
    let got = meqsum["metrics"]["bertscore_f1"].as_f64().unwrap();
    assert!((got - mean_f1).abs() < 1e-9, "{got} vs {mean_f1}");
    assert!(meqsum["metrics"]["bertscore_p"].is_f64());
    assert!(meqsum["ci95"]["bertscore_f1"].is_array());
    // With BERTScore the task score is computed: the mean of the displayed metrics.
    assert!(meqsum["score"].is_f64(), "{meqsum}");
    assert_eq!(meqsum["not_computed"], serde_json::json!([]));
    let bert = &json["bertscore"];
    assert_eq!(bert["layer"], 6);
    assert_eq!(bert["samples"], scored.len());
    assert_eq!(bert["comparable_tasks"], serde_json::json!([]));
    assert!(
        stderr.contains("meqsum: BERTScore from") && stderr.contains("not comparable"),
        "{stderr}"
    );
}

#[test]
fn score_reads_a_bert_directory_of_vocab_txt_and_pytorch_model_bin() {
    // As SciBERT and Bio_ClinicalBERT ship: no tokenizer.json, no safetensors.
    let tiny = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/bertscore/tiny-bert"
    );
    let dir = scratch("tiny-scibert");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["config.json", "vocab.txt", "pytorch_model.bin"] {
        std::fs::copy(format!("{tiny}/{name}"), dir.join(name)).unwrap();
    }
    let predictions = scratch("tiny-predictions.jsonl");
    perfect_meqsum_predictions(&predictions);
    let output = clue()
        .args(["score", "--data", MEQSUM, "--json", "--bert-layer", "2"])
        .arg("--bert-model")
        .arg(&dir)
        .arg("--predictions")
        .arg(&predictions)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // Each prediction is its reference: every token finds itself, so BERTScore is 1.
    let f1 = json["tasks"]["meqsum"]["metrics"]["bertscore_f1"]
        .as_f64()
        .unwrap();
    assert!((f1 - 1.0).abs() < 1e-6, "{f1}");
    assert_eq!(json["bertscore"]["model"], "tiny-scibert");
}

#[test]
fn score_prints_a_table() {
    let predictions = scratch("table.jsonl");
    perfect_meqsum_predictions(&predictions);
    let output = clue()
        .args([
            "score",
            "--data",
            MEQSUM,
            "--resamples",
            "50",
            "--predictions",
        ])
        .arg(&predictions)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(
        table.contains("meqsum       rouge1           100.00  [100.00, 100.00]"),
        "{table}"
    );
    assert!(
        table.contains("not computed (missing bertscore_f1"),
        "{table}"
    );
    assert!(table.contains("Level 1"), "{table}");
}

#[test]
fn score_errors_name_the_file_line_and_field() {
    let predictions = scratch("bad.jsonl");
    std::fs::write(&predictions, "{\"id\": \"14348.txt\", \"prediction\": \"x\"}\n{\"id\": \"nope\", \"prediction\": \"x\"}\n").unwrap();
    let output = clue()
        .args(["score", "--data", MEQSUM, "--predictions"])
        .arg(&predictions)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "bad.jsonl, line 2, field \"id\": \"nope\" is not a request of this meqsum file"
        ),
        "{stderr}"
    );

    let output = clue()
        .args(["score", "--data", "no/such/file.jsonl", "--predictions"])
        .arg(&predictions)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no/such/file.jsonl"));

    let output = clue()
        .args([
            "score",
            "--data",
            MEQSUM,
            "--profile",
            "paper",
            "--predictions",
        ])
        .arg(&predictions)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown profile \"paper\""));
}

/// Kills the server when the test ends, whatever happens.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `clue serve` on `root` at a free port: the server (killed when dropped) and its
/// `host:port`.
fn serve(root: &Path) -> (Server, String) {
    let child = clue()
        .args(["serve", "--port", "0", "--root"])
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("Serving the CLUE page at http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (server, address)
}

fn get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    String::from_utf8_lossy(&response[..head_end]).to_lowercase()
}

#[test]
fn serve_sends_the_page_with_isolation_headers_and_wasm_mime_type() {
    let root = scratch("site");
    std::fs::create_dir_all(root.join("www")).unwrap();
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    let policy = "default-src 'self'; connect-src 'self'";
    std::fs::write(
        root.join("www/index.html"),
        format!(
            r#"<!doctype html><meta http-equiv="Content-Security-Policy" content="{policy}"><title>t</title>"#
        ),
    )
    .unwrap();
    std::fs::write(root.join("pkg/clue.js"), "export default 1;").unwrap();
    std::fs::write(root.join("pkg/clue_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let (_server, address) = serve(&root);

    let wasm = get(&address, "/pkg/clue_bg.wasm");
    assert!(wasm.starts_with("http/1.1 200"), "{wasm}");
    assert!(wasm.contains("content-type: application/wasm"), "{wasm}");
    assert!(
        wasm.contains("cross-origin-opener-policy: same-origin"),
        "{wasm}"
    );
    assert!(
        wasm.contains("cross-origin-embedder-policy: require-corp"),
        "{wasm}"
    );
    let page = get(&address, "/");
    assert!(page.contains("content-type: text/html"), "{page}");
    let missing = get(&address, "/missing");
    assert!(missing.starts_with("http/1.1 404"));
    // The page's own policy, on every response (get lowercases the head), and nosniff.
    let header = format!("content-security-policy: {policy}");
    for response in [&wasm, &page, &missing] {
        assert!(response.contains(&header), "{response}");
        assert!(
            response.contains("x-content-type-options: nosniff"),
            "{response}"
        );
    }
}

/// `clue serve` serves only what is meant to be: no dotfile or dot directory, even
/// percent-encoded, and no symlink out of its roots (one inside a root is followed).
#[cfg(unix)]
#[test]
fn serve_refuses_dotfiles_and_symlinks_out_of_its_roots() {
    let root = scratch("site-guard");
    let _ = std::fs::remove_dir_all(&root);
    for dir in ["www/.git", "pkg", "models", "outside"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(
        root.join("www/index.html"),
        r#"<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src 'self'"><title>t</title>"#,
    )
    .unwrap();
    std::fs::write(root.join("www/.env"), "SECRET=1").unwrap();
    std::fs::write(root.join("www/.git/config"), "[core]").unwrap();
    std::fs::write(root.join("www/page.css"), "body {}").unwrap();
    std::fs::write(root.join("outside/notes.txt"), "patient notes").unwrap();
    std::os::unix::fs::symlink(root.join("outside/notes.txt"), root.join("www/notes.txt")).unwrap();
    std::os::unix::fs::symlink(root.join("outside"), root.join("models/all")).unwrap();
    std::os::unix::fs::symlink(root.join("www/page.css"), root.join("www/alias.css")).unwrap();
    let (_server, address) = serve(&root);
    for path in [
        "/.env",
        "/%2eenv",
        "/.git/config",
        "/notes.txt",
        "/models/all/notes.txt",
    ] {
        let response = get(&address, path);
        assert!(response.starts_with("http/1.1 404"), "{path}: {response}");
    }
    for path in ["/page.css", "/alias.css"] {
        let response = get(&address, path);
        assert!(response.starts_with("http/1.1 200"), "{path}: {response}");
    }
}

#[test]
fn serve_refuses_a_root_without_the_page() {
    let root = scratch("empty-root");
    std::fs::create_dir_all(&root).unwrap();
    let output = clue()
        .args(["serve", "--port", "0", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("has no index.html"));
}

/// Runs `clue eval` with `args`, writing to `out`, and returns what it printed.
fn eval_output(out: &Path, args: &[&str]) -> std::process::Output {
    clue()
        .arg("eval")
        .args(args)
        .arg("--out")
        .arg(out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// Runs `clue eval` with `args` to completion and returns its results.json.
fn eval_to_end(out: &Path, args: &[&str]) -> serde_json::Value {
    let output = eval_output(out, args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn eval_on_real_meqsum_writes_results_samples_and_csv() {
    let out = scratch("eval-meqsum");
    let _ = std::fs::remove_dir_all(&out);
    let data = format!("meqsum={MEQSUM}");
    let results = eval_to_end(
        &out,
        &["--data", &data, "--limit", "2", "--max-new-tokens", "8"],
    );
    assert_eq!(results["tasks"]["meqsum"]["n"], 2);
    assert!(
        results["tasks"].get("mednli").is_none(),
        "only the task given data"
    );
    assert_eq!(results["run"]["data"][0]["file"], MEQSUM);
    assert_eq!(results["run"]["generated"], 2);
    let samples = std::fs::read_to_string(out.join("samples.jsonl")).unwrap();
    assert_eq!(samples.lines().count(), 2);
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        csv.starts_with("task,metric,value,ci95_low,ci95_high,n\n"),
        "{csv}"
    );

    // `clue score` takes the samples file as predictions and gives the same ROUGE.
    let output = clue()
        .args(["score", "--task", "meqsum", "--json", "--data", MEQSUM])
        .arg("--predictions")
        .arg(out.join("samples.jsonl"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rescored: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        rescored["tasks"]["meqsum"]["metrics"],
        results["tasks"]["meqsum"]["metrics"]
    );
}

#[test]
fn a_killed_eval_resumes_from_its_cache() {
    let out = scratch("eval-killed");
    let _ = std::fs::remove_dir_all(&out);
    let args = [
        "--tasks",
        "meqsum",
        "--limit",
        "4",
        "--max-new-tokens",
        "24",
    ];
    let mut child = clue()
        .arg("eval")
        .args(args)
        .arg("--out")
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cache = out.join("cache.jsonl");
    let finished_lines = || {
        std::fs::read_to_string(&cache)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while finished_lines() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no completion within 300 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = finished_lines();
    assert!(before < 4, "killed midway ({before} of 4 finished)");

    let results = eval_to_end(&out, &args);
    let run = &results["run"];
    assert_eq!(run["completed"], 4);
    assert_eq!(
        run["from_cache"], before,
        "every finished completion came from the cache"
    );
    assert_eq!(run["generated"], 4 - before);
    let samples = std::fs::read_to_string(out.join("samples.jsonl")).unwrap();
    let cached = samples
        .lines()
        .filter(|l| l.contains("\"cached\":true"))
        .count();
    assert_eq!(cached, before);

    // Run again: nothing left to compute.
    let again = eval_to_end(&out, &args);
    assert_eq!(again["run"]["generated"], 0);
    assert_eq!(again["tasks"], results["tasks"]);

    // A cache that was tampered with heals: an entry whose text is not its ids' and one line
    // that does not parse are dropped with a warning, the entry is generated again, and the
    // run ends with the same scores.
    let text = std::fs::read_to_string(&cache).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut entry: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    entry["generated"]["completion"] = "a summary the model never wrote".into();
    lines[0] = entry.to_string();
    lines.push("{\"key\": \"torn".into());
    std::fs::write(&cache, lines.join("\n") + "\n").unwrap();
    let output = eval_output(&out, &args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "its text is not what its token ids decode to); dropped, generating it again"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("skipped 1 unreadable line"), "{stderr}");
    let healed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(healed["run"]["generated"], 1);
    assert_eq!(healed["tasks"], results["tasks"]);
}

#[test]
fn eval_refuses_bad_settings_naming_them() {
    let out = scratch("eval-bad");
    let cases: [(&[&str], &str); 4] = [
        (&["--data", "meqsum"], "TASK=FILE"),
        (&["--full-demo", "--limit", "2"], "--full-demo"),
        (
            &["--tasks", "mednli", "--data", "meqsum=x.xlsx"],
            "not among --tasks",
        ),
        (
            &["--tasks", "mednli", "--ids", "nope"],
            "no example or request has the id \"nope\"",
        ),
    ];
    for (args, expected) in cases {
        let output = clue()
            .arg("eval")
            .args(args)
            .arg("--out")
            .arg(&out)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// `clue eval` on the demo sets alone runs the quick demo (the first example of each set) unless
/// told `--full-demo`, `--limit` or `--ids`; a user's file — even one with the demo's very
/// bytes — is always evaluated whole. What is counted here does not depend on the model, so the
/// tiny random Llama of tests/golden/archs runs it (SmolLM2 in the debug build took 3 minutes).
#[test]
fn eval_on_demo_sets_alone_is_the_quick_demo() {
    let quick = clue_wasm::data::demo::QUICK_LIMIT;
    let out = scratch("eval-quick-demo");
    let _ = std::fs::remove_dir_all(&out);
    let model = format!(
        "{}/tests/golden/archs/llama-Q4_K_M.gguf",
        env!("CARGO_MANIFEST_DIR")
    );
    let fast = [
        "--model",
        &model,
        "--max-new-tokens",
        "1",
        "--resamples",
        "0",
        "--no-cache",
    ];
    let mut args = vec!["--tasks", "mednli"];
    args.extend(fast);
    let results = eval_to_end(&out, &args);
    assert_eq!(results["tasks"]["mednli"]["n"], quick);
    assert_eq!(results["run"]["options"]["limit"], quick);
    assert_eq!(
        results["run"]["options"]["longhealth_prompts"],
        clue_wasm::data::demo::QUICK_LONGHEALTH_PROMPTS
    );

    let demo = clue_wasm::data::demo::file(clue_wasm::data::TaskId::MedNli);
    let lines = std::str::from_utf8(demo.bytes).unwrap().lines().count();
    assert!(lines > quick, "the demo set is larger than the quick demo");
    let file = scratch("mine.jsonl");
    std::fs::write(&file, demo.bytes).unwrap();
    let data = format!("mednli={}", file.display());
    let mut args = vec!["--data", &data];
    args.extend(fast);
    let results = eval_to_end(&out, &args);
    // MedNLI takes its 3 shots from the file's first rows; the rest are evaluated.
    assert_eq!(results["tasks"]["mednli"]["n"], lines - 3);
    assert!(results["run"]["options"]["limit"].is_null());

    let mut args = vec!["--tasks", "mednli", "--full-demo"];
    args.extend(fast);
    let results = eval_to_end(&out, &args);
    assert_eq!(results["tasks"]["mednli"]["n"], lines - 3);
    assert!(results["run"]["options"]["limit"].is_null());
}

/// `clue generate` runs every architecture (random-weight models of tests/golden/archs, with the
/// tiny vocabulary of the tokenizer tests) and greedily generates the tokens asked for.
#[test]
fn generate_runs_every_architecture() {
    let prompt = scratch("arch-prompt.txt");
    std::fs::write(&prompt, "The patient was admitted with").unwrap();
    for arch in ["llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"] {
        let model = format!(
            "{}/tests/golden/archs/{arch}-Q4_K_M.gguf",
            env!("CARGO_MANIFEST_DIR")
        );
        let output = clue()
            .args([
                "generate",
                "--model",
                &model,
                "--max-tokens",
                "4",
                "--json",
                "--prompt-file",
            ])
            .arg(&prompt)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{arch}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let ids = json["completion_ids"].as_array().expect("completion ids");
        assert!(!ids.is_empty() && ids.len() <= 4, "{arch}: {json}");
    }
}

/// `--model` takes a name of the page's model list; a listed model that is not in models/ is an
/// error saying where to download it from.
#[test]
fn a_listed_model_missing_from_models_says_where_to_get_it() {
    let prompt = scratch("listed-prompt.txt");
    std::fs::write(&prompt, "Hello").unwrap();
    let output = clue()
        .current_dir(std::env::temp_dir())
        .args([
            "generate",
            "--model",
            "Qwen2.5-0.5B-Instruct",
            "--prompt-file",
        ])
        .arg(&prompt)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("models/qwen2.5-0.5b-instruct-q4_k_m.gguf")
            && stderr.contains("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/"),
        "{stderr}"
    );
}

/// `clue eval --umls`: the run's samples go through the bridge (a file made here in its form),
/// and the same command rerun with its output takes every completion from the cache and adds
/// UMLS-F1, recording the bridge's fingerprint; a row made from another answer stops it,
/// naming the request.
#[test]
fn eval_adds_umls_f1_from_the_bridge_file_on_a_rerun() {
    use clue_wasm::eval::NoTokenizer;
    use clue_wasm::tasks::{Reference, TaskSettings, build_requests};
    let out = scratch("eval-umls");
    let _ = std::fs::remove_dir_all(&out);
    let model = format!(
        "{}/tests/golden/archs/llama-Q4_K_M.gguf",
        env!("CARGO_MANIFEST_DIR")
    );
    let args = [
        "--model",
        &model,
        "--tasks",
        "probsum,medisumqa",
        "--max-new-tokens",
        "4",
        "--resamples",
        "0",
    ];
    let first = eval_to_end(&out, &args);
    assert_eq!(
        first["tasks"]["probsum"]["not_computed"],
        serde_json::json!(["bertscore_f1", "umls_f1"])
    );
    assert!(first["run"].get("umls").is_none());

    // The bridge's output for these samples: P = 1/2, R = 1 for every one.
    let mut references = std::collections::HashMap::new();
    for task in [
        clue_wasm::data::TaskId::ProbSum,
        clue_wasm::data::TaskId::MeDiSumQa,
    ] {
        let file = clue_wasm::data::demo::file(task);
        let dataset = clue_wasm::data::read(file.name, file.bytes, Some(task)).unwrap();
        for request in build_requests(&dataset, &TaskSettings::default(), &NoTokenizer).unwrap() {
            if let Reference::Text { text } = request.reference {
                references.insert((task.as_str().to_string(), request.id), text);
            }
        }
    }
    let sha = clue_wasm::metrics::umls::text_sha256;
    let mut bridge =
        String::from("{\"fingerprint\": {\"bridge\": \"clue-umls 1\", \"kb\": \"test\"}}\n");
    let samples = std::fs::read_to_string(out.join("samples.jsonl")).unwrap();
    let mut ids = Vec::new();
    for line in samples.lines() {
        let sample: serde_json::Value = serde_json::from_str(line).unwrap();
        let task = sample["task"].as_str().unwrap().to_string();
        let id = sample["id"].as_str().unwrap().to_string();
        let answer = sample["answer"]["text"].as_str().unwrap();
        let reference = &references[&(task.clone(), id.clone())];
        let row = serde_json::json!({
            "task": task, "id": id,
            "prediction_sha256": sha(answer), "reference_sha256": sha(reference),
            "prediction_entities": ["renal failure", "sepsis"], "reference_entities": ["sepsis"],
            "precision": 0.5, "recall": 1.0, "f1": 2.0 / 3.0,
        });
        bridge.push_str(&format!("{row}\n"));
        ids.push((task, id));
    }
    assert_eq!(ids.len(), 2, "the quick demo: one sample of each task");
    let umls = scratch("eval-umls.jsonl");
    std::fs::write(&umls, &bridge).unwrap();
    let umls_arg = umls.display().to_string();
    let mut with_umls = args.to_vec();
    with_umls.extend(["--umls", &umls_arg]);
    let second = eval_to_end(&out, &with_umls);
    assert_eq!(
        second["run"]["generated"], 0,
        "every completion from the cache"
    );
    for task in ["probsum", "medisumqa"] {
        let f1 = second["tasks"][task]["metrics"]["umls_f1"]
            .as_f64()
            .unwrap();
        assert!((f1 - 2.0 / 3.0).abs() < 1e-12, "{task}: {f1}");
        assert_eq!(second["tasks"][task]["metrics"]["umls_p"], 0.5);
        assert_eq!(
            second["tasks"][task]["not_computed"],
            serde_json::json!(["bertscore_f1"])
        );
    }
    assert_eq!(second["run"]["umls"]["fingerprint"]["kb"], "test");
    assert_eq!(second["run"]["umls"]["samples"], 2);
    let samples = std::fs::read_to_string(out.join("samples.jsonl")).unwrap();
    assert!(
        samples.lines().all(|l| l.contains("\"umls_f1\"")),
        "{samples}"
    );

    // The bridge ran on another answer: the run stops and names the request.
    let (task, id) = &ids[0];
    let tampered: String = bridge
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut row: serde_json::Value = serde_json::from_str(line).unwrap();
            if i == 1 {
                row["prediction_sha256"] = sha("another answer").into();
            }
            format!("{row}\n")
        })
        .collect();
    assert_ne!(tampered, bridge);
    std::fs::write(&umls, &tampered).unwrap();
    let output = eval_output(&out, &with_umls);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "line 2: {task} request {id:?}: the bridge read another answer"
        )),
        "{stderr}"
    );
}

/// A made-up Hugging Face hub on a local port: answers hf-hub's requests for `repo`'s files
/// that `dir` holds among `files` (the first byte with the headers hf-hub reads — ETag,
/// X-Repo-Commit, Content-Range — then ranged downloads), 404 for any other; each request is
/// logged as "path status".
fn fake_hub(
    repo: &'static str,
    dir: &'static str,
    files: &'static [&'static str],
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut range = None;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                if let Some(value) = header.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range = Some(value.trim().to_string());
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let prefix = format!("/{repo}/resolve/main/");
            let file = path.strip_prefix(&prefix).filter(|f| files.contains(f));
            let Some(file) = file else {
                seen.lock().unwrap().push(format!("{path} 404"));
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            seen.lock().unwrap().push(format!("{path} 200"));
            let bytes =
                std::fs::read(format!("{}/{dir}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let (start, end) = match range.as_deref() {
                Some("0-0") => (0, 0),
                Some(open) => (
                    open.trim_end_matches('-').parse().unwrap_or(0),
                    bytes.len() - 1,
                ),
                None => (0, bytes.len() - 1),
            };
            let body = &bytes[start..=end];
            let etag = clue_wasm::metrics::umls::text_sha256(&format!("{file}{}", bytes.len()));
            let head = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{end}/{}\r\nETag: \"{etag}\"\r\nX-Repo-Commit: {}\r\nConnection: close\r\n\r\n",
                body.len(),
                bytes.len(),
                "0123456789abcdef0123456789abcdef01234567",
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    (address, log)
}

/// `--bert-model scibert` fetches SciBERT's files from the hub once (here a local stand-in
/// serving the tiny BERT fixture as SciBERT's directory has them: config.json, vocab.txt,
/// pytorch_model.bin), into HF_HOME; the scores equal those of the fixture's directory; a second
/// run asks the hub nothing.
#[test]
fn score_fetches_a_prescribed_bert_model_once_by_name() {
    let (endpoint, log) = fake_hub(
        "allenai/scibert_scivocab_uncased",
        "tests/golden/bertscore/tiny-bert",
        &["config.json", "vocab.txt", "pytorch_model.bin"],
    );
    let home = scratch("hf-home");
    let _ = std::fs::remove_dir_all(&home);
    let predictions = scratch("hub-meqsum-preds.jsonl");
    perfect_meqsum_predictions(&predictions);
    let score = |bert: &str| {
        let output = clue()
            .args(["score", "--task", "meqsum", "--json", "--data", MEQSUM])
            .arg("--predictions")
            .arg(&predictions)
            .args([
                "--bert-model",
                bert,
                "--bert-layer",
                "2",
                "--resamples",
                "0",
            ])
            .env("HF_HOME", &home)
            .env("HF_ENDPOINT", &endpoint)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let fetched = score("scibert");
    let prefix = "/allenai/scibert_scivocab_uncased/resolve/main";
    let requests = log.lock().unwrap().clone();
    let asked: Vec<&str> = requests.iter().map(String::as_str).collect();
    for wanted in [
        format!("{prefix}/config.json 200"),
        format!("{prefix}/tokenizer.json 404"),
        format!("{prefix}/vocab.txt 200"),
        format!("{prefix}/tokenizer_config.json 404"),
        format!("{prefix}/model.safetensors 404"),
        format!("{prefix}/pytorch_model.bin 200"),
    ] {
        assert!(
            asked.contains(&wanted.as_str()),
            "{wanted} not in {asked:?}"
        );
    }
    assert_eq!(fetched["bertscore"]["model"], "scibert_scivocab_uncased");
    assert!(
        home.join("hub/models--allenai--scibert_scivocab_uncased")
            .is_dir(),
        "in the standard cache"
    );
    let local = score("tests/golden/bertscore/tiny-bert");
    assert_eq!(
        fetched["tasks"]["meqsum"]["metrics"],
        local["tasks"]["meqsum"]["metrics"]
    );

    let before = log.lock().unwrap().len();
    let again = score("scibert");
    assert_eq!(
        log.lock().unwrap().len(),
        before,
        "the second run asked the hub"
    );
    assert_eq!(again["tasks"], fetched["tasks"]);
}
