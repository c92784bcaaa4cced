// Choosing a model on the page, shared by the Evaluate and Generate forms: the default served
// with the page, a model of the list (known-models.json, the list `clue eval --model NAME` reads
// too), a URL, or a local .gguf file (read in the worker, never uploaded); and the BERT model
// served for BERTScore (bert-picker.js is the BERT model picker).

// Relative to the page, so the page works from any directory of any static host (site/).
export const DEFAULT_MODEL_URL = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';

/**
 * The small BERT model served with the page for tests: its directory (the worker fetches the
 * files BERTScore reads from it as from any model's URL) and the layer its goldens use.
 */
export const SERVED_BERT = {
  name: 'all-MiniLM-L6-v2',
  url: 'models/all-MiniLM-L6-v2/',
  layer: 6,
};

/**
 * The BERT models CLUE's profiles prescribe, offered by their Hugging Face directories (the
 * worker fetches the files once and caches them): SciBERT, layer 8 (MeQSum in the paper
 * profile, every task in the current one), and Bio_ClinicalBERT, layer 9 (Problem Summary and
 * MeDiSumQA in the paper profile). The names are the hub's, which `prescribed_bert` in
 * src/eval/run.rs compares against.
 */
export const HUB_BERT = {
  scibert: { name: 'scibert_scivocab_uncased', repo: 'allenai/scibert_scivocab_uncased', layer: 8 },
  'bio-clinicalbert': { name: 'Bio_ClinicalBERT', repo: 'emilyalsentzer/Bio_ClinicalBERT', layer: 9 },
};

/** The Hugging Face directory of a hub repository, as the worker fetches its files from. */
export const hubUrl = (repo) => `https://huggingface.co/${repo}/resolve/main/`;

/**
 * The layer CLUE reads from a BERT model that `text` (its directory's and files' names) names:
 * 8 for SciBERT, 9 for Bio_ClinicalBERT, as `clue eval` defaults; undefined for any other.
 */
export function bertLayerFor(text) {
  const lowered = text.toLowerCase();
  if (lowered.includes('scibert')) return 8;
  if (lowered.includes('clinicalbert')) return 9;
  return undefined;
}

export const megabytes = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Bytes in the unit that reads best. */
export const size = (bytes) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : megabytes(bytes));

let knownModels = null;

/** The model list (known-models.json), fetched once. */
export async function loadKnownModels() {
  if (!knownModels) {
    const response = await fetch(new URL('known-models.json', import.meta.url));
    if (!response.ok) throw new Error(`known-models.json: HTTP ${response.status}`);
    knownModels = (await response.json()).models;
  }
  return knownModels;
}

/** The listed model called `name`. */
export const knownModel = (name) => (knownModels || []).find((m) => m.name === name);

/**
 * Fills a <select> with the model list: each option names the model, its quantization, size and
 * licence, and says where a gated model must be chosen as a local file.
 */
export async function fillKnownModels(select) {
  const models = await loadKnownModels();
  select.replaceChildren(...models.filter((m) => !m.default).map((m) => {
    const option = document.createElement('option');
    option.value = m.name;
    const bytes = m.bytes ? size(m.bytes) : 'size unknown';
    option.textContent = `${m.name} (${m.quantization}, ${bytes}, ${m.licence.split(' (')[0]}${m.gated ? '; gated: local file only' : ''})`;
    return option;
  }));
}

/**
 * What a listed model needs, as a sentence: the download, the memory of its weights on WebGPU
 * (the file's blocks) and on the CPU (f32 copies), and its KV cache per 1,000 positions.
 */
export function describeNeeds(model) {
  const parts = [
    model.bytes ? `${size(model.bytes)} download` : 'size unknown',
    `on WebGPU ≈ ${model.bytes ? size(model.bytes) : 'the file\'s size'} of weights`,
    `on the CPU ≈ ${size(4 * model.parameters)} (f32)`,
    `KV cache ${megabytes(1000 * model.kv_bytes_per_position)} per 1,000 positions`,
  ];
  const gated = model.gated ? ` Gated: ${model.source}.` : '';
  return `${model.name}: ${parts.join('; ')}. Licence: ${model.licence}. From ${model.source}.${gated}`;
}

/**
 * The model a form's radio group `sourceName` picks: `{model: {url}}` (with `known`, the list's
 * entry, for a listed model) or `{model: {file}}`, or `{error}` saying what is missing.
 */
export function chosenModel(form, sourceName, urlInput, fileInput, knownSelect) {
  const source = form.querySelector(`input[name="${sourceName}"]:checked`).value;
  if (source === 'known') {
    const known = knownModel(knownSelect.value);
    if (!known) return { error: 'Choose a model of the list first.' };
    if (known.gated) {
      return { error: `${known.name} is gated: accept its terms on Hugging Face (${known.url}), download the file and choose it as a local file.` };
    }
    return { model: { url: known.url, known: { name: known.name, sha256: known.sha256 } } };
  }
  if (source === 'url') {
    const url = urlInput.value.trim();
    return url ? { model: { url } } : { error: 'Enter the model\'s URL first.' };
  }
  if (source === 'file') {
    const file = fileInput.files[0];
    return file ? { model: { file } } : { error: 'Choose a .gguf file first.' };
  }
  return { model: defaultModel() };
}

/**
 * The default model as the worker takes it. A site built without models/ fetches it from its
 * mirror on Hugging Face; the list's SHA-256 then proves it is the very file `clue eval` uses.
 */
export function defaultModel() {
  const listed = (knownModels || []).find((m) => m.default);
  return listed
    ? { url: DEFAULT_MODEL_URL, known: { name: listed.name, sha256: listed.sha256 }, fallback: listed.mirror }
    : { url: DEFAULT_MODEL_URL };
}

/** The worker's `model-progress` message as a line of text. */
export function loadingText(message) {
  return message.total
    ? `Loading the model${message.cached ? ' from the cache' : ''}: ${megabytes(message.received)} of ${megabytes(message.total)}`
    : `Loading the model: ${megabytes(message.received)}`;
}
