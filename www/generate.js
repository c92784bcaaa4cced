// The Generate section: one greedy completion of a free prompt, to try a model quickly. The
// worker does the work; this module only reads the form and shows what comes back.
import { chosenModel, fillKnownModels, loadingText, megabytes, size } from './models.js';

export function setupGenerate(hub) {
  const form = document.getElementById('generate-form');
  const button = document.getElementById('gen-run');
  const status = document.getElementById('gen-status');
  const output = document.getElementById('gen-output');
  let ready = false;
  const known = document.getElementById('gen-known');
  fillKnownModels(known).catch((e) => { status.textContent = `The model list could not be read: ${e}`; });
  known.addEventListener('change', () => { form.querySelector('input[name="gen-source"][value="known"]').checked = true; });

  const finish = (state, text) => {
    status.textContent = text;
    form.dataset.state = state;
    hub.setBusy(null);
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    form.dataset.state = 'running';
    output.textContent = '';
    status.textContent = 'Starting…';
    const choice = chosenModel(form, 'gen-source', document.getElementById('gen-url'), document.getElementById('gen-file'), known);
    if (choice.error) {
      status.textContent = choice.error;
      form.dataset.state = 'error';
      return;
    }
    hub.setBusy('generate');
    hub.send({
      type: 'generate',
      ...choice.model,
      backend: document.getElementById('gen-backend').value,
      prompt: document.getElementById('gen-prompt').value,
      chat: document.getElementById('gen-chat').checked,
      maxTokens: Number(document.getElementById('gen-max').value),
    });
  });

  hub.onBusy((job) => { button.disabled = !ready || job !== null; });
  hub.on('done', () => {
    ready = true;
    button.disabled = hub.busy !== null;
  });
  hub.on('model-progress', (message) => {
    if (message.job === 'generate') status.textContent = loadingText(message);
  });
  hub.on('model-warning', (message) => {
    if (message.job === 'generate') status.textContent = `${message.url}: ${message.message}`;
  });
  hub.on('model-needs', (message) => {
    if (message.job !== 'generate') return;
    const n = message.needs;
    status.textContent = `${message.name}: ${n.architecture}, ${(n.parameters / 1e9).toFixed(2)}B parameters, ` +
      `${size(message.backend === 'cpu' ? n.cpu_weight_bytes : n.gpu_weight_bytes)} of weights on ${message.backend}; loading…`;
  });
  hub.on('model-loaded', (message) => {
    if (message.job !== 'generate') return;
    // What loading took, for the page's memory test and for anyone curious.
    output.dataset.memory = JSON.stringify({
      file_bytes: message.bytes, tensor_bytes: message.tensor_bytes, weights_bytes: message.weights_bytes,
      device_in_use_bytes: message.device_in_use_bytes, wasm_memory_bytes: message.wasm_memory_bytes,
    });
    status.textContent = `Model loaded (${megabytes(message.bytes)} in ${(message.load_ms / 1000).toFixed(1)} s; ` +
      `weights ${size(message.weights_bytes)} on ${message.backend}); generating…`;
  });
  hub.on('generation', (message) => {
    output.textContent = message.completion;
    output.dataset.ids = JSON.stringify(message.completion_ids);
    output.dataset.backend = message.backend;
    const tokens = message.completion_ids.length;
    finish('done', `${message.prompt_ids.length} prompt tokens in ${(message.prefill_ms / 1000).toFixed(1)} s, ` +
      `${tokens} new tokens in ${(message.decode_ms / 1000).toFixed(1)} s more on ${message.backend}.`);
  });
  hub.on('generation-error', (message) => finish('error', `Generation failed: ${message.message}`));
  hub.on('worker-lost', ({ job, what }) => {
    ready = false;
    button.disabled = true;
    if (job === 'generate') finish('error', `Generation failed: ${what}. The evaluator was restarted.`);
  });
}
