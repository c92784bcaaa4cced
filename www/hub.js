// The evaluator worker and the hub the page's parts talk to it through (the full page's
// sections and the embed view alike): messages by type, which job holds the worker's model, and
// a fresh worker when one dies. A worker that traps (a Rust panic ends in a WebAssembly trap),
// loses its WebGPU device or throws outside any handler cannot be trusted with another job: the
// hub ends it, starts a new one and tells the parts with a `worker-lost` message. What finished
// survives it, in IndexedDB (the completion cache, the run kept for resume).

/**
 * Starts the worker; `onFailure(event)` is called if it cannot start. Returns the hub: `on(type,
 * handler)`, `send(message)`, `busy` / `setBusy(job)` / `onBusy(listener)` for which job holds
 * the worker's model now ('generate', 'eval', 'rescore' while it computes BERTScore, or null) —
 * one at a time, so no two share a device — and `restart(what)`, which replaces the worker.
 * Handlers of `worker-lost` get `{job, what}`: the job that held the worker (or null) and what
 * happened, in words; `busy` is null again after them, and the new worker announces itself as
 * the first did (`ready`, `demo-sets`, `adapter`, `backend`…, `done`).
 */
export function startWorker(onFailure) {
  // The worker holds the dataset's bytes, so it must be bound by the page's
  // Content-Security-Policy wherever the page is served. A worker takes its policy from its own
  // script's response, and a static host (GitHub Pages, a university web space, an LMS) sends
  // none; a worker started from a blob: URL inherits its creator's policy instead, the <meta>
  // one included. So the worker is a one-line blob module that imports worker.js.
  const workerScript = `import ${JSON.stringify(new URL('worker.js', import.meta.url).href)};`;
  const workerUrl = URL.createObjectURL(new Blob([workerScript], { type: 'text/javascript' }));
  const handlers = new Map();
  const busyListeners = [];
  let worker = null;
  /** Whether the current worker said `ready`: before that an error is a failure to start. */
  let started = false;
  const dispatch = (message) => {
    for (const handler of handlers.get(message.type) || []) handler(message);
  };

  function spawn() {
    started = false;
    worker = new Worker(workerUrl, { type: 'module', name: 'clue-worker' });
    const self = worker;
    self.onerror = (event) => {
      if (self !== worker) return;
      // Not a failure to start once the wasm package answered: an exception nothing caught,
      // which leaves the worker in a state nobody knows.
      if (!started) return onFailure(event);
      event.preventDefault();
      hub.restart(`the evaluator stopped on an error nothing caught (${event.message || 'no message'})`);
    };
    self.onmessage = ({ data: message }) => {
      if (self !== worker) return;
      if (message.type === 'ready') started = true;
      if (message.type === 'fatal') return hub.restart(message.what);
      dispatch(message);
    };
  }

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
    restart(what) {
      worker.terminate();
      const job = hub.busy;
      spawn();
      dispatch({ type: 'worker-lost', job, what });
      if (hub.busy !== null) hub.setBusy(null);
    },
  };
  spawn();
  return hub;
}
