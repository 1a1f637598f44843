/* global window -- page functions below run in the browser */
// Headless Debian Chromium through playwright-core (never a downloaded browser), and the page's
// build. Shared by the driver (run.mjs) and the tests.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = fileURLToPath(new URL('.', import.meta.url));
export const DIST = fileURLToPath(new URL('./dist/', import.meta.url));
/** ONNX Runtime Web's dist/ (served at /ort/). */
export const ORT_DIR = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/wasm'));
/** Where the Node pipeline caches the TorchVision exports. */
export const CACHE_DIR = join(HERE, '../../.cache/bench');
export const CHROMIUM = process.env.MNV3_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Builds the page with Vite into dist/. */
export async function buildPage() {
  const { build } = await import('vite');
  await build({ configFile: fileURLToPath(new URL('./vite.config.ts', import.meta.url)), logLevel: 'warn' });
}

/** Headless Chromium; `extraArgs` after the usual ones (e.g. `--js-flags=…`). */
export async function launch(extraArgs = []) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** Opens `url`, waits for the page's `window.__mnv3.status` to leave `running`, returns the state. */
export async function runPage(browser, url, timeoutMs = 600_000) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('crash', () => errors.push('page crashed'));
  page.on('response', (r) => {
    if (r.status() >= 400 && process.env.MNV3_VERBOSE) console.error(`[page] HTTP ${r.status()} ${r.url()}`);
  });
  page.on('console', (m) => {
    if (process.env.MNV3_VERBOSE) console.error(`[page] ${m.text()}`);
  });
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.__mnv3 && window.__mnv3.status !== 'running', null, { timeout: timeoutMs, polling: 500 });
    const state = await page.evaluate(() => window.__mnv3);
    if (state.status === 'error') throw new Error(`page failed: ${state.error}${errors.length ? `\n${errors.join('\n')}` : ''}`);
    return state;
  } finally {
    await page.close();
  }
}
