// The evaluator's Web Worker: everything that runs wasm runs here, so the page never freezes.
// On start it loads the package, reports the demo sets and which backends exist (each checked
// with a small matrix product); then it answers the page's requests: validate a data file,
// generate once, run an evaluation (pausable and cancellable between samples, every output
// cached in IndexedDB, BERTScore added at the end when a BERT model was chosen), or rescore
// saved predictions (with BERTScore too when a BERT model was chosen). Messages in both
// directions are plain objects with a `type` field; the page's app.js lists them.
//
// A fault this worker cannot recover from — a WebAssembly trap (a Rust panic ends in one, and
// leaves the instance's memory in a state nobody knows) or a lost WebGPU device — is reported
// as `fatal {what}` instead of a job's error; the page's hub then replaces the worker (hub.js).
//
// The page starts this module from a blob: URL so that it runs under the page's own
// Content-Security-Policy (see app.js); a blob URL is no base for relative URLs, so every URL
// the page sends is resolved against this file's own address first.
import init, * as clue from './pkg/clue.js';
import { MODEL_CACHE, deleteCompletion, getCompletion, putCompletion } from './store.js';

const SIZE = 256;

/** The WebGPU adapter's description and limits, or why there is none. */
async function describeWebGpu() {
  if (!('gpu' in navigator)) return { available: false, reason: 'navigator.gpu is missing' };
  let adapter;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch (e) {
    return { available: false, reason: String(e) };
  }
  if (!adapter) return { available: false, reason: 'requestAdapter() returned no adapter' };
  const info = adapter.info || {};
  const limits = {};
  for (const key in adapter.limits) limits[key] = adapter.limits[key];
  let name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
  if (info.isFallbackAdapter) name += ' (fallback)';
  // A CPU implementation of WebGPU (Chromium's SwiftShader, Mesa's llvmpipe/lavapipe, Windows'
  // Basic Render Driver) takes minutes per sample where the WebAssembly CPU path takes seconds.
  const emulated = Boolean(info.isFallbackAdapter) || /swiftshader|llvmpipe|lavapipe|basic render|software/i.test(name);
  return { available: true, name, limits, emulated };
}

const errorText = (e) => String((e && e.message) || e);

/**
 * The last Rust panic's first lines: console_error_panic_hook writes the panic to
 * console.error just before the trap, whose own message ("unreachable") names nothing.
 */
let lastPanic = '';
const consoleError = console.error.bind(console);
console.error = (...args) => {
  const text = args.map(String).join(' ');
  if (text.includes('panicked at')) lastPanic = text.split('\n').slice(0, 2).join(' ').slice(0, 500);
  consoleError(...args);
};

/** What happened to the WebGPU device, once it is lost (null while it is not). */
let deviceLost = null;

// Every device wgpu asks for goes through GPUAdapter.requestDevice: watching each one's `lost`
// promise is how a GPU reset, a driver crash or the browser reclaiming the GPU becomes an error
// the page can name instead of a run that never ends. A device destroyed on purpose is no fault.
if (self.GPUAdapter) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    device.lost.then((info) => {
      if (info.reason === 'destroyed') return;
      deviceLost = `the WebGPU device was lost (${info.message || info.reason || 'no reason given'})`;
      postMessage({ type: 'fatal', what: deviceLost });
    });
    return device;
  };
}

/** Words for `e` when it is a fault the worker cannot go on from, else null. */
function fatalFault(e) {
  if (deviceLost) return deviceLost;
  if (e instanceof WebAssembly.RuntimeError) {
    return `the evaluator crashed (WebAssembly trap: ${e.message}${lastPanic ? `; ${lastPanic}` : ''})`;
  }
  return null;
}

/** Reports `e` as `fatal` when it is one, else as the job's own error message `error`. */
function reportFailure(e, error) {
  const what = fatalFault(e);
  postMessage(what ? { type: 'fatal', what } : error(errorText(e)));
}

// A trap inside a promise nobody awaited (none should exist) is still a trap.
self.addEventListener('unhandledrejection', (event) => {
  const what = fatalFault(event.reason);
  if (what) postMessage({ type: 'fatal', what });
});

