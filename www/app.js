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

const worker = new Worker('worker.js', { type: 'module' });
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
      break;
    case 'error':
      statusLine.textContent = message.message;
      document.body.dataset.state = 'error';
      break;
  }
};
