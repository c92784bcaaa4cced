// A BERT model chosen by URL: the Rescore form's picker refuses a URL that is none, and a
// directory without config.json fails naming both; then it takes
// https://models.example/tiny-bert/, a made-up origin that Playwright answers from the tiny BERT
// fixture with what SciBERT's hub directory has (config.json, vocab.txt, pytorch_model.bin; 404
// for the rest, so the worker's fallbacks are taken), cross-origin headers included since the
// page is cross-origin isolated. MeQSum predictions rescored with it at layer 2 on the CPU equal
// `clue score --bert-model tests/golden/bertscore/tiny-bert` (whose safetensors hold the same
// weights): BERTScore to 1e-4, everything else, the model's name included, exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MEQSUM, ROOT, assertMatchesNative, launch, openPage, writeMeqsumPredictions } from './chromium.mjs';

const TINY_BERT = 'tests/golden/bertscore/tiny-bert';
const ORIGIN = 'https://models.example';
/** The fixture's files the made-up server has under /tiny-bert/; it answers 404 for any other. */
const SERVED = ['config.json', 'vocab.txt', 'pytorch_model.bin'];

/**
 * Answers every request to `directory`'s origin in `context` with the tiny BERT fixture's files
 * that SERVED names, below `directory`, and 404 for the rest (cross-origin headers included:
 * the page is cross-origin isolated). Returns the log of requests, each "`shown(url)` status".
 */
async function serveTinyBert(context, directory, shown) {
  const requests = [];
  await context.route(`${new URL(directory).origin}/**`, (route) => {
    const url = route.request().url();
    const file = url.startsWith(directory) ? url.slice(directory.length) : null;
    const found = SERVED.includes(file);
    requests.push(`${shown(url)} ${found ? 200 : 404}`);
    return route.fulfill({
      status: found ? 200 : 404,
      headers: { 'Access-Control-Allow-Origin': '*', 'Cross-Origin-Resource-Policy': 'cross-origin' },
      body: found ? readFileSync(join(ROOT, TINY_BERT, file)) : 'not found',
    });
  });
  return requests;
}