/** `url` (absolute, or relative to the page's directory, where this file is) made absolute. */
const absolute = (url) => new URL(url, import.meta.url).href;

/** The adapter's limits, once known (null without WebGPU). */
let webgpuLimits = null;

/** What WebAssembly's 32-bit memory can address. */
const WASM_MEMORY = 4 * 2 ** 30;
/** What loading needs beside the file's bytes in the wasm heap (one part of a matrix, parsing). */
const LOAD_HEADROOM = 256 * 2 ** 20;
/** The first bytes asked for to read a model's header; doubled while the header goes on. */
const HEADER_BYTES = 8 * 2 ** 20;

const gigabytes = (bytes) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

/**
 * Why a model that `needs` this, in a file of `size` bytes, cannot run on `backend` here, or null:
 * the wasm heap holds the file while it loads (and on the CPU, f32 copies of every weight), and
 * every GPU buffer must fit the adapter's limits.
 */
function refusal(needs, size, backend) {
  if (backend === 'cpu' && size + needs.cpu_weight_bytes + LOAD_HEADROOM > WASM_MEMORY) {
    return `on the CPU the page keeps every weight as f32: ${gigabytes(needs.cpu_weight_bytes)} beside the ` +
      `${gigabytes(size)} file exceeds WebAssembly's 4 GiB. Choose WebGPU, which keeps the file's blocks.`;
  }
  if (size + LOAD_HEADROOM > WASM_MEMORY) {
    return `the ${gigabytes(size)} file and what loading needs beside it exceed WebAssembly's 4 GiB`;
  }
  if (backend === 'webgpu' && webgpuLimits) {
    for (const limit of ['maxStorageBufferBindingSize', 'maxBufferSize']) {
      if (webgpuLimits[limit] < needs.largest_gpu_buffer) {
        return `the adapter's ${limit} (${gigabytes(webgpuLimits[limit])}) is below the largest buffer ` +
          `the model needs (${gigabytes(needs.largest_gpu_buffer)})`;
      }
    }
  }
  return null;
}

/**
 * The first `length` bytes of a model and its full size, without downloading it: a range request.
 * A server that ignores ranges sends the whole file (200), which then serves as the download; a
 * range whose total the page cannot read (a cross-origin server that does not expose
 * Content-Range) gives null, and the model is loaded without the check.
 */
async function headerOf(url, length) {
  let response;
  try {
    response = await fetch(url, { headers: { Range: `bytes=0-${length - 1}` } });
  } catch (e) {
    throw new Error(`${url}: ${errorText(e)}`);
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  if (response.status === 200) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { prefix: bytes, total: bytes.length, whole: true };
  }
  const range = /\/(\d+)$/.exec(response.headers.get('content-range') || '');
  if (!range) {
    await response.body.cancel();
    return null;
  }
  return { prefix: new Uint8Array(await response.arrayBuffer()), total: Number(range[1]), whole: false };
}

/** Errors of a header read from too few bytes: the prefix ended inside it. */
const SHORT_HEADER = /truncated GGUF file|runs past the end of the file \(\d+ bytes remain\)|remaining bytes can hold/;

/**
 * What the model at `url` or in `file` needs, from its header, checked against `backend`; posts
 * it to the page, throws the refusal. Resolves to the whole file when it is at hand anyway (a
 * cached download, a server that sent it all), else null.
 */
async function checkNeeds({ url, file }, backend, job, name) {
  const cache = !file && 'caches' in self ? await caches.open(MODEL_CACHE) : null;
  const cached = cache ? await cache.match(url) : undefined;
  let read = 0;
  for (let length = HEADER_BYTES; ; length *= 2) {
    let header;
    if (file) {
      header = { prefix: new Uint8Array(await file.slice(0, length).arrayBuffer()), total: file.size };
      header.whole = header.prefix.length >= file.size;
    } else if (cached) {
      const bytes = new Uint8Array(await cached.clone().arrayBuffer());
      header = { prefix: bytes, total: bytes.length, whole: true };
    } else {
      header = await headerOf(url, length);
      if (!header) return null;
    }
    let needs;
    try {
      needs = clue.inspectModel(name, header.prefix, header.total);
    } catch (e) {
      // A header longer than the bytes read: ask for more, while more keeps arriving.
      const grew = header.prefix.length > read;
      read = header.prefix.length;
      if (!header.whole && grew && SHORT_HEADER.test(errorText(e))) continue;
      throw e;
    }
    postMessage({ type: 'model-needs', job, name, backend, size: header.total, needs });
    const why = refusal(needs, header.total, backend);
    if (why) throw new Error(`${name}: ${why}`);
    return header.whole && !file ? header.prefix : null;
  }
}

