// Launches Debian's headless Chromium for the page tests, and the steps the Evaluate tests
// share: filling the form, running, reading the scores shown and exported, and comparing them
// with the native `clue eval`; and what the Rescore tests with BERTScore share: MeQSum
// predictions, and comparing results with the native `clue score --bert-model`. The flags are the ones that work on these GPU-less machines: --enable-unsafe-webgpu
// exposes WebGPU through SwiftShader (a CPU adapter); the background-networking flags stop
// Chromium from calling out through the closed network; --no-sandbox because CI runs as root.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Headless Chromium with CHROMIUM_FLAGS and `extraFlags`. */
export function launch(extraFlags = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraFlags],
  });
}

/** Short made-up MedNLI pairs [sentence1, sentence2, label]: the first three are a file's shots. */
const SHORT_PAIRS = [
  ['She has a fever.', 'She is febrile.', 'entailment'],
  ['He walks.', 'He cannot walk.', 'contradiction'],
  ['She coughs.', 'She smokes.', 'neutral'],
  ['He is pale.', 'He is anemic.', 'neutral'],
  ['She sleeps.', 'She is awake.', 'contradiction'],
  ['He eats.', 'He is hungry.', 'neutral'],
];

/**
 * Writes a MedNLI file of the first `count` short pairs to `path` (three of them the shots); with
 * `mark`, each first sentence and each id carries it. Returns the rows' ids.
 */
export function writeShortMednli(path, { count = 4, mark = '' } = {}) {
  const rows = SHORT_PAIRS.slice(0, count).map(([sentence1, sentence2, label], i) => ({
    sentence1: mark ? `${sentence1} ${mark}` : sentence1, sentence2, gold_label: label, pairID: `${mark || 'short'}-${i + 1}`,
  }));
  writeFileSync(path, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
  return rows.map((row) => row.pairID);
}

/** The page's URL, given by scripts/test after it starts `clue serve --port 0`. */
export function baseUrl() {
  const url = process.env.CLUE_URL;
  if (!url) throw new Error('CLUE_URL is not set: run the browser tests through scripts/test');
  return url;
}

/** The repository root: the native `clue` runs there, and screenshots go under it. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const TASKS = ['mednli', 'meqsum', 'probsum', 'longhealth', 'medisumqa', 'medisumcode'];

/** Content types a plain static server sends (what nginx's or Python's defaults map). */
const CONTENT_TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.wasm': 'application/wasm', '.txt': 'text/plain',
};

/** The static site scripts/test writes with scripts/site (CLUE_SITE). */
export function siteDir() {
  const dir = process.env.CLUE_SITE;
  if (!dir) throw new Error('CLUE_SITE is not set: run the browser tests through scripts/test');
  return dir;
}

/**
 * A plain static file server over `root`, like GitHub Pages or a university web space: each
 * file with a content type and nothing else — no Content-Security-Policy, no cross-origin
 * isolation, no ranges. Paths starting with one of `hidden` answer 404, as on a site that does
 * not have them. Resolves to {url, close()}.
 */
export function startStaticServer(root, { hidden = [] } = {}) {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname).replace(/^\/+/, '');
    const rest = path === '' || path.endsWith('/') ? `${path}index.html` : path;
    let size = null;
    if (!rest.split('/').includes('..') && !hidden.some((prefix) => rest.startsWith(prefix))) {
      try {
        const stat = statSync(join(root, rest));
        if (stat.isFile()) size = stat.size;
      } catch {
        // Not there: 404 below.
      }
    }
    if (size === null) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const type = CONTENT_TYPES[rest.slice(rest.lastIndexOf('.'))] || 'application/octet-stream';
    response.writeHead(200, { 'Content-Type': type, 'Content-Length': size });
    createReadStream(join(root, rest)).pipe(response);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  })));
}

/**
 * A new page in `context`, at the page's URL (`url`, else clue serve's) once the worker has
 * loaded and checked the backends; page errors are collected in `page.errors`.
 */
export async function openPage(context, url = baseUrl()) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(url);
  await waitUntilReady(page);
  return page;
}

