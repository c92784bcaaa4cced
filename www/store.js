// What the page keeps on this device, and the means to see and remove it (the page and the
// worker both use this module). Nothing here leaves the machine.
//
// - IndexedDB `completions`: each request's cache key → the model's output, with the task, the
//   dataset's name and when it was made, so a finished sample is never generated twice. Entries
//   older than COMPLETION_DAYS are removed when the page opens.
// - IndexedDB `runs`: the unfinished run's settings, model source and, per data file, its name,
//   size and SHA-256 — the file's bytes only when the user asked for them to be kept — so a
//   reloaded tab can resume it.
// - The Cache API's `clue-models`: downloaded models, so the next visit does not fetch them.

const NAME = 'clue-wasm';
// Version 2 added the completions' task, dataset and date; version 1's bare entries are dropped
// (they are recomputed when needed) rather than kept unlisted.
const VERSION = 2;
const CURRENT_RUN = 'current';
export const MODEL_CACHE = 'clue-models';
/** Completions older than this many days are removed when the page opens. */
export const COMPLETION_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

let opened;

/** The database, opened once; rejects where IndexedDB is unavailable (some private modes). */
function database() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(NAME, VERSION);
    request.onupgradeneeded = (event) => {
      const db = request.result;
      if (event.oldVersion < 1) db.createObjectStore('runs');
      if (db.objectStoreNames.contains('completions')) db.deleteObjectStore('completions');
      db.createObjectStore('completions');
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

/** Runs `operation` on `store` and resolves with what it returns once the transaction commits. */
async function transact(store, mode, operation) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(store, mode);
    const result = operation(transaction.objectStore(store));
    transaction.oncomplete = () => resolve(result && 'result' in result ? result.result : result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/** Calls `visit(cursor)` for each entry of `store` (in one read-write transaction when `mode` says so). */
function eachEntry(store, mode, visit) {
  return transact(store, mode, (s) => {
    const request = s.openCursor();
    request.onsuccess = () => {
      const cursor = request.result;
      if (!cursor) return;
      visit(cursor);
      cursor.continue();
    };
    return undefined;
  });
}

/** The SHA-256 of `bytes` (an ArrayBuffer or a view), in hex. */
export async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The stored output of the request with `key`, or undefined. */
export async function getCompletion(key) {
  const entry = await transact('completions', 'readonly', (s) => s.get(key));
  return entry ? entry.generated : undefined;
}

/**
 * Stores a request's output with the task and the dataset's name it belongs to; resolves once
 * it is durable, so a reload right after keeps it.
 */
export const putCompletion = (key, generated, { task, dataset }) =>
  transact('completions', 'readwrite', (s) => s.put({ generated, task, dataset, saved_at: Date.now() }, key));

/** Removes the stored output of the request with `key` (one found not to fit its request). */
export const deleteCompletion = (key) => transact('completions', 'readwrite', (s) => s.delete(key));

/** The inputs of the unfinished run, or undefined. */
export const getRun = () => transact('runs', 'readonly', (s) => s.get(CURRENT_RUN));

/** Remembers the inputs of the run that is starting. */
export const putRun = (run) => transact('runs', 'readwrite', (s) => s.put(run, CURRENT_RUN));

/** Forgets the run (it finished, or the user discarded it). */
export const deleteRun = () => transact('runs', 'readwrite', (s) => s.delete(CURRENT_RUN));

/** Removes the completions older than COMPLETION_DAYS; resolves with how many. */
export async function purgeOldCompletions(now = Date.now()) {
  let removed = 0;
  await eachEntry('completions', 'readwrite', (cursor) => {
    if (!(now - cursor.value.saved_at < COMPLETION_DAYS * DAY_MS)) {
      cursor.delete();
      removed += 1;
    }
  });
  return removed;
}

/** The size of `value` as stored, roughly: its JSON's length (strings are UTF-16 in memory). */
const approximateBytes = (value) => JSON.stringify(value, (_, v) => (v instanceof Uint8Array || v instanceof ArrayBuffer ? `${v.byteLength}` : v)).length;

/**
 * Everything the page keeps: {models: [{url, bytes}], completions: [{task, dataset, count,
 * bytes, oldest}], run: {saved_at, datasets: [{task, name, size, kept}], bytes} | null}.
 */
export async function listStored() {
  const models = [];
  if ('caches' in self && (await caches.has(MODEL_CACHE))) {
    const cache = await caches.open(MODEL_CACHE);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      const length = Number(response && response.headers.get('content-length'));
      models.push({ url: request.url, bytes: length > 0 ? length : (await response.blob()).size });
    }
  }
  const groups = new Map();
  await eachEntry('completions', 'readonly', (cursor) => {
    const { task, dataset, saved_at: savedAt } = cursor.value;
    const key = `${task}\u0000${dataset}`;
    const group = groups.get(key) || { task, dataset, count: 0, bytes: 0, oldest: savedAt };
    group.count += 1;
    group.bytes += approximateBytes(cursor.value);
    group.oldest = Math.min(group.oldest, savedAt);
    groups.set(key, group);
  });
  const saved = await getRun();
  const run = saved ? {
    saved_at: saved.saved_at,
    datasets: saved.datasets.map((d) => ({ task: d.task, name: d.demo ? null : d.name, size: d.size ?? null, kept: Boolean(d.bytes) })),
    bytes: approximateBytes(saved) + saved.datasets.reduce((n, d) => n + (d.bytes ? d.bytes.byteLength : 0), 0),
  } : null;
  return { models, completions: [...groups.values()], run };
}

/** Removes one cached model. */
export async function removeModel(url) {
  if ('caches' in self) await (await caches.open(MODEL_CACHE)).delete(url);
}

/** Removes the completions of `task` on `dataset`. */
export const removeCompletions = (task, dataset) => eachEntry('completions', 'readwrite', (cursor) => {
  if (cursor.value.task === task && cursor.value.dataset === dataset) cursor.delete();
});

/** Removes everything the page stored: every completion, the unfinished run, every cached model. */
export async function removeEverything() {
  await transact('completions', 'readwrite', (s) => s.clear());
  await transact('runs', 'readwrite', (s) => s.clear());
  if ('caches' in self) await caches.delete(MODEL_CACHE);
}
