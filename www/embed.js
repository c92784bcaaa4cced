// The embed view (embed.html): a compact evaluation for an <iframe> in a course page, set up by
// URL parameters, with Run / Pause / Cancel, progress, the scores and a link to the full page.
// It runs the demo sets only (a user's own data belongs on the full page) and posts its
// progress and results to the embedding page.
//
// URL parameters (all optional):
//   model     default | a name of the model list | an http(s) URL of a GGUF file  (default)
//   tasks     comma-separated task ids: mednli,meqsum,probsum,longhealth,medisumqa,medisumcode  (all six)
//   profile   paper-2024-06 | current-2025-01  (paper-2024-06)
//   limit     samples per task, or "all" for the whole demo sets  (the quick demo: the first of each,
//             LongHealth's in one prompt per task)
//   backend   cpu | webgpu | auto: WebGPU on a real GPU adapter, else the CPU  (auto)
//   autostart 1 to start as soon as the evaluator is ready  (off)
//
// Messages to the embedding page (window.parent.postMessage, any origin: they hold counts and
// scores of the synthetic demo sets, never a prompt, an output or data), each an object
// {source: "clue-wasm", version: 1, type, ...}:
//   ready     {settings: {model, tasks, profile, limit, backend}}
//   started   {total, model: {file, size, sha256, backend}}
//   progress  {done, total, cached, generated}
//   paused    {done, total}
//   finished  {results}  — the results.json of `clue eval` (scores, intervals, levels, run settings)
//   cancelled {done, total}
//   error     {message}
import { byId } from './dom.js';
import { startWorker } from './hub.js';
import { DEFAULT_MODEL_URL, defaultModel, knownModel, loadKnownModels, loadingText } from './models.js';
import { TASKS, renderResults, taskName } from './results.js';

const PROFILES = ['paper-2024-06', 'current-2025-01'];
const BACKENDS = ['auto', 'cpu', 'webgpu'];

/** The settings the URL asks for, or {error} naming the parameter that is wrong. */
function readSettings(params) {
  const tasks = (params.get('tasks') || TASKS.map((t) => t.id).join(',')).split(',').map((t) => t.trim()).filter(Boolean);
  const unknown = tasks.find((t) => !TASKS.some((task) => task.id === t));
  if (unknown || !tasks.length) return { error: `tasks: "${unknown || ''}" is not a task (${TASKS.map((t) => t.id).join(', ')})` };
  const profile = params.get('profile') || PROFILES[0];
  if (!PROFILES.includes(profile)) return { error: `profile: "${profile}" is none of ${PROFILES.join(', ')}` };
  const backend = params.get('backend') || 'auto';
  if (!BACKENDS.includes(backend)) return { error: `backend: "${backend}" is none of ${BACKENDS.join(', ')}` };
  const limitText = params.get('limit');
  let limit = null;
  if (limitText === 'all') limit = 'all';
  else if (limitText !== null) {
    limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1) return { error: `limit: "${limitText}" is not a whole number of samples ≥ 1 or "all"` };
  }
  const model = params.get('model') || 'default';
  return { settings: { model, tasks, profile, limit, backend, autostart: params.get('autostart') === '1' } };
}

