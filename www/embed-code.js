// "Copy embed code": an <iframe> of embed.html (see embed.js for its parameters and messages)
// with the Evaluate form's model, tasks and settings — the demo sets only, since an embed never
// sees the user's files — shown, and copied where the browser allows.
import { byId } from './dom.js';
import { TASKS } from './results.js';

/** Wires the button to the Evaluate `form` and its data `slots` (data-slots.js). */
export function setupEmbedCode(form, slots) {
  /** An <iframe> of embed.html with this form's model, tasks and settings (demo data only). */
  function embedCode() {
    const params = new URLSearchParams();
    const notes = [];
    const source = form.querySelector('input[name="model-source"]:checked').value;
    if (source === 'known' && byId('model-known').value) params.set('model', byId('model-known').value);
    else if (source === 'url' && byId('model-url').value.trim()) params.set('model', byId('model-url').value.trim());
    else if (source === 'file') notes.push('a local model file cannot be embedded: the embed uses the default model');
    const tasks = TASKS.filter((t) => byId(`task-${t.id}`).checked);
    if (tasks.length && tasks.length < TASKS.length) params.set('tasks', tasks.map((t) => t.id).join(','));
    if (tasks.some((t) => !slots.get(t.id).useDemo)) notes.push('an embed runs the demo sets, not your files');
    if (byId('profile').value !== 'paper-2024-06') params.set('profile', byId('profile').value);
    if (byId('limit').value) params.set('limit', byId('limit').value);
    else if (byId('full-demo').checked) params.set('limit', 'all');
    params.set('backend', byId('eval-backend').value);
    const src = `${new URL('embed.html', location.href).href}?${params}`;
    const code = `<iframe src="${src.replaceAll('&', '&amp;')}" title="CLUE evaluation" width="560" height="460" loading="lazy"></iframe>`;
    return { code, notes };
  }

  byId('copy-embed').addEventListener('click', async () => {
    const { code, notes } = embedCode();
    const box = byId('embed-code');
    box.value = code;
    byId('embed-box').hidden = false;
    let copied = 'Copied to the clipboard.';
    try {
      await navigator.clipboard.writeText(code);
    } catch {
      copied = 'Select it and copy it (this browser did not allow the clipboard).';
      box.select();
    }
    byId('embed-hint').textContent = [copied, ...notes.map((n) => `Note: ${n}.`)].join(' ');
  });
}
