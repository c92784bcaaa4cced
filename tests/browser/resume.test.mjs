// A run survives a tab reload: its inputs stay in IndexedDB, the page offers to resume it, and
// every sample that had finished comes from the completion cache instead of the model. Pause
// holds the run between samples; a finished run reruns entirely from the cache; a tampered
// cache entry is dropped and generated again; a cancelled run is not offered again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, runProgress, runUntilFirstSample, setUpEvaluation, waitForRunEnd, waitUntilReady } from './chromium.mjs';

const LIMIT = 3;
const sampleRows = (page) => page.$$eval('#samples tr.sample', (rows) => rows.map((r) => ({ id: r.dataset.id, cached: r.dataset.cached })));

test('after a reload, Resume finishes the run and takes the finished samples from the cache', { timeout: 1_800_000 }, async () => {
  const browser = await launch();
  try {
    // One context for the whole test: its IndexedDB outlives the reloads.
    const page = await openPage(await browser.newContext());
    await runUntilFirstSample(page, { tasks: ['meqsum'], limit: LIMIT, backend: 'cpu' });

    // Pause takes effect after the current sample; then nothing more finishes.
    await page.click('#pause-eval');
    await page.waitForSelector('#evaluation[data-state="paused"]', { timeout: 600_000 });
    const paused = (await runProgress(page)).done;
    await page.waitForTimeout(2000);
    assert.equal((await runProgress(page)).done, paused, 'no sample finishes while paused');
    const before = await sampleRows(page);
    assert.equal(before.length, paused);
    assert.ok(paused < LIMIT, 'the run was paused before its end');

    await page.reload();
    await waitUntilReady(page);
    await page.waitForSelector('#resume-offer:not([hidden])', { timeout: 30_000 });
    assert.match(await page.textContent('#resume-text'), /MeQSum/);
    await page.click('#resume-run');
    await waitForRunEnd(page, 900_000);

    const after = await runProgress(page);
    assert.equal(after.total, LIMIT);
    assert.equal(after.done, LIMIT);
    assert.ok(after.cached >= before.length, `cached ${after.cached} < ${before.length} finished before the reload`);
    assert.equal(after.cached + after.generated, LIMIT);
    const rows = new Map((await sampleRows(page)).map((r) => [r.id, r.cached]));
    for (const { id } of before) assert.equal(rows.get(id), 'true', `${id} was generated again`);
    console.log(`resume: ${before.length} of ${LIMIT} samples finished before the reload; after it ${after.cached} came from the cache, ${after.generated} were generated`);

    // The same evaluation again recomputes nothing.
    await page.click('#run-eval');
    await waitForRunEnd(page, 300_000);
    const again = await runProgress(page);
    assert.deepEqual([again.cached, again.generated], [LIMIT, 0]);

    // A tampered store heals: an entry whose text is not its ids' and one that is not even a
    // completion are dropped with a warning and generated again; the run does not stop, and
    // the next run takes all from the cache once more.
    const tampered = await page.evaluate(async () => {
      const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open('clue-wasm');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const store = db.transaction('completions', 'readwrite').objectStore('completions');
      const keys = await new Promise((resolve) => { store.getAllKeys().onsuccess = (e) => resolve(e.target.result); });
      const entries = await Promise.all(keys.map((k) => new Promise((resolve) => { store.get(k).onsuccess = (e) => resolve(e.target.result); })));
      entries[0].generated.completion += ' (edited)';
      store.put(entries[0], keys[0]);
      entries[1].generated = { junk: true };
      store.put(entries[1], keys[1]);
      await new Promise((resolve) => { store.transaction.oncomplete = resolve; });
      db.close();
      return keys.length;
    });
    assert.ok(tampered >= 2);
    await page.click('#run-eval');
    await waitForRunEnd(page, 600_000);
    const healed = await runProgress(page);
    assert.deepEqual([healed.cached, healed.generated], [LIMIT - 2, 2]);
    assert.match(await page.textContent('#eval-note'), /dropped from the completion cache, generating it again/);
    await page.click('#run-eval');
    await waitForRunEnd(page, 300_000);
    const rerun = await runProgress(page);
    assert.deepEqual([rerun.cached, rerun.generated], [LIMIT, 0]);

    // A finished run is not offered after a reload; neither is a cancelled one.
    await page.reload();
    await waitUntilReady(page);
    assert.equal(await page.isHidden('#resume-offer'), true, 'a finished run is offered again');
    await setUpEvaluation(page, { tasks: ['meqsum'], limit: LIMIT + 1, backend: 'cpu' });
    await page.click('#run-eval');
    await page.click('#cancel-eval');
    await waitForRunEnd(page, 600_000, 'cancelled');
    assert.ok((await runProgress(page)).generated <= 1, 'cancel stops the run at the next sample');
    await page.reload();
    await waitUntilReady(page);
    assert.equal(await page.isHidden('#resume-offer'), true, 'a cancelled run is offered again');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