/** Waits until the worker has checked the backends (after a load or a reload). */
export async function waitUntilReady(page) {
  await page.waitForSelector('body[data-state]', { timeout: 240_000 });
  const state = await page.getAttribute('body', 'data-state');
  if (state !== 'done') throw new Error(`the page did not start: ${await page.textContent('#status')}`);
  await page.waitForSelector('#run-eval:not([disabled])', { timeout: 60_000 });
}

/**
 * Fills the Evaluate form: `tasks` only, from the files of `data` ({task: path}) or else their
 * demo sets, `limit` samples each, on `backend`, with the local GGUF file `model` or else the
 * default; with `bert` ({layer}), BERTScore from the MiniLM served with the page.
 */
export async function setUpEvaluation(page, { tasks, limit, backend, bert, data = {}, model }) {
  if (model) {
    await page.check('input[name="model-source"][value="file"]');
    await page.setInputFiles('#model-file', model);
  }
  for (const task of TASKS) await page.setChecked(`#task-${task}`, tasks.includes(task));
  for (const [task, path] of Object.entries(data)) {
    await page.setInputFiles(`#file-${task}`, path);
    await page.waitForSelector(`#task-row-${task}[data-state="ok"]`, { timeout: 60_000 });
  }
  await page.fill('#limit', String(limit));
  await page.selectOption('#eval-backend', backend);
  if (bert) {
    await page.selectOption('#bert-model', 'served');
    await page.fill('#bert-layer', String(bert.layer));
  }
}

/** Fills the Evaluate form with `settings` (see setUpEvaluation), presses Run and waits until a sample has finished. */
export async function runUntilFirstSample(page, settings, timeout = 900_000) {
  await setUpEvaluation(page, settings);
  await page.click('#run-eval');
  await page.waitForFunction(() => Number(document.getElementById('eval-progress').dataset.done) >= 1, null, { timeout });
}

/** Waits for the run to end and fails with the page's status unless it ended `expected`. */
export async function waitForRunEnd(page, timeout, expected = 'done') {
  const ended = ['done', 'error', 'cancelled'].map((s) => `#evaluation[data-state="${s}"]`).join(', ');
  try {
    await page.waitForSelector(ended, { timeout });
  } catch (e) {
    throw new Error(`the run did not end in ${timeout / 1000} s: ${await page.textContent('#eval-status')}`, { cause: e });
  }
  const state = await page.getAttribute('#evaluation', 'data-state');
  if (state !== expected) throw new Error(`the run ended ${state}: ${await page.textContent('#eval-status')}`);
}

/** The run's counts from the progress bar's data attributes. */
export async function runProgress(page) {
  const data = await page.$eval('#eval-progress', (bar) => ({ ...bar.dataset }));
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Number(value)]));
}

/**
 * The native `clue eval` of `run` ({tasks, limit, data: {task: path}, model, bert: {model,
 * layer}}) on the CPU, written to `dir`: its results.json.
 */
