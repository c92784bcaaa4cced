// Resuming a run the tab lost (part of the Evaluate section). The inputs of a run are kept in
// IndexedDB until it ends; after a reload the page offers to resume it, puts its settings back
// into the form, asks again for any data file that was not kept (refusing another by its
// SHA-256) or for a local model file, and starts it again — the worker's completion cache gives
// back every sample that had finished.
import { byId } from './dom.js';
import { megabytes } from './models.js';
import { TASKS, taskName } from './results.js';
import { deleteRun, getRun, sha256 } from './store.js';

/**
 * Wires the resume offer. `parts` are the Evaluate section's: the form and its data slots
 * (`slots`, `renderSlot`, `nextTicket`), the BERT picker, the backend select and the describe
 * functions that refresh what the form shows, `knownListed` (the model list, once filled),
 * `status`, `resumeButton`, `start(model, bert, saved, datasets)`, `running()` and
 * `storedChanged()`. Returns `{offer, clear}`: `offer(saved)` shows the offer (a run the worker's
 * fault stopped), `clear()` withdraws it (a new run started).
 */
export function setupResume(parts) {
  const {
    form, slots, renderSlot, nextTicket, bertPick, backendSelect, describeBackend, describeChoice,
    describeDemoSize, knownListed, status, resumeButton, start, running, storedChanged,
  } = parts;
  /** A saved unfinished run waiting for its Resume button. */
  let offered = null;

  /** Puts a saved run's inputs back into the form, so the page shows what is running. */
  function restore(saved) {
    form.querySelector(`input[name="model-source"][value="${saved.source}"]`).checked = true;
    if (saved.model.url && saved.source === 'url') byId('model-url').value = saved.model.url;
    if (saved.model.known && saved.source === 'known') {
      knownListed.then(() => { byId('model-known').value = saved.model.known.name; });
    }
    backendSelect.value = saved.backend;
    describeBackend();
    const byTask = new Map(saved.datasets.map((d) => [d.task, d]));
    for (const task of TASKS) {
      const dataset = byTask.get(task.id);
      byId(`task-${task.id}`).checked = Boolean(dataset);
      if (dataset && !dataset.demo && dataset.bytes) {
        Object.assign(slots.get(task.id), {
          useDemo: false, state: 'ok', file: { name: dataset.name, bytes: dataset.bytes }, ticket: nextTicket(),
          info: `${dataset.name}: kept from the unfinished run.`,
        });
      } else if (dataset && !dataset.demo) {
        const slot = slots.get(task.id);
        // The file was not kept: the one in the slot now, if any, is checked against it on Resume.
        if (slot.useDemo || slot.state !== 'ok') Object.assign(slot, { useDemo: false, state: 'empty', file: null });
      } else if (dataset) {
        slots.get(task.id).useDemo = true;
      }
      renderSlot(task.id);
    }
    const o = saved.options;
    byId('profile').value = o.profile;
    byId('mode').value = o.mode;
    byId('sampling-seed').value = String(o.sampling_seed);
    byId('seed').value = String(o.seed);
    byId('compat').checked = o.compat;
    byId('limit').value = o.limit === undefined || saved.quickDemo ? '' : String(o.limit);
    byId('full-demo').checked = Boolean(saved.fullDemo);
    byId('max-new-tokens').value = o.max_new_tokens === undefined ? '' : String(o.max_new_tokens);
    byId('include-prompts').checked = saved.includePrompts;
    byId('keep-data').checked = Boolean(saved.keepData);
    bertPick.restore(saved.bert);
    describeDemoSize();
  }

  /**
   * The data files of `saved` with their bytes: kept ones from the store, the others from their
   * task's slot, where the user must have chosen the same file again (same SHA-256); else
   * {error, focus}.
   */
  async function resumedDatasets(saved) {
    const datasets = [];
    for (const d of saved.datasets) {
      if (d.demo || d.bytes) {
        datasets.push(d);
        continue;
      }
      const slot = slots.get(d.task);
      const again = `This run used your ${taskName(d.task)} file ${d.name} (${d.size} bytes), which was not kept on this device`;
      if (slot.useDemo || slot.state !== 'ok' || !slot.file || !slot.file.bytes) {
        return { error: `${again}: choose it again under Tasks and data, then press Resume.`, focus: byId(`file-${d.task}`) };
      }
      const digest = await sha256(slot.file.bytes);
      if (digest !== d.sha256) {
        return {
          error: `${taskName(d.task)}: ${slot.file.name} is not the file this run used (${d.name}): its SHA-256 is ${digest}, ` +
            `the run's ${d.sha256}. Choose ${d.name} again, then press Resume.`,
          focus: byId(`file-${d.task}`),
        };
      }
      datasets.push({ ...d, name: slot.file.name, bytes: slot.file.bytes });
    }
    return { datasets };
  }

  resumeButton.addEventListener('click', async () => {
    const saved = offered;
    restore(saved);
    describeChoice();
    const resumed = await resumedDatasets(saved);
    if (resumed.error) {
      status.textContent = resumed.error;
      resumed.focus.focus();
      return;
    }
    let model = { url: saved.model.url, known: saved.model.known, fallback: saved.model.fallback };
    if (saved.model.file) {
      const want = saved.model.file;
      const file = byId('model-file').files[0];
      if (!file || file.name !== want.name || file.size !== want.size) {
        status.textContent = `This run used the local model file ${want.name} (${megabytes(want.size)}): choose it again under Model, then press Resume.`;
        byId('model-file').focus();
        return;
      }
      model = { file };
    }
    const bertChoice = bertPick.resume(saved.bert);
    if (bertChoice.error) {
      status.textContent = bertChoice.error;
      bertPick.filesInput.focus();
      return;
    }
    start(model, bertChoice.bert, saved, resumed.datasets);
  });

  byId('discard-run').addEventListener('click', () => {
    offered = null;
    byId('resume-offer').hidden = true;
    deleteRun().then(storedChanged, () => {});
    status.textContent = 'The unfinished run was discarded.';
  });
  // The stored-data panel removed the run: nothing is left to resume.
  document.addEventListener('clue-run-removed', () => {
    offered = null;
    byId('resume-offer').hidden = true;
  });

  /** Shows the offer to resume `saved`. */
  function offer(saved) {
    offered = saved;
    const tasks = saved.datasets.map((d) => taskName(d.task) +
      (d.demo ? ' (demo)' : ` (${d.name}${d.bytes ? '' : ', not kept: you will be asked to choose it again'})`)).join(', ');
    const model = saved.model.url ? saved.model.url.split('/').pop() : `the local file ${saved.model.file.name}, which you will be asked to choose again`;
    const bert = saved.bert ? `, ${bertPick.describe(saved.bert)}` : '';
    byId('resume-text').textContent = `A run started ${new Date(saved.saved_at).toLocaleString()} did not finish: ${tasks}, ` +
      `${model}${bert}, on ${saved.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}. Samples it finished come from the cache.`;
    byId('resume-offer').hidden = false;
  }

  getRun().then((saved) => {
    if (saved && !running()) offer(saved);
  }).catch(() => {});

  return {
    offer,
    clear() {
      offered = null;
      byId('resume-offer').hidden = true;
    },
  };
}
