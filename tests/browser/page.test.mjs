// The page end to end: the worker loads pkg/, finds both backends, and each one's matrix
// product equals the product computed here on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, baseUrl } from './chromium.mjs';

/** The worker's weighted checksum of A·B for its fixed inputs, computed independently of the page. */
function expectedChecksum(size) {
  let total = 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      let dot = 0;
      for (let k = 0; k < size; k++) {
        dot += (((i * 7 + k * 3) % 5) - 2) * (((k * 5 + j * 11) % 7) - 3);
      }
      total += dot * (1 + ((31 * i + 17 * j) % 13));
    }
  }
  return total;
}

test('the server sends wasm as application/wasm with cross-origin isolation', async () => {
  const response = await fetch(new URL('pkg/clue_bg.wasm', baseUrl()));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'application/wasm');
  assert.equal(response.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(response.headers.get('cross-origin-embedder-policy'), 'require-corp');
  const page = await fetch(baseUrl());
  assert.match(page.headers.get('content-type'), /^text\/html/);
});

test('the worker loads and both backends multiply correctly', async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(baseUrl());
    await page.waitForSelector('body[data-state]', { timeout: 240_000 });
    const state = await page.getAttribute('body', 'data-state');
    const status = await page.textContent('#status');
    assert.equal(state, 'done', `page state ${state}: ${status}; errors: ${errors.join('; ')}`);

    const expected = expectedChecksum(256);
    for (const backend of ['cpu', 'webgpu']) {
      const row = page.locator(`#backends tr[data-backend="${backend}"]`);
      assert.equal(await row.count(), 1, `no row for the ${backend} backend`);
      const text = await row.textContent();
      assert.equal(await row.getAttribute('data-state'), 'ok', `${backend}: ${text}`);
      assert.equal(Number(await row.getAttribute('data-checksum')), expected, `${backend} checksum`);
    }
    const adapter = await page.textContent('#backends tr[data-backend="webgpu"] td:nth-child(2)');
    assert.ok(adapter.trim().length > 0, 'the WebGPU adapter is named');
    if (process.env.CLUE_SCREENSHOT) await page.screenshot({ path: process.env.CLUE_SCREENSHOT, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
