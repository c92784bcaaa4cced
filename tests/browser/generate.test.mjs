// The default model in the browser: greedy generation from a fixed chat prompt gives the same
// token ids as the native `clue generate`, on the CPU backend and on WebGPU (SwiftShader here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, baseUrl } from './chromium.mjs';

const PROMPT = 'What is the capital of France?';
// Each decode step takes about 10 s on SwiftShader: six tokens keep the test near two minutes.
const MAX_TOKENS = 6;
const MODEL = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';

function nativeCompletion() {
  const bin = process.env.CLUE_BIN;
  if (!bin) throw new Error('CLUE_BIN is not set: run the browser tests through scripts/test');
  const file = join(mkdtempSync(join(tmpdir(), 'clue-gen-')), 'prompt.txt');
  writeFileSync(file, PROMPT);
  const out = execFileSync(bin, ['generate', '--model', MODEL, '--prompt-file', file, '--chat',
    '--max-tokens', String(MAX_TOKENS), '--json'], { encoding: 'utf8' });
  return JSON.parse(out);
}

test('greedy generation in the browser equals the native run, on CPU and WebGPU', { timeout: 900_000 }, async () => {
  const native = nativeCompletion();
  assert.ok(native.completion_ids.length > 0, 'the native run generated something');
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(baseUrl());
    await page.waitForSelector('body[data-state="done"]', { timeout: 240_000 });
    for (const backend of ['cpu', 'webgpu']) {
      await page.selectOption('#gen-backend', backend);
      await page.fill('#gen-prompt', PROMPT);
      await page.fill('#gen-max', String(MAX_TOKENS));
      await page.check('#gen-chat');
      await page.click('#gen-run');
      await page.waitForSelector('#generate-form[data-state="done"], #generate-form[data-state="error"]', { timeout: 600_000 });
      const state = await page.getAttribute('#generate-form', 'data-state');
      const status = await page.textContent('#gen-status');
      assert.equal(state, 'done', `${backend}: ${status}`);
      const ids = JSON.parse(await page.getAttribute('#gen-output', 'data-ids'));
      assert.deepEqual(ids, native.completion_ids, `${backend}: "${await page.textContent('#gen-output')}" vs native "${native.completion}"`);
      console.log(`${backend}: ${status}`);
      // The next backend starts from a fresh form state.
      await page.evaluate(() => { document.getElementById('generate-form').dataset.state = ''; });
    }
    if (process.env.CLUE_SCREENSHOT_GENERATE) await page.screenshot({ path: process.env.CLUE_SCREENSHOT_GENERATE, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('a model from a local file and from a URL gives the same tokens as the default', { timeout: 600_000 }, async () => {
  const native = nativeCompletion();
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(baseUrl());
    await page.waitForSelector('body[data-state="done"]', { timeout: 240_000 });
    const run = async (what) => {
      await page.evaluate(() => { document.getElementById('generate-form').dataset.state = ''; });
      await page.selectOption('#gen-backend', 'cpu');
      await page.fill('#gen-prompt', PROMPT);
      await page.fill('#gen-max', String(MAX_TOKENS));
      await page.click('#gen-run');
      await page.waitForSelector('#generate-form[data-state="done"], #generate-form[data-state="error"]', { timeout: 300_000 });
      const status = await page.textContent('#gen-status');
      assert.equal(await page.getAttribute('#generate-form', 'data-state'), 'done', `${what}: ${status}`);
      return JSON.parse(await page.getAttribute('#gen-output', 'data-ids'));
    };
    await page.check('input[name="gen-source"][value="file"]');
    await page.setInputFiles('#gen-file', MODEL);
    assert.deepEqual(await run('local file'), native.completion_ids);
    await page.check('input[name="gen-source"][value="url"]');
    await page.fill('#gen-url', new URL(MODEL, baseUrl()).href);
    assert.deepEqual(await run('URL'), native.completion_ids);
    // Choosing a file source without a file is refused on the page, not sent to the worker.
    await page.check('input[name="gen-source"][value="file"]');
    await page.setInputFiles('#gen-file', []);
    await page.click('#gen-run');
    await page.waitForSelector('#generate-form[data-state="error"]');
    assert.match(await page.textContent('#gen-status'), /Choose a \.gguf file first/);
  } finally {
    await browser.close();
  }
});
