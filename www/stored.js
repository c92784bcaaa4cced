// "Stored on this device": lists what the page keeps in this browser (store.js) — cached models,
// completions by task and data file, the unfinished run — with a Remove button for each and
// "Remove everything". It refreshes when the Evaluate section says the store changed
// ('clue-stored-changed') and tells it when the unfinished run is removed ('clue-run-removed').
import { byId, element } from './dom.js';
import {
  COMPLETION_DAYS, deleteRun, listStored, purgeOldCompletions, removeCompletions, removeEverything, removeModel,
} from './store.js';
import { size } from './models.js';
import { taskName } from './results.js';

/** A byte count as "820 B", "12.4 kB", "98.2 MB" or "1.02 GB". */
function bytesText(bytes) {
  if (bytes < 1e3) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  return size(bytes);
}

export function setupStored() {
  const section = byId('stored');
  const rows = byId('stored-table').querySelector('tbody');
  const status = byId('stored-status');
  byId('stored-days').textContent = String(COMPLETION_DAYS);

  /** One row: its kind, what it is, its size and a Remove button doing `remove`. */
  function addRow(kind, what, bytes, remove, key) {
    const tr = element('tr', undefined, { 'data-kind': kind, 'data-key': key });
    tr.append(element('td', { model: 'Model', completions: 'Answers', run: 'Unfinished run' }[kind]), element('td', what), element('td', bytesText(bytes)));
    const button = element('button', 'Remove', { type: 'button', 'aria-label': `Remove ${what}` });
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await remove();
        status.textContent = `Removed ${what}.`;
      } catch (e) {
        status.textContent = `Could not remove ${what}: ${e.message || e}`;
      }
      await refresh();
    });
    const cell = element('td');
    cell.appendChild(button);
    tr.appendChild(cell);
    rows.appendChild(tr);
  }

  async function refresh() {
    section.dataset.state = 'loading';
    let stored;
    try {
      stored = await listStored();
    } catch (e) {
      rows.replaceChildren();
      status.textContent = `This browser keeps no storage for the page (${e.message || e}): nothing is stored.`;
      section.dataset.state = 'done';
      return;
    }
    rows.replaceChildren();
    for (const model of stored.models) {
      addRow('model', decodeURI(model.url.split('/').pop()), model.bytes, () => removeModel(model.url), model.url);
    }
    for (const group of stored.completions) {
      const what = `${group.count} answer${group.count === 1 ? '' : 's'} for ${taskName(group.task)} on ${group.dataset}, since ${new Date(group.oldest).toLocaleDateString()}`;
      addRow('completions', what, group.bytes, () => removeCompletions(group.task, group.dataset), `${group.task}:${group.dataset}`);
    }
    if (stored.run) {
      const files = stored.run.datasets.map((d) => `${taskName(d.task)}: ${d.name === null ? 'demo set' : `${d.name}${d.size === null ? '' : ` (${bytesText(d.size)})`}${d.kept ? ', file kept' : ', file not kept'}`}`).join('; ');
      addRow('run', `started ${new Date(stored.run.saved_at).toLocaleString()} — ${files}`, stored.run.bytes, async () => {
        await deleteRun();
        document.dispatchEvent(new CustomEvent('clue-run-removed'));
      }, 'run');
    }
    if (!rows.children.length) rows.appendChild(element('tr', undefined, { class: 'empty' })).appendChild(element('td', 'Nothing is stored.', { colspan: '4' }));
    const total = stored.models.reduce((n, m) => n + m.bytes, 0) + stored.completions.reduce((n, g) => n + g.bytes, 0) + (stored.run ? stored.run.bytes : 0);
    byId('stored-remove-all').disabled = total === 0 && !stored.run;
    section.dataset.total = String(total);
    section.dataset.state = 'done';
  }

  byId('stored-refresh').addEventListener('click', refresh);
  byId('stored-remove-all').addEventListener('click', async () => {
    try {
      await removeEverything();
      document.dispatchEvent(new CustomEvent('clue-run-removed'));
      status.textContent = 'Removed everything this page stored.';
    } catch (e) {
      status.textContent = `Could not remove everything: ${e.message || e}`;
    }
    await refresh();
  });
  document.addEventListener('clue-stored-changed', refresh);

  purgeOldCompletions()
    .then((removed) => { if (removed) status.textContent = `Removed ${removed} answers older than ${COMPLETION_DAYS} days.`; })
    .catch(() => {})
    .finally(refresh);
}
