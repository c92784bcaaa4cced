// A worker that dies mid-run loses nothing that finished. Two faults, each while a run is going:
// first a WebAssembly trap inside the evaluation loop (the worker names it and asks to be
// replaced), then an exception nothing in the worker catches (the page sees the worker's error
// event). Each time the page names what happened, restarts the worker and offers Resume; the
// resumed run takes every finished sample from the completion cache and generates only the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, runProgress, runUntilFirstSample, waitForRunEnd } from './chromium.mjs';

const LIMIT = 4;
const doneRows = (page) => page.$$eval('#samples tr.sample', (rows) => rows.map((r) => r.dataset.id));
const cachedRows = (page) => page.$$eval('#samples tr.sample', (rows) => rows.filter((r) => r.dataset.cached === 'true').map((r) => r.dataset.id));

/** The evaluator worker now running (the page's only worker; a replaced one is gone). */
async function evaluator(page) {
  await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 240_000 });
  const workers = page.workers();
  assert.ok(workers.length >= 1, 'no worker');
  return workers[workers.length - 1];
}

/** Waits for the fault to stop the run, checks what the page says, and returns the finished ids. */
async function stoppedBy(page, pattern) {
  await page.waitForSelector('#evaluation[data-state="error"]', { timeout: 600_000 });
  const status = await page.textContent('#eval-status');
  assert.match(status, pattern);
  assert.match(status, /The evaluator was restarted; the \d+ samples that finished are kept — press Resume/);
  assert.equal(await page.isHidden('#resume-offer'), false, 'no offer to resume');
  // The new worker checks the backends again before Resume can be pressed.
  await page.waitForSelector('#resume-run:not([disabled])', { timeout: 240_000 });
  assert.equal(await page.getAttribute('body', 'data-state'), 'done');
  assert.equal(await page.$$eval('#backends tbody tr', (rows) => rows.length), 2, 'the backend table lists each backend once');
  return doneRows(page);
}

test('a trap or an uncaught error in the worker: named, worker restarted, Resume loses nothing', { timeout: 1_800_000 }, async () => {
  const browser = await launch();
  try {
    const page = await openPage(await browser.newContext());
    await runUntilFirstSample(page, { tasks: ['meqsum'], limit: LIMIT, backend: 'cpu' });

    // 1. A trap inside the loop, as a Rust panic or an out-of-memory abort would raise: the next
    // sample's report throws WebAssembly.RuntimeError where the worker posts it.
    await (await evaluator(page)).evaluate(() => {
      const post = self.postMessage.bind(self);
      self.postMessage = (message, ...rest) => {
        if (message && message.type === 'eval-sample') {
          self.postMessage = post;
          throw new WebAssembly.RuntimeError('unreachable (injected by the test)');
        }
        return post(message, ...rest);
      };
    });
    const first = await stoppedBy(page, /^The evaluation stopped: the evaluator crashed \(WebAssembly trap: unreachable \(injected by the test\)\)\./);
    assert.ok(first.length >= 1 && first.length < LIMIT, `${first.length} samples shown before the trap`);

    await page.click('#resume-run');
    await page.waitForSelector('#evaluation[data-state="running"]', { timeout: 600_000 });
    // The sample whose report trapped had been generated and cached: it comes back too.
    await page.waitForFunction((n) => Number(document.getElementById('eval-progress').dataset.done) > n, first.length, { timeout: 900_000 });
    const resumed = await runProgress(page);
    assert.ok(resumed.cached >= first.length, `cached ${resumed.cached} < ${first.length} finished before the trap`);

    // 2. An exception nothing in the worker catches: the page only sees the worker's error event.
    await (await evaluator(page)).evaluate(() => {
      setTimeout(() => { throw new Error('injected by the test'); }, 0);
    });
    const second = await stoppedBy(page, /^The evaluation stopped: the evaluator stopped on an error nothing caught \(.*injected by the test\)\./);

    await page.click('#resume-run');
    await waitForRunEnd(page, 900_000);
    const end = await runProgress(page);
    assert.equal(end.done, LIMIT);
    assert.equal(end.cached + end.generated, LIMIT);
    assert.ok(end.cached >= second.length, `cached ${end.cached} < ${second.length} finished before the second fault`);
    const cached = new Set(await cachedRows(page));
    for (const id of second) assert.ok(cached.has(id), `${id} finished before the fault and was generated again`);
    console.log(`fault: ${first.length} samples before the trap, ${second.length} before the uncaught error; the last run took ${end.cached} from the cache and generated ${end.generated}`);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
