// The Evaluate section: model, backend, tasks with their data files (checked in the worker the
// moment they are chosen), settings with the BERT model for BERTScore; Run / Pause / Cancel;
// live progress and samples; the final scores and their exports. The inputs of a run are kept in
// IndexedDB until it ends, so a reloaded tab offers to resume it, and the worker's completion
// cache makes every sample that had finished come back without generating again.
import { byId, element } from './dom.js';
import { bertPicker } from './bert-picker.js';
import {
  chosenModel, DEFAULT_MODEL_URL, describeNeeds, fillKnownModels, knownModel, loadingText, megabytes, size,
} from './models.js';
import { TASKS, download, metricName, percent, renderResults, taskName } from './results.js';
import { deleteRun, getRun, putRun, sha256 } from './store.js';

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

/** What was read from a completion (the `answer` of a sample record, tagged by `kind`). */
function answerText(answer) {
  switch (answer.kind) {
    case 'labels': return answer.labels.join(', ') || '(no label)';
    case 'codes': return answer.codes.join(', ') || '(no code)';
    case 'letter': return answer.letter || '(no letter)';
    case 'text': return answer.text;
    default: return JSON.stringify(answer);
  }
}

/** Why a generation ended (`"length"`, `{"eos": id}`, `{"stop_string": "…"}`, …). */
function stopText(reason) {
  if (typeof reason === 'string') return { length: 'max new tokens reached', context_full: 'context full' }[reason] || reason;
  const [kind, value] = Object.entries(reason)[0];
  return kind === 'eos' ? `end of sequence (id ${value})` : `stop string ${JSON.stringify(value)}`;
}

const metricsText = (metrics) => Object.entries(metrics).map(([k, v]) => `${metricName(k)} ${percent(v)}`).join(' · ');