/** The worker's model choice for `name` (default, a listed name, a URL), or {error}. */
async function resolveModel(name) {
  await loadKnownModels();
  if (name === 'default') return { model: defaultModel() };
  if (/^https?:\/\//.test(name)) return { model: { url: name } };
  const known = knownModel(name);
  if (!known) return { error: `model: "${name}" is not in the model list, and not an http(s) URL` };
  if (known.gated) return { error: `model: ${known.name} is gated; it can be evaluated from a local file on the full page` };
  return { model: { url: known.url, known: { name: known.name, sha256: known.sha256 } } };
}

const status = byId('embed-status');
const bar = byId('embed-progress');
const runButton = byId('embed-run');
const pauseButton = byId('embed-pause');
const cancelButton = byId('embed-cancel');

/** Tells the embedding page, if any. */
function post(type, fields = {}) {
  if (window.parent !== window) window.parent.postMessage({ source: 'clue-wasm', version: 1, type, ...fields }, '*');
}

function setState(state, text) {
  document.body.dataset.state = state;
  if (text !== undefined) status.textContent = text;
  const running = ['loading', 'running', 'paused'].includes(state);
  runButton.disabled = running || !['ready', 'done', 'cancelled', 'error'].includes(state) || !chosen;
  pauseButton.disabled = !['running', 'paused'].includes(state);
  cancelButton.disabled = !running;
  pauseButton.textContent = state === 'paused' ? 'Continue' : 'Pause';
  pauseButton.setAttribute('aria-pressed', String(state === 'paused'));
}

const full = new URL('index.html', import.meta.url);
byId('embed-full').href = full.href;

const { settings, error: settingsError } = readSettings(new URL(location.href).searchParams);
let chosen = null;
let quickLimit = 1;
let quickLongHealthPrompts = 1;
let webgpu = null;
let backend = null;
let demoNotice = '';

const hub = startWorker((e) => {
  setState('error', `The evaluator failed to start: ${e.message || 'unknown error'}`);
  post('error', { message: status.textContent });
});

if (settingsError) {
  setState('error', `This embed's URL is wrong: ${settingsError}.`);
  post('error', { message: status.textContent });
}

hub.on('demo-sets', ({ quickLimit: limit, quickLongHealthPrompts: prompts, notice }) => {
  if (Number.isInteger(limit)) quickLimit = limit;
  if (Number.isInteger(prompts)) quickLongHealthPrompts = prompts;
  demoNotice = notice || '';
});
hub.on('adapter', ({ webgpu: adapter }) => { webgpu = adapter; });
/** What stopped the last worker, once one died (null before): the new one must not autostart. */
let lost = null;
hub.on('worker-lost', ({ what }) => {
  lost = what;
  if (!['loading', 'running', 'paused'].includes(document.body.dataset.state)) return;
  setState('error', `The evaluation stopped: ${what}. Restarting the evaluator…`);
  post('error', { message: status.textContent });
});
hub.on('done', async () => {
  if (settingsError) return;
  const resolved = await resolveModel(settings.model);
  if (resolved.error) {
    setState('error', `This embed's URL is wrong: ${resolved.error}.`);
    post('error', { message: status.textContent });
    return;
  }
  chosen = resolved.model;
  backend = settings.backend === 'auto' ? (webgpu && webgpu.available && !webgpu.emulated ? 'webgpu' : 'cpu') : settings.backend;
  const limit = settings.limit === 'all' ? 'whole demo sets' : `${settings.limit ?? quickLimit} sample${(settings.limit ?? quickLimit) === 1 ? '' : 's'} per task`;
  const modelName = settings.model === 'default' ? DEFAULT_MODEL_URL.split('/').pop() : settings.model.split('/').pop();
  byId('embed-what').textContent = `${modelName} on ${settings.tasks.map(taskName).join(', ')} (demo data, ${limit}), ` +
    `profile ${settings.profile}, on ${backend === 'webgpu' ? 'WebGPU' : 'the CPU'}.`;
  setState('ready', lost === null ? 'Ready.'
    : `The evaluator was restarted (${lost}): press Run to go on; the samples that finished come from the cache.`);
  post('ready', { settings: { model: settings.model, tasks: settings.tasks, profile: settings.profile, limit: settings.limit ?? quickLimit, backend } });
  if (settings.autostart && lost === null) start();
});
hub.on('error', ({ message }) => {
  setState('error', message);
  post('error', { message });
});

function start() {
  const options = { profile: settings.profile, mode: 'strict', sampling_seed: 1, seed: 0, compat: false };
  if (settings.limit === null) Object.assign(options, { limit: quickLimit, longhealth_prompts: quickLongHealthPrompts });
  else if (settings.limit !== 'all') options.limit = settings.limit;
  byId('embed-scores').hidden = true;
  bar.removeAttribute('value');
  setState('loading', 'Loading the model…');
  hub.send({
    type: 'eval-start', model: chosen, bert: null, backend,
    datasets: settings.tasks.map((task) => ({ task, demo: true })), options, includePrompts: false,
  });
}

function showProgress(p, prefix = '') {
  bar.max = Math.max(p.total, 1);
  bar.value = p.done;
  status.textContent = `${prefix}${p.done} of ${p.total} samples${p.cached ? ` · ${p.cached} from the cache` : ''}`;
}

runButton.addEventListener('click', start);
pauseButton.addEventListener('click', () => {
  hub.send({ type: document.body.dataset.state === 'paused' ? 'eval-continue' : 'eval-pause' });
  if (document.body.dataset.state !== 'paused') status.textContent = 'Pausing after the current sample…';
});
cancelButton.addEventListener('click', () => {
  hub.send({ type: 'eval-cancel' });
  status.textContent = 'Cancelling after the current sample…';
});

hub.on('model-progress', (message) => {
  if (message.job === 'eval' && document.body.dataset.state === 'loading') status.textContent = loadingText(message);
});
hub.on('model-warning', (message) => {
  if (message.job === 'eval') byId('embed-notice').textContent = `${message.url}: ${message.message}`;
});
hub.on('eval-started', ({ progress, total, model }) => {
  setState('running');
  showProgress(progress);
  post('started', { total, model });
});
const counts = (p) => ({ done: p.done, total: p.total, cached: p.cached, generated: p.generated });
hub.on('eval-sample', ({ progress }) => {
  if (document.body.dataset.state === 'running') showProgress(progress);
  post('progress', counts(progress));
});
hub.on('eval-paused', ({ progress }) => {
  setState('paused');
  showProgress(progress, 'Paused · ');
  post('paused', { done: progress.done, total: progress.total });
});
hub.on('eval-continued', ({ progress }) => {
  setState('running');
  showProgress(progress);
});
hub.on('eval-cancelled', ({ progress }) => {
  showProgress(progress);
  setState('cancelled', `Cancelled after ${progress.done} of ${progress.total} samples.`);
  post('cancelled', { done: progress.done, total: progress.total });
});
hub.on('eval-finished', ({ results, progress }) => {
  showProgress(progress);
  renderResults(byId('embed-scores'), results, 'embed');
  byId('embed-scores').hidden = false;
  byId('embed-notice').textContent = demoNotice;
  setState('done', `Finished: ${progress.done} samples.`);
  post('finished', { results });
});
hub.on('eval-error', ({ message }) => {
  setState('error', `The evaluation failed: ${message}`);
  post('error', { message });
});

setState('starting');
