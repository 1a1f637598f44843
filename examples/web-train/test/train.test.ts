// Training in Chromium gets Node's losses: build the page with Vite, give it the first 128
// Fashion-MNIST training images, serve it with `vite preview` (COOP/COEP from vite.config.ts: WASM
// threads) and without isolation (one thread), open it in Debian's Chromium through
// playwright-core, train 6 steps of 32 at 64×64 (epoch 0's four and two of epoch 1, so the LR
// schedule and the next epoch's shuffle are crossed), and require the page's per-step losses to be
// those of Node's `train()` on the same images, seed and recipe.
//
// Tolerance: none, the losses must be equal as float32 values. Both sides run the same Trainer
// step and the same batches (same pipeline, seeds from (seed, epoch, position)), on tfjs' WASM
// backend with our WASM SIMD training kernels in their relaxed-SIMD build (fused multiply-add:
// Chromium has relaxed SIMD on, this project's Node runs with --experimental-wasm-relaxed-simd);
// Node loads tfjs' SIMD build, the isolated page its threaded SIMD build. Threads split work by
// outputs (XNNPACK's output tiles; our forward kernels' chunks of output rows / channels; our
// backprop kernels stay on the calling thread), not one sum across threads, so each value is summed
// in the same order whichever thread computes it: measured bit-identical with 1 and 2 threads. A
// difference here means the page computes something else.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { relaxedSimdEnabled } from '@mnv3/layers';
import '@mnv3/layers/train';
import { getRecipe } from '@mnv3/train-recipes';
import { loadRecipeData, train } from '@mnv3/train-recipes/node';
import { freePort } from '@mnv3/test-utils';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const CHROMIUM = process.env.MNV3_CHROMIUM ?? '/usr/bin/chromium';
const IMAGES = 128;
const BATCH = 32;
const STEPS = 6;

interface PageState {
  status: 'idle' | 'running' | 'done' | 'error';
  error?: string;
  info?: { backend: string; simd: boolean; threads: boolean; threadsCount: number; kernelThreads: number; crossOriginIsolated: boolean };
  steps: { epoch: number; step: number; loss: number; lr: number; n: number }[];
  images?: number;
}

/** `dist` served by plain node:http with no COOP/COEP: the page is not cross-origin isolated. */
async function serveWithoutIsolation(): Promise<{ server: Server; url: string }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createHttpServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = path === '/' ? '/index.html' : path;
    let body: Buffer;
    try {
      body = readFileSync(join(DIST, file));
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` };
}

let server: PreviewServer;
let browser: Browser;
let url: string;
let dir: string;
/** Node's train() losses on the same images: epoch 0 then epoch 1. */
let nodeLosses: number[];

/** Opens the page with `query`, waits for its run to end, returns its state (and any page errors). */
async function trainInPage(at: string, query: string): Promise<{ state: PageState; errors: string[]; rows: number[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${at}?autorun=1&${query}`);
    await page.waitForFunction(() => ['done', 'error'].includes((window as unknown as { __mnv3?: PageState }).__mnv3?.status ?? ''), null, { timeout: 240_000, polling: 200 });
    const state = await page.evaluate(() => (window as unknown as { __mnv3: PageState }).__mnv3);
    const rows = await page.$$eval('[data-testid="steps"] tr', (trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.loss)));
    return { state, errors, rows };
  } finally {
    await page.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mnv3-web-train-'));
  const recipe = getRecipe('mobilenet_v3_small-fashion-mnist', { batchSize: BATCH, epochs: 2 });
  const reference = async () => {
    const data = await loadRecipeData(recipe, { limit: { train: IMAGES, val: BATCH, test: 0 } });
    const r = await train(recipe, { data, outputDir: join(dir, 'node'), workers: 1, seed: 0 });
    return [...r.stepLosses.get(0)!, ...r.stepLosses.get(1)!];
  };
  // The page's build and Node's run side by side; then the images, written into the build.
  const [, losses] = await Promise.all([run(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: ROOT }), reference()]);
  nodeLosses = losses;
  await run(process.execPath, [join(ROOT, 'scripts/fashion-subset.mjs'), String(IMAGES), join(DIST, 'fashion-mnist.bin')], { cwd: ROOT });
  server = await preview({ root: ROOT, logLevel: 'warn', preview: { host: '127.0.0.1', port: await freePort(), strictPort: true, open: false } });
  url = server.resolvedUrls!.local[0]!;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('training in Chromium', () => {
  it('Node trains: finite losses that go down (the reference is not degenerate), on the relaxed-SIMD kernels', () => {
    expect(relaxedSimdEnabled()).toBe(true);
    expect(nodeLosses).toHaveLength(8);
    expect(nodeLosses.every(Number.isFinite)).toBe(true);
    expect(new Set(nodeLosses).size).toBe(8);
    expect(nodeLosses[7]!).toBeLessThan(nodeLosses[0]!);
  });

  it("trains in a cross-origin isolated page (WASM, SIMD, 2 threads, Web Worker batches) with Node's losses, step for step", async () => {
    const { state, errors, rows } = await trainInPage(url, `steps=${STEPS}&batch=${BATCH}&seed=0&threads=2&workers=1`);
    expect(state.error).toBeUndefined();
    expect(state.status).toBe('done');
    expect(errors).toEqual([]);
    expect(state.info).toMatchObject({ backend: 'wasm', simd: true, threads: true, threadsCount: 2, kernelThreads: 2, crossOriginIsolated: true });
    expect(state.images).toBe(IMAGES);
    expect(state.steps.map((s) => [s.epoch, s.step, s.n])).toEqual([[0, 0, 32], [0, 1, 32], [0, 2, 32], [0, 3, 32], [1, 0, 32], [1, 1, 32]]);
    // Epoch 1 runs at StepLR's next rate (gamma 0.7606 every epoch).
    expect(state.steps[4]!.lr).toBeCloseTo(0.008 * 0.7606, 12);
    const losses = state.steps.map((s) => s.loss);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses).toEqual(nodeLosses.slice(0, STEPS));
    expect(rows).toEqual(losses);
  });

  it("trains single-threaded, with the same losses, when the page is not cross-origin isolated (and with 2 loader workers)", async () => {
    const plain = await serveWithoutIsolation();
    try {
      const { state, errors } = await trainInPage(plain.url, `steps=${STEPS}&batch=${BATCH}&seed=0&threads=2&workers=2`);
      expect(state.error).toBeUndefined();
      expect(errors).toEqual([]);
      expect(state.info).toMatchObject({ backend: 'wasm', simd: true, threads: false, threadsCount: 1, crossOriginIsolated: false });
      expect(state.steps.map((s) => s.loss)).toEqual(nodeLosses.slice(0, STEPS));
    } finally {
      await new Promise((ok) => plain.server.close(ok));
    }
  });

  it('stops on a non-finite loss, naming the epoch, step and learning rate', async () => {
    const { state } = await trainInPage(url, 'steps=8&opt=sgd&momentum=0&lr=1000000');
    expect(state.status).toBe('error');
    expect(state.error).toMatch(/^loss is (NaN|-?Infinity) at epoch 0, step \d+ \(learning rate 1000000\); training stopped$/);
    expect(state.steps.every((s) => Number.isFinite(s.loss))).toBe(true);
  });
});
