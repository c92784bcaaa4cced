// The browser's memory of evaluations, in IndexedDB (used by the page and the worker alike):
// `completions` maps each request's cache key to the model's output, so a finished sample is
// never generated twice; `runs` holds the inputs of the unfinished run (settings, model source,
// dataset bytes) so a reloaded tab can resume it. Nothing here leaves the machine.

const NAME = 'clue-wasm';
const VERSION = 1;
const CURRENT_RUN = 'current';

let opened;

/** The database, opened once; rejects where IndexedDB is unavailable (some private modes). */
function database() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(NAME, VERSION);
    request.onupgradeneeded = () => {
      request.result.createObjectStore('completions');
      request.result.createObjectStore('runs');
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

/** Runs one request on `store` and resolves with its result once the transaction commits. */
async function transact(store, mode, operation) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(store, mode);
    const request = operation(transaction.objectStore(store));
    transaction.oncomplete = () => resolve(request.result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/** The stored output of the request with `key`, or undefined. */
export const getCompletion = (key) => transact('completions', 'readonly', (s) => s.get(key));

/** Stores a request's output; resolves once it is durable, so a reload right after keeps it. */
export const putCompletion = (key, generated) =>
  transact('completions', 'readwrite', (s) => s.put(generated, key));

/** The inputs of the unfinished run, or undefined. */
export const getRun = () => transact('runs', 'readonly', (s) => s.get(CURRENT_RUN));

/** Remembers the inputs of the run that is starting. */
export const putRun = (run) => transact('runs', 'readwrite', (s) => s.put(run, CURRENT_RUN));

/** Forgets the run (it finished, or the user discarded it). */
export const deleteRun = () => transact('runs', 'readwrite', (s) => s.delete(CURRENT_RUN));
