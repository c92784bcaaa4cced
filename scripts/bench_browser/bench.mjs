// Benchmark, not a test (scripts/test does not run it): the page's model speed next to wllama
// (llama.cpp compiled to wasm, @wllama/wllama 3.13.0), both in Debian's headless Chromium on
// this machine's CPU, on the same model and prompt.
//
// What it measures: SmolLM2-135M-Instruct Q4_1 (models/), the prompt of `clue bench model`
// (src/bin/clue/bench.rs: a clinical paragraph repeated 8 times, cut to its first 512 tokens),
// then 128 greedy new tokens with end-of-generation ignored; the median of 3 runs of prefill
// tokens/s (512 / time to the first new token) and decode tokens/s (127 / time from the first
// new token to the last). In the page, one after the other:
//   1. clue-wasm on the CPU: `Generator.bench(runs)` from pkg/ (wasm-bindgen, --target web),
//      which times exactly as the native `clue bench model` does;
//   2. wllama with 1 thread, then 3. wllama with 2 threads (this machine has 2 cores): the
//      timings llama.cpp's server code returns with each completion; the KV cache is not
//      reused between runs, and the prompt is evaluated in batches of 512 as llama.cpp does.
// wllama cannot be given token ids, so the page finds the prefix of the text that wllama
// tokenizes to 512 tokens, and clue-wasm checks that those are its first 512 ids of the text.
// One JSON line per engine, then the ratios clue-wasm / wllama.
//
// Run from the repository root (after the wasm package is built into pkg/):
//   (cd scripts/bench_browser && npm ci)
//   node scripts/bench_browser/bench.mjs                 # all three
//   node scripts/bench_browser/bench.mjs --only wllama   # or --only clue; --runs N
//   node scripts/bench_browser/bench.mjs --webgpu        # clue-wasm on WebGPU too
// A full run takes several minutes. With --webgpu, clue-wasm also runs on the browser's WebGPU
// adapter (the model's blocks on the device) and reports the device bytes of the weights and
// the KV cache; on a machine without a GPU that adapter is SwiftShader, a CPU emulation, whose
// speed means nothing.
//
// Why the COOP/COEP headers: wllama's threads are wasm pthreads, which need SharedArrayBuffer,
// which the browser only gives a cross-origin isolated page (`crossOriginIsolated`); a page is
// isolated when it is served with Cross-Origin-Opener-Policy: same-origin and
// Cross-Origin-Embedder-Policy: require-corp. Without them wllama silently runs on one thread.
// The server sends them on every response (the page, its scripts, the wasm and the model).
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WLLAMA_VERSION = '3.13.0';

const { values: options } = parseArgs({
  options: {
    only: { type: 'string' }, // "clue" or "wllama"
    runs: { type: 'string', default: '3' },
    model: { type: 'string', default: 'models/SmolLM2-135M-Instruct.Q4_1.gguf' },
    webgpu: { type: 'boolean', default: false },
  },
});
if (options.only && !['clue', 'wllama'].includes(options.only)) throw new Error('--only is "clue" or "wllama"');
const runs = Number(options.runs);
const doClue = options.only !== 'wllama';
const doWllama = options.only !== 'clue';

// ---- the static server ----------------------------------------------------------------------

// URL prefix -> directory, and the page's own two files. Nothing else is served.
const MOUNTS = [
  ['/pkg/', resolve(ROOT, 'pkg')],
  ['/wllama/', resolve(HERE, 'node_modules/@wllama/wllama/esm')],
  ['/models/', resolve(ROOT, 'models')],
];
const PAGE_FILES = ['/page.html', '/page.mjs'];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm', // needed for WebAssembly.instantiateStreaming
  '.gguf': 'application/octet-stream',
};

function resolvePath(urlPath) {
  const path = decodeURIComponent(urlPath === '/' ? '/page.html' : urlPath);
  if (PAGE_FILES.includes(path)) return join(HERE, path);
  for (const [prefix, dir] of MOUNTS) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(dir, path.slice(prefix.length)));
    return file.startsWith(dir + sep) ? file : null; // no way out of the mounted directory
  }
  return null;
}

const server = createServer((request, response) => {
  // On every response, errors included: see the comment at the top.
  response.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  response.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  response.setHeader('Cache-Control', 'no-store');
  const file = resolvePath(new URL(request.url, 'http://localhost').pathname);
  let size;
  try {
    const stats = file && statSync(file);
    if (stats && stats.isFile()) size = stats.size;
  } catch {
    // a missing file: 404 below
  }
  if (size === undefined) {
    response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    return;
  }
  response.writeHead(200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': size,
  });
  createReadStream(file).pipe(response);
});
await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
const base = `http://127.0.0.1:${server.address().port}`;

// ---- Chromium, as tests/browser/chromium.mjs launches it ------------------------------------

// The same flags as tests/browser/chromium.mjs (kept in step by hand: importing that module
// would need tests/browser's node_modules): --enable-unsafe-webgpu exposes WebGPU through
// SwiftShader, the background-networking flags stop Chromium calling out through the closed
// network, --no-sandbox because CI runs as root.
const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_FLAGS,
});

