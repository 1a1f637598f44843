// Soak runs: one pipeline call repeated in one process, with the live tfjs tensors and the process's
// RSS sampled along the way. CI runs 100 calls per model; MNV3_SOAK_CALLS=1000 (`pnpm soak`) the
// long run.
import v8 from 'node:v8';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export const SOAK_CALLS = Number(process.env.MNV3_SOAK_CALLS ?? 100);

v8.setFlagsFromString('--expose_gc');
// A full collection before each RSS sample, so the curve shows what is retained, not garbage.
const gc = vm.runInNewContext('gc') as () => void;

export interface SoakReport {
  calls: number;
  /** Live tfjs tensors after the warm-up and at the end. */
  tensors: [number, number];
  /** RSS in MiB after the warm-up, then at every tenth of the run. */
  rssMiB: number[];
  /**
   * (median of the last three samples − median of the first three) / the latter: robust to the
   * ±5% swings of RSS as V8 and the allocator return and retake pages, while a leak still shows.
   */
  growth: number;
  /** Slowest call, ms. */
  worstMs: number;
}

const rssMiB = () => {
  gc();
  return process.memoryUsage.rss() / 2 ** 20;
};

/**
 * Runs `call` `warmup` times, then `calls` times, sampling tensors and RSS. The warm-up covers
 * one-time growth: V8 tiers hot wasm and JS up to optimised code after some tens of calls (about
 * 12 MiB once, seen around call 25 when JPEG decoding is in the loop).
 */
export async function soak(call: (i: number) => Promise<unknown>, calls = SOAK_CALLS, warmup = 40): Promise<SoakReport> {
  // Warm-up samples RSS at the run's cadence too, so that the full collections themselves (which
  // shrink and regrow V8's heap) are part of the state the baseline is taken in.
  const every = Math.max(1, Math.floor(calls / 10));
  for (let i = 0; i < warmup; i++) {
    await call(i);
    if ((i + 1) % every === 0) rssMiB();
  }
  const tensors0 = tf.memory().numTensors;
  const rss = [rssMiB()];
  let worstMs = 0;
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await call(i);
    worstMs = Math.max(worstMs, performance.now() - t0);
    if ((i + 1) % every === 0) rss.push(rssMiB());
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const first = median(rss.slice(0, 3));
  const growth = (median(rss.slice(-3)) - first) / first;
  return { calls, tensors: [tensors0, tf.memory().numTensors], rssMiB: rss.map((v) => Math.round(v)), growth, worstMs: Math.round(worstMs) };
}

/**
 * Calls `call` on every input one after another, then on all of them at once; returns both result
 * lists (for the test to compare) and the live tensor count before and after the overlapping run.
 */
export async function overlappingAndSequential<I, T>(call: (input: I) => Promise<T>, inputs: readonly I[]): Promise<{ sequential: T[]; overlapping: T[]; tensors: [number, number] }> {
  const sequential: T[] = [];
  for (const x of inputs) sequential.push(await call(x));
  const before = tf.memory().numTensors;
  const overlapping = await Promise.all(inputs.map((x) => call(x)));
  return { sequential, overlapping, tensors: [before, tf.memory().numTensors] };
}

/** A loaded pipeline: only what the load tests need of it. */
export interface Disposable {
  dispose(): void;
}

export interface UnderLoadOptions<M extends Disposable, R> {
  load: () => Promise<M>;
  /** One pipeline call on one input. */
  call: (model: M, input: string) => Promise<R>;
  /** Image files, used in turn. */
  inputs: readonly string[];
  /** Asserts that an overlapping call's result equals the sequential one's. */
  expectSame: (overlapping: R, sequential: R) => void;
  /** Upper bound of one call, ms, for the tests' time limits. */
  msPerCall: number;
}

/**
 * The load tests every pipeline gets: SOAK_CALLS calls with tensors and RSS flat, 20 overlapping
 * calls equal to sequential ones with no tensor left behind, and a model disposed while a call is
 * in flight failing that call and later ones with an error that says so.
 */
export function describeUnderLoad<M extends Disposable, R>(name: string, o: UnderLoadOptions<M, R>): void {
  describe(`${name} under load`, () => {
    let model: M;
    beforeAll(async () => {
      model = await o.load();
    });
    afterAll(() => model?.dispose());

    it(`${SOAK_CALLS} calls: tensors and RSS flat`, async () => {
      const report = await soak((i) => o.call(model, o.inputs[i % o.inputs.length]!));
      console.log(`${name} soak ${JSON.stringify(report)}`);
      expect(report.tensors[1]).toBe(report.tensors[0]);
      expect(report.growth).toBeLessThan(0.05);
    }, 60_000 + (SOAK_CALLS + 40) * o.msPerCall);

    it('20 overlapping calls give what sequential calls give', async () => {
      const inputs = Array.from({ length: 20 }, (_, i) => o.inputs[i % o.inputs.length]!);
      const { sequential, overlapping, tensors } = await overlappingAndSequential((x: string) => o.call(model, x), inputs);
      expect(tensors[1]).toBe(tensors[0]);
      for (const [i, r] of overlapping.entries()) o.expectSame(r, sequential[i]!);
    }, 60_000 + 40 * o.msPerCall);

    it('a model disposed while a call is in flight says so', async () => {
      const other = await o.load();
      const inFlight = o.call(other, o.inputs[0]!); // reading the file is async: dispose() lands first
      other.dispose();
      await expect(inFlight).rejects.toThrow(/was disposed: load the model again to use it/);
      await expect(o.call(other, o.inputs[0]!)).rejects.toThrow(/was disposed/);
    }, 60_000);
  });
}
