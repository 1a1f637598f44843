// `mnv3 bench` run as users run it: its JSON line, and which build of our kernels it timed. mnv3
// turns relaxed SIMD on in Node 20 before the kernels load (bin.ts); MNV3_RELAXED_SIMD=0 keeps the
// plain-SIMD build.
import { afterEach, describe, expect, it } from 'vitest';
import { mnv3 } from '@mnv3/test-utils';

const ARGS = ['bench', '--model', 'mobilenet_v3_small', '--input', '1,3,64,64', '--runs', '2', '--warmup', '0', '--json'];

afterEach(() => {
  delete process.env.MNV3_RELAXED_SIMD;
});

async function benchJson(): Promise<Record<string, unknown>> {
  const r = await mnv3(ARGS);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('mnv3 bench', () => {
  it('times the model on wasm with the relaxed-SIMD kernels, which mnv3 turns on in Node 20', async () => {
    const r = await benchJson();
    expect(r).toMatchObject({ model: 'mobilenet_v3_small', input: [1, 3, 64, 64], backend: 'wasm', relaxed_simd: true, runs: 2 });
    expect(r.median_ms).toBeGreaterThan(0);
  });

  it('keeps the plain-SIMD kernels with MNV3_RELAXED_SIMD=0', async () => {
    process.env.MNV3_RELAXED_SIMD = '0';
    expect(await benchJson()).toMatchObject({ backend: 'wasm', relaxed_simd: false });
  });
});
