// An evaluation from the page end to end: the default model on the demo sets, scored on the
// page, equals the native `clue eval` with the same settings — the scores shown and the
// results.json exported, every metric, interval, task score and level. On the CPU: MedNLI and
// MeQSum, three samples each; with CLUE_SCREENSHOT_EVAL=docs/screenshot.png its page is saved for
// the README, and with CLUE_SCREENSHOT_CHART=docs/chart.png its chart among CLUE's published
// models (a test run leaves the tracked files alone otherwise). On WebGPU (SwiftShader here, a
// CPU emulation of a GPU): one sample of a MedNLI file of four short made-up pairs (three of them
// the shots), by the tiny random Llama of tests/golden/archs chosen as a local file — SmolLM2
// took 9 minutes there for that one sample; its WebGPU tokens are checked against native by
// generate.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ROOT, checkAgainstNative, evaluateOn, launch, nativeResults, writeShortMednli } from './chromium.mjs';

test('an evaluation on the CPU scores as the native clue eval does', { timeout: 1_800_000 }, async () => {
  const run = { tasks: ['mednli', 'meqsum'], limit: 3, backend: 'cpu' };
  const nativeDir = mkdtempSync(join(tmpdir(), 'clue-eval-'));
  const native = nativeResults(run, nativeDir);
  const browser = await launch();
  try {
    const page = await evaluateOn(browser, run);
    await checkAgainstNative(page, native, run);

    // The chart: each task and Level among CLUE's published models, this run highlighted with
    // its interval; a saved results.json (the native one) added for comparison.
    const published = JSON.parse(readFileSync(join(ROOT, 'data', 'published-results.json'), 'utf8'));
    const chart = () => page.$$eval('#eval-chart figure', (figures) => figures.map((f) => ({
      panel: f.dataset.panel,
      published: f.querySelectorAll('g.published').length,
      runs: [...f.querySelectorAll('g.run')].map((g) => ({ label: g.dataset.label, text: g.textContent, whiskers: g.querySelectorAll('line.whisker').length })),
    })));
    let panels = await chart();
    assert.deepEqual(panels.map((p) => p.panel), ['mednli', 'meqsum', 'level1', 'level2']);
    for (const [panel, display] of [['mednli', 'MedNLI'], ['meqsum', 'MeQSum']]) {
      const drawn = panels.find((p) => p.panel === panel);
      assert.equal(drawn.published, Object.keys(published.modelMetrics[display]).length, `${panel}: every published model`);
      assert.equal(drawn.runs.length, 1);
      assert.match(drawn.runs[0].label, /^This run \(SmolLM2-135M-Instruct\.Q4_1\.gguf\)$/);
      const want = native.tasks[panel];
      if (want.score === null) {
        // MeQSum without BERTScore: no task score, its partial mean said as such, no bar.
        assert.ok(drawn.runs[0].text.endsWith(`not computed (partial ${(100 * want.partial_score).toFixed(1)})`), `${panel}: ${drawn.runs[0].text}`);
        assert.equal(drawn.runs[0].whiskers, 0);
      } else {
        assert.ok(drawn.runs[0].text.endsWith((100 * want.score).toFixed(1)), `${panel}: ${drawn.runs[0].text}`);
        assert.equal(drawn.runs[0].whiskers, 3, `${panel}: the interval is drawn`);
      }
    }
    const level1 = panels.find((p) => p.panel === 'level1');
    assert.equal(level1.published, Object.keys(published.modelScores_L1_L2).length);
    assert.match(level1.runs[0].text, /not computed \(partial/, 'Level 1 without Problem Summary is not computed');
    await page.setInputFiles('#compare-files', join(nativeDir, 'results.json'));
    await page.waitForFunction(() => document.querySelectorAll('#eval-chart figure[data-panel="mednli"] g.run').length === 2);
    panels = await chart();
    assert.match(panels[0].runs.map((r) => r.label).join(' | '), /results\.json \(SmolLM2-135M-Instruct\.Q4_1\.gguf\)/);
    const chartShot = process.env.CLUE_SCREENSHOT_CHART;
    if (chartShot) {
      mkdirSync(dirname(resolve(ROOT, chartShot)), { recursive: true });
      await page.locator('#eval-chart').screenshot({ path: resolve(ROOT, chartShot) });
    }

    // A sample opens with Enter on its row's button, and closes again.
    const first = page.locator('#samples tr.sample button.expand').first();
    await first.focus();
    await page.keyboard.press('Enter');
    assert.equal(await first.getAttribute('aria-expanded'), 'true');
    assert.equal(await page.isVisible('#sample-detail-0'), true);
    const screenshot = process.env.CLUE_SCREENSHOT_EVAL;
    if (screenshot) {
      mkdirSync(dirname(resolve(ROOT, screenshot)), { recursive: true });
      await page.screenshot({ path: resolve(ROOT, screenshot), fullPage: true });
    }
    await page.keyboard.press('Enter');
    assert.equal(await page.isHidden('#sample-detail-0'), true);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('an evaluation on WebGPU scores as the native clue eval does', { timeout: 1_800_000 }, async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'clue-webgpu-')), 'mednli.jsonl');
  writeShortMednli(file);
  const model = join(ROOT, 'tests/golden/archs/llama-Q4_K_M.gguf');
  const run = { tasks: ['mednli'], limit: 1, backend: 'webgpu', data: { mednli: file }, model };
  const nativeDir = mkdtempSync(join(tmpdir(), 'clue-eval-'));
  const native = nativeResults(run, nativeDir);
  const browser = await launch();
  try {
    const page = await evaluateOn(browser, run);
    const { samples } = await checkAgainstNative(page, native, run);
    // The same tokens, not only the same score: the completion WebGPU generated is native's.
    const nativeSamples = readFileSync(join(nativeDir, 'samples.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(samples.map((s) => [s.id, s.completion]), nativeSamples.map((s) => [s.id, s.completion]));
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