test('a BERT model from a URL, with vocab.txt and pytorch_model.bin only, rescores as clue score --bert-model', { timeout: 300_000 }, async () => {
  const browser = await launch();
  try {
    const predictions = await writeMeqsumPredictions(browser, mkdtempSync(join(tmpdir(), 'clue-bert-url-')));
    const native = JSON.parse(execFileSync(process.env.CLUE_BIN, [
      'score', '--data', MEQSUM, '--predictions', predictions,
      '--bert-model', TINY_BERT, '--bert-layer', '2', '--backend', 'cpu', '--json',
    ], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    assert.equal(native.bertscore.model, 'tiny-bert');

    const context = await browser.newContext();
    /** Each request to the made-up origin, as "path status", in the order answered. */
    const requests = await serveTinyBert(context, `${ORIGIN}/tiny-bert/`, (url) => new URL(url).pathname);
    const page = await openPage(context);
    await page.selectOption('#eval-backend', 'cpu');
    await page.setInputFiles('#rescore-data', MEQSUM);
    await page.setInputFiles('#rescore-predictions', predictions);

    await page.selectOption('#rescore-bert-model', 'url');
    assert.equal(await page.isVisible('#rescore-bert-url'), true);
    assert.equal(await page.isVisible('#rescore-bert-files'), false);
    await page.fill('#rescore-bert-url', 'not a url');
    await page.keyboard.press('Tab');
    assert.match(await page.textContent('#rescore-bert-url-error'), /http\(s\) URL of the model's directory/);
    assert.equal(await page.getAttribute('#rescore-bert-url', 'aria-invalid'), 'true');
    await page.fill('#rescore-bert-url', `${ORIGIN}/empty/`);
    assert.equal(await page.textContent('#rescore-bert-url-error'), '');
    assert.equal(await page.inputValue('#rescore-bert-layer'), '', 'an unknown model has no default layer');
    await page.fill('#rescore-bert-layer', '2');
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="error"]', { timeout: 60_000 });
    assert.equal(await page.textContent('#rescore-status'), `BERTScore: ${ORIGIN}/empty/ has no config.json (HTTP 404)`);
    requests.length = 0;

    // Without its trailing slash: the picker adds it.
    await page.fill('#rescore-bert-url', `${ORIGIN}/tiny-bert`);
    assert.equal(await page.getAttribute('#rescore-bert-name', 'placeholder'), 'tiny-bert', 'the URL names the model');
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="done"], #rescore[data-state="error"]', { timeout: 240_000 });
    assert.equal(await page.getAttribute('#rescore', 'data-state'), 'done', await page.textContent('#rescore-status'));
    assert.deepEqual(requests, [
      'config.json 200', 'tokenizer.json 404', 'vocab.txt 200', 'tokenizer_config.json 404',
      'model.safetensors 404', 'pytorch_model.bin 200',
    ].map((line) => `/tiny-bert/${line}`));

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#rescore-export')]);
    const results = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assertMatchesNative(results, native);
    assert.equal(await page.textContent('#rescore-bertscore-note p'), 'BERTScore: tiny-bert, layer 2.');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

// The models CLUE prescribes, one choice away: SciBERT from its Hugging Face directory. The hub
// is played here by the tiny BERT fixture (this machine reaches no hub), so its 2 layers make the
// suggested layer 8 fail by name first; at layer 2 the run records the hub's model name, and a
// second rescoring fetches nothing (the worker's model cache).
test('SciBERT from the Hugging Face hub, one choice away, fetched once', { timeout: 300_000 }, async () => {
  const browser = await launch();
  try {
    const predictions = await writeMeqsumPredictions(browser, mkdtempSync(join(tmpdir(), 'clue-bert-hub-')));
    const context = await browser.newContext();
    const hub = 'https://huggingface.co/allenai/scibert_scivocab_uncased/resolve/main/';
    const requests = await serveTinyBert(context, hub, (url) => url);
    const page = await openPage(context);
    await page.selectOption('#eval-backend', 'cpu');
    await page.setInputFiles('#rescore-data', MEQSUM);
    await page.setInputFiles('#rescore-predictions', predictions);
    await page.selectOption('#rescore-bert-model', 'scibert');
    assert.equal(await page.inputValue('#rescore-bert-layer'), '8', 'SciBERT reads layer 8');
    assert.equal(await page.isVisible('#rescore-bert-url'), false, 'no URL to type');
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="done"], #rescore[data-state="error"]', { timeout: 240_000 });
    assert.equal(await page.getAttribute('#rescore', 'data-state'), 'error');
    assert.match(await page.textContent('#rescore-status'), /`layer` 8 is past the model's 2 layers/);
    assert.ok(requests.length > 0 && requests.every((line) => line.startsWith(hub)), requests.join('\n'));

    await page.fill('#rescore-bert-layer', '2');
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="done"], #rescore[data-state="error"]', { timeout: 240_000 });
    assert.equal(await page.getAttribute('#rescore', 'data-state'), 'done', await page.textContent('#rescore-status'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#rescore-export')]);
    const results = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert.equal(results.bertscore.model, 'scibert_scivocab_uncased');
    assert.equal(results.bertscore.layer, 2);
    assert.deepEqual(results.bertscore.comparable_tasks, [], 'layer 2 is not the paper\'s');
    assert.match(await page.textContent('#rescore-bertscore-note'), /MeQSum: its BERTScore numbers are not comparable/);
    const fetched = requests.length;
    await page.click('#rescore-run');
    await page.waitForSelector('#rescore[data-state="done"]', { timeout: 240_000 });
    assert.equal(requests.length, fetched, `fetched again: ${requests.slice(fetched).join(', ')}`);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
