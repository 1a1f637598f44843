// torch.nn.utils.clip_grad_norm_ (torch 1.13, train.py's --clip-grad-norm) against clipGradNorm:
// the total norm and every scaled gradient, clipping and not.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { clipGradNorm } from '../src/index.js';
import { f32, get, scaledError, tensorOf, trainFixture, trainFixtures } from './fixtures.js';

const worst = { norm: 0, grad: 0 };
afterAll(() => console.log(`clip_grad_norm_: worst total-norm error ${worst.norm.toExponential(2)} relative, worst gradient error ${worst.grad.toExponential(2)} of scale`));

describe.each(trainFixtures('clip_'))('%s against clip_grad_norm_', (name) => {
  const f = trainFixture(name);
  const { maxNorm, shapes } = f.config as { maxNorm: number; shapes: number[][] };
  it('gives torch’s total norm and gradients, as a Map and as a NamedTensorMap', async () => {
    const before = tf.memory().numTensors;
    const vars = shapes.map((s) => tf.tidy(() => tf.variable(tf.zeros(s))));
    const grads = shapes.map((_, i) => tensorOf(get(f, `g.${i}`)));
    const byVariable = clipGradNorm(new Map(vars.map((v, i) => [v, grads[i]!])), maxNorm);
    const byName = clipGradNorm(Object.fromEntries(grads.map((g, i) => [`p${i}`, g])), maxNorm);
    const total = f32(f, 'total_norm')[0]!;
    for (const { totalNorm } of [byVariable, byName]) {
      const err = Math.abs((await totalNorm.data())[0]! - total) / total;
      worst.norm = Math.max(worst.norm, err);
      expect(err).toBeLessThanOrEqual(1e-6);
    }
    for (let i = 0; i < shapes.length; i++) {
      const want = f32(f, `clipped.${i}`);
      for (const got of [byVariable.grads.get(vars[i]!)!, byName.grads[`p${i}`]!]) {
        const err = scaledError(await got.data(), want);
        worst.grad = Math.max(worst.grad, err);
        expect(err, `${name} p${i}`).toBeLessThanOrEqual(1e-6);
      }
    }
    // The inputs are the caller's and stay; everything returned is new.
    expect(grads.every((g) => !g.isDisposed)).toBe(true);
    tf.dispose([...vars, ...grads, byVariable.totalNorm, byName.totalNorm, ...byVariable.grads.values(), ...Object.values(byName.grads)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('clipGradNorm input', () => {
  it('names a bad maxNorm and takes no gradients (total 0)', async () => {
    const g = tf.ones([2]);
    for (const bad of [0, -1, Number.NaN, Infinity]) expect(() => clipGradNorm({ g }, bad)).toThrow(/maxNorm \(--clip-grad-norm\) must be a finite number > 0, got/);
    const none = clipGradNorm(new Map(), 1);
    expect(none.grads.size).toBe(0);
    expect((await none.totalNorm.data())[0]).toBe(0);
    tf.dispose([g, none.totalNorm]);
  });
});
