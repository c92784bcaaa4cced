// The Evaluate section: model, backend, tasks with their data files (checked in the worker the
// moment they are chosen), settings with the BERT model for BERTScore; Run / Pause / Cancel;
// live progress and samples; the final scores and their exports. The inputs of a run are kept in
// IndexedDB until it ends, so a reloaded tab offers to resume it, and the worker's completion
// cache makes every sample that had finished come back without generating again. Its parts
// with a life of their own are modules: the data slots (data-slots.js), the samples table
// (samples.js), resuming (resume.js), the embed code (embed-code.js); the chart of the scores
// is chart.js.
import { byId } from './dom.js';
import { bertPicker } from './bert-picker.js';
import {
  chosenModel, DEFAULT_MODEL_URL, describeNeeds, fillKnownModels, knownModel, loadingText, megabytes, size,
} from './models.js';
import { TASKS, download, renderResults, taskName } from './results.js';
import { samplesTable } from './samples.js';
import { dataSlots } from './data-slots.js';
import { setupEmbedCode } from './embed-code.js';
import { setupResume } from './resume.js';
import { deleteRun, putRun, sha256 } from './store.js';

/** Tells the stored-data panel that what the page keeps has changed. */
const storedChanged = () => document.dispatchEvent(new CustomEvent('clue-stored-changed'));

