// Accessibility: axe-core (npm, pinned) finds no serious or critical WCAG 2 A/AA violation on
// the page as it opens, after a Rescore, with an evaluation's results and samples shown, and in
// the embed view after its run. The contexts bypass the page's Content-Security-Policy only so
// that axe's script can be injected; nothing else differs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, baseUrl, launch, openPage, setUpEvaluation, waitForRunEnd } from './chromium.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The serious and critical violations axe finds in `where` (a page or a frame), as readable lines. */
async function violations(where) {
  await where.evaluate(AXE);
  const found = await where.evaluate(async () => (await window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  })).violations);
  return found
    .filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
}

test('no serious or critical accessibility violation on the page, Rescore, results and embed views', { timeout: 900_000 }, async () => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await openPage(context);
    const report = {};
    report.page = await violations(page);

    const dir = mkdtempSync(join(tmpdir(), 'clue-a11y-'));
    const data = join(ROOT, 'src/data/demo/mednli.jsonl');
    const ids = readFileSync(data, 'utf8').trim().split('\n').map((line) => JSON.parse(line).pairID);
    const predictions = join(dir, 'predictions.jsonl');
    writeFileSync(predictions, ids.map((id) => JSON.stringify({ id, prediction: 'neutral' })).join('\n') + '\n');
    await page.setInputFiles('#rescore-data', data);
    await page.setInputFiles('#rescore-predictions', predictions);
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="done"]', { timeout: 60_000 });
    report.rescore = await violations(page);

    await setUpEvaluation(page, { tasks: ['mednli'], limit: 1, backend: 'cpu' });
    await page.click('#run-eval');
    await waitForRunEnd(page, 600_000);
    await page.click('#samples tr.sample button.expand');
    await page.click('#copy-embed');
    report.results = await violations(page);

    const embed = await context.newPage();
    await embed.goto(new URL('embed.html?tasks=mednli&limit=1&backend=cpu&autostart=1', baseUrl()).href);
    await embed.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 600_000 });
    assert.equal(await embed.getAttribute('body', 'data-state'), 'done', await embed.textContent('#embed-status'));
    report.embed = await violations(embed);

    for (const [view, lines] of Object.entries(report)) console.log(`${view}: ${lines.length ? lines.join('\n  ') : 'no serious or critical violation'}`);
    assert.deepEqual(report, { page: [], rescore: [], results: [], embed: [] });
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
