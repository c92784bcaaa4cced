// Choosing a model on the page, shared by the Evaluate and Generate forms: the default served
// with the page, a URL, or a local .gguf file (read in the worker, never uploaded).

export const DEFAULT_MODEL_URL = '/models/SmolLM2-135M-Instruct.Q4_1.gguf';

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
