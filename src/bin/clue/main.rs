//! `clue`: the native command line of clue-wasm — evaluate a model, serve the page, rescore
//! predictions made anywhere, generate, benchmark. The browser uses the library through `src/web`, so on wasm32 this binary
//! is empty.

#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod eval;
#[cfg(not(target_arch = "wasm32"))]
mod generate;
#[cfg(not(target_arch = "wasm32"))]
mod hub;
#[cfg(not(target_arch = "wasm32"))]
mod score;
#[cfg(not(target_arch = "wasm32"))]
mod serve;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    cli::Cli::parse().run()
}

/// The command line is native only: the page drives the library through `src/web` instead.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::net::IpAddr;
    use std::path::PathBuf;
    use std::process::ExitCode;

    use clap::{Parser, Subcommand, ValueEnum};
    use clue_wasm::data::TaskId;
    use clue_wasm::tasks::{ChatStyle, Profile, ReadingMode};

    /// The CLUE clinical benchmark, natively and in the browser.
    #[derive(Parser)]
    #[command(name = "clue", version, about)]
    pub struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Serve the evaluation page (www/ and pkg/) with the headers WebAssembly and
        /// WebGPU need.
        Serve {
            /// Address to listen on; the page holds no secrets, but keep it local unless you
            /// mean to share it.
            #[arg(long, default_value = "127.0.0.1")]
            host: IpAddr,
            /// Port to listen on (0 picks a free one).
            #[arg(long, default_value_t = 8080)]
            port: u16,
            /// The repository root holding www/, pkg/ and models/.
            #[arg(long, default_value = ".")]
            root: PathBuf,
            /// An origin the page may fetch models from (e.g. https://models.example.org),
            /// besides its own and Hugging Face: added to the page's Content-Security-Policy
            /// `connect-src`. Repeat for more.
            #[arg(long = "model-host", value_name = "ORIGIN")]
            model_hosts: Vec<String>,
        },
        /// Score predictions made anywhere against an official CLUE file.
        ///
        /// The predictions file has one JSON object per line, `{"id": ..., "prediction":
        /// "..."}`, with the ids the dataset's requests have (the file's own id column, else
        /// the 0-based row; LongHealth `patient/No/tT/iI`). A samples file of a run works too.
        Score {
            /// The task; detected from the file's content when left out.
            #[arg(long, value_parser = parse_task)]
            task: Option<TaskId>,
            /// The official data file (MedNLI JSONL, MeQSum xlsx, Problem Summary CSV,
            /// LongHealth JSON, MeDiSumQA / MeDiSumCode JSON or JSONL), as FILE or TASK=FILE.
            /// Repeat it (one per task) to score a samples file of a whole run with its Levels.
            #[arg(long, required = true, value_parser = parse_data_file)]
            data: Vec<(Option<TaskId>, PathBuf)>,
            /// The predictions (JSON Lines).
            #[arg(long)]
            predictions: PathBuf,
            /// UMLS-F1 for Problem Summary and MeDiSumQA: the JSON Lines that the bridge
            /// (umls/clue_umls.py, scispaCy with your licensed UMLS files) wrote for these
            /// samples. Without it UMLS-F1 is "not computed".
            #[arg(long, value_name = "FILE")]
            umls: Option<PathBuf>,
            /// Which reference version's few-shot rows and answer reading to reproduce.
            #[arg(long, default_value = "paper-2024-06", value_parser = parse_profile)]
            profile: Profile,
            /// How answers are read: CLUE-strict (published numbers) or flexible.
            #[arg(long, value_enum, default_value_t = Mode::Strict)]
            mode: Mode,
            /// Reproduce the reference code's known quirks (first example counted twice,
            /// Problem Summary's trailing ", ").
            #[arg(long)]
            compat: bool,
            /// The model's Hugging Face name (the reference treats Phi and Llama-3 specially).
            #[arg(long, default_value = "")]
            model_name: String,
            /// The model's chat style, which decides the few-shot layout.
            #[arg(long, value_enum, default_value_t = Style::SystemRole)]
            chat_style: Style,
            /// Seed of the bootstrap confidence intervals.
            #[arg(long, default_value_t = 0)]
            seed: u64,
            /// Bootstrap resamples (0: no intervals).
            #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=100_000))]
            resamples: u64,
            /// Print one JSON object (fractions in [0, 1]) instead of the table.
            #[arg(long)]
            json: bool,
            /// A BERT model directory (config.json, tokenizer.json or vocab.txt,
            /// model.safetensors or pytorch_model.bin) for BERTScore on MeQSum, Problem Summary
            /// and MeDiSumQA, or CLUE's prescribed `scibert` / `bio-clinicalbert`, fetched once
            /// from the Hugging Face hub into its cache; without it BERTScore is "not computed".
            #[arg(long)]
            bert_model: Option<PathBuf>,
            /// The layer BERTScore reads (SciBERT: 8, Bio_ClinicalBERT: 9 by default).
            #[arg(long)]
            bert_layer: Option<usize>,
            /// Where the BERT model runs.
            #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
            backend: BackendArg,
        },
        /// Evaluate a model on CLUE: the given data files, else the embedded synthetic demo sets.
        Eval {
            /// A GGUF file, a Hugging Face model directory (config.json, tokenizer.json,
            /// *.safetensors), or the name of a model of the page's list (read from models/).
            #[arg(long, default_value = "models/SmolLM2-135M-Instruct.Q4_1.gguf")]
            model: PathBuf,
            /// Tasks to run, comma-separated (default: those given --data, else all six).
            #[arg(long, value_delimiter = ',', value_parser = parse_task)]
            tasks: Option<Vec<TaskId>>,
            /// A task's official data file, as TASK=FILE; tasks without one use the demo set.
            #[arg(long, value_parser = parse_data)]
            data: Vec<(TaskId, PathBuf)>,
            /// Which version of the reference to reproduce.
            #[arg(long, default_value = "paper-2024-06", value_parser = parse_profile)]
            profile: Profile,
            /// How answers are read: strict (as CLUE) or flexible (not comparable).
            #[arg(long, value_enum, default_value_t = Mode::Strict)]
            mode: Mode,
            /// Only the first N evaluated examples of each task. On the demo sets alone the
            /// default is the quick demo: the first example of each, LongHealth's in one prompt
            /// per task.
            #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
            limit: Option<u64>,
            /// Only these example or request ids, comma-separated.
            #[arg(long, value_delimiter = ',')]
            ids: Option<Vec<String>>,
            /// LongHealth: only the first N of the 5 prompts of each of its three tasks per
            /// question (the quick demo takes 1).
            #[arg(long, value_parser = clap::value_parser!(u64).range(1..=5))]
            longhealth_prompts: Option<u64>,
            /// Run the demo sets whole (275 requests, about an hour on two cores) rather than
            /// the quick demo.
            #[arg(long, conflicts_with_all = ["limit", "ids"])]
            full_demo: bool,
            /// Generation length instead of the profile's.
            #[arg(long, value_parser = clap::value_parser!(u64).range(1..=32768))]
            max_new_tokens: Option<u64>,
            /// The name the reference's model-specific rules see (default: the file name).
            #[arg(long)]
            model_name: Option<String>,
            /// Reproduce the reference's known quirks.
            #[arg(long)]
            compat: bool,
            /// Base seed of the current profile's sampling.
            #[arg(long, default_value_t = 1)]
            sampling_seed: u64,
            /// Seed of the bootstrap confidence intervals.
            #[arg(long, default_value_t = 0)]
            seed: u64,
            /// Bootstrap resamples (0: no intervals).
            #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=100_000))]
            resamples: u64,
            /// Where the model runs.
            #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
            backend: BackendArg,
            /// Output directory: results.json, samples.jsonl, results.csv and the completion
            /// cache (cache.jsonl).
            #[arg(long, default_value = "runs/eval")]
            out: PathBuf,
            /// Neither read nor write the completion cache.
            #[arg(long)]
            no_cache: bool,
            /// Leave the prompt text out of samples.jsonl (its SHA-256 stays).
            #[arg(long)]
            no_prompts: bool,
            /// Print the results JSON instead of the table.
            #[arg(long)]
            json: bool,
            /// A BERT model directory (config.json, tokenizer.json or vocab.txt,
            /// model.safetensors or pytorch_model.bin) for BERTScore on MeQSum, Problem Summary
            /// and MeDiSumQA, or CLUE's prescribed `scibert` / `bio-clinicalbert`, fetched once
            /// from the Hugging Face hub into its cache; without it BERTScore is "not computed".
            #[arg(long)]
            bert_model: Option<PathBuf>,
            /// The layer BERTScore reads (SciBERT: 8, Bio_ClinicalBERT: 9 by default).
            #[arg(long)]
            bert_layer: Option<usize>,
            /// UMLS-F1 for Problem Summary and MeDiSumQA: the JSON Lines that the bridge
            /// (umls/clue_umls.py) wrote for this run's samples.jsonl; rerun the same command
            /// with it (every completion comes from the cache). Without it UMLS-F1 is "not
            /// computed".
            #[arg(long, value_name = "FILE")]
            umls: Option<PathBuf>,
        },
        /// Generate greedily from a prompt file with a GGUF model or Hugging Face directory.
        Generate {
            /// A GGUF file, a Hugging Face model directory (config.json, tokenizer.json,
            /// *.safetensors), or the name of a model of the page's list (read from models/).
            #[arg(long, default_value = "models/SmolLM2-135M-Instruct.Q4_1.gguf")]
            model: PathBuf,
            /// The prompt: the exact text (special tokens like <|im_start|> parsed), or with
            /// --chat one user message for the model's chat template.
            #[arg(long)]
            prompt_file: PathBuf,
            /// Render the prompt file as a user message with the model's chat template.
            #[arg(long)]
            chat: bool,
            /// Most tokens to generate.
            #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=32768))]
            max_tokens: u64,
            /// Where the model runs.
            #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
            backend: BackendArg,
            /// Print ids, prompt log-probs, completion and speeds as one JSON object.
            #[arg(long)]
            json: bool,
        },
        /// Tokenize one JSON string per stdin line; print one JSON array of ids per line.
        Tokenize {
            /// The GGUF model file whose vocabulary to use.
            #[arg(long, default_value = "models/SmolLM2-135M-Instruct.Q4_1.gguf")]
            model: PathBuf,
            /// Parse special-token text (<|im_start|>) as the special token.
            #[arg(long)]
            parse_special: bool,
        },
        /// Measure throughput.
        Bench {
            #[command(subcommand)]
            what: Bench,
        },
    }

    #[derive(Subcommand)]
    enum Bench {
        /// ROUGE-1/2/L/Lsum pairs per second on a MeQSum file (Summary vs CHQ).
        Rouge {
            /// The MeQSum xlsx.
            #[arg(
                long,
                default_value = "data/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
            )]
            data: PathBuf,
            /// Keep scoring for at least this many seconds.
            #[arg(long, default_value_t = 2.0)]
            seconds: f64,
        },
        /// BERTScore pairs/s on the CPU (MeQSum Summary against CHQ).
        Bertscore {
            /// The MeQSum xlsx.
            #[arg(
                long,
                default_value = "data/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
            )]
            data: PathBuf,
            /// A BERT model directory.
            #[arg(long, default_value = "models/all-MiniLM-L6-v2")]
            model: PathBuf,
            /// The layer compared.
            #[arg(long, default_value_t = 6)]
            layer: usize,
        },
        /// Prefill and decode tokens/s of a GGUF model (512-token prompt, 128 new tokens,
        /// median of the runs), on each backend.
        Model {
            /// The GGUF model file.
            #[arg(long, default_value = "models/SmolLM2-135M-Instruct.Q4_1.gguf")]
            model: PathBuf,
            /// The backends to measure (default: both).
            #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BackendArg::Cpu, BackendArg::WebGpu])]
            backend: Vec<BackendArg>,
            /// Runs per backend; the median is reported.
            #[arg(long, default_value_t = 3)]
            runs: usize,
        },
    }

    /// Where the model runs: `webgpu` is burn's wgpu backend (Vulkan/Metal/DX12 natively, WebGPU
    /// in the browser), named as the page names it; `wgpu`, its old name, is still accepted.
    #[derive(Clone, Copy, ValueEnum)]
    enum BackendArg {
        Cpu,
        #[value(name = "webgpu", alias = "wgpu")]
        WebGpu,
    }

    impl BackendArg {
        fn backend(self) -> clue_wasm::model::Backend {
            match self {
                BackendArg::Cpu => clue_wasm::model::Backend::Cpu,
                BackendArg::WebGpu => clue_wasm::model::Backend::WebGpu,
            }
        }
    }

    #[derive(Clone, Copy, ValueEnum)]
    enum Mode {
        Strict,
        Flexible,
    }

    impl Mode {
        fn reading(self) -> ReadingMode {
            match self {
                Mode::Strict => ReadingMode::Strict,
                Mode::Flexible => ReadingMode::Flexible,
            }
        }
    }

    #[derive(Clone, Copy, ValueEnum)]
    enum Style {
        SystemRole,
        NoSystemRole,
        BaseModel,
    }

    fn parse_task(name: &str) -> Result<TaskId, String> {
        TaskId::parse(name).ok_or_else(|| {
            let known: Vec<&str> = TaskId::ALL.iter().map(|t| t.as_str()).collect();
            format!("unknown task {name:?} (one of {})", known.join(", "))
        })
    }

    fn parse_data(text: &str) -> Result<(TaskId, PathBuf), String> {
        let (task, path) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not TASK=FILE"))?;
        Ok((parse_task(task)?, PathBuf::from(path)))
    }

    /// `TASK=FILE`, or a plain `FILE` whose task is `--task` or detected.
    fn parse_data_file(text: &str) -> Result<(Option<TaskId>, PathBuf), String> {
        match text.split_once('=') {
            Some((task, path)) if TaskId::parse(task).is_some() => {
                Ok((TaskId::parse(task), PathBuf::from(path)))
            }
            _ => Ok((None, PathBuf::from(text))),
        }
    }

    fn parse_profile(name: &str) -> Result<Profile, String> {
        Profile::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Profile::ALL.iter().map(|p| p.as_str()).collect();
            format!("unknown profile {name:?} (one of {})", known.join(", "))
        })
    }

    impl Cli {
        /// Runs the chosen command; errors are printed with their cause and exit code 1.
        pub fn run(self) -> ExitCode {
            let outcome = match self.command {
                Command::Serve {
                    host,
                    port,
                    root,
                    model_hosts,
                } => super::serve::run(host, port, &root, &model_hosts),
                Command::Score {
                    task,
                    data,
                    predictions,
                    profile,
                    mode,
                    compat,
                    model_name,
                    chat_style,
                    seed,
                    resamples,
                    json,
                    bert_model,
                    bert_layer,
                    backend,
                    umls,
                } => super::score::run(super::score::ScoreArgs {
                    task,
                    data: &data,
                    predictions: &predictions,
                    umls: umls.as_deref(),
                    profile,
                    mode: mode.reading(),
                    compat,
                    model_name,
                    chat_style: match chat_style {
                        Style::SystemRole => ChatStyle::SystemRole,
                        Style::NoSystemRole => ChatStyle::NoSystemRole,
                        Style::BaseModel => ChatStyle::BaseModel,
                    },
                    seed,
                    resamples: resamples as usize,
                    json,
                    bert_model: bert_model.as_deref(),
                    bert_layer,
                    backend: backend.backend(),
                }),
                Command::Eval {
                    model,
                    tasks,
                    data,
                    profile,
                    mode,
                    limit,
                    ids,
                    longhealth_prompts,
                    full_demo,
                    max_new_tokens,
                    model_name,
                    compat,
                    sampling_seed,
                    seed,
                    resamples,
                    backend,
                    out,
                    no_cache,
                    no_prompts,
                    json,
                    bert_model,
                    bert_layer,
                    umls,
                } => super::eval::run(super::eval::EvalArgs {
                    bert_model,
                    bert_layer,
                    umls,
                    model,
                    tasks,
                    data,
                    full_demo,
                    options: clue_wasm::eval::EvalOptions {
                        profile,
                        mode: mode.reading(),
                        limit: limit.map(|n| n as usize),
                        ids,
                        longhealth_prompts: longhealth_prompts.map(|n| n as usize),
                        max_new_tokens: max_new_tokens.map(|n| n as usize),
                        model_name,
                        sampling_seed,
                        compat,
                        seed,
                        resamples: resamples as usize,
                    },
                    backend: backend.backend(),
                    out,
                    no_cache,
                    no_prompts,
                    json,
                }),
                Command::Generate {
                    model,
                    prompt_file,
                    chat,
                    max_tokens,
                    backend,
                    json,
                } => super::generate::generate(super::generate::GenerateArgs {
                    model: &model,
                    prompt_file: &prompt_file,
                    chat,
                    max_tokens: max_tokens as usize,
                    backend: backend.backend(),
                    json,
                }),
                Command::Tokenize {
                    model,
                    parse_special,
                } => super::generate::tokenize(&model, parse_special),
                Command::Bench {
                    what: Bench::Rouge { data, seconds },
                } => super::bench::rouge(&data, seconds),
                Command::Bench {
                    what: Bench::Bertscore { data, model, layer },
                } => super::bench::bertscore(&data, &model, layer),
                Command::Bench {
                    what:
                        Bench::Model {
                            model,
                            backend,
                            runs,
                        },
                } => {
                    let backends: Vec<clue_wasm::model::Backend> =
                        backend.into_iter().map(BackendArg::backend).collect();
                    super::bench::model(&model, &backends, runs)
                }
            };
            match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("clue: {message}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