export function nativeResults({ tasks, limit, bert, data = {}, model }, dir = mkdtempSync(join(tmpdir(), 'clue-eval-'))) {
  const bin = process.env.CLUE_BIN;
  if (!bin) throw new Error('CLUE_BIN is not set: run the browser tests through scripts/test');
  const args = ['eval', '--tasks', tasks.join(','), '--limit', String(limit), '--backend', 'cpu', '--out', dir];
  if (model) args.push('--model', model);
  for (const [task, path] of Object.entries(data)) args.push('--data', `${task}=${path}`);
  if (bert) args.push('--bert-model', bert.model, '--bert-layer', String(bert.layer));
  execFileSync(bin, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
}

/** How far a number may be from native's: exact to 1e-9 unless `tolerance` says otherwise. */
const EXACT = () => 1e-9;

/** Asserts that `got` is `want` to `tolerance`, both numbers or both null (not computed). */
export function close(got, want, what, tolerance = 1e-9) {
  if (want === null || want === undefined) {
    assert.equal(got ?? null, null, `${what}: ${got}, native not computed`);
  } else {
    assert.ok(typeof got === 'number' && Math.abs(got - want) <= tolerance, `${what}: ${got}, native ${want}`);
  }
}

/**
 * Compares the numbers of two results objects: n, every metric and interval, scores, levels;
 * `tolerance(task, metric)` gives each number's (the task score is metric "score"; levels have
 * task null).
 */
export function assertSameResults(got, want, what, tolerance = EXACT) {
  assert.deepEqual(Object.keys(got.tasks).sort(), Object.keys(want.tasks).sort(), `${what}: tasks`);
  for (const [task, native] of Object.entries(want.tasks)) {
    const page = got.tasks[task];
    assert.equal(page.n, native.n, `${what}: ${task} n`);
    assert.deepEqual(Object.keys(page.metrics).sort(), Object.keys(native.metrics).sort(), `${what}: ${task} metrics`);
    for (const [metric, value] of Object.entries(native.metrics)) {
      close(page.metrics[metric], value, `${what}: ${task} ${metric}`, tolerance(task, metric));
      if (native.ci95[metric]) {
        native.ci95[metric].forEach((bound, i) => close(page.ci95[metric][i], bound, `${what}: ${task} ${metric} ci95[${i}]`, tolerance(task, metric)));
      }
    }
    close(page.score, native.score, `${what}: ${task} score`, tolerance(task, 'score'));
    assert.deepEqual(page.not_computed, native.not_computed, `${what}: ${task} not computed`);
  }
  for (const level of ['level1', 'level2']) close(got.levels[level].score, want.levels[level].score, `${what}: ${level}`, tolerance(null, level));
}

/** The numbers the page shows, read from the cells' data attributes. */
export function shownResults(page) {
  return page.evaluate(() => {
    const value = (node) => (node.dataset.value === 'null' ? null : Number(node.dataset.value));
    const shown = { tasks: {}, levels: {} };
    for (const row of document.querySelectorAll('#eval-task-scores tbody tr')) {
      const task = { n: Number(row.querySelector('[data-n]').dataset.n), metrics: {} };
      for (const cell of row.querySelectorAll('[data-metric]')) task.metrics[cell.dataset.metric] = value(cell);
      shown.tasks[row.dataset.task] = task;
    }
    for (const row of document.querySelectorAll('#eval-level-scores tbody tr')) shown.levels[row.dataset.level] = value(row.querySelector('[data-value]'));
    return shown;
  });
}

/** The text of the file the page offers when `button` is clicked. */
export async function downloaded(page, button) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  return readFileSync(await download.path(), 'utf8');
}

/**
 * Runs `run` ({tasks, limit, backend, bert, data}) in a fresh context (fresh completion cache) of
 * the page at `run.url` (else clue serve's), with `run.route` ([pattern, handler]) routed, after
 * `before(page)` when given; returns the page.
 */
export async function evaluateOn(browser, run, before) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  if (run.route) await context.route(...run.route);
  const page = await openPage(context, run.url);
  if (before) await before(page);
  await setUpEvaluation(page, run);
  const started = Date.now();
  await page.click('#run-eval');
  await waitForRunEnd(page, 1_200_000);
  const seconds = (Date.now() - started) / 1000;
  const progress = await runProgress(page);
  const total = run.tasks.length * run.limit;
  console.log(`${run.backend}: ${total} samples (${run.tasks.join(', ')}, ${run.limit} each) in ${seconds.toFixed(1)} s ` +
    `from Run to the scores, model load included; ${await page.textContent('#eval-status')}`);
  assert.deepEqual([progress.done, progress.generated, progress.cached], [total, total, 0]);
  return page;
}

/**
 * Checks the scores the page shows and the files it exports against the native results;
 * returns the exported results.json.
 */
