// A model of Qwen2.5-0.5B's exact shapes with llama.cpp's Q4_K_M tensor types (random weights,
// written by examples/random_model.rs into models/ by scripts/test) loads and generates a few
// tokens on WebGPU (SwiftShader here), with its weights on the device in no more than 1.1× the
// file's tensor bytes and the wasm heap no larger than the file plus 256 MiB. Both are measured
// by the worker and printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { launch, baseUrl, ROOT } from './chromium.mjs';

const MODEL = 'models/random-qwen2.5-0.5b-q4_k_m.gguf';
const MiB = 2 ** 20;

test('a 0.5B Q4_K_M model loads on WebGPU within its memory bounds and generates', { timeout: 1_500_000 }, async () => {
  const fileBytes = statSync(join(ROOT, MODEL)).size;
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(baseUrl());
    await page.waitForSelector('body[data-state="done"]', { timeout: 240_000 });
    const webgpu = await page.getAttribute('#backends tr[data-backend="webgpu"]', 'data-state');
    assert.equal(webgpu, 'ok', 'WebGPU is available (SwiftShader)');
    await page.check('input[name="gen-source"][value="url"]');
    await page.fill('#gen-url', new URL(MODEL, baseUrl()).href);
    await page.selectOption('#gen-backend', 'webgpu');
    await page.uncheck('#gen-chat');
    await page.fill('#gen-prompt', 'The');
    await page.fill('#gen-max', '2');
    await page.click('#gen-run');
    await page.waitForSelector('#generate-form[data-state="done"], #generate-form[data-state="error"]', { timeout: 1_400_000 });
    const status = await page.textContent('#gen-status');
    assert.equal(await page.getAttribute('#generate-form', 'data-state'), 'done', status);
    const ids = JSON.parse(await page.getAttribute('#gen-output', 'data-ids'));
    assert.equal(ids.length, 2, `two new tokens: ${status}`);
    const memory = JSON.parse(await page.getAttribute('#gen-output', 'data-memory'));
    const ratio = memory.weights_bytes / memory.tensor_bytes;
    const heapOver = memory.wasm_memory_bytes - fileBytes;
    console.log(`file ${(fileBytes / MiB).toFixed(1)} MiB, tensors ${(memory.tensor_bytes / MiB).toFixed(1)} MiB; ` +
      `weights on the device ${(memory.weights_bytes / MiB).toFixed(1)} MiB (${ratio.toFixed(3)}×); ` +
      `device buffers in use ${(memory.device_in_use_bytes / MiB).toFixed(1)} MiB; ` +
      `wasm heap ${(memory.wasm_memory_bytes / MiB).toFixed(1)} MiB (file + ${(heapOver / MiB).toFixed(1)} MiB); ${status}`);
    assert.equal(memory.file_bytes, fileBytes);
    assert.ok(ratio <= 1.1, `weights on the device ${ratio.toFixed(3)}× the tensor bytes`);
    assert.ok(memory.device_in_use_bytes <= 1.1 * memory.tensor_bytes + 256 * MiB,
      `device buffers in use: ${memory.device_in_use_bytes} B`);
    assert.ok(heapOver <= 256 * MiB, `wasm heap ${memory.wasm_memory_bytes} B is more than the file + 256 MiB`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
