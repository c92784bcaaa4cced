// Embedding: the full page's "Copy embed code" gives an <iframe> of embed.html with the form's
// settings; a course page on another origin embeds exactly that snippet, the embed runs on its
// own (autostart), and the course page receives its messages — ready, started, progress,
// finished with results equal to the native `clue eval`'s — and never a prompt or an output.
// Both origins are plain static servers (the static site, and the course page's own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertSameResults, launch, nativeResults, openPage, setUpEvaluation, siteDir, startStaticServer } from './chromium.mjs';

test('the embed code runs in a cross-origin iframe and posts its results to the embedding page', { timeout: 900_000 }, async () => {
  const site = await startStaticServer(siteDir());
  const courseDir = mkdtempSync(join(tmpdir(), 'clue-course-'));
  writeFileSync(join(courseDir, 'index.html'), '<!doctype html><title>A course page</title><h1>Week 3: evaluating clinical LLMs</h1>\n');
  const course = await startStaticServer(courseDir);
  const browser = await launch();
  try {
    const run = { tasks: ['mednli'], limit: 1, backend: 'cpu' };
    const native = nativeResults(run);

    const page = await openPage(await browser.newContext(), site.url);
    await setUpEvaluation(page, run);
    await page.click('#copy-embed');
    await page.waitForSelector('#embed-box:not([hidden])');
    const snippet = await page.inputValue('#embed-code');
    assert.match(snippet, /^<iframe src="http:\/\/127\.0\.0\.1:\d+\/embed\.html\?tasks=mednli&amp;limit=1&amp;backend=cpu" title="CLUE evaluation"/);
    await page.close();

    const host = await browser.newPage();
    await host.goto(course.url);
    assert.notEqual(new URL(course.url).origin, new URL(site.url).origin);
    // The teacher's page: the snippet, set to start on its own, and a listener for its messages.
    await host.evaluate((snippet) => {
      window.clueMessages = [];
      window.addEventListener('message', (event) => {
        if (event.data && event.data.source === 'clue-wasm') window.clueMessages.push({ origin: event.origin, ...event.data });
      });
      document.body.insertAdjacentHTML('beforeend', snippet.replace('backend=cpu', 'backend=cpu&amp;autostart=1'));
    }, snippet);
    await host.waitForFunction(() => window.clueMessages.some((m) => ['finished', 'error'].includes(m.type)), null, { timeout: 600_000 });
    const messages = await host.evaluate(() => window.clueMessages);
    const types = messages.map((m) => m.type);
    assert.ok(!types.includes('error'), JSON.stringify(messages.filter((m) => m.type === 'error')));
    assert.deepEqual([types[0], types[1]], ['ready', 'started']);
    assert.ok(types.includes('progress'));
    assert.equal(types.at(-1), 'finished');
    for (const message of messages) {
      assert.equal(message.origin, new URL(site.url).origin);
      assert.equal(message.version, 1);
    }
    const ready = messages[0];
    assert.deepEqual(ready.settings, { model: 'default', tasks: ['mednli'], profile: 'paper-2024-06', limit: 1, backend: 'cpu' });
    const { results } = messages.at(-1);
    assertSameResults(results, native, 'embed results');
    const text = JSON.stringify(messages);
    assert.ok(!/"prompt"|"completion"|"prediction"/.test(text), 'no prompt, output or prediction is posted');

    // The iframe shows the scores and links to the full page.
    const frame = host.frames().find((f) => f.url().includes('embed.html'));
    assert.equal(await frame.getAttribute('body', 'data-state'), 'done');
    assert.equal(await frame.isVisible('#embed-scores'), true);
    assert.equal(await frame.getAttribute('#embed-full', 'href'), new URL('index.html', site.url).href);
  } finally {
    await browser.close();
    await site.close();
    await course.close();
  }
});
