// The evaluator worker and the hub the page's parts talk to it through (the full page's
// sections and the embed view alike): messages by type, and which job holds the worker's model.

/**
 * Starts the worker; `onFailure(event)` is called if it cannot start. Returns the hub: `on(type,
 * handler)`, `send(message)`, and `busy` / `setBusy(job)` / `onBusy(listener)` for which job
 * holds the worker's model now ('generate', 'eval', 'rescore' while it computes BERTScore, or
 * null) — one at a time, so no two share a device.
 */
export function startWorker(onFailure) {
  // The worker holds the dataset's bytes, so it must be bound by the page's
  // Content-Security-Policy wherever the page is served. A worker takes its policy from its own
  // script's response, and a static host (GitHub Pages, a university web space, an LMS) sends
  // none; a worker started from a blob: URL inherits its creator's policy instead, the <meta>
  // one included. So the worker is a one-line blob module that imports worker.js.
  const workerScript = `import ${JSON.stringify(new URL('worker.js', import.meta.url).href)};`;
  const worker = new Worker(URL.createObjectURL(new Blob([workerScript], { type: 'text/javascript' })), { type: 'module', name: 'clue-worker' });
  const handlers = new Map();
  const busyListeners = [];
  const hub = {
    busy: null,
    on(type, handler) {
      if (!handlers.has(type)) handlers.set(type, []);
      handlers.get(type).push(handler);
    },
    send(message) { worker.postMessage(message); },
    setBusy(job) {
      hub.busy = job;
      for (const listener of busyListeners) listener(job);
    },
    onBusy(listener) { busyListeners.push(listener); },
  };
  worker.onerror = onFailure;
  worker.onmessage = ({ data: message }) => {
    for (const handler of handlers.get(message.type) || []) handler(message);
  };
  return hub;
}
