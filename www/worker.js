// The evaluator's Web Worker: loads the wasm package, reports which backends exist and checks
// each one with a small matrix product. Messages are plain objects with a `type` field.
import init, { version, backendCheck } from '/pkg/clue.js';

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

main();
