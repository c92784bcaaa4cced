// The page's first impression: Run with the defaults is the quick demo (the first example of
// each demo set), the full demo sets are one box away, a user's file is evaluated whole even
// when its bytes are a demo set's, and the backend defaults to WebGPU only on a real GPU — on
// an emulated adapter (SwiftShader here) it is the CPU, with the reason shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TASKS, launch, openPage, runProgress, waitForRunEnd } from './chromium.mjs';

/** Presses Run, reads the number of samples the worker planned, and cancels the run (a run
 *  whose samples all come from the cache may be done before Cancel is pressed). */
async function plannedTotal(page) {
  // Forget the last run's end state, so that the wait below sees this run's.
  await page.$eval('#evaluation', (section) => { section.dataset.state = 'idle'; });
  await page.click('#run-eval');
  await page.waitForSelector('#evaluation[data-state="running"], #evaluation[data-state="done"]', { timeout: 240_000 });
  const { total } = await runProgress(page);
  if (await page.getAttribute('#evaluation', 'data-state') === 'running') {
    await page.click('#cancel-eval', { timeout: 5_000 }).catch(() => {});
  }
  const state = await page.getAttribute('#evaluation', 'data-state');
  await waitForRunEnd(page, 240_000, state === 'done' ? 'done' : 'cancelled').catch(async (e) => {
    if (await page.getAttribute('#evaluation', 'data-state') !== 'done') throw e;
  });
  return total;
}

test('Run with the defaults is the quick demo, on the CPU when WebGPU is emulated', { timeout: 900_000 }, async () => {
  const browser = await launch();
  try {
    const page = await openPage(await browser.newContext());

    // What the browser's adapter is, asked independently of the page.
    const adapter = await page.evaluate(async () => {
      const a = navigator.gpu && await navigator.gpu.requestAdapter();
      if (!a) return null;
      const info = a.info || {};
      return { fallback: Boolean(info.isFallbackAdapter), name: [info.vendor, info.architecture, info.device, info.description].join(' ') };
    });
    const emulated = adapter && (adapter.fallback || /swiftshader|llvmpipe|lavapipe/i.test(adapter.name));
    const backend = await page.$eval('#eval-backend', (s) => s.value);
    const adapterLine = await page.textContent('#eval-adapter');
    if (emulated) {
      assert.equal(backend, 'cpu', `an emulated adapter (${adapter.name}) is not the default`);
      assert.match(adapterLine, /emulates a GPU on the CPU/, adapterLine);
      assert.equal(await page.$eval('#eval-backend option[value="webgpu"]', (o) => o.disabled), false, 'WebGPU stays one choice away');
    } else {
      assert.equal(backend, adapter ? 'webgpu' : 'cpu', `adapter ${adapter && adapter.name}`);
    }
    console.log(`adapter: ${adapter ? adapter.name : 'none'}; default backend ${backend}: ${adapterLine}`);

    const sizeLine = await page.textContent('#demo-size');
    assert.match(sizeLine, /Quick demo: the first example of each demo set \(6 of \d+ examples; LongHealth's in 1 of its 5 prompts per task\)/, sizeLine);

    const quick = await plannedTotal(page);
    await page.check('#full-demo');
    assert.match(await page.textContent('#demo-size'), /All \d+ demo examples/);
    const full = await plannedTotal(page);
    console.log(`defaults: quick demo ${quick} samples, full demo sets ${full}`);
    assert.equal(quick, 8, 'one example per set: 5 requests, and LongHealth\'s first question in one prompt of each of its 3 tasks');
    assert.ok(full > 10 * quick, `full demo ${full}`);

    // One task: MedNLI's quick demo is one sample, the full set every line; the same bytes
    // chosen as the user's own file are evaluated whole whatever the box says.
    for (const task of TASKS) await page.setChecked(`#task-${task}`, task === 'mednli');
    const bytes = readFileSync(join(ROOT, 'src/data/demo/mednli.jsonl'));
    // MedNLI takes its 3 shots from the first rows of the file and evaluates the rest.
    const evaluated = bytes.toString('utf8').trim().split('\n').length - 3;
    await page.uncheck('#full-demo');
    assert.equal(await plannedTotal(page), 1);
    await page.check('#full-demo');
    assert.equal(await plannedTotal(page), evaluated);
    await page.uncheck('#full-demo');
    const dir = mkdtempSync(join(tmpdir(), 'clue-defaults-'));
    writeFileSync(join(dir, 'mine.jsonl'), bytes);
    await page.setInputFiles('#file-mednli', join(dir, 'mine.jsonl'));
    await page.waitForSelector('#task-row-mednli[data-state="ok"]', { timeout: 60_000 });
    assert.equal(await page.textContent('#demo-size'), '', 'no quick demo with a user file');
    assert.equal(await plannedTotal(page), evaluated);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
