// The page: starts the evaluator worker, routes its messages to the page's sections (Evaluate,
// Rescore, Stored on this device, Backends, Generate) and shows the backend checks. The page never runs model code,
// so it stays responsive while the worker computes.
//
// Messages, page → worker: generate, inspect {task, name, bytes}, eval-start {model, bert,
// backend, datasets, options}, eval-pause, eval-continue, eval-cancel, rescore {data,
// predictions, options, bert, backend}. Worker → page: ready, demo-sets, adapter, backend, done,
// error, model-progress (with the `job` that asked: generate, eval, or bert for BERTScore's
// files), model-warning (the download could not be kept in the cache), model-needs (what a
// model needs, read from its header before the download) and
// model-loaded (generate or eval), generation(-error), inspected, eval-started,
// eval-progress, eval-sample, eval-paused, eval-continued, eval-bertscore, eval-cancelled,
// eval-finished, eval-warning, eval-error, rescore-bertscore, rescored, rescore-error, published
// (CLUE's published models, for the chart), fatal (a trap or a lost WebGPU device: the hub
// replaces the worker and tells the parts `worker-lost`, see hub.js).
import { setupChart } from './chart.js';
import { setupEvaluate } from './evaluate.js';
import { startWorker } from './hub.js';
import { setupGenerate } from './generate.js';
import { setupRescore } from './rescore.js';
import { setupStored } from './stored.js';

const statusLine = document.getElementById('status');
const rows = document.querySelector('#backends tbody');
let adapterName = '';

/** The worker's checksum recomputed here: Σ (A·B)[i][j] · (1 + (31i + 17j) mod 13). */
function hostChecksum(size) {
  const left = (i, j) => ((i * 7 + j * 3) % 5) - 2;
  const right = (i, j) => ((i * 5 + j * 11) % 7) - 3;
  let total = 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      let dot = 0;
      for (let k = 0; k < size; k++) dot += left(i, k) * right(k, j);
      total += dot * (1 + ((31 * i + 17 * j) % 13));
    }
  }
  return total;
}

function addRow(message) {
  const tr = document.createElement('tr');
  tr.dataset.backend = message.name;
  const cells = [message.name === 'webgpu' ? 'WebGPU' : 'CPU (flex)'];
  if (!message.available) {
    tr.dataset.state = 'unavailable';
    cells.push('—', `unavailable: ${message.reason}`, '—', '—');
  } else {
    const c = message.check;
    const expected = hostChecksum(c.size);
    const ok = c.exact && c.checksum === expected;
    tr.dataset.state = ok ? 'ok' : 'wrong';
    tr.dataset.checksum = String(c.checksum);
    tr.dataset.expected = String(expected);
    cells.push(
      message.name === 'webgpu' ? adapterName : 'WebAssembly',
      ok ? 'correct' : `wrong (max difference ${c.max_abs_diff})`,
      `${c.checksum} (expected ${expected})`,
      `${c.elapsed_ms.toFixed(0)} ms`,
    );
  }
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.appendChild(td);
  }
  rows.appendChild(tr);
}

const hub = startWorker((e) => {
  statusLine.textContent = `The evaluator failed to start: ${e.message || 'unknown error'}`;
  document.body.dataset.state = 'error';
});

hub.on('ready', (message) => {
  document.getElementById('version').textContent = message.version;
  statusLine.textContent = `Evaluator ${message.version} loaded; checking backends…`;
});
hub.on('adapter', ({ webgpu }) => {
  if (!webgpu.available) return;
  adapterName = webgpu.name;
  document.getElementById('adapter-limits').textContent = JSON.stringify(webgpu.limits, null, 2);
});
hub.on('backend', addRow);
hub.on('done', () => {
  statusLine.textContent = 'Backend checks finished.';
  document.body.dataset.state = 'done';
});
hub.on('worker-lost', ({ what }) => {
  // The new worker checks the backends again and fills the table anew.
  rows.replaceChildren();
  statusLine.textContent = `The evaluator was restarted: ${what}. Checking the backends again…`;
  document.body.dataset.state = 'restarting';
});
hub.on('error', (message) => {
  statusLine.textContent = message.message;
  document.body.dataset.state = 'error';
});

setupEvaluate(hub);
setupChart(hub);
setupRescore(hub);
setupGenerate(hub);
setupStored();
