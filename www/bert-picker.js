// The BERTScore model picker the Evaluate and Rescore forms share: none, the small model served
// with the page, one of the models CLUE prescribes (SciBERT, Bio_ClinicalBERT) from Hugging Face,
// a Hugging Face-style model directory at a URL (the worker fetches its files and
// caches them), or the files of a local model directory (read in the worker, never uploaded),
// and the layer BERTScore reads. Each form has the same controls under its own id prefix
// (`bert-` in Evaluate, `rescore-bert-` in Rescore): <prefix>model (the select), <prefix>remote
// (the URL row) with <prefix>url and <prefix>url-error, <prefix>local (the local-file row) with
// <prefix>files and <prefix>files-status, <prefix>named (the name row, for a URL or local files)
// with <prefix>name and <prefix>name-error, and <prefix>layer with <prefix>layer-error.
import { byId } from './dom.js';
import { HUB_BERT, SERVED_BERT, bertLayerFor, hubUrl, megabytes } from './models.js';

/**
 * What the BERT loader needs of a model directory, each one of its alternatives, as
 * `BertScorer::from_hf_directory` reads them: the hub's SciBERT and Bio_ClinicalBERT ship
 * vocab.txt and pytorch_model.bin only.
 */
const NEEDED = [
  { text: 'config.json', met: (name) => name === 'config.json' },
  { text: 'tokenizer.json (or vocab.txt)', met: (name) => name === 'tokenizer.json' || name === 'vocab.txt' },
  { text: 'model.safetensors (or pytorch_model.bin)', met: (name) => name.endsWith('.safetensors') || name === 'pytorch_model.bin' },
];

/** The other files the loader reads when they are there: tokenizer settings, a sharded model's index. */
const OPTIONAL = ['tokenizer_config.json', 'model.safetensors.index.json'];

/**
 * The model directory at `text`, absolute and ending in a slash, or null where `text` is no
 * http(s) URL. A relative URL must start with /, ./ or ../, so that a stray word is not read as
 * a path on this site.
 */