/** The module's memory: its size is the largest the wasm heap has been (it never shrinks). */
let wasmMemory = null;

/** The demo sets by task, kept here so the page never has to send their bytes back. */
const demo = new Map();
/** What the results' `run` block names as the adapter, by backend. */
const adapters = { cpu: 'WebAssembly (CPU)', webgpu: '' };

async function main() {
  try {
    wasmMemory = (await init()).memory;
  } catch (e) {
    postMessage({ type: 'error', message: `loading the wasm package failed: ${e}` });
    return;
  }
  postMessage({ type: 'ready', version: clue.version() });

  try {
    const sets = clue.demoSets().map(({ task, name, bytes }) => {
      demo.set(task, { task, name, bytes });
      return { task, name, size: bytes.length, ...clue.inspectData(name, bytes, task) };
    });
    postMessage({ type: 'demo-sets', sets, notice: clue.demoNotice(), quickLimit: clue.demoQuickLimit(), quickLongHealthPrompts: clue.demoQuickLongHealthPrompts() });
  } catch (e) {
    postMessage({ type: 'demo-sets', sets: [], error: errorText(e) });
  }
  try {
    postMessage({ type: 'published', models: clue.publishedResults() });
  } catch (e) {
    postMessage({ type: 'published', models: [], error: errorText(e) });
  }

  const webgpu = await describeWebGpu();
  adapters.webgpu = webgpu.name || '';
  webgpuLimits = webgpu.limits || null;
  postMessage({ type: 'adapter', webgpu });

  const backends = [{ name: 'cpu', available: true }, { name: 'webgpu', available: webgpu.available, reason: webgpu.reason }];
  for (const backend of backends) {
    if (!backend.available) {
      postMessage({ type: 'backend', name: backend.name, available: false, reason: backend.reason });
      continue;
    }
    try {
      const check = await clue.backendCheck(backend.name, SIZE);
      postMessage({ type: 'backend', name: backend.name, available: true, check });
    } catch (e) {
      postMessage({ type: 'backend', name: backend.name, available: false, reason: String(e) });
    }
  }
  postMessage({ type: 'done' });
}

/** Loaded models by "source backend", so a second request reuses the first load. */
const models = new Map();

/**
 * Fetches a model's bytes, reporting progress; the Cache API keeps them for the next visit. With
 * `missingOk`, a file the server does not have (HTTP 404) gives null rather than an error, for
 * the BERT files that have alternatives or may be left out.
 */
async function fetchModel(url, job, { missingOk = false } = {}) {
  const cache = 'caches' in self ? await caches.open(MODEL_CACHE) : null;
  let response = cache ? await cache.match(url) : undefined;
  const cached = Boolean(response);
  if (!response) {
    try {
      response = await fetch(url);
    } catch (e) {
      // A network or CORS failure says only "Failed to fetch": name what was fetched.
      throw new Error(`${url}: ${errorText(e)}`);
    }
    if (missingOk && response.status === 404) return null;
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    // Keeping the download is a convenience: a browser that refuses (its storage quota is
    // smaller than the model) still evaluates it, and downloads it again next time.
    if (cache) {
      try {
        await cache.put(url, response.clone());
      } catch (e) {
        postMessage({ type: 'model-warning', job, url, message: `not kept in the browser's cache: ${errorText(e)}` });
      }
    }
  }
  const total = Number(response.headers.get('content-length')) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    postMessage({ type: 'model-progress', job, url, received, total, cached });
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) { bytes.set(chunk, offset); offset += chunk.length; }
  return bytes;
}

/**
 * A model chosen by URL (fetched, cached) or as a local file (read here, never uploaded). Its
 * header is read first and what it needs checked against the backend, so a model that cannot fit
 * is refused before the download; a listed model (`known`) must have the list's SHA-256.
 */
