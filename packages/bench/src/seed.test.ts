import { describe, expect, it } from 'vitest';
import { mergeReports, type BenchReport, type ModelResult } from './report.js';
import { SEED_CPU_SECONDS, SEED_PAIRS, seedComparisons, seedTable } from './seed.js';
import { BENCH_MODELS } from './models.js';

const stats = (median: number) => ({ runs: 1, median_ms: median, min_ms: median, max_ms: median });

function row(model: string, ours: number, torch?: number): ModelResult {
  return {
    model,
    input: [1, 3, 224, 224],
    threads: 1,
    params: 1,
    macs: 1,
    load_ms: 1,
    wasm_memory_bytes: null,
    ours: stats(ours),
    peers: torch === undefined ? { pytorch: { missing: 'no torch' } } : { pytorch: stats(torch) },
    ratios: {},
  };
}

function report(date: string, runs: number, results: ModelResult[]): BenchReport {
  return { date, machine: { node: 'v20', platform: 'linux', cpus: 2, cpu: 'x' }, backend: 'wasm', runs, warmup: 1, results };
}

describe("the seed's trade-offs", () => {
  it('every model of the seed table and of its pairs is a benchmark model', () => {
    for (const m of Object.keys(SEED_CPU_SECONDS)) expect(BENCH_MODELS, m).toHaveProperty([m]);
    for (const p of SEED_PAIRS) expect(SEED_CPU_SECONDS[p.heavy]! / SEED_CPU_SECONDS[p.light]!).toBeGreaterThan(1);
  });

  it('ratios heavy / light from the seed, from our medians and from PyTorch here, for pairs whose rows exist', () => {
    const r = report('2026-12-05T00:00:00Z', 3, [row('resnet50', 300, 120), row('mobilenet_v3_large', 20, 17), row('fcn_resnet50@520', 5000)]);
    const c = seedComparisons(r);
    expect(c).toHaveLength(1);
    expect(c[0]).toMatchObject({ heavy: 'resnet50', light: 'mobilenet_v3_large' });
    expect(c[0]!.seed).toBeCloseTo(0.2545 / 0.0411, 10);
    expect(c[0]!.mnv3).toBe(15);
    expect(c[0]!.pytorch).toBeCloseTo(120 / 17, 10);
    expect(seedTable(r)).toContain('| resnet50 / mobilenet_v3_large | a replacement for ResNet50 at about 6x the speed | 6.19× | 15.00× | 7.06× |');
    // PyTorch missing on one side: no ratio for it.
    const noTorch = seedComparisons(report('d', 3, [row('deeplabv3_mobilenet_v3_large@520', 100, 90), row('fcn_resnet50@520', 850)]));
    expect(noTorch[0]!.pytorch).toBeNull();
    expect(seedTable(report('d', 3, []))).toBe('');
    // Rows of two runs are not compared.
    const twoRuns = report('d', 3, [{ ...row('resnet50', 300, 120), run: 'a' }, { ...row('mobilenet_v3_large', 20, 17), run: 'b' }]);
    expect(seedComparisons(twoRuns)).toEqual([]);
  });
});

describe('mergeReports', () => {
  it("a partial run replaces its rows, keeps the others with their own date and runs, in the benchmark's order", () => {
    const before = report('2026-11-28T10:00:00Z', 30, [row('mobilenet_v3_large', 20), row('resnet50', 300)]);
    const now = report('2026-12-05T10:00:00Z', 10, [{ ...row('resnet50', 280), date: '2026-12-05T10:00:00Z', runs: 10 }, row('mobilenet_v3_small', 8)]);
    const merged = mergeReports(before, now, ['mobilenet_v3_large', 'mobilenet_v3_small', 'resnet50']);
    expect(merged.results.map((r) => [r.model, r.ours.median_ms, r.date?.slice(0, 10), r.runs])).toEqual([
      ['mobilenet_v3_large', 20, '2026-11-28', 30],
      ['mobilenet_v3_small', 8, undefined, undefined],
      ['resnet50', 280, '2026-12-05', 10],
    ]);
    expect(mergeReports(null, now, []).results).toHaveLength(2);
  });
});