function directoryUrl(text) {
  if (!/^(https?:\/\/|\.{0,2}\/)/i.test(text)) return null;
  let url;
  try {
    url = new URL(text, location.href);
  } catch {
    return null;
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/**
 * The name a model directory's URL gives the model: its last path segment other than the hub's
 * `resolve` and `main` (…/allenai/scibert_scivocab_uncased/resolve/main/ gives
 * scibert_scivocab_uncased), or '' where it has none.
 */
function urlName(url) {
  const segments = new URL(url).pathname.split('/').filter((s) => s && s !== 'resolve' && s !== 'main');
  return segments.length ? segments[segments.length - 1] : '';
}

/** The directory and name of a model the select names by itself: the served one or a hub one. */
function fixedModel(source) {
  if (source === 'served') return { url: SERVED_BERT.url, name: SERVED_BERT.name };
  const hub = HUB_BERT[source];
  return { url: hubUrl(hub.repo), name: hub.name };
}

/** The picker of the controls named `<prefix>…`; returns what its form needs of it. */
export function bertPicker(prefix) {
  const select = byId(`${prefix}model`);
  const urlInput = byId(`${prefix}url`);
  const filesInput = byId(`${prefix}files`);
  const nameInput = byId(`${prefix}name`);
  const layerInput = byId(`${prefix}layer`);
  const filesStatus = byId(`${prefix}files-status`);
  const urlError = byId(`${prefix}url-error`);
  const nameError = byId(`${prefix}name-error`);
  const layerError = byId(`${prefix}layer-error`);
  /** Whether the user typed the layer; until then it follows the model chosen. */
  let layerTyped = false;
  const namePlaceholder = nameInput.placeholder;

  function showFieldError(input, line, text) {
    line.textContent = text;
    input.setAttribute('aria-invalid', String(text !== ''));
  }

  /** The chosen local files the loader reads, and the texts of the needed ones not chosen. */
  function pickedFiles() {
    const all = [...filesInput.files];
    const safetensors = all.some((f) => f.name.endsWith('.safetensors'));
    // The loader prefers safetensors: a pytorch_model.bin beside them would only be read into
    // memory for nothing (hundreds of MB for a BERT base).
    const files = all.filter((f) => NEEDED.some((n) => n.met(f.name)) || OPTIONAL.includes(f.name))
      .filter((f) => !(safetensors && f.name === 'pytorch_model.bin'));
    return { all, files, missing: NEEDED.filter((n) => !all.some((f) => n.met(f.name))).map((n) => n.text) };
  }

  function describeFiles() {
    const { all, files, missing } = pickedFiles();
    const invalid = all.length > 0 && missing.length > 0;
    filesStatus.dataset.state = invalid ? 'error' : '';
    filesInput.setAttribute('aria-invalid', String(invalid));
    if (!all.length) {
      filesStatus.textContent = `Choose ${NEEDED.map((n) => n.text).join(', ')} and, where the model has it, ` +
        'tokenizer_config.json from the model\'s directory; they are read here, never uploaded.';
    } else if (invalid) {
      filesStatus.textContent = `Missing ${missing.join(', ')}.`;
    } else {
      filesStatus.textContent = `${files.length} files, ${megabytes(files.reduce((sum, f) => sum + f.size, 0))}, read here, never uploaded.`;
    }
  }

  /** The name the URL entered gives the model, or '' (no valid URL, or one that names none). */
  function nameFromUrl() {
    const url = directoryUrl(urlInput.value.trim());
    return url ? urlName(url) : '';
  }

  /** The layer `clue eval` would read from the chosen model, or undefined where it has none. */
  function suggestedLayer() {
    if (select.value === 'served') return SERVED_BERT.layer;
    if (HUB_BERT[select.value]) return HUB_BERT[select.value].layer;
    if (select.value === 'url') return bertLayerFor(`${nameInput.value} ${urlInput.value}`);
    if (select.value === 'files') return bertLayerFor([nameInput.value, ...[...filesInput.files].map((f) => f.name)].join(' '));
    return undefined;
  }

  function followModel() {
    // From a URL the name may be left empty: the placeholder shows the one the URL gives.
    nameInput.placeholder = (select.value === 'url' && nameFromUrl()) || namePlaceholder;
    if (!layerTyped) layerInput.value = suggestedLayer() === undefined ? '' : String(suggestedLayer());
  }

  function showSource() {
    layerTyped = false;
    byId(`${prefix}remote`).hidden = select.value !== 'url';
    byId(`${prefix}local`).hidden = select.value !== 'files';
    byId(`${prefix}named`).hidden = select.value !== 'url' && select.value !== 'files';
    layerInput.disabled = select.value === 'none';
    showFieldError(layerInput, layerError, '');
    showFieldError(nameInput, nameError, '');
    showFieldError(urlInput, urlError, '');
    followModel();
  }

  /** The model directory's URL entered, or null after showing beside the field what is wrong with it. */
  function checkUrl() {
    const text = urlInput.value.trim();
    const url = directoryUrl(text);
    let error = '';
    if (!text) error = 'Enter the URL of the model\'s directory.';
    else if (!url) error = 'Enter an http(s) URL of the model\'s directory, such as https://huggingface.co/allenai/scibert_scivocab_uncased/resolve/main/, or a path on this site starting with /.';
    showFieldError(urlInput, urlError, error);
    return url;
  }

  /** The layer entered, or null after showing beside the field what is wrong with it. */
  function checkLayer() {
    const text = layerInput.value.trim();
    let error = '';
    if (layerInput.validity.badInput || (text !== '' && (!/^\d+$/.test(text) || Number(text) > 48))) {
      error = 'The layer is a whole number from 0 to 48.';
    } else if (text === '') {
      error = 'Enter the layer BERTScore reads (0 to 48; SciBERT 8, Bio_ClinicalBERT 9).';
    }
    showFieldError(layerInput, layerError, error);
    return error ? null : Number(text);
  }

  /** The name typed, else (from a URL) the one the URL gives; null after showing that one is needed. */
  function checkName() {
    const name = nameInput.value.trim() || (select.value === 'url' ? nameFromUrl() : '');
    showFieldError(nameInput, nameError, name ? '' : 'Name the model as its directory is named: results.json records it.');
    return name || null;
  }

  select.addEventListener('change', showSource);
  urlInput.addEventListener('input', () => {
    followModel();
    if (urlError.textContent) checkUrl();
    if (nameError.textContent) checkName();
  });
  urlInput.addEventListener('change', checkUrl);
  filesInput.addEventListener('change', () => {
    describeFiles();
    followModel();
  });
  nameInput.addEventListener('input', () => {
    followModel();
    if (nameError.textContent) checkName();
  });
  layerInput.addEventListener('input', () => {
    layerTyped = true;
    if (layerError.textContent) checkLayer();
  });
  layerInput.addEventListener('change', checkLayer);
  describeFiles();
  showSource();

  return {
    /** The file input, for focus when its files must be chosen (again). */
    filesInput,

    /**
     * The BERT model chosen: `{bert}` for the worker (null for none) with `saved`, what a
     * resumed run keeps of it (local files by name and size only), or `{error, field}`; errors
     * are shown beside their fields.
     */
    read() {
      const source = select.value;
      if (source === 'none') return { bert: null, saved: null };
      if (source === 'served' || HUB_BERT[source]) {
        const layer = checkLayer();
        if (layer === null) return { error: layerError.textContent, field: layerInput };
        return { bert: { ...fixedModel(source), layer }, saved: { source, layer } };
      }
      if (source === 'url') {
        const url = checkUrl();
        const name = checkName();
        const layer = checkLayer();
        if (url === null) return { error: urlError.textContent, field: urlInput };
        if (name === null) return { error: nameError.textContent, field: nameInput };
        if (layer === null) return { error: layerError.textContent, field: layerInput };
        return { bert: { url, name, layer }, saved: { source, url, name, layer } };
      }
      const { files, missing } = pickedFiles();
      const name = checkName();
      const layer = checkLayer();
      if (missing.length) {
        describeFiles();
        return { error: `choose the BERT model's ${missing.join(', ')}.`, field: filesInput };
      }
      if (name === null) return { error: nameError.textContent, field: nameInput };
      if (layer === null) return { error: layerError.textContent, field: layerInput };
      return {
        bert: { files, name, layer },
        saved: { source, name, layer, files: files.map((f) => ({ name: f.name, size: f.size })) },
      };
    },

    /** Puts a saved choice (`saved` of `read()`, or null) back into the controls. */
    restore(saved) {
      select.value = saved ? saved.source : 'none';
      showSource();
      if (!saved) return;
      layerTyped = true;
      layerInput.value = String(saved.layer);
      if (saved.url) urlInput.value = saved.url;
      if (saved.name) nameInput.value = saved.name;
      followModel();
    },

    /** The BERT model of a saved choice, or `{error}` while its local files must be chosen again. */
    resume(saved) {
      if (!saved) return { bert: null };
      if (saved.source === 'served' || HUB_BERT[saved.source]) return { bert: { ...fixedModel(saved.source), layer: saved.layer } };
      if (saved.source === 'url') return { bert: { url: saved.url, name: saved.name, layer: saved.layer } };
      const { files } = pickedFiles();
      const same = files.length === saved.files.length
        && saved.files.every((want) => files.some((f) => f.name === want.name && f.size === want.size));
      if (!same) {
        return { error: `This run used the local BERT model ${saved.name} (${saved.files.map((f) => f.name).join(', ')}): choose its files again under BERTScore model, then press Resume.` };
      }
      return { bert: { files, name: saved.name, layer: saved.layer } };
    },

    /** The BERTScore of a saved choice, as the offer to resume its run names it. */
    describe(saved) {
      if (saved.source === 'served' || HUB_BERT[saved.source]) return `BERTScore with ${fixedModel(saved.source).name} layer ${saved.layer}`;
      if (saved.source === 'url') return `BERTScore with ${saved.name} from ${saved.url} (layer ${saved.layer})`;
      return `BERTScore with the local ${saved.name} files (layer ${saved.layer}), which you will be asked to choose again`;
    },
  };
}
