// The Rescore section: a data file and the predictions made for it (JSON Lines of {id,
// prediction}, or the samples.jsonl of a run) are scored in the worker without a model, the
// same way `clue score` does natively. Both files stay on this machine.
import { byId, element } from './dom.js';
import { download, renderResults, taskName } from './results.js';

export function setupRescore(hub) {
  const section = byId('rescore');
  const form = byId('rescore-form');
  const status = byId('rescore-status');
  let results = null;

  const finish = (state, text) => {
    section.dataset.state = state;
    status.textContent = text;
    byId('rescore-run').disabled = false;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = byId('rescore-data').files[0];
    const predictions = byId('rescore-predictions').files[0];
    if (!data || !predictions) {
      finish('error', 'Choose the data file and the predictions file first.');
      byId(data ? 'rescore-predictions' : 'rescore-data').focus();
      return;
    }
    section.dataset.state = 'running';
    byId('rescore-run').disabled = true;
    status.textContent = `Scoring ${predictions.name} against ${data.name}…`;
    const options = { profile: byId('rescore-profile').value, mode: byId('rescore-mode').value, compat: byId('rescore-compat').checked };
    if (byId('rescore-task').value) options.task = byId('rescore-task').value;
    hub.send({
      type: 'rescore',
      data: { name: data.name, bytes: await data.arrayBuffer() },
      predictions: { name: predictions.name, bytes: await predictions.arrayBuffer() },
      options,
    });
  });

  hub.on('rescored', (message) => {
    results = message.results;
    const box = byId('rescore-results');
    renderResults(byId('rescore-scores'), results, 'rescore');
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
  hub.on('rescore-error', (message) => {
    byId('rescore-results').hidden = true;
    finish('error', message.message);
  });

  byId('rescore-export').addEventListener('click', () => download('results.json', `${JSON.stringify(results, null, 2)}\n`, 'application/json'));
}
