// Launches Debian's headless Chromium for the page tests, and the steps the Evaluate tests
// share. The flags are the ones that work on these GPU-less machines: --enable-unsafe-webgpu
// exposes WebGPU through SwiftShader (a CPU adapter); the background-networking flags stop
// Chromium from calling out through the closed network; --no-sandbox because CI runs as root.
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
  });
}

/** The page's URL, given by scripts/test after it starts `clue serve --port 0`. */
export function baseUrl() {
  const url = process.env.CLUE_URL;
  if (!url) throw new Error('CLUE_URL is not set: run the browser tests through scripts/test');
  return url;
}

/** The repository root: the native `clue` runs there, and screenshots go under it. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const TASKS = ['mednli', 'meqsum', 'probsum', 'longhealth', 'medisumqa', 'medisumcode'];

/**
 * A new page in `context`, at the page's URL once the worker has loaded and checked the
 * backends; page errors are collected in `page.errors`.
 */
export async function openPage(context) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(baseUrl());
  await waitUntilReady(page);
  return page;
}

/** Waits until the worker has checked the backends (after a load or a reload). */
export async function waitUntilReady(page) {
  await page.waitForSelector('body[data-state]', { timeout: 240_000 });
  const state = await page.getAttribute('body', 'data-state');
  if (state !== 'done') throw new Error(`the page did not start: ${await page.textContent('#status')}`);
  await page.waitForSelector('#run-eval:not([disabled])', { timeout: 60_000 });
}

/** Fills the Evaluate form: the demo sets of `tasks` only, `limit` samples each, on `backend`. */
export async function setUpEvaluation(page, { tasks, limit, backend }) {
  for (const task of TASKS) await page.setChecked(`#task-${task}`, tasks.includes(task));
  await page.fill('#limit', String(limit));
  await page.selectOption('#eval-backend', backend);
}

/** Waits for the run to end and fails with the page's status unless it ended `expected`. */
export async function waitForRunEnd(page, timeout, expected = 'done') {
  const ended = ['done', 'error', 'cancelled'].map((s) => `#evaluation[data-state="${s}"]`).join(', ');
  try {
    await page.waitForSelector(ended, { timeout });
  } catch (e) {
    throw new Error(`the run did not end in ${timeout / 1000} s: ${await page.textContent('#eval-status')}`, { cause: e });
  }
  const state = await page.getAttribute('#evaluation', 'data-state');
  if (state !== expected) throw new Error(`the run ended ${state}: ${await page.textContent('#eval-status')}`);
}

/** The run's counts from the progress bar's data attributes. */
export async function runProgress(page) {
  const data = await page.$eval('#eval-progress', (bar) => ({ ...bar.dataset }));
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Number(value)]));
}
