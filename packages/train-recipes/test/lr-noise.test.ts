// timm's LR noise: our torch.Generator port against torch's own draws, and LRNoise around StepLR
// against timm's _add_noise computed with torch's generator by the oracle.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { LRNoise, SGD, StepLR, TorchGenerator } from '../src/index.js';
import { f32, f64, relError, trainFixture, trainFixtures } from './fixtures.js';

describe('TorchGenerator against torch.Generator', () => {
  const f = trainFixture('generator');
  const seeds = (f.config as { seeds: number[] }).seeds;
  it.each(seeds)('seed %d: randn(1) ×9, rand(1) ×9, randn(7) then randn(5) bit for bit', (seed) => {
    const s = BigInt(seed);
    let g = new TorchGenerator(s);
    const randn = Array.from({ length: 9 }, () => g.randn(1)[0]!);
    expect(randn).toEqual(Array.from(f32(f, `randn1.${seed}`)));
    g = new TorchGenerator(s);
    expect(Array.from({ length: 9 }, () => g.rand(1)[0]!)).toEqual(Array.from(f32(f, `rand1.${seed}`)));
    g = new TorchGenerator(s);
    expect([...g.randn(7), ...g.randn(5)]).toEqual(Array.from(f32(f, `randn7_5.${seed}`)));
  });
});

describe.each(trainFixtures('noise_'))('%s: timm noise on StepLR', (name) => {
  const f = trainFixture(name);
  const c = f.config as { step: { step_size: number; gamma: number }; noise: { range_t: number | [number, number]; type: 'normal' | 'uniform'; pct: number; seed: number }; steps: number };
  it("gives the oracle's lr sequence (timm's formula, torch's generator)", () => {
    const v = tf.variable(tf.zeros([1]));
    const opt = new SGD([v], { lr: 0.064 });
    const sched = new LRNoise(new StepLR(opt, { stepSize: c.step.step_size, gamma: c.step.gamma }), {
      noiseRangeT: c.noise.range_t,
      noiseType: c.noise.type,
      noisePct: c.noise.pct,
      noiseSeed: c.noise.seed,
    });
    const seq = [opt.paramGroups[0]!.lr];
    for (let t = 1; t <= c.steps; t++) {
      sched.step();
      seq.push(opt.paramGroups[0]!.lr);
      if (sched.isApplyNoise(t)) expect(sched.calculateNoise(t), `noise at epoch ${t}`).toBe(f64(f, 'noise')[t]);
      else expect(f64(f, 'noise')[t], `no noise at epoch ${t}`).toBe(0);
    }
    expect(relError(seq, f64(f, 'lr'))).toBeLessThanOrEqual(1e-15);
    v.dispose();
  });
});

describe('LRNoise properties', () => {
  it('keeps every normal draw inside ±noisePct, centred, and scales the noiseless lr', () => {
    const v = tf.variable(tf.zeros([1]));
    const opt = new SGD([v], { lr: 1 });
    const base = new StepLR(opt, { stepSize: 1000, gamma: 0.5 });
    const sched = new LRNoise(base, { noiseRangeT: 0, noisePct: 0.3 });
    const noises: number[] = [];
    for (let t = 1; t <= 2000; t++) {
      sched.step();
      const n = opt.paramGroups[0]!.lr / sched.getCleanLr()[0]! - 1;
      noises.push(n);
      expect(Math.abs(n)).toBeLessThan(0.3 + 1e-12);
    }
    // noise never compounds: after 2000 noisy epochs the wrapped StepLR is at exactly 1·0.5²
    expect(sched.getCleanLr()[0]).toBe(0.25);
    const mean = noises.reduce((a, b) => a + b, 0) / noises.length;
    // a normal truncated to ±0.3 has standard deviation 0.171; its mean is 0
    const sd = Math.sqrt(noises.reduce((a, b) => a + (b - mean) ** 2, 0) / noises.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(sd).toBeGreaterThan(0.15);
    expect(sd).toBeLessThan(0.19);
    v.dispose();
  });

  it('rejects bad options with the valid values', () => {
    const v = tf.variable(tf.zeros([1]));
    const base = new StepLR(new SGD([v], { lr: 1 }), { stepSize: 2 });
    expect(() => new LRNoise(base, { noiseRangeT: 1, noiseType: 'gaussian' as never })).toThrow(/noiseType must be one of 'normal', 'uniform', got "gaussian"/);
    expect(() => new LRNoise(base, { noiseRangeT: [5, 2] })).toThrow(/noiseRangeT/);
    expect(() => new LRNoise(base, { noiseRangeT: 1, noisePct: 0 })).toThrow(/noisePct must be a finite number > 0/);
    expect(() => new LRNoise(undefined as never, { noiseRangeT: 1 })).toThrow(/needs a scheduler to wrap/);
    expect(() => new TorchGenerator(1).randn(16)).toThrow(/\[0, 16\)/);
    v.dispose();
  });
});