const round = (x, digits = 1) => (typeof x === 'number' ? Number(x.toFixed(digits)) : x);
const print = (line) => console.log(JSON.stringify(line));
const log = (text) => console.error(`[bench] ${text}`);

/** `page.evaluate(fn, arg)` with a generous limit, so a stuck engine fails instead of hanging. */
function stage(name, page, fn, arg, minutes = 20) {
  log(`${name}…`);
  const started = Date.now();
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no result in ${minutes} min`)), minutes * 60_000);
  });
  return Promise.race([page.evaluate(fn, arg), limit]).finally(() => {
    clearTimeout(timer);
    log(`${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
}

const startedAll = Date.now();
let exitCode = 0;
try {
  const page = await browser.newPage();
  page.on('console', (message) => {
    if (['warning', 'error'].includes(message.type())) console.error(`[page ${message.type()}] ${message.text()}`);
  });
  page.on('pageerror', (error) => console.error(`[page error] ${error}`));
  await page.goto(`${base}/page.html`);
  await page.waitForFunction(() => window.bench !== undefined, null, { timeout: 60_000 });
  const modelUrl = `/models/${options.model.replace(/^models\//, '')}`;

  let clue;
  if (doClue) {
    const report = await stage('clue-wasm cpu', page, (arg) => window.bench.clueBench(arg), { modelUrl, runs, backend: 'cpu' });
    clue = { engine: 'clue-wasm cpu', ...report };
    print({ ...clue, prefill_tok_s: round(clue.prefill_tok_s), decode_tok_s: round(clue.decode_tok_s), load_s: round(clue.load_s) });
    if (options.webgpu) {
      const gpu = await stage('clue-wasm webgpu', page, (arg) => window.bench.clueBench(arg), { modelUrl, runs, backend: 'webgpu' });
      print({
        engine: `clue-wasm webgpu (${gpu.adapter})`, ...gpu,
        prefill_tok_s: round(gpu.prefill_tok_s), decode_tok_s: round(gpu.decode_tok_s), load_s: round(gpu.load_s),
      });
    }
  }

  const wllama = [];
  if (doWllama) {
    let prompt; // found by the first wllama run, reused by the second
    for (const threads of [1, 2]) {
      const engine = `wllama ${WLLAMA_VERSION} ${threads} thread${threads > 1 ? 's' : ''}`;
      const result = await stage(engine, page, (arg) => window.bench.wllamaBench(arg), { modelUrl, threads, runs, prompt });
      prompt = result.prompt;
      wllama.push({ engine, ...result });
      const { prompt: text, measured, ...shown } = result;
      print({
        engine,
        ...shown,
        prefill_tok_s: round(shown.prefill_tok_s),
        decode_tok_s: round(shown.decode_tok_s),
        load_s: round(shown.load_s),
        prompt_ends: `…${text.slice(-40)}`,
        measured: measured.map((m) => ({
          prefill_tok_s: round(m.prefill_tok_s),
          decode_tok_s: round(m.decode_tok_s),
          prompt_n: m.prompt_n,
          cache_n: m.cache_n,
          predicted_n: m.predicted_n,
          finish_reason: m.finish_reason,
          wall_ms: round(m.wall_ms, 0),
        })),
      });
      if (threads > 1 && !(result.cross_origin_isolated && result.multithread)) {
        log(`warning: ${engine} did not run multi-threaded (crossOriginIsolated ${result.cross_origin_isolated})`);
      }
    }
    if (doClue) {
      const check = await stage('tokenization check', page, (p) => window.bench.clueCheckPrompt(p), prompt);
      print({ tokenization: { wllama_prompt_tokens: wllama[0].prompt_tokens, wllama_text_tokens: wllama[0].text_tokens, clue_text_tokens: clue.text_tokens, ...check } });
    }
  }

  if (clue && wllama.length) {
    const ratios = Object.fromEntries(wllama.map((w) => [w.engine, {
      prefill: round(clue.prefill_tok_s / w.prefill_tok_s, 2),
      decode: round(clue.decode_tok_s / w.decode_tok_s, 2),
    }]));
    print({ ratio: 'clue-wasm cpu / wllama', ...ratios });
    // The same as a table, for reading.
    console.log('\nengine                     prefill tok/s   decode tok/s');
    for (const row of [clue, ...wllama]) {
      console.log(`${row.engine.padEnd(26)} ${row.prefill_tok_s.toFixed(1).padStart(13)} ${row.decode_tok_s.toFixed(1).padStart(14)}`);
    }
    for (const [engine, r] of Object.entries(ratios)) {
      console.log(`clue-wasm / ${engine}: prefill ${r.prefill.toFixed(2)}x, decode ${r.decode.toFixed(2)}x`);
    }
  }
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await browser.close();
  server.close();
  log(`total ${((Date.now() - startedAll) / 1000).toFixed(0)} s`);
}
process.exit(exitCode);
