// Data the user controls. By default an unfinished run keeps no data file's bytes: after a
// reload its IndexedDB entry holds the file's name, size and SHA-256 and none of its text; Resume
// asks for the file again and refuses a different one by its SHA-256. "Keep data files for
// resume" keeps them. "Stored on this device" lists the model, the answers and the run, removes
// one row, and "Remove everything" leaves IndexedDB and the Cache API empty — read here
// directly, not through the page's own code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, openPage, runProgress, setUpEvaluation, waitForRunEnd, waitUntilReady, writeShortMednli } from './chromium.mjs';

/** A MedNLI file of six short pairs (three shots, three evaluated) whose sentences carry `canary`. */
function mednliFile(dir, name, canary) {
  const path = join(dir, name);
  writeShortMednli(path, { count: 6, mark: canary });
  return path;
}

/** Everything in the page's IndexedDB and Cache API, read without the page's code. */
function storage(page) {
  return page.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open('clue-wasm');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const all = (store) => new Promise((resolve, reject) => {
      const request = db.transaction(store, 'readonly').objectStore(store).getAll();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const runs = await all('runs');
    const completions = await all('completions');
    db.close();
    const cached = [];
    for (const name of await caches.keys()) {
      for (const request of await (await caches.open(name)).keys()) cached.push(request.url);
    }
    const text = (value) => JSON.stringify(value, (_, v) => (v instanceof ArrayBuffer || ArrayBuffer.isView(v)
      ? new TextDecoder().decode(v) : v));
    return { runs: runs.map(text), runHasBytes: runs.map((r) => r.datasets.some((d) => 'bytes' in d)), completions: completions.map((c) => c.dataset), cached };
  });
}

const storedRows = (page) => page.$$eval('#stored-table tbody tr[data-kind]', (rows) => rows.map((r) => ({ kind: r.dataset.kind, key: r.dataset.key, text: r.textContent })));

test('a run keeps no data file unless asked; the stored-data panel lists and removes everything', { timeout: 1_800_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clue-stored-'));
  const canary = `CANARY${randomBytes(8).toString('hex')}`;
  const data = mednliFile(dir, 'mednli.jsonl', canary);
  const other = mednliFile(dir, 'mednli-other.jsonl', `${canary}x`);
  const browser = await launch();
  try {
    const page = await openPage(await browser.newContext());
    assert.equal(await page.isChecked('#keep-data'), false, 'not keeping data files is the default');
    await setUpEvaluation(page, { tasks: ['mednli'], limit: 3, backend: 'cpu', data: { mednli: data } });
    await page.click('#run-eval');
    await page.waitForFunction(() => Number(document.getElementById('eval-progress').dataset.done) >= 1, null, { timeout: 600_000 });
    await page.click('#pause-eval');
    await page.waitForSelector('#evaluation[data-state="paused"]', { timeout: 600_000 });
    const finished = (await runProgress(page)).done;

    let stored = await storage(page);
    assert.equal(stored.runs.length, 1);
    assert.deepEqual(stored.runHasBytes, [false], 'the unfinished run holds no file bytes');
    assert.ok(!stored.runs[0].includes(canary), 'the file\'s text is not in the stored run');
    assert.match(stored.runs[0], /"sha256":"[0-9a-f]{64}"/);
    assert.equal(stored.completions.length, finished);

    await page.reload();
    await waitUntilReady(page);
    await page.waitForSelector('#resume-offer:not([hidden])', { timeout: 30_000 });
    assert.match(await page.textContent('#resume-text'), /mednli\.jsonl, not kept/);
    await page.waitForSelector('#stored[data-state="done"]');
    const kinds = (await storedRows(page)).map((r) => r.kind).sort();
    assert.deepEqual(kinds, ['completions', 'model', 'run'], JSON.stringify(await storedRows(page)));

    // Resume asks for the file; a different file is refused by its SHA-256; the same one resumes.
    await page.click('#resume-run');
    await page.waitForFunction(() => /choose it again/.test(document.getElementById('eval-status').textContent));
    assert.equal(await page.getAttribute('#evaluation', 'data-state'), 'idle');
    await page.setInputFiles('#file-mednli', other);
    await page.waitForSelector('#task-row-mednli[data-state="ok"]');
    await page.click('#resume-run');
    await page.waitForFunction(() => /SHA-256/.test(document.getElementById('eval-status').textContent));
    assert.match(await page.textContent('#eval-status'), /mednli-other\.jsonl is not the file this run used \(mednli\.jsonl\)/);
    await page.setInputFiles('#file-mednli', data);
    await page.waitForSelector('#task-row-mednli[data-state="ok"]');
    await page.click('#resume-run');
    await waitForRunEnd(page, 900_000);
    const after = await runProgress(page);
    assert.deepEqual([after.done, after.cached], [3, finished]);

    // Kept when asked: a run on another file, paused, holds that file's bytes.
    await page.check('#keep-data');
    await page.setInputFiles('#file-mednli', other);
    await page.waitForSelector('#task-row-mednli[data-state="ok"]');
    await page.fill('#max-new-tokens', '1');
    await page.click('#run-eval');
    await page.waitForSelector('#evaluation[data-state="running"]', { timeout: 600_000 });
    await page.click('#pause-eval');
    await page.waitForSelector('#evaluation[data-state="paused"]', { timeout: 600_000 });
    stored = await storage(page);
    assert.deepEqual(stored.runHasBytes, [true]);
    assert.ok(stored.runs[0].includes(`${canary}x`), 'a kept file is in the stored run');
    await page.click('#cancel-eval');
    await waitForRunEnd(page, 600_000, 'cancelled');

    // The panel: one row removed, then everything.
    await page.click('#stored-refresh');
    await page.waitForSelector('#stored[data-state="done"]');
    const rows = await storedRows(page);
    const answers = rows.find((r) => r.key === 'mednli:mednli.jsonl');
    assert.match(answers.text, /MedNLI on mednli\.jsonl/);
    await page.click('#stored-table tr[data-key="mednli:mednli.jsonl"] button');
    await page.waitForFunction(() => !document.querySelector('#stored-table tr[data-key="mednli:mednli.jsonl"]') && document.getElementById('stored').dataset.state === 'done');
    assert.deepEqual((await storage(page)).completions.filter((d) => d === 'mednli.jsonl'), [], 'the removed answers are gone from IndexedDB');
    assert.ok((await storage(page)).cached.length > 0, 'the model is still cached');
    await page.click('#stored-remove-all');
    await page.waitForFunction(() => /Removed everything/.test(document.getElementById('stored-status').textContent));
    await page.waitForSelector('#stored[data-state="done"]');
    assert.deepEqual(await storedRows(page), []);
    assert.match(await page.textContent('#stored-table'), /Nothing is stored/);
    stored = await storage(page);
    assert.deepEqual([stored.runs, stored.completions, stored.cached], [[], [], []], 'IndexedDB and the Cache API are empty');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