async function loadModel({ url, file, known, fallback }, backend, job) {
  if (url) url = absolute(url);
  const source = file ? `file:${file.name}:${file.size}:${file.lastModified}` : url;
  const key = `${source} ${backend}`;
  if (!models.has(key)) {
    const started = performance.now();
    const name = file ? file.name : new URL(url).pathname.split('/').pop();
    let whole;
    try {
      whole = await checkNeeds({ url, file }, backend, job, name);
    } catch (e) {
      // A site without models/ (a static copy of the page): the default comes from its mirror.
      if (!fallback || !/: HTTP 404$/.test(errorText(e))) throw e;
      postMessage({ type: 'model-warning', job, url, message: `not on this site; fetching it from ${fallback}` });
      url = absolute(fallback);
      whole = await checkNeeds({ url, file }, backend, job, name);
    }
    const bytes = whole || (file ? new Uint8Array(await file.arrayBuffer()) : await fetchModel(url, job));
    const generator = await clue.Generator.load(name, bytes, backend);
    if (known && known.sha256 && generator.sha256 !== known.sha256) {
      generator.free();
      // Not kept: the next attempt downloads the file again rather than failing on this one.
      if ('caches' in self) await (await caches.open(MODEL_CACHE)).delete(url);
      throw new Error(`${name}: SHA-256 ${generator.sha256} is not the ${known.name} file of the list (${known.sha256})`);
    }
    models.set(key, generator);
    postMessage({
      type: 'model-loaded', job, name, backend, bytes: bytes.length, load_ms: performance.now() - started,
      weights_bytes: generator.weightsBytes, tensor_bytes: generator.tensorBytes,
      device_in_use_bytes: generator.deviceInUseBytes, wasm_memory_bytes: wasmMemory ? wasmMemory.buffer.byteLength : null,
    });
  }
  return models.get(key);
}

/** Loaded BERT models by "source layer backend", kept like the LLMs for the next run. */
const bertModels = new Map();

/**
 * The files of a BERT model directory fetched from a URL, in this order, as
 * `BertScorer::from_hf_directory` reads them: of each entry's alternatives the first the server
 * has (an HTTP 404 moves on to the next); an optional entry may be missing altogether. The hub's
 * SciBERT and Bio_ClinicalBERT ship vocab.txt and pytorch_model.bin only.
 */
const BERT_FILES = [
  { names: ['config.json'] },
  { names: ['tokenizer.json', 'vocab.txt'] },
  { names: ['tokenizer_config.json'], optional: true },
  { names: ['model.safetensors', 'pytorch_model.bin'] },
];

/** The BERT files of the directory at `url` (ending in a slash), fetched and cached like an LLM's. */
async function fetchBertFiles(url) {
  const named = [];
  for (const { names, optional } of BERT_FILES) {
    let file = null;
    for (const name of names) {
      const bytes = await fetchModel(`${url}${name}`, 'bert', { missingOk: true });
      if (bytes) {
        file = { name, bytes };
        break;
      }
    }
    if (file) named.push(file);
    else if (!optional) throw new Error(`${url} has no ${names.join(' or ')} (HTTP 404)`);
  }
  return named;
}

/** The user's local BERT files, read here (never uploaded). */
async function readBertFiles(files) {
  const named = [];
  for (const file of files) {
    try {
      named.push({ name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) });
    } catch (e) {
      throw new Error(`${file.name}: ${errorText(e)}`);
    }
  }
  return named;
}

/**
 * The BERT model for BERTScore, named `name`: the directory at `url` (the one served with the
 * page, or any Hugging Face-style directory) or the user's local `files`.
 */
async function loadBert({ url, files, name, layer }, backend) {
  if (url) url = absolute(url);
  const source = files ? `files:${name}:${files.map((f) => `${f.name}:${f.size}:${f.lastModified}`).join(',')}` : `url:${name}:${url}`;
  const key = `${source} ${layer} ${backend}`;
  if (!bertModels.has(key)) {
    const named = files ? await readBertFiles(files) : await fetchBertFiles(url);
    bertModels.set(key, await clue.BertScoreModel.load(name, named, layer, backend));
  }
  return bertModels.get(key);
}

