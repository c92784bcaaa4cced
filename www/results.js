// Showing scores: the results object of an evaluation or a rescoring (the schema of
// `clue score --json`) as a task table and a level table, and downloads of exported files.
// Scores that were not computed (BERTScore, UMLS) say so; they are never shown as 0. Each
// number's cell carries its exact value in `data-value` ("null" when not computed). Results with
// BERTScore (an evaluation's `run.bertscore`, a rescoring's top-level `bertscore`) name its BERT
// model and layer, and the tasks where they are not the paper's; results with UMLS-F1 name the
// bridge's file and environment.
import { element } from './dom.js';

/** CLUE's tasks in its order, with the extensions of their official file formats. */
export const TASKS = [
  { id: 'mednli', name: 'MedNLI', level: 1, accept: '.jsonl,.json' },
  { id: 'meqsum', name: 'MeQSum', level: 1, accept: '.xlsx' },
  { id: 'probsum', name: 'Problem Summary', level: 1, accept: '.csv' },
  { id: 'longhealth', name: 'LongHealth', level: 2, accept: '.json' },
  { id: 'medisumqa', name: 'MeDiSumQA', level: 2, accept: '.json,.jsonl' },
  { id: 'medisumcode', name: 'MeDiSumCode', level: 2, accept: '.json,.jsonl' },
];

export const taskName = (id) => (TASKS.find((t) => t.id === id) || { name: id }).name;

const METRIC_NAMES = {
  accuracy: 'Accuracy', rouge1: 'ROUGE-1', rouge2: 'ROUGE-2', rougeL: 'ROUGE-L', rougeLsum: 'ROUGE-Lsum',
  bertscore_p: 'BERTScore P', bertscore_r: 'BERTScore R', bertscore_f1: 'BERTScore F1',
  umls_p: 'UMLS P', umls_r: 'UMLS R', umls_f1: 'UMLS F1',
  // The substitute names itself as one wherever it is shown (metrics::concepts).
  concept_p: 'Concept P (open vocabularies — not CLUE\'s UMLS)',
  concept_r: 'Concept R (open vocabularies — not CLUE\'s UMLS)',
  concept_f1: 'Concept-F1 (open vocabularies — not CLUE\'s UMLS-F1)',
  icd_em_p: 'ICD EM P', icd_em_r: 'ICD EM R', icd_em_f1: 'ICD EM F1',
  icd_ap_p: 'ICD AP P', icd_ap_r: 'ICD AP R', icd_ap_f1: 'ICD AP F1', icd_valid: 'ICD valid',
  task1: 'Task 1', task2: 'Task 2', task3: 'Task 3',
};

export const metricName = (key) => METRIC_NAMES[key] || key;

/** A fraction in [0, 1] as the paper prints it: a percentage with one decimal. */
export const percent = (value) => (value * 100).toFixed(1);

const interval = (ci) => (ci ? ` (95% CI ${percent(ci[0])}–${percent(ci[1])})` : '');

/** A composed score's text: the score, or "not computed" with what is missing and the partial mean. */
function composedText(composed, ci, partName) {
  if (composed.score !== null && composed.score !== undefined) return percent(composed.score) + interval(ci);
  const missing = composed.not_computed.map(partName).join(', ');
  const partial = composed.partial_score !== undefined && composed.partial_score !== null
    ? `; mean of the rest ${percent(composed.partial_score)}, not comparable with published scores`
    : '';
  return `not computed (no ${missing}${partial})`;
}

const valueAttribute = (value) => (value === null || value === undefined ? 'null' : String(value));

function table(caption, headers) {
  const t = element('table');
  t.appendChild(element('caption', caption));
  const row = element('tr');
  for (const header of headers) row.appendChild(element('th', header, { scope: 'col' }));
  t.appendChild(element('thead')).appendChild(row);
  return [t, t.appendChild(element('tbody'))];
}

/**
 * The BERT model and layer each profile prescribes for a task's BERTScore, as
 * `prescribed_bert` in src/eval/run.rs does (the Rust side decides `comparable_tasks`; this
 * only says what the comparable choice would have been).
 */
const PRESCRIBED_BERT = {
  'paper-2024-06': { meqsum: 'SciBERT layer 8', probsum: 'Bio_ClinicalBERT layer 9', medisumqa: 'Bio_ClinicalBERT layer 9' },
  'current-2025-01': { meqsum: 'SciBERT layer 8', probsum: 'SciBERT layer 8', medisumqa: 'SciBERT layer 8' },
};

/**
 * The BERT model and layer of `bert` (a results' `bertscore` block), and a line for each task
 * whose BERTScore is not the paper's under `profile`.
 */
