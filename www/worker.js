// The evaluator's Web Worker: loads the wasm package, reports which backends exist and checks
// each one with a small matrix product, then loads models and generates on request. Messages
// are plain objects with a `type` field.
import init, { version, backendCheck, Generator } from '/pkg/clue.js';

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
  return {
    available: true,
    info: {
      vendor: info.vendor || '', architecture: info.architecture || '',
      device: info.device || '', description: info.description || '',
      isFallbackAdapter: Boolean(info.isFallbackAdapter),
    },
    limits,
  };
}

async function main() {
  try {
    await init();
  } catch (e) {
    postMessage({ type: 'error', message: `loading the wasm package failed: ${e}` });
    return;
  }
  postMessage({ type: 'ready', version: version() });

  const webgpu = await describeWebGpu();
  postMessage({ type: 'adapter', webgpu });

  const backends = [{ name: 'cpu', available: true }, { name: 'webgpu', available: webgpu.available, reason: webgpu.reason }];
  for (const backend of backends) {
    if (!backend.available) {
      postMessage({ type: 'backend', name: backend.name, available: false, reason: backend.reason });
      continue;
    }
    try {
      const check = await backendCheck(backend.name, SIZE);
      postMessage({ type: 'backend', name: backend.name, available: true, check });
    } catch (e) {
      postMessage({ type: 'backend', name: backend.name, available: false, reason: String(e) });
    }
  }
  postMessage({ type: 'done' });
}


/** Loaded models by "url backend", so a second request reuses the first load. */
const models = new Map();

/** Fetches a model's bytes, reporting progress; the Cache API keeps them for the next visit. */
async function fetchModel(url) {
  const cache = 'caches' in self ? await caches.open('clue-models') : null;
  let response = cache ? await cache.match(url) : undefined;
  const cached = Boolean(response);
  if (!response) {
    response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    if (cache) await cache.put(url, response.clone());
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
    postMessage({ type: 'model-progress', url, received, total, cached });
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) { bytes.set(chunk, offset); offset += chunk.length; }
  return bytes;
}

/** A model chosen by URL (fetched, cached) or as a local file (read here, never uploaded). */
async function generate({ url, file, backend, prompt, chat, maxTokens }) {
  const source = file ? `file:${file.name}:${file.size}:${file.lastModified}` : url;
  const key = `${source} ${backend}`;
  if (!models.has(key)) {
    const started = performance.now();
    const bytes = file ? new Uint8Array(await file.arrayBuffer()) : await fetchModel(url);
    const name = file ? file.name : new URL(url, self.location.href).pathname.split('/').pop();
    models.set(key, await Generator.load(name, bytes, backend));
    postMessage({ type: 'model-loaded', name, backend, bytes: bytes.length, load_ms: performance.now() - started });
  }
  const result = await models.get(key).generate(prompt, chat, maxTokens);
  postMessage({ type: 'generation', backend, ...result });
}

self.onmessage = async ({ data: message }) => {
  if (message.type !== 'generate') return;
  await ready;
  try {
    await generate(message);
  } catch (e) {
    postMessage({ type: 'generation-error', backend: message.backend, message: String(e && e.message || e) });
  }
};

const ready = main();
