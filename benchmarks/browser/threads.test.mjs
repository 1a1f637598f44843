// setupBackend({ threads }) in Chromium: the count asked for is reached in a cross-origin isolated
// page, our fused kernels really split their work over that many threads (the pool's workers ran
// chunks), the page still works (one thread) without isolation, and the outputs agree across
// thread counts and with the plain tfjs path. No timing here: see run.mjs for that.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_DIR, DIST, ORT_DIR, buildPage, launch, runPage } from './chromium.mjs';
import { startServer } from './server.mjs';
import { fixtureDir } from '@mnv3/test-utils';

const MODEL = 'mobilenet_v3_small';

/** max |a − b| / max |a|: the same computation, summed in another order across threads. */
function relDiff(a, b) {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return diff / scale;
}

// Fails loudly without Chromium: .ci/run installs Debian's package.
describe('tfjs-wasm threads in Chromium', () => {
  let server;
  let browser;
  const check = (query) => runPage(browser, `${server.url}/?check=${MODEL}&${query}`, 170_000);
  // Chunks go to whichever thread claims them first: on a loaded machine the calling thread can
  // claim every chunk before the worker wakes. Up to three runs, until the worker has run some.
  const checkUntilWorkerRan = async (query) => {
    let r;
    for (let i = 0; i < 3; i++) {
      r = await check(query);
      if (r.kernelStats.chunks[1] > 0) break;
    }
    return r;
  };

  beforeAll(async () => {
    await buildPage();
    server = await startServer({ distDir: DIST, cacheDir: CACHE_DIR, ortDir: ORT_DIR });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('reaches the requested threads in an isolated page, with the same outputs as one thread', async () => {
    const one = await check('threads=1');
    const two = await check('threads=2');
    expect(one.info.crossOriginIsolated).toBe(true);
    expect(one.info.threadsCount).toBe(1);
    expect(two.info.crossOriginIsolated).toBe(true);
    expect(two.info.threads).toBe(true);
    expect(two.info.threadsCount).toBe(2);
    // One pool thread is a running pthread (the calling thread is the other).
    expect(two.pool.running).toBe(1);
    // hardwareConcurrency is presented doubled only during the backend's init.
    expect(two.info.hardwareConcurrency).toBe(one.info.hardwareConcurrency);
    expect(two.info.fastKernels).toBe(true);
    expect(two.output.length).toBe(1000);
    expect(relDiff(one.output, two.output)).toBeLessThanOrEqual(1e-5);
  });

  it('splits our kernels over the threads, with the outputs of one thread and of the plain tfjs path', async () => {
    const one = await check('threads=1');
    const two = await checkUntilWorkerRan('threads=2');
    // One thread: no pool, the calling thread runs everything.
    expect(one.info.kernelThreads).toBe(1);
    expect(one.kernelStats).toEqual({ threads: 1, chunks: [], sleeping: 0 });
    // Two threads: the caller and one pool worker, and the worker did run chunks of kernel work
    // (chunks go to whichever thread claims them first, so only "some" can be asserted).
    expect(two.info.kernelThreads).toBe(2);
    expect(two.kernelStats.threads).toBe(2);
    expect(two.kernelStats.chunks.length).toBe(2);
    expect(two.kernelStats.chunks[0]).toBeGreaterThan(0);
    expect(two.kernelStats.chunks[1]).toBeGreaterThan(0);
    for (const r of [one, two]) {
      expect(r.output.length).toBe(1000);
      expect(r.plainOutput.length).toBe(1000);
      expect(relDiff(r.plainOutput, r.output)).toBeLessThanOrEqual(1e-5);
    }
    expect(relDiff(one.output, two.output)).toBeLessThanOrEqual(1e-5);
    expect(relDiff(one.plainOutput, two.output)).toBeLessThanOrEqual(1e-5);
  });

  it('sizes the kernels\' pool by kernelThreads, apart from tfjs\' own threads', async () => {
    const one = await check('threads=1');
    const own = await checkUntilWorkerRan('threads=1&kernelThreads=2');
    expect(own.info.threadsCount).toBe(1);
    expect(own.info.kernelThreads).toBe(2);
    expect(own.kernelStats.chunks[1]).toBeGreaterThan(0);
    const off = await check('threads=2&kernelThreads=1');
    expect(off.info.threadsCount).toBe(2);
    expect(off.info.kernelThreads).toBe(1);
    expect(off.kernelStats.chunks).toEqual([]);
    expect(relDiff(one.output, own.output)).toBeLessThanOrEqual(1e-5);
    expect(relDiff(one.output, off.output)).toBeLessThanOrEqual(1e-5);
  });

  it('still runs, on one thread, without cross-origin isolation', async () => {
    const one = await check('threads=1');
    const plain = await check('threads=2&coi=0');
    expect(plain.info.crossOriginIsolated).toBe(false);
    expect(plain.info.threads).toBe(false);
    expect(plain.info.threadsCount).toBe(1);
    expect(plain.info.kernelThreads).toBe(1);
    expect(relDiff(one.output, plain.output)).toBeLessThanOrEqual(1e-5);
  });

  // The int8 engine in Chromium, on the oracle's QAT checkpoint of Small (tools/reference/
  // suite_quantize.py, made by this project's globalSetup): its relaxed-SIMD build loads (Chromium
  // validates relaxed SIMD), its logits equal torch's qnnpack logits for the same batch bit for bit,
  // and split over two threads they are the same bits as on one.
  it("runs the int8 engine on its relaxed-SIMD build, with torch's qnnpack logits, on 1 and 2 threads", async () => {
    const fixtures = await startServer({ distDir: DIST, cacheDir: fixtureDir('quantize'), ortDir: ORT_DIR });
    try {
      const int8 = (query) => runPage(browser, `${fixtures.url}/?check=${MODEL}@int8&fixture=qat_${MODEL}&${query}`, 170_000);
      const one = await int8('threads=1');
      let two;
      for (let i = 0; i < 3; i++) {
        two = await int8('threads=2');
        if (two.kernelStats.chunks[1] > 0) break;
      }
      for (const r of [one, two]) {
        expect(r.int8.relaxedBuild).toBe(true);
        expect(r.int8.output.length).toBe(8 * 1000);
        expect(r.int8.output).toEqual(r.int8.torchOutput);
        // The oracle's model gives varied logits (a degenerate one would match anything).
        expect(new Set(r.int8.output).size).toBeGreaterThan(100);
      }
      expect(one.kernelStats.chunks).toEqual([]);
      expect(two.info.kernelThreads).toBe(2);
      expect(two.kernelStats.chunks[1]).toBeGreaterThan(0);
    } finally {
      await fixtures.close();
    }
  });
});
