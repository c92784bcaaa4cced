// Launches Debian's headless Chromium for the page tests. The flags are the ones that work on
// these GPU-less machines: --enable-unsafe-webgpu exposes WebGPU through SwiftShader (a CPU
// adapter); the background-networking flags stop Chromium from calling out through the closed
// network; --no-sandbox because CI runs as root.
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