async function generate({ url, file, known, fallback, backend, prompt, chat, maxTokens }) {
  const generator = await loadModel({ url, file, known, fallback }, backend, 'generate');
  const result = await generator.generate(prompt, chat, maxTokens);
  postMessage({ type: 'generation', backend, ...result });
}

/** Validates a dropped data file for its task's slot; a file meant for another task says so. */
function inspect({ task, name, bytes, ticket }) {
  const data = new Uint8Array(bytes);
  try {
    postMessage({ type: 'inspected', task, name, ticket, info: clue.inspectData(name, data, task) });
  } catch (e) {
    let message = errorText(e);
    try {
      const other = clue.inspectData(name, data, undefined);
      if (other.task !== task) message = `${name} holds ${other.task} data, not ${task}: ${message}`;
    } catch {
      // Not another task's file either: the error for this task's format is the useful one.
    }
    postMessage({ type: 'inspected', task, name, ticket, error: message });
  }
}

/** The run in progress: the page's pause and cancel set these flags; the loop reads them. */
let control = null;

/** Runs an evaluation sample by sample, taking each finished output from the cache. */
async function evaluate({ model, bert, backend, datasets, options, includePrompts }) {
  const generator = await loadModel(model, backend, 'eval');
  const inputs = datasets.map((d) => (d.demo ? demo.get(d.task) : { name: d.name, bytes: new Uint8Array(d.bytes), task: d.task }));
  // What the stored-data panel lists each completion under: its task's data file, or the demo set.
  const datasetOf = new Map(datasets.map((d) => [d.task, d.demo ? 'demo set' : d.name]));
  const evaluation = new clue.Evaluation(generator, inputs, options);
  try {
    const startedAt = new Date().toISOString();
    postMessage({
      type: 'eval-started', total: evaluation.total, progress: evaluation.progress(),
      model: { file: generator.file, size: generator.size, sha256: generator.sha256, backend: generator.backend },
    });
    for (let i = 0; i < evaluation.total; i++) {
      // Let the page's pause and cancel messages in between samples.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (control.paused && !control.cancelled) {
        postMessage({ type: 'eval-paused', progress: evaluation.progress() });
        await new Promise((resolve) => { control.wake = resolve; });
        if (!control.cancelled) postMessage({ type: 'eval-continued', progress: evaluation.progress() });
      }
      if (control.cancelled) {
        postMessage({ type: 'eval-cancelled', progress: evaluation.progress() });
        return;
      }
      const request = evaluation.request(i);
      let generated = await cachedCompletion(request.cache_key);
      // An entry that does not fit its request (a corrupted or tampered store) is dropped and
      // generated again, with a warning; it never reaches the scores nor stops the run.
      const unfit = generated === undefined ? null : evaluation.verifyCached(i, generated);
      if (unfit) {
        postMessage({ type: 'eval-warning', message: `${unfit}; dropped from the completion cache, generating it again` });
        await forgetCompletion(request.cache_key);
        generated = undefined;
      }
      const cached = generated !== undefined;
      if (!cached) {
        postMessage({ type: 'eval-progress', progress: evaluation.progress(), request: { task: request.task, id: request.id } });
        generated = await evaluation.generate(i);
        await rememberCompletion(request.cache_key, generated, { task: request.task, dataset: datasetOf.get(request.task) });
      }
      const sample = evaluation.record(i, generated, cached);
      postMessage({ type: 'eval-sample', sample, prompt: request.prompt, progress: evaluation.progress() });
    }
    if (bert) {
      postMessage({ type: 'eval-bertscore', stage: 'loading', model: bert.name, layer: bert.layer });
      try {
        const scorer = await loadBert(bert, backend);
        postMessage({ type: 'eval-bertscore', stage: 'scoring', model: scorer.name, layer: scorer.layer });
        await evaluation.addBertscore(scorer);
      } catch (e) {
        // The message already names the file or the model directory; say which step failed.
        // (A trap stays a trap: the worker must be replaced, not told BERTScore failed.)
        if (fatalFault(e)) throw e;
        throw new Error(`BERTScore: ${errorText(e)}`);
      }
      // BERTScore runs as one step; a Cancel pressed during it takes effect when it ends.
      if (control.cancelled) {
        postMessage({ type: 'eval-cancelled', progress: evaluation.progress() });
        return;
      }
    }
    const run = { backend: generator.backend, adapter: adapters[backend], started_at: startedAt, ended_at: new Date().toISOString() };
    postMessage({
      type: 'eval-finished', results: evaluation.results(run), progress: evaluation.progress(),
      samplesJsonl: evaluation.samplesJsonl(includePrompts), resultsCsv: evaluation.resultsCsv(run),
    });
  } finally {
    // After a trap, freeing may throw too; the trap is what must be reported.
    try {
      evaluation.free();
    } catch {
      // The worker is replaced anyway.
    }
  }
}

