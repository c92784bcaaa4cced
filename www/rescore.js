// The Rescore section: data files (one, or one per task of a run) and the predictions made for
// them (JSON Lines of {id, prediction}, or the samples.jsonl of a run) are scored in the worker
// without a language model, the same way `clue score` does natively; with a BERT model chosen,
// BERTScore is computed too (`clue score --bert-model`), and with the UMLS bridge's file, UMLS-F1
// (`clue score --umls`). Every file, and a local BERT model's, stays on this machine.
import { bertPicker } from './bert-picker.js';
import { byId, element } from './dom.js';
import { loadingText } from './models.js';
import { download, renderResults, taskName } from './results.js';

export function setupRescore(hub) {
  const section = byId('rescore');
  const form = byId('rescore-form');
  const status = byId('rescore-status');
  const bertPick = bertPicker('rescore-bert-');
  let results = null;
  /** The profile of the rescoring in progress: its results do not record it, their note needs it. */
  let profile = null;

  const finish = (state, text) => {
    section.dataset.state = state;
    status.textContent = text;
    byId('rescore-run').disabled = false;
    if (hub.busy === 'rescore') hub.setBusy(null);
  };
  const refuse = (text, field) => {
    finish('error', text);
    field.focus();
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = [...byId('rescore-data').files];
    const predictions = byId('rescore-predictions').files[0];
    const umls = byId('rescore-umls').files[0];
    if (!data.length || !predictions) return refuse('Choose the data file and the predictions file first.', byId(data.length ? 'rescore-predictions' : 'rescore-data'));
    if (data.length > 1 && byId('rescore-task').value) return refuse('A task can be chosen for one data file only; several are each detected.', byId('rescore-task'));
    const bertChoice = bertPick.read();
    if (bertChoice.error) return refuse(`BERTScore: ${bertChoice.error}`, bertChoice.field);
    const { bert } = bertChoice;
    // BERTScore runs a model in the worker, which one job at a time may hold.
    if (bert && hub.busy !== null) return refuse(`BERTScore can run once the ${hub.busy === 'eval' ? 'evaluation' : 'generation'} has finished.`, byId('rescore-run'));
    section.dataset.state = 'running';
    byId('rescore-run').disabled = true;
    if (bert) hub.setBusy('rescore');
    status.textContent = `Scoring ${predictions.name} against ${data.map((file) => file.name).join(', ')}…`;
    const options = { profile: byId('rescore-profile').value, mode: byId('rescore-mode').value, compat: byId('rescore-compat').checked };
    if (byId('rescore-task').value) options.task = byId('rescore-task').value;
    profile = options.profile;
    hub.send({
      type: 'rescore',
      data: await Promise.all(data.map(async (file) => ({ name: file.name, bytes: await file.arrayBuffer() }))),
      predictions: { name: predictions.name, bytes: await predictions.arrayBuffer() },
      umls: umls ? { name: umls.name, bytes: await umls.arrayBuffer() } : null,
      options,
      bert,
      // The Rescore form has no backend select of its own: BERTScore runs where the Evaluate
      // form's says (WebGPU when the browser has it, else the CPU), so one control decides
      // where the page's models run; the hint beside the BERT model says so.
      backend: byId('eval-backend').value,
    });
  });

  const onWhat = (backend) => (backend === 'webgpu' ? 'WebGPU' : 'the CPU');
  hub.on('rescore-bertscore', ({ stage, model, layer, backend }) => {
    status.textContent = stage === 'loading'
      ? `Loading BERT model ${model} (layer ${layer}) on ${onWhat(backend)}…`
      : `Computing BERTScore with ${model}, layer ${layer}, on ${onWhat(backend)}…`;
  });
  hub.on('model-progress', (message) => {
    if (message.job === 'bert' && hub.busy === 'rescore') {
      status.textContent = `BERTScore · ${message.url.split('/').pop()} · ${loadingText(message)}`;
    }
  });

  hub.on('rescored', (message) => {
    results = message.results;
    const box = byId('rescore-results');
    renderResults(byId('rescore-scores'), results, 'rescore', profile);
    const notes = byId('rescore-notes');
    notes.replaceChildren();
    for (const [what, byTask] of [['had no prediction and were not scored', results.unanswered], ['are few-shot rows of this profile and were not scored', results.few_shot_ignored]]) {
      for (const [task, ids] of Object.entries(byTask || {})) {
        if (ids.length) notes.appendChild(element('li', `${taskName(task)}: ${ids.length} ${ids.length === 1 ? 'request' : 'requests'} ${what} (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}).`));
      }
    }
    box.hidden = false;
    finish('done', 'Scored.');
  });
  hub.on('worker-lost', ({ what }) => {
    if (section.dataset.state !== 'running') return;
    byId('rescore-results').hidden = true;
    finish('error', `Rescoring failed: ${what}. The evaluator was restarted; press Score again.`);
  });
  hub.on('rescore-error', (message) => {
    byId('rescore-results').hidden = true;
    finish('error', message.message);
  });

  byId('rescore-export').addEventListener('click', () => download('results.json', `${JSON.stringify(results, null, 2)}\n`, 'application/json'));
}
