// The live samples table of an evaluation: one row per finished sample (task, id, the prompt's
// end, the output, the answer read, its metrics), each opening with Enter or a click into the
// whole prompt, output and token counts. Built with DOM calls only: no text is parsed as HTML.
import { element } from './dom.js';
import { metricName, percent, taskName } from './results.js';

/** What was read from a completion (the `answer` of a sample record, tagged by `kind`). */
function answerText(answer) {
  switch (answer.kind) {
    case 'labels': return answer.labels.join(', ') || '(no label)';
    case 'codes': return answer.codes.join(', ') || '(no code)';
    case 'letter': return answer.letter || '(no letter)';
    case 'text': return answer.text;
    default: return JSON.stringify(answer);
  }
}

/** Why a generation ended (`"length"`, `{"eos": id}`, `{"stop_string": "…"}`, …). */
function stopText(reason) {
  if (typeof reason === 'string') return { length: 'max new tokens reached', context_full: 'context full' }[reason] || reason;
  const [kind, value] = Object.entries(reason)[0];
  return kind === 'eos' ? `end of sequence (id ${value})` : `stop string ${JSON.stringify(value)}`;
}

const metricsText = (metrics) => Object.entries(metrics).map(([k, v]) => `${metricName(k)} ${percent(v)}`).join(' · ');

/** The last `length` characters of `text`, white space collapsed: a prompt's end holds the question. */
function tail(text, length) {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > length ? `…${flat.slice(-length)}` : flat;
}

/** The table whose body is `samples`: {add(sample, prompt), clear()}. */
export function samplesTable(samples) {
  /** Each sample row's function that opens or closes its details. */
  const expanders = new WeakMap();

  function addSample(sample, prompt) {
    const index = samples.querySelectorAll('tr.sample').length;
    const detailId = `sample-detail-${index}`;
    const tr = element('tr', undefined, { class: 'sample', 'data-task': sample.task, 'data-id': sample.id, 'data-cached': String(sample.cached) });
    tr.appendChild(element('td', taskName(sample.task)));
    const idCell = element('td');
    idCell.appendChild(element('button', sample.id, { type: 'button', class: 'expand', 'aria-expanded': 'false', 'aria-controls': detailId }));
    if (sample.cached) idCell.appendChild(element('span', 'cached', { class: 'badge' }));
    tr.appendChild(idCell);
    // Long texts are clamped to a few lines; the row's details show them whole.
    for (const text of [tail(prompt || sample.prompt || '', 200), sample.completion, answerText(sample.answer)]) {
      tr.appendChild(element('td')).appendChild(element('div', text, { class: 'clamp' }));
    }
    tr.appendChild(element('td', metricsText(sample.metrics)));
    const detail = element('tr', undefined, { class: 'detail', id: detailId, hidden: '' });
    samples.append(tr, detail);
    // The details are built on first opening: prompts of long tasks are large.
    expanders.set(tr, () => {
      if (!detail.firstChild) detail.appendChild(sampleDetail(sample, prompt));
      const open = detail.hidden;
      detail.hidden = !open;
      tr.querySelector('button.expand').setAttribute('aria-expanded', String(open));
    });
  }

  function sampleDetail(sample, prompt) {
    const cell = element('td', undefined, { colspan: '6' });
    const list = element('dl');
    const add = (term, text, pre = false) => {
      list.appendChild(element('dt', term));
      // A <pre> may scroll sideways: it takes the keyboard focus so it can be scrolled without a mouse.
      list.appendChild(element('dd')).appendChild(pre ? element('pre', text, { tabindex: '0', 'aria-label': term }) : element('span', text));
    };
    add('Prompt', prompt || sample.prompt || '(not kept)', true);
    add('Output', sample.completion, true);
    add('Cleaned', sample.cleaned, true);
    add('Answer', answerText(sample.answer));
    add('Metrics', metricsText(sample.metrics) || '—');
    add('Tokens', `${sample.prompt_tokens} in the prompt, ${sample.completion_tokens} generated (${stopText(sample.stop_reason)})${sample.cached ? ', from the cache' : ''}`);
    add('Reading mode', sample.mode);
    cell.appendChild(list);
    return cell;
  }

  samples.addEventListener('click', (event) => {
    const row = event.target.closest('tr.sample');
    if (row) expanders.get(row)();
  });

  return {
    add: addSample,
    clear: () => samples.replaceChildren(),
  };
}