/** The last `length` characters of `text`, white space collapsed: a prompt's end holds the question. */
function tail(text, length) {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > length ? `…${flat.slice(-length)}` : flat;
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
  const samples = byId('samples').tBodies[0];
  const resultsBox = byId('eval-results');

  let backendsChecked = false;
  let demoArrived = false;
  let adapterName = '';
  /** Why the CPU was chosen over an available WebGPU adapter ('' when it was not). */
  let cpuBecause = '';
  /** How many examples of each demo set the quick demo runs (from the wasm package). */
  let quickLimit = null;
  /** The run in progress: what was saved for it and what the page needs at its end. */
  let current = null;
  /** The exports of the last finished run. */
  let outputs = null;
  /** A saved unfinished run waiting for its Resume button. */
  let offered = null;

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

  // ---- Data files, one slot per task -------------------------------------------------------

  /** Per task: its demo set, whether it is used, and the chosen file and its check. */
  const slots = new Map();
  let tickets = 0;

  function renderSlot(task) {
    const slot = slots.get(task);
    const row = byId(`task-row-${task}`);
    byId(`demo-${task}`).checked = slot.useDemo;
    const line = byId(`file-status-${task}`);
    if (slot.useDemo) {
      row.dataset.state = 'demo';
      line.textContent = slot.demo
        ? `Demo set ${slot.demo.name}: ${slot.demo.examples} examples${slot.demo.patients ? ` (${slot.demo.patients} patients)` : ''}.`
        : 'Demo set.';
      return;
    }
    row.dataset.state = slot.state;
    line.textContent = {
      empty: 'No data yet: choose or drop a file, or use the demo set.',
      checking: `Checking ${slot.file && slot.file.name}…`,
      ok: slot.info,
      error: slot.error,
    }[slot.state];
  }

  /** Reads a chosen or dropped file and has the worker check it against the task's format. */
  async function chooseFile(task, file) {
    const slot = slots.get(task);
    const ticket = ++tickets;
    Object.assign(slot, { useDemo: false, state: 'checking', file: { name: file.name, bytes: null }, ticket });
    renderSlot(task);
    const bytes = await file.arrayBuffer();
    if (slot.ticket !== ticket) return;
    slot.file.bytes = bytes;
    hub.send({ type: 'inspect', task, name: file.name, bytes, ticket });
  }

  hub.on('inspected', (message) => {
    const slot = slots.get(message.task);
    if (slot.ticket !== message.ticket) return;
    if (message.error) {
      Object.assign(slot, { state: 'error', error: message.error });
    } else {
      const i = message.info;
      const size = slot.file.bytes.byteLength < 1e6 ? `${(slot.file.bytes.byteLength / 1e3).toFixed(1)} kB` : megabytes(slot.file.bytes.byteLength);
      Object.assign(slot, {
        state: 'ok',
        info: `${message.name} (${size}): ${taskName(i.task)} format, ${i.examples} examples${i.patients ? ` of ${i.patients} patients` : ''}.`,
      });
    }
    renderSlot(message.task);
  });

  const list = byId('task-list');
  for (const task of TASKS) {
    slots.set(task.id, { useDemo: true, state: 'empty', file: null, demo: null, ticket: 0 });
    const row = element('div', undefined, { class: 'task', id: `task-row-${task.id}`, 'data-task': task.id });
    const check = element('input', undefined, { type: 'checkbox', id: `task-${task.id}` });
    check.checked = true;
    const name = element('label', task.name, { for: `task-${task.id}`, class: 'task-name' });
    name.appendChild(element('span', ` Level ${task.level}`, { class: 'level' }));
    const demoLabel = element('label', undefined, { class: 'demo' });
    const demoBox = element('input', undefined, { type: 'checkbox', id: `demo-${task.id}` });
    demoLabel.append(demoBox, ' use demo data');
    const fileLabel = element('label', 'Data file', { for: `file-${task.id}`, class: 'visually-hidden' });
    const fileInput = element('input', undefined, {
      type: 'file', id: `file-${task.id}`, accept: task.accept, 'aria-describedby': `file-status-${task.id}`,
    });
    const line = element('p', undefined, { id: `file-status-${task.id}`, class: 'file-status', 'aria-live': 'polite' });
    row.append(check, name, demoLabel, fileLabel, fileInput, line);
    list.appendChild(row);

    demoBox.addEventListener('change', () => {
      const slot = slots.get(task.id);
      slot.useDemo = demoBox.checked;
      renderSlot(task.id);
    });
    fileInput.addEventListener('change', () => {
      if (fileInput.files[0]) chooseFile(task.id, fileInput.files[0]);
    });
    // The whole row is the task's drop zone.
    row.addEventListener('dragover', (event) => {
      event.preventDefault();
      row.classList.add('dragging');
    });
    row.addEventListener('dragleave', () => row.classList.remove('dragging'));
    row.addEventListener('drop', (event) => {
      event.preventDefault();
      row.classList.remove('dragging');
      if (running()) return;
      const files = event.dataTransfer.files;
      if (!files.length) return;
      fileInput.files = files;
      chooseFile(task.id, files[0]);
    });
    renderSlot(task.id);
  }

  // ---- Quick demo ---------------------------------------------------------------------------

  /**
   * A run of the demo sets alone with no sample limit of its own is the quick demo — the first
   * example of each set, minutes on two cores — unless "Full demo sets" is ticked (275 samples,
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
    else if (isQuickDemo()) line.textContent = `Quick demo: the first example of each demo set (${chosen.length * quickLimit} of ${all} examples). Tick to run them all (much longer).`;
    else if (byId('full-demo').checked && !byId('limit').value) line.textContent = `All ${all} demo examples.`;
    else line.textContent = '';
  }
  form.addEventListener('change', describeDemoSize);
  form.addEventListener('input', describeDemoSize);

  hub.on('demo-sets', ({ sets, notice, error, quickLimit: limit }) => {
    if (Number.isInteger(limit)) quickLimit = limit;
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
    offered = null;
    byId('resume-offer').hidden = true;
    resultsBox.hidden = true;
    samples.replaceChildren();
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
    if (quickDemo) options.limit = quickLimit;
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
      modelInfo.textContent = `${model.file}: ${megabytes(model.size)}, SHA-256 ${model.sha256}, on ${model.backend === 'wgpu' ? 'WebGPU' : 'the CPU'}.`;
    }
    setState('running');
    showProgress(progress);
  });
  hub.on('eval-progress', ({ progress, request }) => {
    if (section.dataset.state === 'running') showProgress(progress, `Generating ${taskName(request.task)} ${request.id} · `);
  });
  hub.on('eval-sample', ({ sample, prompt, progress }) => {
    addSample(sample, prompt);
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
  hub.on('eval-error', ({ message }) => end('error', `The evaluation failed: ${message}`));

  // ---- Samples table ----------------------------------------------------------------------------

  /** Each sample row's function that opens or closes its details. */
  const expanders = new WeakMap();

  function addSample(sample, prompt) {
    const index = samples.querySelectorAll('tr.sample').length;
    const detailId = `sample-detail-${index}`;
    const tr = element('tr', undefined, { class: 'sample', 'data-task': sample.task, 'data-id': sample.id, 'data-cached': String(sample.cached) });
    tr.appendChild(element('td', taskName(sample.task)));
    const idCell = element('td');
    idCell.appendChild(element('button', sample.id, { type: 'button', class: 'expand', 'aria-expanded': 'false', 'aria-controls': detailId }));
    if (sample.cached) idCell.appendChild(element('span', 'cached', { class: 'badge' }));
    tr.appendChild(idCell);
    // Long texts are clamped to a few lines; the row's details show them whole.
    for (const text of [tail(prompt || sample.prompt || '', 200), sample.completion, answerText(sample.answer)]) {
      tr.appendChild(element('td')).appendChild(element('div', text, { class: 'clamp' }));
    }
    tr.appendChild(element('td', metricsText(sample.metrics)));
    const detail = element('tr', undefined, { class: 'detail', id: detailId, hidden: '' });
    samples.append(tr, detail);
    // The details are built on first opening: prompts of long tasks are large.
    expanders.set(tr, () => {
      if (!detail.firstChild) detail.appendChild(sampleDetail(sample, prompt));
      const open = detail.hidden;
      detail.hidden = !open;
      tr.querySelector('button.expand').setAttribute('aria-expanded', String(open));
    });
  }

  function sampleDetail(sample, prompt) {
    const cell = element('td', undefined, { colspan: '6' });
    const list = element('dl');
    const add = (term, text, pre = false) => {
      list.appendChild(element('dt', term));
      // A <pre> may scroll sideways: it takes the keyboard focus so it can be scrolled without a mouse.
      list.appendChild(element('dd')).appendChild(pre ? element('pre', text, { tabindex: '0', 'aria-label': term }) : element('span', text));
    };
    add('Prompt', prompt || sample.prompt || '(not kept)', true);
    add('Output', sample.completion, true);
    add('Cleaned', sample.cleaned, true);
    add('Answer', answerText(sample.answer));
    add('Metrics', metricsText(sample.metrics) || '—');
    add('Tokens', `${sample.prompt_tokens} in the prompt, ${sample.completion_tokens} generated (${stopText(sample.stop_reason)})${sample.cached ? ', from the cache' : ''}`);
    add('Reading mode', sample.mode);
    cell.appendChild(list);
    return cell;
  }

  samples.addEventListener('click', (event) => {
    const row = event.target.closest('tr.sample');
    if (row) expanders.get(row)();
  });

  // ---- Exports ----------------------------------------------------------------------------------

  byId('export-results').addEventListener('click', () => download('results.json', `${JSON.stringify(outputs.results, null, 2)}\n`, 'application/json'));
  byId('export-samples').addEventListener('click', () => download('samples.jsonl', outputs.samplesJsonl, 'application/x-ndjson'));
  byId('export-csv').addEventListener('click', () => download('results.csv', outputs.resultsCsv, 'text/csv'));

  // ---- Embed code -------------------------------------------------------------------------------

  /** An <iframe> of embed.html with this form's model, tasks and settings (demo data only). */
  function embedCode() {
    const params = new URLSearchParams();
    const notes = [];
    const source = form.querySelector('input[name="model-source"]:checked').value;
    if (source === 'known' && byId('model-known').value) params.set('model', byId('model-known').value);
    else if (source === 'url' && byId('model-url').value.trim()) params.set('model', byId('model-url').value.trim());
    else if (source === 'file') notes.push('a local model file cannot be embedded: the embed uses the default model');
    const tasks = TASKS.filter((t) => byId(`task-${t.id}`).checked);
    if (tasks.length && tasks.length < TASKS.length) params.set('tasks', tasks.map((t) => t.id).join(','));
    if (tasks.some((t) => !slots.get(t.id).useDemo)) notes.push('an embed runs the demo sets, not your files');
    if (byId('profile').value !== 'paper-2024-06') params.set('profile', byId('profile').value);
    if (byId('limit').value) params.set('limit', byId('limit').value);
    else if (byId('full-demo').checked) params.set('limit', 'all');
    params.set('backend', backendSelect.value);
    const src = `${new URL('embed.html', location.href).href}?${params}`;
    const code = `<iframe src="${src.replaceAll('&', '&amp;')}" title="CLUE evaluation" width="560" height="460" loading="lazy"></iframe>`;
    return { code, notes };
  }

  byId('copy-embed').addEventListener('click', async () => {
    const { code, notes } = embedCode();
    const box = byId('embed-code');
    box.value = code;
    byId('embed-box').hidden = false;
    let copied = 'Copied to the clipboard.';
    try {
      await navigator.clipboard.writeText(code);
    } catch {
      copied = 'Select it and copy it (this browser did not allow the clipboard).';
      box.select();
    }
    byId('embed-hint').textContent = [copied, ...notes.map((n) => `Note: ${n}.`)].join(' ');
  });

  // ---- Resuming a run the tab lost --------------------------------------------------------------

  /** Puts a saved run's inputs back into the form, so the page shows what is running. */
  function restore(saved) {
    form.querySelector(`input[name="model-source"][value="${saved.source}"]`).checked = true;
    if (saved.model.url && saved.source === 'url') byId('model-url').value = saved.model.url;
    if (saved.model.known && saved.source === 'known') {
      knownListed.then(() => { byId('model-known').value = saved.model.known.name; });
    }
    backendSelect.value = saved.backend;
    describeBackend();
    const byTask = new Map(saved.datasets.map((d) => [d.task, d]));
    for (const task of TASKS) {
      const dataset = byTask.get(task.id);
      byId(`task-${task.id}`).checked = Boolean(dataset);
      if (dataset && !dataset.demo && dataset.bytes) {
        Object.assign(slots.get(task.id), {
          useDemo: false, state: 'ok', file: { name: dataset.name, bytes: dataset.bytes }, ticket: ++tickets,
          info: `${dataset.name}: kept from the unfinished run.`,
        });
      } else if (dataset && !dataset.demo) {
        const slot = slots.get(task.id);
        // The file was not kept: the one in the slot now, if any, is checked against it on Resume.
        if (slot.useDemo || slot.state !== 'ok') Object.assign(slot, { useDemo: false, state: 'empty', file: null });
      } else if (dataset) {
        slots.get(task.id).useDemo = true;
      }
      renderSlot(task.id);
    }
    const o = saved.options;
    byId('profile').value = o.profile;
    byId('mode').value = o.mode;
    byId('sampling-seed').value = String(o.sampling_seed);
    byId('seed').value = String(o.seed);
    byId('compat').checked = o.compat;
    byId('limit').value = o.limit === undefined || saved.quickDemo ? '' : String(o.limit);
    byId('full-demo').checked = Boolean(saved.fullDemo);
    byId('max-new-tokens').value = o.max_new_tokens === undefined ? '' : String(o.max_new_tokens);
    byId('include-prompts').checked = saved.includePrompts;
    byId('keep-data').checked = Boolean(saved.keepData);
    bertPick.restore(saved.bert);
    describeDemoSize();
  }

  /**
   * The data files of `saved` with their bytes: kept ones from the store, the others from their
   * task's slot, where the user must have chosen the same file again (same SHA-256); else
   * {error, focus}.
   */
  async function resumedDatasets(saved) {
    const datasets = [];
    for (const d of saved.datasets) {
      if (d.demo || d.bytes) {
        datasets.push(d);
        continue;
      }
      const slot = slots.get(d.task);
      const again = `This run used your ${taskName(d.task)} file ${d.name} (${d.size} bytes), which was not kept on this device`;
      if (slot.useDemo || slot.state !== 'ok' || !slot.file || !slot.file.bytes) {
        return { error: `${again}: choose it again under Tasks and data, then press Resume.`, focus: byId(`file-${d.task}`) };
      }
      const digest = await sha256(slot.file.bytes);
      if (digest !== d.sha256) {
        return {
          error: `${taskName(d.task)}: ${slot.file.name} is not the file this run used (${d.name}): its SHA-256 is ${digest}, ` +
            `the run's ${d.sha256}. Choose ${d.name} again, then press Resume.`,
          focus: byId(`file-${d.task}`),
        };
      }
      datasets.push({ ...d, name: slot.file.name, bytes: slot.file.bytes });
    }
    return { datasets };
  }

  resumeButton.addEventListener('click', async () => {
    const saved = offered;
    restore(saved);
    describeChoice();
    const resumed = await resumedDatasets(saved);
    if (resumed.error) {
      status.textContent = resumed.error;
      resumed.focus.focus();
      return;
    }
    let model = { url: saved.model.url, known: saved.model.known, fallback: saved.model.fallback };
    if (saved.model.file) {
      const want = saved.model.file;
      const file = byId('model-file').files[0];
      if (!file || file.name !== want.name || file.size !== want.size) {
        status.textContent = `This run used the local model file ${want.name} (${megabytes(want.size)}): choose it again under Model, then press Resume.`;
        byId('model-file').focus();
        return;
      }
      model = { file };
    }
    const bertChoice = bertPick.resume(saved.bert);
    if (bertChoice.error) {
      status.textContent = bertChoice.error;
      bertPick.filesInput.focus();
      return;
    }
    start(model, bertChoice.bert, saved, resumed.datasets);
  });

  byId('discard-run').addEventListener('click', () => {
    offered = null;
    byId('resume-offer').hidden = true;
    deleteRun().then(storedChanged, () => {});
    status.textContent = 'The unfinished run was discarded.';
  });
  // The stored-data panel removed the run: nothing is left to resume.
  document.addEventListener('clue-run-removed', () => {
    offered = null;
    byId('resume-offer').hidden = true;
  });

  getRun().then((saved) => {
    if (!saved || running()) return;
    offered = saved;
    const tasks = saved.datasets.map((d) => taskName(d.task) +
      (d.demo ? ' (demo)' : ` (${d.name}${d.bytes ? '' : ', not kept: you will be asked to choose it again'})`)).join(', ');
    const model = saved.model.url ? saved.model.url.split('/').pop() : `the local file ${saved.model.file.name}, which you will be asked to choose again`;
    const bert = saved.bert ? `, ${bertPick.describe(saved.bert)}` : '';
    byId('resume-text').textContent = `A run started ${new Date(saved.saved_at).toLocaleString()} did not finish: ${tasks}, ` +
      `${model}${bert}, on ${saved.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}. Samples it finished come from the cache.`;
    byId('resume-offer').hidden = false;
  }).catch(() => {});

  setState('starting');
}
