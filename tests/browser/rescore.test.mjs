// Rescore mode: predictions for the demo MedNLI file are scored on the page without a model, and
// the results equal the native `clue score --json` on the same two files; a predictions file
// with a broken line is refused with its line named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, launch, openPage } from './chromium.mjs';

const DATA = join(ROOT, 'src/data/demo/mednli.jsonl');
const LABELS = ['entailment', 'contradiction', 'neutral'];

test('rescoring on the page equals clue score, and a broken predictions file is refused', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clue-rescore-'));
  const ids = readFileSync(DATA, 'utf8').trim().split('\n').map((line) => JSON.parse(line).pairID);
  const predictions = join(dir, 'predictions.jsonl');
  writeFileSync(predictions, ids.map((id, i) => JSON.stringify({ id, prediction: `The answer is ${LABELS[i % 3]}.` })).join('\n') + '\n');
  const broken = join(dir, 'broken.jsonl');
  writeFileSync(broken, `${JSON.stringify({ id: ids[0], prediction: 'neutral' })}\n{"id": "${ids[1]}"}\n`);
  const native = JSON.parse(execFileSync(process.env.CLUE_BIN, ['score', '--data', DATA, '--predictions', predictions, '--json'], { cwd: ROOT, encoding: 'utf8' }));

  const browser = await launch();
  try {
    const page = await openPage(await browser.newContext());
    await page.setInputFiles('#rescore-data', DATA);
    await page.setInputFiles('#rescore-predictions', predictions);
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="done"], #rescore[data-state="error"]', { timeout: 60_000 });
    assert.equal(await page.getAttribute('#rescore', 'data-state'), 'done', await page.textContent('#rescore-status'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#rescore-export')]);
    const results = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert.deepEqual(results, native);
    const shown = await page.getAttribute('#rescore-task-scores tr[data-task="mednli"] [data-metric="accuracy"]', 'data-value');
    assert.equal(Number(shown), native.tasks.mednli.metrics.accuracy);
    assert.match(await page.textContent('#rescore-notes'), /few-shot rows/);

    await page.setInputFiles('#rescore-predictions', broken);
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="error"]', { timeout: 60_000 });
    const message = await page.textContent('#rescore-status');
    assert.match(message, /broken\.jsonl, line 2: missing field "prediction"/, message);
    assert.equal(await page.isHidden('#rescore-results'), true);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
