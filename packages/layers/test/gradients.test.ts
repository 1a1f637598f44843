// @mnv3/layers/train's gradient configs: tf.grads of composite functions on the wasm backend
// equals tfjs-backend-cpu's, and the convolution gradients equal torch autograd's (oracle suite
// "grad"). tfjs-core's Node entry registers no gradient by itself: without the import below every
// tf.grads here would fail.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { assertScaledClose, f32, listFixtures, loadFixture, nhwcMap } from '@mnv3/test-utils';
import { GRADIENT_KERNELS, registerGradients } from '../src/train/index.js';
import { normal, seededRng } from '../src/index.js';
import { hwioFromOihw, oihwFromHwio } from './train-helpers.js';

afterAll(async () => {
  await tf.setBackend('wasm');
});

/** Runs `fn` with the given backend active; restores wasm after. */
async function on<T>(backend: 'cpu' | 'wasm', fn: () => Promise<T> | T): Promise<T> {
  await tf.setBackend(backend);
  try {
    return await fn();
  } finally {
    await tf.setBackend('wasm');
  }
}

const rnd = (shape: number[], seed: number, scale = 1) => normal(seededRng(seed), shape.reduce((a, b) => a * b, 1), 0, scale);

interface Case {
  name: string;
  shapes: number[][];
  f: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Inputs that are not differentiated (indices, masks). */
  positive?: boolean;
}

// Each is a composite function of several kernels, as losses and layers compose them.
const CASES: Case[] = [
  { name: 'add/sub/mul/div with broadcasting', shapes: [[2, 3, 4, 5], [5], [1, 3, 1, 5]], f: (a, b, c) => tf.sum(tf.div(tf.mul(tf.sub(tf.add(a, b), c), a), tf.add(tf.square(c), 1))) },
  { name: 'square, sqrt, rsqrt, exp, log, pow', shapes: [[3, 7]], positive: true, f: (a) => tf.sum(tf.add(tf.add(tf.sqrt(a), tf.rsqrt(a)), tf.add(tf.log(tf.add(tf.exp(tf.neg(a)), 1)), tf.pow(a, 1.5)))) },
  { name: 'mean / sum / max over axes', shapes: [[4, 3, 5, 6]], f: (a) => tf.add(tf.sum(tf.square(tf.mean(a, [0, 1, 2]))), tf.add(tf.sum(tf.max(a, [1, 3])), tf.mean(tf.sum(a, 2)))) },
  { name: 'relu, relu6, sigmoid, tanh, abs, leakyRelu', shapes: [[5, 9]], f: (a) => tf.sum(tf.mul(tf.add(tf.add(tf.relu(tf.mul(a, 4)), tf.relu6(tf.mul(a, 4))), tf.add(tf.sigmoid(a), tf.mul(tf.tanh(a), tf.abs(a)))), tf.leakyRelu(a, 0.1))) },
  { name: 'logSoftmax cross-entropy and softmax', shapes: [[6, 10]], f: (a) => tf.add(tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(a), tf.oneHot(tf.tensor1d([1, 3, 0, 9, 2, 2], 'int32'), 10)), 1))), tf.sum(tf.square(tf.softmax(a)))) },
  { name: 'matMul, every transpose', shapes: [[3, 4], [4, 5], [5, 3]], f: (a, b, c) => tf.add(tf.sum(tf.matMul(tf.matMul(a, b), c)), tf.add(tf.sum(tf.matMul(a, c, true, true)), tf.sum(tf.matMul(b, a, true, true)))) },
  { name: 'reshape, transpose, slice, pad, concat, tile, broadcastTo, expandDims', shapes: [[2, 3, 4]], f: (a) => tf.sum(tf.mul(tf.concat([tf.pad(tf.slice(tf.transpose(a, [2, 0, 1]), [1, 0, 1], [2, 2, 2]), [[0, 2], [0, 0], [1, 0]]), tf.reshape(tf.tile(tf.slice(a, [0, 0, 0], [1, 2, 2]), [4, 1, 1]), [4, 2, 2])], 2), tf.broadcastTo(tf.expandDims(tf.range(0, 5), 0), [4, 2, 5]))) },
  { name: 'gather, clipByValue, where, maximum, minimum', shapes: [[5, 4], [5, 4]], f: (a, b) => tf.sum(tf.add(tf.gather(tf.clipByValue(a, -0.5, 0.7), tf.tensor1d([4, 0, 0, 2], 'int32')), tf.sum(tf.where(tf.greater(a, b), tf.maximum(a, b), tf.minimum(a, tf.mul(b, 2)))))) },
  { name: 'unstack / stack / split', shapes: [[3, 4]], f: (a) => tf.sum(tf.mul(tf.stack(tf.unstack(a).reverse()), tf.concat(tf.split(a, [1, 3], 1).reverse(), 1))) },
];

