// train.py's --mixup-alpha / --cutmix-alpha: our RandomMixup / RandomCutmix batch steps against
// TorchVision 0.14's (references/classification/transforms.py, run by the oracle with the same
// lambda and box centre): mixed images and soft targets equal bit for bit; the Beta draws' moments.
import { describe, expect, it } from 'vitest';
import { cutmixBatch, cutmixBox, mixBatch, mixedTargets, mixupBatch, sampleBeta } from '../src/index.js';
import { seededRng } from '@mnv3/transforms';
import { f32, get, trainFixture, trainFixtures } from './fixtures.js';

/** NCHW → NHWC. */
function nhwc(x: Float32Array, n: number, c: number, s: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let k = 0; k < n; k++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < s * s; p++) out[(k * s * s + p) * c + ch] = x[(k * c + ch) * s * s + p]!;
  return out;
}

describe.each(trainFixtures('mix_'))('%s against TorchVision', (name) => {
  const f = trainFixture(name);
  const { kind, n, lam, centre } = f.config as { kind: 'mixup' | 'cutmix'; n: number; lam: number; centre: [number, number] | null };
  it('mixes the images and the targets bit for bit', () => {
    const images = nhwc(f32(f, 'batch'), n, 3, 7);
    const labels = Int32Array.from(get(f, 'target').data as BigInt64Array, Number);
    let weight = lam;
    if (kind === 'mixup') mixupBatch(images, n, lam);
    else weight = cutmixBatch(images, n, 7, cutmixBox(lam, centre![0], centre![1], 7, 7));
    expect(images).toEqual(nhwc(f32(f, 'out'), n, 3, 7));
    expect(mixedTargets(labels, weight, 4)).toEqual(f32(f, 'soft'));
  });
});

describe('the draws', () => {
  it.each([0.2, 1, 2.5])('sampleBeta(%s): Beta(α, α) moments over 20,000 draws, values in [0, 1]', (alpha) => {
    const rng = seededRng(11);
    const xs = Array.from({ length: 20_000 }, () => sampleBeta(alpha, rng));
    expect(xs.every((x) => x >= 0 && x <= 1)).toBe(true);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(variance / (1 / (4 * (2 * alpha + 1))) - 1)).toBeLessThan(0.05);
    expect(() => sampleBeta(0, rng)).toThrow(/alpha must be a finite number > 0, got 0/);
  });

  it('mixBatch: nothing without alphas; with both, mixup or cutmix per batch, the same for the same seed', () => {
    const make = () => Float32Array.from({ length: 4 * 8 * 8 * 3 }, (_, i) => Math.sin(i));
    const plain = make();
    expect(mixBatch({}, plain, 4, 8, 1)).toBeUndefined();
    expect(mixBatch({ mixupAlpha: 0, cutmixAlpha: 0 }, plain, 4, 8, 1)).toBeUndefined();
    expect(plain).toEqual(make());
    const orig = make();
    const kinds = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const a = make();
      const b = make();
      const la = mixBatch({ mixupAlpha: 0.2, cutmixAlpha: 1 }, a, 4, 8, seed)!;
      expect(mixBatch({ mixupAlpha: 0.2, cutmixAlpha: 1 }, b, 4, 8, seed)).toBe(la);
      expect(a).toEqual(b);
      // Cutmix leaves pixels outside its box as they were; mixup changes every one (unless λ rounds to 1).
      const unchanged = a.filter((v, i) => v === orig[i]!).length;
      kinds.add(unchanged > 0 && unchanged < a.length ? 'cutmix' : unchanged === 0 ? 'mixup' : 'none');
    }
    expect([...kinds].filter((k) => k !== 'none').sort()).toEqual(['cutmix', 'mixup']);
  });
});
