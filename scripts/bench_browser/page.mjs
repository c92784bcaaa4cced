// The in-page half of bench.mjs: loads a model into clue-wasm or wllama and times it on the
// prompt `clue bench model` uses. bench.mjs calls the functions on `window.bench` one at a time
// through Playwright; each resolves to plain JSON. Timings are taken where each engine takes
// them: clue-wasm's `Generator.bench` reports its own, and wllama's are the `timings` object
// llama.cpp's server code returns with every completion (measured inside the wasm, so the
// worker messaging around a request is not counted against either).
import { Wllama, LogLevel } from '/wllama/index.js';

const PROMPT_TOKENS = 512;
const NEW_TOKENS = 128;

// src/bin/clue/bench.rs (`model`): this paragraph repeated 8 times, cut to its first 512 tokens.
const PARAGRAPH = 'The patient is a 67-year-old woman admitted with shortness of breath, ' +
  'bilateral leg swelling and a weight gain of 4 kg over two weeks. Echocardiography ' +
  'showed an ejection fraction of 35 percent. She was treated with intravenous ' +
  'furosemide, started on an ACE inhibitor and a beta blocker, and discharged in stable ' +
  'condition with follow-up in the heart failure clinic. ';
const TEXT = PARAGRAPH.repeat(8);

const status = (text) => { document.getElementById('status').textContent = text; };
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
// wasm-bindgen hands serde maps over as JS Maps; the results must be plain objects for JSON.
const plain = (value) => (value instanceof Map
  ? Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]))
  : value);

async function modelBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// ---- clue-wasm ------------------------------------------------------------------------------

let clue = null; // {generator, textIds}: kept for the tokenization check after wllama's runs

async function clueBench({ modelUrl, runs, backend }) {
  status(`clue-wasm ${backend}: loading`);
  // Imported here, not at the top, so that `--only wllama` works without a pkg/ build.
  const { default: init, Generator } = await import('/pkg/clue.js');
  await init();
  const bytes = await modelBytes(modelUrl);
  const started = performance.now();
  const generator = await Generator.load(modelUrl.split('/').pop(), bytes, backend);
  const loadSeconds = (performance.now() - started) / 1000;
  status(`clue-wasm ${backend}: bench`);
  const report = plain(await generator.bench(runs));
  if (backend !== 'cpu') {
    const adapter = await navigator.gpu.requestAdapter();
    const info = (adapter && adapter.info) || {};
    const tensorBytes = generator.tensorBytes;
    generator.free();
    return {
      ...report, load_s: loadSeconds, tensor_bytes: tensorBytes,
      adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unnamed adapter',
    };
  }
  // After the timed runs, so they are not warmed by it: clue's ids of the whole text, to check
  // later that the prompt given to wllama is exactly their first 512.
  const textIds = Array.from(plain(await generator.generate(TEXT, false, 1)).prompt_ids);
  clue = { generator, textIds };
  status('clue-wasm: done');
  return { ...report, load_s: loadSeconds, text_tokens: textIds.length };
}

/** clue's token ids of `prompt` (the text wllama was given) against its first 512 of TEXT. */
async function clueCheckPrompt(prompt) {
  const ids = Array.from(plain(await clue.generator.generate(prompt, false, 1)).prompt_ids);
  const first = clue.textIds.slice(0, PROMPT_TOKENS);
  clue.generator.free();
  clue = null;
  return {
    clue_tokens_of_wllama_prompt: ids.length,
    same_ids_as_first_512: ids.length === first.length && ids.every((id, i) => id === first[i]),
  };
}

// ---- wllama ---------------------------------------------------------------------------------

// llama.cpp's own log lines are many at INFO; keep warnings and errors only, less the two the
// token-counting probes cause by design (a prompt already in the cache has its last token
// evaluated again).
const EXPECTED_WARNINGS = /need to evaluate at least 1 token|n_past was set to/;
const quietLogger = {
  debug() {}, log() {}, info() {},
  warn: (...args) => { if (!EXPECTED_WARNINGS.test(args.join(' '))) console.warn('[wllama]', ...args); },
  error: (...args) => console.error('[wllama]', ...args),
};

/**
 * One raw (non-chat) completion of `prompt`: greedy (temperature 0, top-k 1), end-of-generation
 * tokens banned (`ignore_eos`) so that all `maxTokens` come out, as `clue bench model` ignores
 * EOS. `cachePrompt: false` makes the server drop what its slot holds, so the whole prompt is
 * evaluated again: the KV cache is cleared between timed runs.
 */
function complete(wllama, prompt, maxTokens, cachePrompt) {
  return wllama.createCompletion({
    prompt,
    max_tokens: maxTokens,
    temperature: 0,
    top_k: 1,
    ignore_eos: true,
    cache_prompt: cachePrompt,
  });
}

/**
 * The prefix of TEXT that wllama tokenizes to exactly 512 tokens. wllama 3.x has no tokenize
 * call and its completions take text only, so tokens are counted through completions of one
 * token (`usage.prompt_tokens`); with the prompt cache on, each probe only evaluates what
 * differs from the one before. Byte-level BPE splits text into words before merging, so a
 * prefix cut before a word's leading space has the first tokens of the whole text: search the
 * word boundaries, then, if the 512th token ends inside a word, that word's characters.
 */
