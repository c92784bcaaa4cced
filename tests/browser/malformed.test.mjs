// A data file is checked the moment it is chosen or dropped on its task: a malformed one is
// refused next to the file with the file, line and field named, and a run with it is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, openPage } from './chromium.mjs';

const PAIR = (id, label) => JSON.stringify({
  sentence1: 'The fictional patient reports a mild headache since this morning.',
  sentence2: 'The patient has a headache.',
  ...(label ? { gold_label: label } : {}),
  pairID: id,
});

test('a malformed MedNLI file is refused beside it, naming the file, the line and the field', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clue-malformed-'));
  const bad = join(dir, 'mednli.jsonl');
  const malformed = [PAIR('p1', 'entailment'), PAIR('p2', null), PAIR('p3', 'neutral')].join('\n') + '\n';
  writeFileSync(bad, malformed);
  const good = join(dir, 'mednli-fixed.jsonl');
  writeFileSync(good, [PAIR('p1', 'entailment'), PAIR('p2', 'contradiction'), PAIR('p3', 'neutral')].join('\n') + '\n');

  const browser = await launch();
  try {
    const page = await openPage(await browser.newContext());

    await page.setInputFiles('#file-mednli', bad);
    await page.waitForSelector('#task-row-mednli[data-state="error"]', { timeout: 60_000 });
    const message = await page.textContent('#file-status-mednli');
    assert.match(message, /mednli\.jsonl/, message);
    assert.match(message, /line 2/, message);
    assert.match(message, /gold_label/, message);
    assert.equal(await page.isChecked('#demo-mednli'), false, 'a chosen file replaces the demo set');

    // A run with the refused file does not start; the page says which task holds it back.
    await page.click('#run-eval');
    await page.waitForSelector('#evaluation[data-state="error"]');
    assert.match(await page.textContent('#eval-status'), /MedNLI/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'file-mednli');

    // The corrected file is accepted with its example count.
    await page.setInputFiles('#file-mednli', good);
    await page.waitForSelector('#task-row-mednli[data-state="ok"]', { timeout: 60_000 });
    assert.match(await page.textContent('#file-status-mednli'), /3 examples/);

    // Dropped on the task's row (its drop zone), the malformed file is refused the same way.
    const transfer = await page.evaluateHandle((text) => {
      const data = new DataTransfer();
      data.items.add(new File([text], 'dropped-mednli.jsonl', { type: 'application/jsonl' }));
      return data;
    }, malformed);
    await page.dispatchEvent('#task-row-mednli', 'drop', { dataTransfer: transfer });
    await page.waitForSelector('#task-row-mednli[data-state="error"]', { timeout: 60_000 });
    const dropped = await page.textContent('#file-status-mednli');
    assert.match(dropped, /dropped-mednli\.jsonl.*line 2.*gold_label/, dropped);

    // Back to the demo set: the task is runnable again.
    await page.check('#demo-mednli');
    assert.equal(await page.getAttribute('#task-row-mednli', 'data-state'), 'demo');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