describe('gradient registration', () => {
  it('is idempotent and never replaces a registration', () => {
    const before = GRADIENT_KERNELS.map((k) => tf.getGradient(k));
    registerGradients();
    expect(GRADIENT_KERNELS.map((k) => tf.getGradient(k))).toEqual(before);
    for (const k of ['Sum', 'Conv2D', 'DepthwiseConv2dNative', 'Multiply', 'Mean', 'Relu6']) expect(tf.getGradient(k), k).toBeDefined();
  });
});

describe('tf.grads of composite functions: wasm equals tfjs-backend-cpu', () => {
  for (const [i, c] of CASES.entries()) {
    it(c.name, async () => {
      const inputs = c.shapes.map((s, j) => {
        const v = rnd(s, 10 * i + j);
        return c.positive ? v.map((x) => Math.abs(x) + 0.1) : v;
      });
      const run = () =>
        tf.tidy(() => {
          const xs = inputs.map((v, j) => tf.tensor(v, c.shapes[j]));
          const [value, grads] = [c.f(...xs), tf.grads((...a: tf.Tensor[]) => c.f(...a))(xs)];
          return [value.dataSync()[0]!, ...grads.map((g) => g.dataSync() as Float32Array)] as const;
        });
      const cpu = await on('cpu', run);
      const numTensors = tf.memory().numTensors;
      const wasm = run();
      expect(tf.memory().numTensors).toBe(numTensors);
      expect(wasm[0]).toBeCloseTo(cpu[0], 4);
      for (let j = 1; j < cpu.length; j++) assertScaledClose(wasm[j] as Float32Array, cpu[j] as Float32Array, 1e-5, { what: `${c.name}: d/dx${j - 1}` });
    });
  }
});

describe('convolution gradients on tfjs-backend-cpu equal torch autograd', () => {
  // tfjs-backend-cpu's backprop kernels ignore dilation, and the gradient refuses it there.
  const names = listFixtures('grad', 'conv_').concat(listFixtures('grad', 'dw_')).filter((n) => !n.includes('_d2'));
  it.each(names)('%s', async (name) => {
    const fx = loadFixture('grad', name);
    const { stride, padding, dilation, groups } = fx.config as { stride: number; padding: number; dilation: number; groups: number };
    const x = nhwcMap(fx, 'x');
    const w = fx.tensors.get('w')!;
    const depthwise = groups > 1;
    const [dx, dw] = await on('cpu', () =>
      tf.tidy(() => {
        const xt = tf.tensor4d(x.data, x.shape);
        const wt = tf.tensor4d(hwioFromOihw(f32(fx, 'w'), w.shape, depthwise), depthwise ? [w.shape[2]!, w.shape[3]!, w.shape[0]!, 1] : [w.shape[2]!, w.shape[3]!, w.shape[1]!, w.shape[0]!]);
        const dyMap = nhwcMap(fx, 'dy');
        const dy = tf.tensor4d(dyMap.data, dyMap.shape);
        const pad: tf.backend_util.ExplicitPadding = [[0, 0], [padding, padding], [padding, padding], [0, 0]];
        const f = (a: tf.Tensor4D, b: tf.Tensor4D) => (depthwise ? tf.depthwiseConv2d(a, b, stride, pad, 'NHWC', dilation) : tf.conv2d(a, b, stride, pad, 'NHWC', dilation));
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D))([xt, wt], dy);
        return [g[0]!.dataSync() as Float32Array, g[1]!.dataSync() as Float32Array];
      }),
    );
    assertScaledClose(dx!, nhwcMap(fx, 'dx').data, 1e-5, { what: `${name} dx` });
    assertScaledClose(oihwFromHwio(dw!, w.shape, depthwise), f32(fx, 'dw'), 1e-5, { what: `${name} dw` });
  });
});
