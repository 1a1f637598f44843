// F.cross_entropy (torch 1.13) against ours: loss and gradient w.r.t. the logits, index and
// probability targets, label smoothing, ignore_index.
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers gradients only on request (the full @tensorflow/tfjs package does it on import).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { afterAll, describe, expect, it } from 'vitest';
import { crossEntropy } from '../src/index.js';
import { f32, get, scaledError, tensorOf, trainFixture, trainFixtures } from './fixtures.js';

const worst = { loss: 0, grad: 0 };
afterAll(() => console.log(`cross-entropy: worst loss error ${worst.loss.toExponential(2)} relative, worst gradient error ${worst.grad.toExponential(2)} of scale`));

describe.each(trainFixtures('ce_'))('%s against F.cross_entropy', (name) => {
  const f = trainFixture(name);
  const ls = (f.config as { labelSmoothing: number }).labelSmoothing;
  it('gives torch’s loss and gradient', async () => {
    const before = tf.memory().numTensors;
    const logits = tensorOf(get(f, 'logits'));
    const target = tensorOf(get(f, 'target'));
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => crossEntropy(x, target, { labelSmoothing: ls }))(logits);
    const loss = (await value.data())[0]!;
    const e = f32(f, 'loss')[0]!;
    worst.loss = Math.max(worst.loss, Math.abs(loss - e) / Math.abs(e));
    expect(Math.abs(loss - e) / Math.abs(e)).toBeLessThanOrEqual(1e-6);
    const err = scaledError((await grad.data()) as Float32Array, f32(f, 'grad'));
    worst.grad = Math.max(worst.grad, err);
    expect(err).toBeLessThanOrEqual(1e-6);
    tf.dispose([logits, target, value, grad]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('crossEntropy memory', () => {
  it('leaves no tensor behind, with or without a gradient', () => {
    const logits = tf.randomNormal([3, 5]);
    const target = tf.tensor1d([0, 4, -100], 'int32');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      crossEntropy(logits, target, { labelSmoothing: 0.1 }).dispose();
      tf.grad((x: tf.Tensor) => crossEntropy(x, target, { labelSmoothing: 0.1 }))(logits).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, target]);
  });
});

describe('crossEntropy input checks', () => {
  it('names the problem', () => {
    const logits = tf.zeros([2, 3]);
    expect(() => crossEntropy(logits, tf.tensor1d([0, 1], 'int32'), { labelSmoothing: 1.5 })).toThrow(/labelSmoothing must be a number in \[0, 1\], got 1.5/);
    expect(() => crossEntropy(logits, tf.tensor1d([0, 1], 'float32'))).toThrow(/class-index targets must be int32/);
    expect(() => crossEntropy(logits, tf.tensor1d([0, 1, 2], 'int32'))).toThrow(/target has 3 entries, logits 2 rows/);
    expect(() => crossEntropy(tf.zeros([2]), tf.tensor1d([0, 1], 'int32'))).toThrow(/logits must be a float32 tensor \[N, C\]/);
    expect(() => crossEntropy(logits, tf.zeros([2, 4]))).toThrow(/probability targets have shape \[2, 4\], logits \[2, 3\]/);
    logits.dispose();
  });
});
