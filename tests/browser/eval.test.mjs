// An evaluation from the page end to end: the default model on the demo sets, scored on the
// page, equals the native `clue eval` with the same settings — the scores shown and the
// results.json exported, every metric, interval, task score and level. On the CPU: MedNLI and
// MeQSum, three samples each; its page is saved as docs/screenshot.png for the README. On WebGPU
// (SwiftShader here, a CPU emulation of a GPU): one MedNLI sample, because prefilling its 338
// prompt tokens alone takes about six minutes there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, launch, openPage, runProgress, setUpEvaluation, waitForRunEnd } from './chromium.mjs';

function nativeResults({ tasks, limit }) {
  const bin = process.env.CLUE_BIN;
  if (!bin) throw new Error('CLUE_BIN is not set: run the browser tests through scripts/test');
  const dir = mkdtempSync(join(tmpdir(), 'clue-eval-'));
  execFileSync(bin, ['eval', '--tasks', tasks.join(','), '--limit', String(limit), '--backend', 'cpu', '--out', dir],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
}

/** Asserts that `got` is `want` to 1e-9, both numbers or both null (not computed). */
function close(got, want, what) {
  if (want === null || want === undefined) {
    assert.equal(got ?? null, null, `${what}: ${got}, native not computed`);
  } else {
    assert.ok(typeof got === 'number' && Math.abs(got - want) <= 1e-9, `${what}: ${got}, native ${want}`);
  }
}

/** Compares the numbers of two results objects: n, every metric and interval, scores, levels. */
function assertSameResults(got, want, what) {
  assert.deepEqual(Object.keys(got.tasks).sort(), Object.keys(want.tasks).sort(), `${what}: tasks`);
  for (const [task, native] of Object.entries(want.tasks)) {
    const page = got.tasks[task];
    assert.equal(page.n, native.n, `${what}: ${task} n`);
    assert.deepEqual(Object.keys(page.metrics).sort(), Object.keys(native.metrics).sort(), `${what}: ${task} metrics`);
    for (const [metric, value] of Object.entries(native.metrics)) {
      close(page.metrics[metric], value, `${what}: ${task} ${metric}`);
      if (native.ci95[metric]) {
        native.ci95[metric].forEach((bound, i) => close(page.ci95[metric][i], bound, `${what}: ${task} ${metric} ci95[${i}]`));
      }
    }
    close(page.score, native.score, `${what}: ${task} score`);
    assert.deepEqual(page.not_computed, native.not_computed, `${what}: ${task} not computed`);
  }
  for (const level of ['level1', 'level2']) close(got.levels[level].score, want.levels[level].score, `${what}: ${level}`);
}

/** The numbers the page shows, read from the cells' data attributes. */
function shownResults(page) {
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

async function downloaded(page, button) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  return readFileSync(await download.path(), 'utf8');
}

/** Runs `run` ({tasks, limit, backend}) in a fresh context (fresh completion cache); returns the page. */
async function evaluateOn(browser, run) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await openPage(context);
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

async function checkAgainstNative(page, native, run) {
  const what = run.backend;
  const shown = await shownResults(page);
  for (const [task, want] of Object.entries(native.tasks)) {
    assert.equal(shown.tasks[task].n, want.n, `${what}: shown ${task} n`);
    for (const [metric, value] of Object.entries(want.metrics)) close(shown.tasks[task].metrics[metric], value, `${what}: shown ${task} ${metric}`);
    close(shown.tasks[task].metrics.score, want.score, `${what}: shown ${task} score`);
  }
  for (const level of ['level1', 'level2']) close(shown.levels[level], native.levels[level].score, `${what}: shown ${level}`);
  assert.equal(await page.isVisible('#demo-notice'), true, 'the demo notice is shown beside demo results');
  assert.match(await page.textContent('#demo-notice'), /No patient data/);

  const exported = JSON.parse(await downloaded(page, '#export-results'));
  assertSameResults(exported, native, `${what} results.json`);
  assert.equal(exported.run.backend, run.backend === 'webgpu' ? 'wgpu' : 'cpu');
  const samples = (await downloaded(page, '#export-samples')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(samples.length, run.tasks.length * run.limit);
  const csv = await downloaded(page, '#export-csv');
  assert.ok(csv.trim().split('\n').length > 1, 'results.csv has rows');
}

test('an evaluation on the CPU scores as the native clue eval does', { timeout: 1_800_000 }, async () => {
  const run = { tasks: ['mednli', 'meqsum'], limit: 3, backend: 'cpu' };
  const native = nativeResults(run);
  const browser = await launch();
  try {
    const page = await evaluateOn(browser, run);
    await checkAgainstNative(page, native, run);

    // A sample opens with Enter on its row's button, and closes again.
    const first = page.locator('#samples tr.sample button.expand').first();
    await first.focus();
    await page.keyboard.press('Enter');
    assert.equal(await first.getAttribute('aria-expanded'), 'true');
    assert.equal(await page.isVisible('#sample-detail-0'), true);
    mkdirSync(join(ROOT, 'docs'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'docs', 'screenshot.png'), fullPage: true });
    await page.keyboard.press('Enter');
    assert.equal(await page.isHidden('#sample-detail-0'), true);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('an evaluation on WebGPU scores as the native clue eval does', { timeout: 1_800_000 }, async () => {
  const run = { tasks: ['mednli'], limit: 1, backend: 'webgpu' };
  const native = nativeResults(run);
  const browser = await launch();
  try {
    const page = await evaluateOn(browser, run);
    await checkAgainstNative(page, native, run);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
