// Rescore mode: predictions for the demo MedNLI file are scored on the page without a model, and
// the results equal the native `clue score --json` on the same two files; a predictions file
// with a broken line is refused with its line named. Predictions for the demo MeQSum file are
// rescored with BERTScore from the all-MiniLM-L6-v2 served with the page (layer 6, CPU) and
// equal `clue score --bert-model`: BERTScore and the scores that average it to 1e-4 (the wasm
// and native encoders round differently), everything else exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BERT_TOLERANCE, MEQSUM, ROOT, assertMatchesNative, launch, openPage, writeMeqsumPredictions } from './chromium.mjs';

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

test('rescoring MeQSum with BERTScore on the page equals clue score --bert-model', { timeout: 600_000 }, async () => {
  const browser = await launch();
  try {
    const predictions = await writeMeqsumPredictions(browser, mkdtempSync(join(tmpdir(), 'clue-rescore-bert-')));
    const native = JSON.parse(execFileSync(process.env.CLUE_BIN, [
      'score', '--data', MEQSUM, '--predictions', predictions,
      '--bert-model', 'models/all-MiniLM-L6-v2', '--bert-layer', '6', '--backend', 'cpu', '--json',
    ], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    assert.equal(typeof native.tasks.meqsum.metrics.bertscore_f1, 'number', 'native computed BERTScore');

    const page = await openPage(await browser.newContext());
    assert.equal(await page.inputValue('#rescore-bert-model'), 'none');
    assert.equal(await page.isDisabled('#rescore-bert-layer'), true, 'no layer without a BERT model');
    await page.selectOption('#eval-backend', 'cpu');
    await page.setInputFiles('#rescore-data', MEQSUM);
    await page.setInputFiles('#rescore-predictions', predictions);
    await page.selectOption('#rescore-bert-model', 'served');
    assert.equal(await page.inputValue('#rescore-bert-layer'), '6', 'MiniLM reads layer 6');
    // Every line the status shows, to check that loading and computing were announced.
    await page.evaluate(() => {
      window.statusLines = [];
      const status = document.getElementById('rescore-status');
      new MutationObserver(() => window.statusLines.push(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true });
    });
    const started = Date.now();
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="done"], #rescore[data-state="error"]', { timeout: 540_000 });
    assert.equal(await page.getAttribute('#rescore', 'data-state'), 'done', await page.textContent('#rescore-status'));
    const lines = await page.evaluate(() => window.statusLines);
    assert.ok(lines.some((l) => l.startsWith('Loading BERT model all-MiniLM-L6-v2 (layer 6) on the CPU')), lines.join(' | '));
    assert.ok(lines.some((l) => l.startsWith('Computing BERTScore with all-MiniLM-L6-v2, layer 6, on the CPU')), lines.join(' | '));

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#rescore-export')]);
    const results = JSON.parse(readFileSync(await download.path(), 'utf8'));
    const worst = assertMatchesNative(results, native);
    console.log(`MeQSum, ${native.tasks.meqsum.n} predictions rescored with BERTScore in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
      `largest BERTScore difference from native ${worst.toExponential(2)}`);
    const shown = await page.getAttribute('#rescore-task-scores tr[data-task="meqsum"] [data-metric="bertscore_f1"]', 'data-value');
    assert.ok(Math.abs(Number(shown) - native.tasks.meqsum.metrics.bertscore_f1) <= BERT_TOLERANCE, `shown BERTScore F1 ${shown}`);

    assert.equal(await page.textContent('#rescore-bertscore-note p'), 'BERTScore: all-MiniLM-L6-v2, layer 6.');
    assert.equal(await page.textContent('#rescore-bertscore-note li[data-task="meqsum"]'),
      "MeQSum: its BERTScore numbers are not comparable with the paper's (paper-2024-06 profile: SciBERT layer 8).");
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

// UMLS-F1 from the bridge: a run's samples against two data files at once, with the bridge's
// output for them (tests/golden/umls, written by umls/test_bridge.py on its synthetic knowledge
// base), rescored on the page equal `clue score --umls` with the same files: every number, the
// Levels and the bridge's fingerprint. A bridge file whose row was made from another answer is
// refused naming the request.
const UMLS = join(ROOT, 'tests/golden/umls');

test('UMLS-F1 from the bridge file on the page equals clue score --umls', { timeout: 300_000 }, async () => {
  const data = [join(UMLS, 'probsum.csv'), join(UMLS, 'medisumqa.json')];
  const samples = join(UMLS, 'samples.jsonl');
  const umls = join(UMLS, 'umls.jsonl');
  const native = JSON.parse(execFileSync(process.env.CLUE_BIN, [
    'score', '--data', `probsum=${data[0]}`, '--data', `medisumqa=${data[1]}`,
    '--predictions', samples, '--umls', umls, '--json',
  ], { cwd: ROOT, encoding: 'utf8' }));
  assert.equal(typeof native.tasks.probsum.metrics.umls_f1, 'number', 'native computed UMLS-F1');
  assert.equal(typeof native.tasks.medisumqa.metrics.umls_f1, 'number', 'native computed UMLS-F1');
  const dir = mkdtempSync(join(tmpdir(), 'clue-rescore-umls-'));
  const rows = readFileSync(umls, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const tampered = join(dir, 'umls.jsonl');
  rows[1].prediction_sha256 = '0'.repeat(64);
  writeFileSync(tampered, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');

  const browser = await launch();
  try {
    const page = await openPage(await browser.newContext());
    await page.setInputFiles('#rescore-data', data);
    await page.setInputFiles('#rescore-predictions', samples);
    await page.setInputFiles('#rescore-umls', umls);
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="done"], #rescore[data-state="error"]', { timeout: 60_000 });
    assert.equal(await page.getAttribute('#rescore', 'data-state'), 'done', await page.textContent('#rescore-status'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#rescore-export')]);
    const results = JSON.parse(readFileSync(await download.path(), 'utf8'));
    // The page knows a file by its name only; natively the path given is recorded.
    assert.equal(native.umls.file, umls);
    assert.deepEqual(results, { ...native, umls: { ...native.umls, file: 'umls.jsonl' } });
    for (const task of ['probsum', 'medisumqa']) {
      const shown = await page.getAttribute(`#rescore-task-scores tr[data-task="${task}"] [data-metric="umls_f1"]`, 'data-value');
      assert.ok(Math.abs(Number(shown) - native.tasks[task].metrics.umls_f1) < 1e-9, `${task}: ${shown}`);
    }
    assert.match(await page.textContent('#rescore-umls-note'), /^UMLS-F1: \d+ samples from umls\.jsonl \(clue-umls 1/);

    await page.setInputFiles('#rescore-umls', tampered);
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="error"]', { timeout: 60_000 });
    const message = await page.textContent('#rescore-status');
    assert.match(message, new RegExp(`umls\\.jsonl, line 2: ${rows[1].task} request "${rows[1].id}": the bridge read another answer`), message);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

// A whole run with its Levels: the six tasks' data files at once (the demo sets, the bridge's
// Problem Summary and MeDiSumQA files), the run's samples (tests/golden/umls/run-samples.jsonl,
// kept by tests/umls.rs), the bridge's file and BERTScore from the all-MiniLM-L6-v2 served with
// the page (layer 6, CPU). Level 1 and Level 2 are computed, as `clue score` computes them:
// UMLS-F1 and ROUGE exactly, what averages BERTScore to 1e-4 (the wasm and native encoders round
// differently).
test('a whole run with UMLS-F1 and BERTScore gets both Levels on the page, as clue score', { timeout: 600_000 }, async () => {
  const demo = (name) => join(ROOT, 'src/data/demo', name);
  const files = {
    mednli: demo('mednli.jsonl'), meqsum: demo('meqsum.xlsx'), probsum: join(UMLS, 'probsum.csv'),
    longhealth: demo('longhealth.json'), medisumqa: join(UMLS, 'medisumqa.json'), medisumcode: demo('medisumcode.jsonl'),
  };
  const samples = join(UMLS, 'run-samples.jsonl');
  const umls = join(UMLS, 'umls.jsonl');
  const native = JSON.parse(execFileSync(process.env.CLUE_BIN, [
    'score', ...Object.entries(files).flatMap(([task, file]) => ['--data', `${task}=${file}`]),
    '--predictions', samples, '--umls', umls,
    '--bert-model', 'models/all-MiniLM-L6-v2', '--bert-layer', '6', '--backend', 'cpu', '--json',
  ], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  assert.equal(typeof native.levels.level1.score, 'number', 'native computed Level 1');
  assert.equal(typeof native.levels.level2.score, 'number', 'native computed Level 2');

  const browser = await launch();
  try {
    const page = await openPage(await browser.newContext());
    await page.selectOption('#eval-backend', 'cpu');
    await page.setInputFiles('#rescore-data', Object.values(files));
    await page.setInputFiles('#rescore-predictions', samples);
    await page.setInputFiles('#rescore-umls', umls);
    await page.selectOption('#rescore-bert-model', 'served');
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="done"], #rescore[data-state="error"]', { timeout: 540_000 });
    assert.equal(await page.getAttribute('#rescore', 'data-state'), 'done', await page.textContent('#rescore-status'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#rescore-export')]);
    const results = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assertMatchesNative(results, { ...native, umls: { ...native.umls, file: 'umls.jsonl' } });
    for (const level of ['level1', 'level2']) {
      const shown = Number(await page.getAttribute(`#rescore-level-scores tr[data-level="${level}"] td[data-value]`, 'data-value'));
      assert.ok(Math.abs(shown - native.levels[level].score) <= BERT_TOLERANCE, `${level}: ${shown}, native ${native.levels[level].score}`);
    }
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
