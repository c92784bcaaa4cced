// BERTScore on the evaluation page: three MeQSum demo samples on the CPU, BERTScore from the
// all-MiniLM-L6-v2 served with the page at layer 6, score as the native `clue eval
// --bert-model` does. ROUGE, n and their intervals agree to 1e-9; BERTScore and the scores
// composed from it to 1e-6, because the wasm and native encoders round differently (about
// 1e-7). Before the run, the BERTScore settings are checked: defaults, and a layer out of range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, checkAgainstNative, evaluateOn, launch, nativeResults } from './chromium.mjs';

const MINILM = join(ROOT, 'models', 'all-MiniLM-L6-v2');

/** BERTScore metrics, and the task scores and levels that average them, are close to 1e-6. */
const tolerance = (task, metric) => (metric.startsWith('bertscore') || metric === 'score' || task === null ? 1e-6 : 1e-9);

/** The BERTScore settings before any run: the layer follows the model until typed, and is checked. */
async function checkSettings(page) {
  assert.equal(await page.inputValue('#bert-model'), 'none');
  assert.equal(await page.isDisabled('#bert-layer'), true, 'no layer without a BERT model');

  await page.selectOption('#bert-model', 'served');
  assert.equal(await page.inputValue('#bert-layer'), '6', 'MiniLM reads layer 6');
  await page.fill('#bert-layer', '49');
  await page.keyboard.press('Tab');
  assert.match(await page.textContent('#bert-layer-error'), /whole number from 0 to 48/);
  assert.equal(await page.getAttribute('#bert-layer', 'aria-invalid'), 'true');
  await page.fill('#bert-layer', '6');
  assert.equal(await page.textContent('#bert-layer-error'), '');

  await page.selectOption('#bert-model', 'files');
  assert.equal(await page.isVisible('#bert-files'), true);
  assert.equal(await page.inputValue('#bert-layer'), '', 'an unknown local model has no default layer');
  // vocab.txt stands for tokenizer.json, and tokenizer_config.json may be left out (SciBERT has none).
  await page.setInputFiles('#bert-files', ['config.json', 'vocab.txt'].map((name) => join(MINILM, name)));
  assert.equal(await page.textContent('#bert-files-status'), 'Missing model.safetensors (or pytorch_model.bin).');
  await page.fill('#bert-name', 'scibert_scivocab_uncased');
  assert.equal(await page.inputValue('#bert-layer'), '8', 'SciBERT reads layer 8');
  await page.fill('#bert-name', 'Bio_ClinicalBERT');
  assert.equal(await page.inputValue('#bert-layer'), '9', 'Bio_ClinicalBERT reads layer 9');
  await page.selectOption('#bert-model', 'none');
  assert.equal(await page.isVisible('#bert-files'), false);
}

test('BERTScore on the page equals the native clue eval --bert-model', { timeout: 1_800_000 }, async () => {
  const run = { tasks: ['meqsum'], limit: 3, backend: 'cpu', bert: { model: 'models/all-MiniLM-L6-v2', layer: 6 } };
  const dir = mkdtempSync(join(tmpdir(), 'clue-eval-bertscore-'));
  const native = nativeResults(run, dir);
  const nativeSamples = readFileSync(join(dir, 'samples.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  assert.ok('bertscore_f1' in native.tasks.meqsum.metrics, 'native computed BERTScore');

  const browser = await launch();
  try {
    const page = await evaluateOn(browser, run, checkSettings);
    const { results, samples } = await checkAgainstNative(page, native, run, tolerance);
    assert.deepEqual(results.run.bertscore, native.run.bertscore);

    for (const want of nativeSamples) {
      const got = samples.find((s) => s.task === want.task && s.id === want.id);
      for (const metric of ['bertscore_p', 'bertscore_r', 'bertscore_f1']) {
        assert.ok(Math.abs(got.metrics[metric] - want.metrics[metric]) <= 1e-6,
          `samples.jsonl ${want.id} ${metric}: ${got.metrics[metric]}, native ${want.metrics[metric]}`);
      }
    }

    assert.equal(await page.textContent('#eval-bertscore-note p'), 'BERTScore: all-MiniLM-L6-v2, layer 6.');
    assert.equal(await page.textContent('#eval-bertscore-note li[data-task="meqsum"]'),
      "MeQSum: its BERTScore numbers are not comparable with the paper's (paper-2024-06 profile: SciBERT layer 8).");
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
