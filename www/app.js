// The page: starts the evaluator worker and shows what it reports. The page itself never runs
// model code, so it stays responsive while the worker computes.

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

const genStatus = document.getElementById('gen-status');
const worker = new Worker('worker.js', { type: 'module' });

document.getElementById('generate-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  form.dataset.state = 'running';
  document.getElementById('gen-run').disabled = true;
  document.getElementById('gen-output').textContent = '';
  genStatus.textContent = 'Starting…';
  const refuse = (text) => {
    genStatus.textContent = text;
    form.dataset.state = 'error';
    document.getElementById('gen-run').disabled = false;
  };
  let model = { url: '/models/SmolLM2-135M-Instruct.Q4_1.gguf' };
  const source = form.querySelector('input[name="gen-source"]:checked').value;
  if (source === 'url') {
    const url = document.getElementById('gen-url').value.trim();
    if (!url) return refuse('Enter the model\'s URL first.');
    model = { url };
  } else if (source === 'file') {
    const file = document.getElementById('gen-file').files[0];
    if (!file) return refuse('Choose a .gguf file first.');
    model = { file };
  }
  worker.postMessage({
    type: 'generate',
    ...model,
    backend: document.getElementById('gen-backend').value,
    prompt: document.getElementById('gen-prompt').value,
    chat: document.getElementById('gen-chat').checked,
    maxTokens: Number(document.getElementById('gen-max').value),
  });
});
worker.onerror = (e) => {
  statusLine.textContent = `The evaluator failed to start: ${e.message || 'unknown error'}`;
  document.body.dataset.state = 'error';
};
worker.onmessage = ({ data: message }) => {
  switch (message.type) {
    case 'ready':
      document.getElementById('version').textContent = message.version;
      statusLine.textContent = `Evaluator ${message.version} loaded; checking backends…`;
      break;
    case 'adapter': {
      const g = message.webgpu;
      if (g.available) {
        const i = g.info;
        adapterName = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ') || 'unnamed adapter';
        if (i.isFallbackAdapter) adapterName += ' (fallback)';
        document.getElementById('adapter-limits').textContent = JSON.stringify(g.limits, null, 2);
      }
      break;
    }
    case 'backend':
      addRow(message);
      break;
    case 'done':
      statusLine.textContent = 'Backend checks finished.';
      document.body.dataset.state = 'done';
      document.getElementById('gen-run').disabled = false;
      break;
    case 'model-progress': {
      const mb = (n) => (n / 1e6).toFixed(1);
      genStatus.textContent = message.total
        ? `Loading the model${message.cached ? ' from the cache' : ''}: ${mb(message.received)} of ${mb(message.total)} MB`
        : `Loading the model: ${mb(message.received)} MB`;
      break;
    }
    case 'model-loaded':
      genStatus.textContent = `Model loaded (${(message.bytes / 1e6).toFixed(1)} MB in ${(message.load_ms / 1000).toFixed(1)} s); generating…`;
      break;
    case 'generation': {
      const output = document.getElementById('gen-output');
      output.textContent = message.completion;
      output.dataset.ids = JSON.stringify(message.completion_ids);
      output.dataset.backend = message.backend;
      const tokens = message.completion_ids.length;
      genStatus.textContent = `${message.prompt_ids.length} prompt tokens in ${(message.prefill_ms / 1000).toFixed(1)} s, ` +
        `${tokens} new tokens in ${(message.decode_ms / 1000).toFixed(1)} s more on ${message.backend}.`;
      document.getElementById('gen-run').disabled = false;
      document.getElementById('generate-form').dataset.state = 'done';
      break;
    }
    case 'generation-error':
      genStatus.textContent = `Generation failed: ${message.message}`;
      document.getElementById('gen-run').disabled = false;
      document.getElementById('generate-form').dataset.state = 'error';
      break;
    case 'error':
      statusLine.textContent = message.message;
      document.body.dataset.state = 'error';
      break;
  }
};