function bertscoreNote(bert, profile, results, id) {
  const note = element('div', undefined, { id: `${id}-bertscore-note`, class: 'bertscore-note' });
  note.appendChild(element('p', `BERTScore: ${bert.model}, layer ${bert.layer}.`));
  const apart = TASKS.filter((t) => results.tasks[t.id] && 'bertscore_f1' in results.tasks[t.id].metrics
    && !bert.comparable_tasks.includes(t.id));
  if (apart.length) {
    const list = note.appendChild(element('ul'));
    for (const task of apart) {
      list.appendChild(element('li', `${task.name}: its BERTScore numbers are not comparable with the paper's ` +
        `(${profile} profile: ${PRESCRIBED_BERT[profile][task.id]}).`, { 'data-task': task.id }));
    }
  }
  return note;
}

/**
 * Where the UMLS values came from (a results' `umls` block): the bridge's file and the pipeline
 * and versions its fingerprint names.
 */
function umlsNote(umls, id) {
  const fingerprint = umls.fingerprint || {};
  const pipeline = fingerprint.pipeline || {};
  const packages = fingerprint.packages || {};
  const parts = [
    pipeline.name && `pipeline ${pipeline.name}${pipeline.version ? ` ${pipeline.version}` : ''}`,
    packages.scispacy && `scispaCy ${packages.scispacy}`,
  ].filter(Boolean);
  return element('p', `UMLS-F1: ${umls.samples} samples from ${umls.file} (${[fingerprint.bridge, ...parts].filter(Boolean).join(', ')}).`,
    { id: `${id}-umls-note`, class: 'umls-note' });
}

/**
 * Renders `results` into `container`, replacing what was there; the tables' ids start with `id`.
 * `profile` is the one the results were computed under: an evaluation's results record it, a
 * rescoring's do not.
 */
export function renderResults(container, results, id, profile = results.run && results.run.options.profile) {
  container.replaceChildren();
  const [scores, scoreRows] = table('Per task (percent; 95% bootstrap confidence intervals)', ['Task', 'n', 'Score', 'Metrics']);
  scores.id = `${id}-task-scores`;
  for (const task of TASKS.filter((t) => results.tasks[t.id])) {
    const result = results.tasks[task.id];
    const tr = element('tr', undefined, { 'data-task': task.id });
    tr.appendChild(element('th', task.name, { scope: 'row' }));
    tr.appendChild(element('td', String(result.n), { 'data-n': String(result.n) }));
    tr.appendChild(element('td', composedText(result, result.score_ci95, metricName), {
      'data-metric': 'score', 'data-value': valueAttribute(result.score),
    }));
    const list = element('ul', undefined, { class: 'metrics' });
    for (const [key, value] of Object.entries(result.metrics)) {
      list.appendChild(element('li', `${metricName(key)} ${percent(value)}${interval(result.ci95[key])}`, {
        'data-metric': key, 'data-value': String(value),
      }));
    }
    for (const key of result.not_computed.filter((k) => !(k in result.metrics))) {
      list.appendChild(element('li', `${metricName(key)} not computed`, { 'data-metric': key, 'data-value': 'null' }));
    }
    tr.appendChild(element('td')).appendChild(list);
    scoreRows.appendChild(tr);
  }

  const [levels, levelRows] = table('CLUE levels: the mean of their three task scores', ['Level', 'Tasks', 'Score']);
  levels.id = `${id}-level-scores`;
  for (const level of [1, 2]) {
    const key = `level${level}`;
    const composed = results.levels[key];
    const tr = element('tr', undefined, { 'data-level': key });
    tr.appendChild(element('th', `Level ${level}`, { scope: 'row' }));
    tr.appendChild(element('td', TASKS.filter((t) => t.level === level).map((t) => t.name).join(', ')));
    tr.appendChild(element('td', composedText(composed, undefined, taskName), { 'data-value': valueAttribute(composed.score) }));
    levelRows.appendChild(tr);
  }
  container.append(scores);
  // An evaluation keeps its BERTScore block in `run`; a rescoring, which has no run, at the top.
  const bert = (results.run || results).bertscore;
  if (bert) container.appendChild(bertscoreNote(bert, profile, results, id));
  const umls = (results.run || results).umls;
  if (umls) container.appendChild(umlsNote(umls, id));
  container.append(levels);
}

/** Offers `text` as a download named `name`, through a Blob URL (nothing is sent anywhere). */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = element('a', undefined, { href: url, download: name });
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Browsers start the download asynchronously; a minute is far more than they need.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