/** A cached output, or undefined; without IndexedDB every request is generated. */
async function cachedCompletion(key) {
  try {
    return await getCompletion(key);
  } catch {
    return undefined;
  }
}

async function forgetCompletion(key) {
  try {
    await deleteCompletion(key);
  } catch {
    // The store is unavailable: the new output is simply not kept either.
  }
}

async function rememberCompletion(key, generated, origin) {
  try {
    await putCompletion(key, generated, origin);
  } catch (e) {
    postMessage({ type: 'eval-warning', message: `the completion cache is unavailable (${errorText(e)}); a reload will recompute` });
  }
}

/** Scores saved predictions against their data file, with BERTScore from `bert` when given. */
/** The worker's copy of the page's files for the scorer: data files, predictions, UMLS file. */
function rescoreFiles(data, predictions, umls) {
  const files = new clue.RescoreFiles();
  for (const file of data) files.addData(file.name, new Uint8Array(file.bytes));
  files.setPredictions(predictions.name, new Uint8Array(predictions.bytes));
  if (umls) files.setUmls(umls.name, new Uint8Array(umls.bytes));
  return files;
}

async function rescore({ data, predictions, umls, options, bert, backend }) {
  const files = rescoreFiles(data, predictions, umls);
  try {
    await rescoreWith(files, options, bert, backend);
  } finally {
    files.free();
  }
}

async function rescoreWith(files, options, bert, backend) {
  let results;
  try {
    // Without BERTScore this is the whole answer; with it, this checks the files first, so a
    // wrong file is refused at once rather than after a BERT model's download.
    results = clue.rescore(files, options);
  } catch (e) {
    reportFailure(e, (message) => ({ type: 'rescore-error', message }));
    return;
  }
  if (bert) {
    try {
      postMessage({ type: 'rescore-bertscore', stage: 'loading', model: bert.name, layer: bert.layer, backend });
      const scorer = await loadBert(bert, backend);
      postMessage({ type: 'rescore-bertscore', stage: 'scoring', model: scorer.name, layer: scorer.layer, backend });
      results = await clue.rescoreWithBertscore(files, options, scorer);
    } catch (e) {
      reportFailure(e, (message) => ({ type: 'rescore-error', message: `BERTScore: ${message}` }));
      return;
    }
  }
  postMessage({ type: 'rescored', results });
}

self.onmessage = async ({ data: message }) => {
  switch (message.type) {
    case 'eval-pause':
      if (control) control.paused = true;
      return;
    case 'eval-continue':
    case 'eval-cancel':
      if (!control) return;
      control.paused = false;
      control.cancelled = message.type === 'eval-cancel';
      if (control.wake) control.wake();
      control.wake = null;
      return;
  }
  await ready;
  switch (message.type) {
    case 'generate':
      try {
        await generate(message);
      } catch (e) {
        reportFailure(e, (text) => ({ type: 'generation-error', backend: message.backend, message: text }));
      }
      break;
    case 'inspect':
      inspect(message);
      break;
    case 'eval-start':
      control = { paused: false, cancelled: false, wake: null };
      try {
        await evaluate(message);
      } catch (e) {
        reportFailure(e, (text) => ({ type: 'eval-error', message: text }));
      } finally {
        control = null;
      }
      break;
    case 'rescore':
      await rescore(message);
      break;
  }
};

const ready = main();