async function promptOf512(wllama) {
  const counts = new Map();
  const count = async (end) => {
    if (!counts.has(end)) counts.set(end, (await complete(wllama, TEXT.slice(0, end), 1, true)).usage.prompt_tokens);
    return counts.get(end);
  };
  const cuts = [];
  for (let i = 1; i < TEXT.length; i++) if (TEXT[i] === ' ') cuts.push(i);
  let lo = 0; // count(cuts[lo]) <= 512
  let hi = cuts.length - 1; // count(cuts[hi]) > 512
  if (await count(cuts[lo]) > PROMPT_TOKENS || await count(cuts[hi]) <= PROMPT_TOKENS) {
    throw new Error(`TEXT is not longer than ${PROMPT_TOKENS} tokens for wllama`);
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (await count(cuts[mid]) <= PROMPT_TOKENS) lo = mid; else hi = mid;
  }
  let end = cuts[lo];
  if (await count(end) !== PROMPT_TOKENS) {
    // The 512th token ends inside the next word (cuts[hi] is the boundary after it).
    for (let j = cuts[lo] + 1; j < cuts[hi]; j++) {
      if (await count(j) === PROMPT_TOKENS) { end = j; break; }
    }
  }
  return { prompt: TEXT.slice(0, end), tokens: await count(end), probes: counts.size };
}

/**
 * wllama on `threads` CPU threads: loads the GGUF (as a Blob, from the bytes the server sent),
 * finds the 512-token prompt unless given one, warms up, then times `runs` completions of 128
 * tokens.
 */
async function wllamaBench({ modelUrl, threads, runs, prompt }) {
  status(`wllama ${threads} thread(s): loading`);
  const blob = new Blob([await modelBytes(modelUrl)]);
  const wllama = new Wllama({ default: '/wllama/wasm/wllama.wasm' }, { logger: quietLogger });
  // The compat build is fetched from a CDN; Chromium has JSPI and memory64, so it is not
  // needed, and the network is closed.
  wllama.setCompat(null);
  const started = performance.now();
  await wllama.loadModel([blob], {
    n_threads: threads,
    n_gpu_layers: 0, // the CPU: no WebGPU (it is SwiftShader here anyway)
    n_ctx: 1024, // 512 + 128 fit
    // As tests/golden/model/bench_llamacpp.py: the prompt evaluated in one 512-token batch.
    n_batch: 512,
    n_ubatch: 512,
    n_parallel: 1, // one slot, so each request meets the cache state the previous one left
    flash_attn: false, // as bench_llamacpp.py
    log_level: LogLevel.WARN,
  });
  const loadSeconds = (performance.now() - started) / 1000;
  const info = wllama.getLoadedContextInfo();
  status(`wllama ${threads} thread(s): tokenizing`);
  const textTokens = (await complete(wllama, TEXT, 1, true)).usage.prompt_tokens;
  const found = prompt === undefined ? await promptOf512(wllama) : null;
  const text = found ? found.prompt : prompt;

  // Warm-up, as bench_llamacpp.py does: first touch of the weights, thread start.
  await complete(wllama, TEXT.slice(0, 150), 8, false);
  const measured = [];
  for (let run = 0; run < runs; run++) {
    status(`wllama ${threads} thread(s): run ${run + 1} of ${runs}`);
    const wallStart = performance.now();
    const response = await complete(wllama, text, NEW_TOKENS, false);
    const wallMs = performance.now() - wallStart;
    const t = response.timings;
    measured.push({
      // The server's prompt time ends when the first new token is sampled, and its generation
      // time runs from there to the last token: the first token belongs to the prefill and the
      // other predicted_n - 1 are decode steps, as `clue bench model` counts them.
      prefill_tok_s: t.prompt_n / (t.prompt_ms / 1000),
      decode_tok_s: (t.predicted_n - 1) / (t.predicted_ms / 1000),
      prompt_n: t.prompt_n,
      cache_n: t.cache_n,
      predicted_n: t.predicted_n,
      finish_reason: response.choices[0].finish_reason,
      prompt_ms: t.prompt_ms,
      predicted_ms: t.predicted_ms,
      wall_ms: wallMs,
    });
  }
  const result = {
    libllama: Wllama.getLibllamaVersion(),
    cross_origin_isolated: self.crossOriginIsolated,
    multithread: wllama.isMultithread(),
    n_threads: wllama.getNumThreads(),
    n_batch: info.n_batch,
    n_ubatch: info.n_ubatch,
    n_ctx: info.n_ctx,
    add_bos_token: info.add_bos_token,
    load_s: loadSeconds,
    text_tokens: textTokens,
    prompt_chars: text.length,
    prompt_search_probes: found ? found.probes : 0,
    prompt_tokens: measured[0].prompt_n,
    new_tokens: measured[0].predicted_n,
    runs,
    prefill_tok_s: median(measured.map((m) => m.prefill_tok_s)),
    decode_tok_s: median(measured.map((m) => m.decode_tok_s)),
    measured,
    prompt: text,
  };
  await wllama.exit();
  status(`wllama ${threads} thread(s): done`);
  return result;
}

window.bench = { clueBench, clueCheckPrompt, wllamaBench, PROMPT_TOKENS, NEW_TOKENS };
status('ready');
