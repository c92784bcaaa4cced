// An evaluation from the page end to end: the default model on the demo sets, scored on the
// page, equals the native `clue eval` with the same settings — the scores shown and the
// results.json exported, every metric, interval, task score and level. On the CPU: MedNLI and
// MeQSum, three samples each; with CLUE_SCREENSHOT_EVAL=docs/screenshot.png its page is saved for
// the README (a test run leaves the tracked file alone otherwise). On WebGPU
// (SwiftShader here, a CPU emulation of a GPU): one sample of a MedNLI file of four short
// made-up pairs (three of them the shots), because prefilling a demo sample's 338 prompt tokens
// alone takes about six minutes there; this one has 221.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ROOT, checkAgainstNative, evaluateOn, launch, nativeResults } from './chromium.mjs';

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
  const pairs = [
    ['She has a fever.', 'She is febrile.', 'entailment'],
    ['He walks.', 'He cannot walk.', 'contradiction'],
    ['She coughs.', 'She smokes.', 'neutral'],
    ['He is pale.', 'He is anemic.', 'neutral'],
  ];
  writeFileSync(file, pairs.map(([sentence1, sentence2, label], i) =>
    JSON.stringify({ sentence1, sentence2, gold_label: label, pairID: `short-${i + 1}` })).join('\n') + '\n');
  const run = { tasks: ['mednli'], limit: 1, backend: 'webgpu', data: { mednli: file } };
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
