// The Evaluate form's data files, one slot per task: the task's checkbox, its demo set or the
// user's file (chosen, or dropped anywhere on the task's row), checked by the worker the moment
// it is chosen, with the result — or the error naming file, line and field — beside it.
import { byId, element } from './dom.js';
import { megabytes } from './models.js';
import { TASKS, taskName } from './results.js';

/**
 * Builds the task list and its slots; `running()` says whether a run holds the form (a drop is
 * ignored then). Returns {slots, renderSlot(task), nextTicket()}: per task, {useDemo, state
 * ('empty' | 'checking' | 'ok' | 'error'), file: {name, bytes}, demo, info, error, ticket}; a
 * slot's ticket tells a late check of a replaced file from the current one.
 */
export function dataSlots(hub, { running }) {
  /** Per task: its demo set, whether it is used, and the chosen file and its check. */
  const slots = new Map();
  let tickets = 0;

  function renderSlot(task) {
    const slot = slots.get(task);
    const row = byId(`task-row-${task}`);
    byId(`demo-${task}`).checked = slot.useDemo;
    const line = byId(`file-status-${task}`);
    if (slot.useDemo) {
      row.dataset.state = 'demo';
      line.textContent = slot.demo
        ? `Demo set ${slot.demo.name}: ${slot.demo.examples} examples${slot.demo.patients ? ` (${slot.demo.patients} patients)` : ''}.`
        : 'Demo set.';
      return;
    }
    row.dataset.state = slot.state;
    line.textContent = {
      empty: 'No data yet: choose or drop a file, or use the demo set.',
      checking: `Checking ${slot.file && slot.file.name}…`,
      ok: slot.info,
      error: slot.error,
    }[slot.state];
  }

  /** Reads a chosen or dropped file and has the worker check it against the task's format. */
  async function chooseFile(task, file) {
    const slot = slots.get(task);
    const ticket = ++tickets;
    Object.assign(slot, { useDemo: false, state: 'checking', file: { name: file.name, bytes: null }, ticket });
    renderSlot(task);
    const bytes = await file.arrayBuffer();
    if (slot.ticket !== ticket) return;
    slot.file.bytes = bytes;
    hub.send({ type: 'inspect', task, name: file.name, bytes, ticket });
  }

  hub.on('inspected', (message) => {
    const slot = slots.get(message.task);
    if (slot.ticket !== message.ticket) return;
    if (message.error) {
      Object.assign(slot, { state: 'error', error: message.error });
    } else {
      const i = message.info;
      const size = slot.file.bytes.byteLength < 1e6 ? `${(slot.file.bytes.byteLength / 1e3).toFixed(1)} kB` : megabytes(slot.file.bytes.byteLength);
      Object.assign(slot, {
        state: 'ok',
        info: `${message.name} (${size}): ${taskName(i.task)} format, ${i.examples} examples${i.patients ? ` of ${i.patients} patients` : ''}.`,
      });
    }
    renderSlot(message.task);
  });

  const list = byId('task-list');
  for (const task of TASKS) {
    slots.set(task.id, { useDemo: true, state: 'empty', file: null, demo: null, ticket: 0 });
    const row = element('div', undefined, { class: 'task', id: `task-row-${task.id}`, 'data-task': task.id });
    const check = element('input', undefined, { type: 'checkbox', id: `task-${task.id}` });
    check.checked = true;
    const name = element('label', task.name, { for: `task-${task.id}`, class: 'task-name' });
    name.appendChild(element('span', ` Level ${task.level}`, { class: 'level' }));
    const demoLabel = element('label', undefined, { class: 'demo' });
    const demoBox = element('input', undefined, { type: 'checkbox', id: `demo-${task.id}` });
    demoLabel.append(demoBox, ' use demo data');
    const fileLabel = element('label', 'Data file', { for: `file-${task.id}`, class: 'visually-hidden' });
    const fileInput = element('input', undefined, {
      type: 'file', id: `file-${task.id}`, accept: task.accept, 'aria-describedby': `file-status-${task.id}`,
    });
    const line = element('p', undefined, { id: `file-status-${task.id}`, class: 'file-status', 'aria-live': 'polite' });
    row.append(check, name, demoLabel, fileLabel, fileInput, line);
    list.appendChild(row);

    demoBox.addEventListener('change', () => {
      const slot = slots.get(task.id);
      slot.useDemo = demoBox.checked;
      renderSlot(task.id);
    });
    fileInput.addEventListener('change', () => {
      if (fileInput.files[0]) chooseFile(task.id, fileInput.files[0]);
    });
    // The whole row is the task's drop zone.
    row.addEventListener('dragover', (event) => {
      event.preventDefault();
      row.classList.add('dragging');
    });
    row.addEventListener('dragleave', () => row.classList.remove('dragging'));
    row.addEventListener('drop', (event) => {
      event.preventDefault();
      row.classList.remove('dragging');
      if (running()) return;
      const files = event.dataTransfer.files;
      if (!files.length) return;
      fileInput.files = files;
      chooseFile(task.id, files[0]);
    });
    renderSlot(task.id);
  }

  return { slots, renderSlot, nextTicket: () => ++tickets };
}
