// MobileNetV3-Small in train mode against torch autograd (oracle suite "grad", model_*): seeded
// weights with random BatchNorm statistics, dropout 0, one forward of a mean cross-entropy loss on
// seeded labels: logits, loss, every parameter's gradient and the running statistics after, on the
// fast path (our WASM kernels) and the plain one (tfjs ops). Then the state dict round trip: an
// SGD step, eval(), and torch loads what we save and gets our eval outputs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { readNpy, toFloat32, writeNpy, writeSafetensors } from '@mnv3/io';
import { ORACLE_PYTHON, REPO_ROOT, assertScaledClose, compareClose, fixtureTensor, ints, listFixtures, loadFixture, nchwToNhwc } from '@mnv3/test-utils';
import '@mnv3/layers/train';
import { setKernelMode } from '@mnv3/layers';
import { mobilenetV3Small } from '../src/index.js';

afterEach(() => setKernelMode('fast'));

/** torch's `F.cross_entropy(logits, labels)` (mean over the batch). */
function crossEntropy(logits: tf.Tensor2D, labels: number[]): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.tensor1d(labels, 'int32'), logits.shape[1])), 1))) as tf.Scalar);
}

/** max |a − e| / max |e| over a tensor: the relative error these tests report and bound. */
function relErr(actual: Float32Array, expected: Float32Array): number {
  const r = compareClose(actual, expected, { atol: 0, rtol: 0 });
  return r.maxAbsExpected > 0 ? r.maxAbsDiff / r.maxAbsExpected : r.maxAbsDiff;
}

describe('MobileNetV3-Small in train mode equals torch: loss, every gradient, running statistics', () => {
  const names = listFixtures('grad', 'model_');
  for (const mode of ['fast', 'plain'] as const) {
    it.each(names)(`%s (${mode})`, async (name) => {
      setKernelMode(mode);
      const fx = loadFixture('grad', name);
      const numClasses = fx.config.numClasses as number;
      const model = mobilenetV3Small({ numClasses, dropout: 0 });
      model.loadStateDict(fx.stateDict);
      const before = tf.memory().numTensors;
      model.train();
      const xt = fixtureTensor(fx, 'x');
      const { data, shape } = nchwToNhwc(toFloat32(xt), xt.shape);
      const x = tf.tensor4d(data, shape);
      const labels = ints(fx, 'labels');
      let logits: tf.Tensor2D | null = null;
      const params = model.namedParameters();
      const { value, grads } = tf.variableGrads(() => {
        const y = model.forward(x);
        logits = tf.keep(y);
        return crossEntropy(y, labels);
      }, params.map(([, v]) => v));
      assertScaledClose((await logits!.data()) as Float32Array, fixtureTensor(fx, 'logits'), 1e-5, { what: 'logits' });
      expect((await value.data())[0]).toBeCloseTo(toFloat32(fixtureTensor(fx, 'loss'))[0]!, 5);
      let worst = { key: '', err: 0 };
      expect(params.length).toBe([...fx.tensors.keys()].filter((k) => k.startsWith('grad.')).length);
      const pairs = await Promise.all(params.map(async ([key, v]) => ({ key, actual: (await grads[v.name]!.data()) as Float32Array, expected: toFloat32(fixtureTensor(fx, `grad.${key}`)) })));
      const largest = Math.max(...pairs.map((p) => compareClose(p.actual, p.expected).maxAbsExpected));
      let zeroGrads = 0;
      for (const { key, actual, expected } of pairs) {
        const r = compareClose(actual, expected);
        if (r.maxAbsExpected < 1e-6 * largest) {
          // The bias of a BatchNorm whose every path to the loss crosses another BatchNorm with
          // batch statistics (a projection's norm): its gradient is 0 in exact arithmetic, float32
          // rounding noise (~1e-8) in torch's and ours. Both must be that small.
          expect(Math.max(...actual.map(Math.abs)), `grad ${key} (zero in exact arithmetic)`).toBeLessThan(1e-6 * largest);
          zeroGrads++;
          continue;
        }
        const err = relErr(actual, expected);
        if (err > worst.err) worst = { key, err };
        // Relative to the tensor's largest gradient (float32 sums in another order than torch's).
        // The plain path's BatchNorm is tfjs ops (mean, variance, their gradients composed), less
        // close to torch's closed-form backward than our kernel.
        expect(err, `grad ${key}`).toBeLessThan(mode === 'fast' ? 3e-5 : 1e-4);
      }
      expect(zeroGrads).toBeLessThanOrEqual(11);
      let worstStat = 0;
      const after = model.stateDict();
      for (const [k, t] of fx.tensors) {
        if (!k.startsWith('after.')) continue;
        const key = k.slice(6);
        if (key.endsWith('num_batches_tracked')) expect(Number((after.get(key)!.data as BigInt64Array)[0])).toBe(Number((t.data as BigInt64Array)[0]));
        else worstStat = Math.max(worstStat, relErr(toFloat32(after.get(key)!), toFloat32(t)));
      }
      expect(worstStat).toBeLessThan(1e-5);
      console.log(`${name} (${mode}): worst gradient error ${worst.err.toExponential(2)} (${worst.key}), ${zeroGrads} gradients zero in exact arithmetic, running statistics ${worstStat.toExponential(2)}`);
      tf.dispose([x, logits!, value, ...Object.values(grads)]);
      model.eval();
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });
  }
});

describe('state dict round trip after training', () => {
  it('torch loads what we save after an SGD step and gets our eval outputs', async () => {
    const fx = loadFixture('grad', 'model_small_48_b4');
    const model = mobilenetV3Small({ numClasses: 7, dropout: 0.2 });
    model.loadStateDict(fx.stateDict);
    const xt = fixtureTensor(fx, 'x');
    const { data, shape } = nchwToNhwc(toFloat32(xt), xt.shape);
    const x = tf.tensor4d(data, shape);
    model.train();
    for (let step = 0; step < 2; step++) {
      const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(x), ints(fx, 'labels')), model.parameters());
      for (const v of model.parameters()) tf.tidy(() => v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.05))));
      tf.dispose([value, ...Object.values(grads)]);
    }
    model.eval();
    const ours = (await model.forward(x).data()) as Float32Array;
    const dir = mkdtempSync(join(tmpdir(), 'mnv3-train-'));
    try {
      writeFileSync(join(dir, 'state.safetensors'), writeSafetensors(model.stateDict()));
      writeFileSync(join(dir, 'x.npy'), writeNpy({ dtype: 'float32', shape: [...xt.shape], data: toFloat32(xt) }));
      execFileSync(ORACLE_PYTHON, [join(REPO_ROOT, 'tools/reference/eval_state_dict.py'), 'mobilenet_v3_small', '7', join(dir, 'state.safetensors'), join(dir, 'x.npy'), join(dir, 'y.npy')]);
      const torchOut = toFloat32(readNpy(readFileSync(join(dir, 'y.npy'))));
      // The weights moved: the outputs are not the fixture's starting point.
      expect(relErr(ours, toFloat32(fixtureTensor(fx, 'logits')))).toBeGreaterThan(1e-2);
      assertScaledClose(ours, torchOut, 1e-4, { what: 'eval logits after training, ours vs torch on our state dict' });
      const tracked = model.stateDict().get('features.0.1.num_batches_tracked')!;
      expect(Number((tracked.data as BigInt64Array)[0]) - Number((fx.stateDict.get('features.0.1.num_batches_tracked')!.data as BigInt64Array)[0])).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      x.dispose();
      model.dispose();
    }
  });
});