export async function checkAgainstNative(page, native, run, tolerance = EXACT) {
  const what = run.backend;
  const shown = await shownResults(page);
  for (const [task, want] of Object.entries(native.tasks)) {
    assert.equal(shown.tasks[task].n, want.n, `${what}: shown ${task} n`);
    for (const [metric, value] of Object.entries(want.metrics)) close(shown.tasks[task].metrics[metric], value, `${what}: shown ${task} ${metric}`, tolerance(task, metric));
    close(shown.tasks[task].metrics.score, want.score, `${what}: shown ${task} score`, tolerance(task, 'score'));
  }
  for (const level of ['level1', 'level2']) close(shown.levels[level], native.levels[level].score, `${what}: shown ${level}`, tolerance(null, level));
  if (!run.data) {
    assert.equal(await page.isVisible('#demo-notice'), true, 'the demo notice is shown beside demo results');
    assert.match(await page.textContent('#demo-notice'), /No patient data/);
  }

  const exported = JSON.parse(await downloaded(page, '#export-results'));
  assertSameResults(exported, native, `${what} results.json`, tolerance);
  assert.equal(exported.run.backend, run.backend);
  const samples = (await downloaded(page, '#export-samples')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(samples.length, run.tasks.length * run.limit);
  const csv = await downloaded(page, '#export-csv');
  assert.ok(csv.trim().split('\n').length > 1, 'results.csv has rows');
  return { results: exported, samples };
}

// ---- Rescore with BERTScore ----------------------------------------------------------------------

/** The demo MeQSum file, rescored with BERTScore by the Rescore tests. */
export const MEQSUM = join(ROOT, 'src/data/demo/meqsum.xlsx');

/** How far BERTScore on the page may be from native's: the wasm and native encoders round differently. */
export const BERT_TOLERANCE = 1e-4;

/** Whether the number at `path` comes from BERTScore: its values and intervals, and the scores averaging them. */
const fromBertscore = (path) => path.some((key) => key.startsWith('bertscore_') || ['score', 'score_ci95', 'partial_score'].includes(key));

/**
 * Asserts that `got` (the page's results.json) has `want`'s (native's) structure and values:
 * numbers from BERTScore to BERT_TOLERANCE, everything else equal; returns the largest
 * BERTScore difference.
 */
export function assertMatchesNative(got, want, path = []) {
  const where = path.join('.') || 'results';
  if (typeof want === 'number' && fromBertscore(path)) {
    const gap = Math.abs(got - want);
    assert.ok(typeof got === 'number' && gap <= BERT_TOLERANCE, `${where}: ${got}, native ${want}`);
    return gap;
  }
  if (want === null || typeof want !== 'object') {
    assert.equal(got, want, where);
    return 0;
  }
  assert.ok(got !== null && typeof got === 'object' && Array.isArray(got) === Array.isArray(want), `${where}: ${JSON.stringify(got)}`);
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), `${where}: keys`);
  return Math.max(0, ...Object.keys(want).map((key) => assertMatchesNative(got[key], want[key], [...path, key])));
}

/** The demo MeQSum examples ({id, record: {chq, summary}}), read by the wasm package in `browser`. */
async function meqsumExamples(browser) {
  const page = await browser.newPage();
  try {
    // A plain file of the same origin: the package is imported without starting the page's worker.
    await page.goto(new URL('style.css', baseUrl()).href);
    return await page.evaluate(async (bytes) => {
      const wasm = await import('/pkg/clue.js');
      await wasm.default();
      return wasm.readExamples('meqsum.xlsx', new Uint8Array(bytes), 'meqsum');
    }, [...readFileSync(MEQSUM)]);
  } finally {
    await page.close();
  }
}

/**
 * Writes predictions for the demo MeQSum file to `dir`/predictions.jsonl and returns its path:
 * some are the gold summary, the others the question's start, so BERTScore varies.
 */
export async function writeMeqsumPredictions(browser, dir) {
  const examples = await meqsumExamples(browser);
  const predictions = join(dir, 'predictions.jsonl');
  writeFileSync(predictions, examples.map((e, i) => JSON.stringify({
    id: e.id, prediction: i % 3 === 0 ? e.record.summary : e.record.chq.slice(0, 80),
  })).join('\n') + '\n');
  return predictions;
}