/** Seconds as "1 h 4 min", "3 min 20 s" or "12 s". */
function duration(seconds) {
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

function progressText(p) {
  const parts = [`${p.done} of ${p.total} samples`];
  if (p.cached) parts.push(`${p.cached} from the cache`);
  if (p.tokens_per_second) parts.push(`${p.tokens_per_second < 10 ? p.tokens_per_second.toPrecision(2) : p.tokens_per_second.toFixed(0)} tokens/s`);
  if (p.done < p.total && p.eta_seconds !== null && p.eta_seconds !== undefined) parts.push(`about ${duration(p.eta_seconds)} left`);
  return parts.join(' · ');
}

export function setupEvaluate(hub) {
  const section = byId('evaluation');
  const form = byId('eval-form');
  const runButton = byId('run-eval');
  const pauseButton = byId('pause-eval');
  const cancelButton = byId('cancel-eval');
  const resumeButton = byId('resume-run');
  const status = byId('eval-status');
  const bar = byId('eval-progress');
  const modelInfo = byId('model-info');
  const modelBar = byId('model-progress');
  const backendSelect = byId('eval-backend');
  const samples = samplesTable(byId('samples').tBodies[0]);
  const resultsBox = byId('eval-results');

  let backendsChecked = false;
  let demoArrived = false;
  let adapterName = '';
  /** Why the CPU was chosen over an available WebGPU adapter ('' when it was not). */
  let cpuBecause = '';
  /** How many examples of each demo set the quick demo runs (from the wasm package). */
  let quickLimit = null;
  /** LongHealth's prompts per task and question in the quick demo (the reference builds 5). */
  let quickLongHealthPrompts = null;
  /** The run in progress: what was saved for it and what the page needs at its end. */
  let current = null;
  /** The exports of the last finished run. */
  let outputs = null;
  /** The resume offer (resume.js), wired once the form's parts exist. */
  let resume = null;

  const ready = () => backendsChecked && demoArrived;
  const running = () => ['loading', 'running', 'paused', 'scoring'].includes(section.dataset.state);

  function refresh() {
    const active = running();
    runButton.disabled = !ready() || active || hub.busy !== null;
    resumeButton.disabled = runButton.disabled;
    // Loading the model and BERTScore each run as one step, with no sample boundary to pause at.
    pauseButton.disabled = !active || ['loading', 'scoring'].includes(section.dataset.state);
    cancelButton.disabled = !active;
    pauseButton.textContent = section.dataset.state === 'paused' ? 'Continue' : 'Pause';
    pauseButton.setAttribute('aria-pressed', String(section.dataset.state === 'paused'));
    for (const fieldset of form.querySelectorAll('fieldset')) fieldset.disabled = active;
    for (const id of ['export-results', 'export-samples', 'export-csv']) byId(id).disabled = outputs === null;
  }

  function setState(state, text) {
    section.dataset.state = state;
    if (text !== undefined) status.textContent = text;
    refresh();
  }

  // ---- Data files, one slot per task (data-slots.js) ----------------------------------------

  const { slots, renderSlot, nextTicket } = dataSlots(hub, { running });

  // ---- Quick demo ---------------------------------------------------------------------------

  /**
   * A run of the demo sets alone with no sample limit of its own is the quick demo — the first
   * example of each set, LongHealth's in one prompt per task: minutes on two cores — unless "Full demo sets" is ticked (275 samples,
   * most of them LongHealth's long prompts). A user's file is always evaluated whole.
   */
  function isQuickDemo() {
    const chosen = TASKS.filter((t) => byId(`task-${t.id}`).checked);
    return quickLimit !== null && chosen.length > 0 && chosen.every((t) => slots.get(t.id).useDemo)
      && !byId('limit').value && !byId('full-demo').checked;
  }

  function describeDemoSize() {
    const chosen = TASKS.filter((t) => byId(`task-${t.id}`).checked && slots.get(t.id).useDemo && slots.get(t.id).demo);
    const all = chosen.reduce((n, t) => n + slots.get(t.id).demo.examples, 0);
    const line = byId('demo-size');
    if (!chosen.length || quickLimit === null) line.textContent = '';
    else if (isQuickDemo()) line.textContent = `Quick demo: the first example of each demo set (${chosen.length * quickLimit} of ${all} examples; LongHealth's in ${quickLongHealthPrompts} of its 5 prompts per task). Tick to run them all (much longer).`;
    else if (byId('full-demo').checked && !byId('limit').value) line.textContent = `All ${all} demo examples.`;
    else line.textContent = '';
  }
  form.addEventListener('change', describeDemoSize);
  form.addEventListener('input', describeDemoSize);

  hub.on('demo-sets', ({ sets, notice, error, quickLimit: limit, quickLongHealthPrompts: prompts }) => {
    if (Number.isInteger(limit)) quickLimit = limit;
    if (Number.isInteger(prompts)) quickLongHealthPrompts = prompts;
    byId('demo-notice').textContent = notice || '';
    for (const set of sets) {
      slots.get(set.task).demo = set;
      renderSlot(set.task);
    }
    demoArrived = true;
    describeDemoSize();
    if (error) setState('error', `The demo sets could not be read: ${error}`);
    else if (section.dataset.state === 'starting') status.textContent = 'Checking the backends…';
    refresh();
  });

  // ---- Model and backend ---------------------------------------------------------------------

  const describeChoice = () => {
    const source = form.querySelector('input[name="model-source"]:checked').value;
    const file = byId('model-file').files[0];
    const known = knownModel(byId('model-known').value);
    if (source === 'file' && file) modelInfo.textContent = `${file.name}: ${megabytes(file.size)}, read here, never uploaded.`;
    else if (source === 'default') modelInfo.textContent = `${DEFAULT_MODEL_URL.split('/').pop()}, served with this page.`;
    else if (source === 'known' && known) modelInfo.textContent = describeNeeds(known);
    else modelInfo.textContent = '';
  };
  const knownListed = fillKnownModels(byId('model-known')).then(describeChoice, (e) => { modelInfo.textContent = `The model list could not be read: ${e}`; });
  byId('model-known').addEventListener('change', () => {
    form.querySelector('input[name="model-source"][value="known"]').checked = true;
    describeChoice();
  });
  for (const input of form.querySelectorAll('input[name="model-source"]')) input.addEventListener('change', describeChoice);
  byId('model-file').addEventListener('change', () => {
    form.querySelector('input[name="model-source"][value="file"]').checked = true;
    describeChoice();
  });
  byId('model-url').addEventListener('input', () => {
    form.querySelector('input[name="model-source"][value="url"]').checked = true;
  });
  describeChoice();

  const describeBackend = () => {
    byId('eval-adapter').textContent = backendSelect.value === 'webgpu'
      ? `Adapter: ${adapterName}`
      : `WebAssembly on the CPU${cpuBecause}`;
  };
  backendSelect.addEventListener('change', describeBackend);
  const webgpuOption = backendSelect.querySelector('option[value="webgpu"]');
  const withoutWebGpu = (reason) => {
    webgpuOption.disabled = true;
    webgpuOption.textContent = `WebGPU (unavailable: ${reason})`;
    backendSelect.value = 'cpu';
    describeBackend();
  };
  hub.on('adapter', ({ webgpu }) => {
    if (!webgpu.available) return withoutWebGpu(webgpu.reason);
    adapterName = webgpu.name;
    webgpuOption.disabled = false;
    // WebGPU by default only on a real GPU: an emulated adapter stays one choice away.
    if (webgpu.emulated) {
      cpuBecause = `: this browser's WebGPU adapter (${webgpu.name}) emulates a GPU on the CPU, far slower than the CPU path.`;
      backendSelect.value = 'cpu';
    } else {
      backendSelect.value = 'webgpu';
    }
    describeBackend();
  });
  hub.on('backend', (message) => {
    if (message.name === 'webgpu' && !message.available && !webgpuOption.disabled) withoutWebGpu(message.reason);
  });
  hub.on('done', () => {
    backendsChecked = true;
    if (section.dataset.state === 'starting') setState('idle', 'Ready.');
    refresh();
  });
  hub.onBusy(refresh);

  hub.on('model-progress', (message) => {
    if (message.job !== 'eval') return;
    modelBar.hidden = false;
    modelBar.max = message.total || message.received;
    modelBar.value = message.received;
    modelInfo.textContent = loadingText(message);
  });
  hub.on('model-loaded', (message) => {
    if (message.job !== 'eval') return;
    modelBar.hidden = true;
    modelInfo.textContent = `${message.name}: ${megabytes(message.bytes)}, loaded in ${(message.load_ms / 1000).toFixed(1)} s; ` +
      `weights ${size(message.weights_bytes)} on ${message.backend} (${(message.weights_bytes / message.tensor_bytes).toFixed(2)}× the file's tensors).`;
  });
  hub.on('model-warning', (message) => {
    if (message.job === 'eval') modelInfo.textContent = `${message.url}: ${message.message}`;
  });
  hub.on('model-needs', (message) => {
    if (message.job !== 'eval') return;
    const n = message.needs;
    modelInfo.textContent = `${message.name} (${n.architecture}, ${(n.parameters / 1e9).toFixed(2)}B parameters) needs ` +
      `${size(message.backend === 'cpu' ? n.cpu_weight_bytes : n.gpu_weight_bytes)} for its weights on ${message.backend} ` +
      `and ${megabytes(1000 * n.kv_bytes_per_position)} of KV cache per 1,000 positions.`;
  });

  // ---- BERTScore model -----------------------------------------------------------------------------

  const bertPick = bertPicker('bert-');

  // ---- Running ----------------------------------------------------------------------------------

  function readOptions() {
    const options = {
      profile: byId('profile').value,
      mode: byId('mode').value,
      sampling_seed: Number(byId('sampling-seed').value || 0),
      seed: Number(byId('seed').value || 0),
      compat: byId('compat').checked,
    };
    if (byId('limit').value) options.limit = Number(byId('limit').value);
    if (byId('max-new-tokens').value) options.max_new_tokens = Number(byId('max-new-tokens').value);
    return options;
  }

  /** Refuses to start, saying why and moving focus to what needs fixing. */
  function refuse(text, focus) {
    setState('error', text);
    if (focus) focus.focus();
  }

  /**
   * Starts `saved` (the run as remembered for resume) with `model` and `bert` and the data files'
   * bytes in `datasets`, which `saved` holds only when the user chose to keep them.
   */
  function start(model, bert, saved, datasets) {
    current = { saved, started: performance.now() };
    outputs = null;
    if (resume) resume.clear();
    resultsBox.hidden = true;
    samples.clear();
    bar.removeAttribute('value');
    hub.setBusy('eval');
    setState('loading', 'Loading the model…');
    putRun(saved).then(storedChanged, () => {
      byId('eval-note').textContent = 'This browser keeps no storage for the page: a reload cannot resume this run.';
    });
    hub.send({
      type: 'eval-start', model, bert, backend: saved.backend, datasets, options: saved.options,
      includePrompts: saved.includePrompts,
    });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const source = form.querySelector('input[name="model-source"]:checked').value;
    const choice = chosenModel(form, 'model-source', byId('model-url'), byId('model-file'), byId('model-known'));
    if (choice.error) return refuse(choice.error, byId({ url: 'model-url', known: 'model-known' }[source] || 'model-file'));
    const tasks = TASKS.filter((t) => byId(`task-${t.id}`).checked);
    if (!tasks.length) return refuse('Choose at least one task.', byId(`task-${TASKS[0].id}`));
    const datasets = [];
    for (const task of tasks) {
      const slot = slots.get(task.id);
      if (slot.useDemo) {
        datasets.push({ task: task.id, demo: true });
      } else if (slot.state === 'ok' && slot.file.bytes) {
        datasets.push({ task: task.id, name: slot.file.name, size: slot.file.bytes.byteLength, bytes: slot.file.bytes });
      } else {
        const why = slot.state === 'checking' ? 'its file is still being checked' : 'choose a valid data file or use the demo set';
        return refuse(`${task.name}: ${why}.`, byId(`file-${task.id}`));
      }
    }
    const bertChoice = bertPick.read();
    if (bertChoice.error) return refuse(`BERTScore: ${bertChoice.error}`, bertChoice.field);
    const { model } = choice;
    const quickDemo = isQuickDemo();
    const options = readOptions();
    if (quickDemo) Object.assign(options, { limit: quickLimit, longhealth_prompts: quickLongHealthPrompts });
    const keepData = byId('keep-data').checked;
    const remembered = [];
    for (const d of datasets) {
      if (d.demo) {
        remembered.push(d);
      } else {
        // The digest lets a resume check that the file chosen again is the same file.
        const { bytes, ...described } = d;
        remembered.push({ ...described, sha256: await sha256(bytes), ...(keepData ? { bytes } : {}) });
      }
    }
    start(model, bertChoice.bert, {
      saved_at: new Date().toISOString(),
      source,
      model: model.file ? { file: { name: model.file.name, size: model.file.size, lastModified: model.file.lastModified } } : { url: model.url, known: model.known, fallback: model.fallback },
      backend: backendSelect.value,
      datasets: remembered,
      keepData,
      options,
      quickDemo,
      fullDemo: byId('full-demo').checked,
      includePrompts: byId('include-prompts').checked,
      bert: bertChoice.saved,
    }, datasets);
  });

  pauseButton.addEventListener('click', () => {
    if (section.dataset.state === 'paused') {
      hub.send({ type: 'eval-continue' });
    } else {
      hub.send({ type: 'eval-pause' });
      status.textContent = 'Pausing after the current sample…';
    }
  });
  cancelButton.addEventListener('click', () => {
    hub.send({ type: 'eval-cancel' });
    status.textContent = section.dataset.state === 'scoring' ? 'Cancelling once BERTScore is computed…' : 'Cancelling after the current sample…';
  });

  function showProgress(p, prefix = '') {
    bar.max = Math.max(p.total, 1);
    bar.value = p.done;
    for (const key of ['done', 'total', 'cached', 'generated']) bar.dataset[key] = String(p[key]);
    status.textContent = prefix + progressText(p);
  }

  hub.on('eval-started', ({ progress, model }) => {
    if (model.sha256) {
      modelInfo.textContent = `${model.file}: ${megabytes(model.size)}, SHA-256 ${model.sha256}, on ${model.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}.`;
    }
    setState('running');
    showProgress(progress);
  });
  hub.on('eval-progress', ({ progress, request }) => {
    if (section.dataset.state === 'running') showProgress(progress, `Generating ${taskName(request.task)} ${request.id} · `);
  });
  hub.on('eval-sample', ({ sample, prompt, progress }) => {
    samples.add(sample, prompt);
    if (section.dataset.state === 'running') showProgress(progress);
  });
  hub.on('eval-bertscore', ({ stage, model, layer }) => {
    setState('scoring', stage === 'loading'
      ? `Computing BERTScore: loading ${model}…`
      : `Computing BERTScore with ${model}, layer ${layer}…`);
  });
  hub.on('model-progress', (message) => {
    if (message.job === 'bert' && section.dataset.state === 'scoring') {
      status.textContent = `Computing BERTScore · ${message.url.split('/').pop()} · ${loadingText(message)}`;
    }
  });
  hub.on('eval-paused', ({ progress }) => {
    setState('paused');
    showProgress(progress, 'Paused · ');
  });
  hub.on('eval-continued', ({ progress }) => {
    setState('running');
    showProgress(progress);
  });
  const end = (state, text) => {
    hub.setBusy(null);
    setState(state, text);
  };
  hub.on('eval-cancelled', ({ progress }) => {
    deleteRun().then(storedChanged, () => {});
    showProgress(progress);
    end('cancelled', `Cancelled after ${progress.done} of ${progress.total} samples.`);
  });
  hub.on('eval-finished', ({ results, progress, samplesJsonl, resultsCsv }) => {
    deleteRun().then(storedChanged, () => {});
    const seconds = (performance.now() - current.started) / 1000;
    outputs = { results, samplesJsonl, resultsCsv };
    renderResults(byId('eval-scores'), results, 'eval');
    byId('demo-notice').hidden = !current.saved.datasets.some((d) => d.demo);
    resultsBox.hidden = false;
    showProgress(progress);
    section.dataset.wallSeconds = seconds.toFixed(1);
    end('done', `Finished: ${progressText(progress)}, in ${duration(seconds)}.`);
  });
  hub.on('eval-warning', ({ message }) => { byId('eval-note').textContent = message; });
  // The worker died (a trap, a lost WebGPU device): the hub has started another, which checks
  // the backends again before Run and Resume come back. Every sample that finished is in the
  // completion cache and the run's inputs are still kept, so Resume goes on from there.
  hub.on('worker-lost', ({ what }) => {
    backendsChecked = false;
    if (!running()) return refresh();
    const { done } = bar.dataset;
    setState('error', `The evaluation stopped: ${what}. The evaluator was restarted; ` +
      `the ${done || 0} samples that finished are kept — press Resume to go on from there.`);
    resume.offer(current.saved);
  });
  hub.on('eval-error', ({ message }) => end('error', `The evaluation failed: ${message}`));

  // ---- Exports ----------------------------------------------------------------------------------

  byId('export-results').addEventListener('click', () => download('results.json', `${JSON.stringify(outputs.results, null, 2)}\n`, 'application/json'));
  byId('export-samples').addEventListener('click', () => download('samples.jsonl', outputs.samplesJsonl, 'application/x-ndjson'));
  byId('export-csv').addEventListener('click', () => download('results.csv', outputs.resultsCsv, 'text/csv'));

  // ---- Embed code (embed-code.js) ------------------------------------------------------------

  setupEmbedCode(form, slots);

  // ---- Resuming a run the tab lost (resume.js) ------------------------------------------------

  resume = setupResume({
    form, slots, renderSlot, nextTicket, bertPick, backendSelect, describeBackend, describeChoice,
    describeDemoSize, knownListed, status, resumeButton, start, running, storedChanged,
  });

  setState('starting');
}
