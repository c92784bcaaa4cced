// Choosing a model on the page, shared by the Evaluate and Generate forms: the default served
// with the page, a URL, or a local .gguf file (read in the worker, never uploaded); and the BERT
// model served for BERTScore (bert-picker.js is the BERT model picker).

export const DEFAULT_MODEL_URL = '/models/SmolLM2-135M-Instruct.Q4_1.gguf';

/**
 * The small BERT model served with the page for tests: its directory (the worker fetches the
 * files BERTScore reads from it as from any model's URL) and the layer its goldens use.
 */
export const SERVED_BERT = {
  name: 'all-MiniLM-L6-v2',
  url: '/models/all-MiniLM-L6-v2/',
  layer: 6,
};

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

/**
 * The model a form's radio group `sourceName` picks: `{model: {url}}` or `{model: {file}}`, or
 * `{error}` saying what is missing.
 */
export function chosenModel(form, sourceName, urlInput, fileInput) {
  const source = form.querySelector(`input[name="${sourceName}"]:checked`).value;
  if (source === 'url') {
    const url = urlInput.value.trim();
    return url ? { model: { url } } : { error: 'Enter the model\'s URL first.' };
  }
  if (source === 'file') {
    const file = fileInput.files[0];
    return file ? { model: { file } } : { error: 'Choose a .gguf file first.' };
  }
  return { model: { url: DEFAULT_MODEL_URL } };
}

/** The worker's `model-progress` message as a line of text. */
export function loadingText(message) {
  return message.total
    ? `Loading the model${message.cached ? ' from the cache' : ''}: ${megabytes(message.received)} of ${megabytes(message.total)}`
    : `Loading the model: ${megabytes(message.received)}`;
}
