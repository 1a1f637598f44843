// The training kernels (src/kernels/train, assembly/train-kernels.ts) on the wasm backend:
// convolution backprop against tfjs-backend-cpu's kernels on random inputs (strides 1/2, kernels
// 1/3/5, odd sizes, channel counts off the SIMD widths, every padding kind), and against torch
// autograd (oracle suite "grad", dilation included); activation, BatchNorm, pooling and scaling
// backward against torch or the plain tfjs-op path.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { assertScaledClose, f32, listFixtures, loadFixture, nhwcMap } from '@mnv3/test-utils';
import { activateTrain, batchNormTrain, conv2dTrain, scaleChannels, TRAINING_KERNELS } from '../src/train/index.js';
import { globalAvgPool, normal, seededRng, setKernelMode, type ActivationName } from '../src/index.js';
import { toFloat32 } from '@mnv3/io';
import { hwioFromOihw, oihwFromHwio } from './train-helpers.js';

afterEach(() => setKernelMode('fast'));
afterAll(async () => {
  await tf.setBackend('wasm');
});

const rnd = (shape: number[], seed: number, scale = 1) => normal(seededRng(seed), shape.reduce((a, b) => a * b, 1), 0, scale);
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** tf.grads of a convolution (input and filter) for upstream gradient dy, on the active backend. */
function convGrads(depthwise: boolean, x: Float32Array, xs: number[], w: Float32Array, ws: number[], stride: number, pad: Pad, dilation = 1, dySeed = 7): { dx: Float32Array; dw: Float32Array; kernels: string[] } {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, xs as [number, number, number, number]);
    const wt = tf.tensor4d(w, ws as [number, number, number, number]);
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      depthwise ? tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad as 'valid', 'NHWC', dilation) : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad as 'valid', 'NHWC', dilation);
    const y = f(xt, wt);
    const dy = tf.tensor(rnd(y.shape, dySeed), y.shape);
    const [dx, dw] = tf.grads(f)([xt, wt], dy);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array, kernels: [] };
  });
}

/**
 * `conv2dTrain`'s gradients (the layers' train-mode convolution, torch-layout weight `ws` = OIHW,
 * symmetric padding) for the same upstream gradient as `convGrads` (or `dyGiven`), checking that
 * our kernels ran them.
 */
/** The layers' train-mode convolution (`conv2dTrain`) on a torch-layout weight, dense or depthwise (`[C, 1, k, k]`): its gradients, and a check that only our kernels ran. */
async function trainConvGrads(x: Float32Array, xs: readonly number[], w: Float32Array, ws: readonly number[], stride: number, padding: number, dilation = 1, dyGiven: Float32Array | null = null) {
  const [co, ci, k] = ws as [number, number, number];
  const depthwise = ci === 1 && co === xs[3] && co > 1;
  const geometry = { inChannels: depthwise ? co : ci, outChannels: co, kernelSize: k, stride, padding, dilation, groups: depthwise ? co : 1 };
  let out: { dx: Float32Array; dw: Float32Array } | undefined;
  const { kernelNames } = await tf.profile(() => {
    out = tf.tidy(() => {
      const xt = tf.tensor4d(x, xs as [number, number, number, number]);
      const wt = tf.tensor4d(w, ws as [number, number, number, number]);
      const f = (a: tf.Tensor, b: tf.Tensor) => conv2dTrain(a as tf.Tensor4D, b as tf.Tensor4D, geometry);
      const y = f(xt, wt);
      const dy = tf.tensor(dyGiven ?? rnd(y.shape, 7), y.shape);
      const [dx, dw] = tf.grads(f)([xt, wt], dy);
      return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
    });
  });
  // Ours, and none of tfjs' convolution or transpose kernels.
  const ours = depthwise ? ['Mnv3DepthwiseConv2dTrain', 'Mnv3DepthwiseConv2dTrainGrad'] : ['Mnv3Conv2dTrain', 'Mnv3Conv2dTrainGrad'];
  expect(kernelNames).toEqual(expect.arrayContaining(ours));
  const theirs = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'Transpose'];
  for (const name of theirs) expect(kernelNames).not.toContain(name);
  return out!;
}

async function onCpu<T>(fn: () => T): Promise<T> {
  await tf.setBackend('cpu');
  try {
    return fn();
  } finally {
    await tf.setBackend('wasm');
  }
}

describe('registration', () => {
  it('puts the four tfjs-named backprop kernels and ours on wasm', () => {
    for (const k of TRAINING_KERNELS) expect(tf.getKernel(k, 'wasm'), k).toBeDefined();
    expect(TRAINING_KERNELS).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'Identity']));
  });

  it('Identity (what the tape clones saved tensors with) shares the data, and the copy outlives the original', async () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const buffers = tf.memory().numDataBuffers;
    const y = x.clone();
    expect(tf.memory().numDataBuffers).toBe(buffers);
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4, 5, 6]);
    y.dispose();
  });
});

describe('dense convolution backprop: wasm equals tfjs-backend-cpu', () => {
  // [n, h, w, ci, co, k, stride, pad]
  const cases: [number, number, number, number, number, number, number, Pad][] = [
    [2, 7, 9, 13, 21, 1, 1, 0],
    [3, 5, 5, 40, 96, 1, 1, 0],
    [1, 4, 6, 8, 8, 1, 1, 0],
    [2, 9, 7, 12, 10, 1, 2, 0],
    [2, 8, 7, 6, 11, 3, 1, 1],
    [2, 11, 13, 3, 16, 3, 2, 1],
    [1, 10, 12, 5, 9, 3, 2, 'same'],
    [2, 9, 8, 7, 5, 5, 1, 2],
    [1, 13, 11, 9, 13, 5, 2, 2],
    [2, 7, 8, 4, 6, 3, 1, 'valid'],
    [1, 6, 5, 17, 33, 3, 1, [[0, 0], [1, 0], [0, 2], [0, 0]]],
    // 128 or more output channels: dy rows packed per chunk (several chunks; the last block partial).
    [2, 9, 8, 12, 130, 1, 1, 0],
    [1, 11, 10, 5, 136, 3, 2, 1],
    // Fewer than 4 input channels: the filter gradient on im2col rows (several pixel chunks; co off 8).
    [3, 12, 10, 1, 5, 3, 1, 1],
    [2, 9, 11, 2, 12, 5, 2, 'same'],
    [1, 70, 9, 3, 16, 3, 2, 1],
  ];
  it.each(cases)('n%i %ix%i, %i→%i channels, k%i stride %i, pad %j', async (n, h, w, ci, co, k, s, pad) => {
    const x = rnd([n, h, w, ci], 1);
    const wt = rnd([k, k, ci, co], 2, 0.3);
    const cpu = await onCpu(() => convGrads(false, x, [n, h, w, ci], wt, [k, k, ci, co], s, pad));
    const wasm = convGrads(false, x, [n, h, w, ci], wt, [k, k, ci, co], s, pad);
    assertScaledClose(wasm.dx, cpu.dx, 1e-5, { what: 'dx' });
    assertScaledClose(wasm.dw, cpu.dw, 1e-5, { what: 'dw' });
    // The layers' train-mode convolution on torch's weight layout: one forward and one gradient
    // kernel of ours, no transposes on the tape (symmetric padding only, as torch's Conv2d).
    if (typeof pad === 'number' && (k === 1 || ci >= 8)) {
      const oihw = [co, ci, k, k];
      const ours = await trainConvGrads(x, [n, h, w, ci], oihwFromHwio(wt, oihw, false), oihw, s, pad);
      assertScaledClose(ours.dx, cpu.dx, 1e-5, { what: 'conv2dTrain dx' });
      assertScaledClose(ours.dw, oihwFromHwio(cpu.dw, oihw, false), 1e-5, { what: 'conv2dTrain dw' });
    }
    // tfjs-backend-wasm's own Conv2DBackpropInput (plain mode) agrees too.
    setKernelMode('plain');
    assertScaledClose(convGrads(false, x, [n, h, w, ci], wt, [k, k, ci, co], s, pad).dx, cpu.dx, 1e-5, { what: 'dx (tfjs-wasm)' });
  });
});

describe('depthwise convolution backprop: wasm equals tfjs-backend-cpu', () => {
  // [n, h, w, c, k, stride, pad]
  const cases: [number, number, number, number, number, number, Pad][] = [
    [2, 9, 8, 21, 3, 1, 1],
    [2, 11, 10, 18, 3, 2, 1],
    [1, 8, 9, 35, 5, 1, 2],
    [2, 13, 12, 17, 5, 2, 2],
    [1, 12, 14, 8, 5, 2, 'same'],
    [2, 7, 7, 1, 3, 1, 'valid'],
    [1, 5, 6, 67, 3, 1, [[0, 0], [2, 0], [1, 1], [0, 0]]],
  ];
  it.each(cases)('n%i %ix%i, %i channels, k%i stride %i, pad %j', async (n, h, w, c, k, s, pad) => {
    const x = rnd([n, h, w, c], 3);
    const wt = rnd([k, k, c, 1], 4, 0.3);
    const cpu = await onCpu(() => convGrads(true, x, [n, h, w, c], wt, [k, k, c, 1], s, pad));
    const wasm = convGrads(true, x, [n, h, w, c], wt, [k, k, c, 1], s, pad);
    assertScaledClose(wasm.dx, cpu.dx, 1e-5, { what: 'dx' });
    assertScaledClose(wasm.dw, cpu.dw, 1e-5, { what: 'dw' });
    // The layers' train-mode depthwise convolution on torch's [C, 1, k, k] weight (symmetric padding only).
    if (typeof pad === 'number' && c > 1) {
      const oihw = [c, 1, k, k];
      const ours = await trainConvGrads(x, [n, h, w, c], oihwFromHwio(wt, oihw, true), oihw, s, pad);
      assertScaledClose(ours.dx, cpu.dx, 1e-5, { what: 'conv2dTrain dx' });
      assertScaledClose(ours.dw, oihwFromHwio(cpu.dw, oihw, true), 1e-5, { what: 'conv2dTrain dw' });
    }
  });
});

describe('convolution backprop on wasm equals torch autograd', () => {
  const names = listFixtures('grad', 'conv_').concat(listFixtures('grad', 'dw_'));
  it.each(names)('%s', async (name) => {
    const fx = loadFixture('grad', name);
    const { stride, padding, dilation, groups } = fx.config as { stride: number; padding: number; dilation: number; groups: number };
    const depthwise = groups > 1;
    const x = nhwcMap(fx, 'x');
    const ws = fx.tensors.get('w')!.shape;
    const w = hwioFromOihw(f32(fx, 'w'), ws, depthwise);
    const wShape = depthwise ? [ws[2]!, ws[3]!, ws[0]!, 1] : [ws[2]!, ws[3]!, ws[1]!, ws[0]!];
    const dyMap = nhwcMap(fx, 'dy');
    const pad: tf.backend_util.ExplicitPadding = [[0, 0], [padding, padding], [padding, padding], [0, 0]];
    const [dx, dw] = tf.tidy(() => {
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        depthwise ? tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad, 'NHWC', dilation) : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad, 'NHWC', dilation);
      const g = tf.grads(f)([tf.tensor4d(x.data, x.shape), tf.tensor4d(w, wShape as [number, number, number, number])], tf.tensor4d(dyMap.data, dyMap.shape));
      return g.map((t) => t.dataSync() as Float32Array);
    });
    assertScaledClose(dx!, nhwcMap(fx, 'dx').data, 1e-5, { what: `${name} dx` });
    assertScaledClose(oihwFromHwio(dw!, ws, depthwise), f32(fx, 'dw'), 1e-5, { what: `${name} dw` });
    if (depthwise || ws[2] === 1 || ws[1]! >= 8) {
      // The layers' train-mode convolution straight on torch's weight (dilation included).
      const ours = await trainConvGrads(x.data, x.shape, f32(fx, 'w'), ws, stride, padding, dilation, dyMap.data);
      assertScaledClose(ours.dx, nhwcMap(fx, 'dx').data, 1e-5, { what: `${name} conv2dTrain dx` });
      assertScaledClose(ours.dw, f32(fx, 'dw'), 1e-5, { what: `${name} conv2dTrain dw` });
    }
  });
});

describe('activation backward equals torch at and between the kinks', () => {
  it.each(['relu', 'relu6', 'hardswish', 'hardsigmoid'] as const)('%s', (act) => {
    const fx = loadFixture('grad', `act_${act}`);
    for (const mode of ['fast', 'plain'] as const) {
      setKernelMode(mode);
      const [y, dx] = tf.tidy(() => {
        const x = tf.tensor2d(f32(fx, 'x'), [3, 23]);
        const f = (a: tf.Tensor) => activateTrain(a, act as ActivationName);
        const g = tf.grads(f)([x], tf.tensor2d(f32(fx, 'dy'), [3, 23]));
        return [f(x).dataSync() as Float32Array, g[0]!.dataSync() as Float32Array];
      });
      assertScaledClose(y!, f32(fx, 'y'), 1e-6, { what: `${act} (${mode}) y` });
      // Exact at the kinks: the first 8 inputs are −3, 3, 0, 6, −1, 2.5, −3.5, 7.
      assertScaledClose(dx!, f32(fx, 'dx'), 1e-6, { what: `${act} (${mode}) dx` });
    }
  });
});

describe('BatchNorm with batch statistics: forward and backward equal torch', () => {
  it.each(listFixtures('grad', 'bn_'))('%s', (name) => {
    const fx = loadFixture('grad', name);
    const { eps } = fx.config as { eps: number };
    const x = nhwcMap(fx, 'x');
    const dy = nhwcMap(fx, 'dy');
    for (const mode of ['fast', 'plain'] as const) {
      setKernelMode(mode);
      const [y, dx, dg, db] = tf.tidy(() => {
        const gamma = tf.tensor1d(toFloat32(fx.stateDict.get('weight')!));
        const beta = tf.tensor1d(toFloat32(fx.stateDict.get('bias')!));
        const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => batchNormTrain(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, eps).y;
        const xt = tf.tensor4d(x.data, x.shape);
        const grads = tf.grads(f)([xt, gamma, beta], tf.tensor4d(dy.data, dy.shape));
        return [f(xt, gamma, beta), ...grads].map((t) => t.dataSync() as Float32Array);
      });
      assertScaledClose(y!, nhwcMap(fx, 'y').data, 1e-5, { what: `${name} (${mode}) y` });
      assertScaledClose(dx!, nhwcMap(fx, 'dx').data, 1e-5, { what: `${name} (${mode}) dx` });
      assertScaledClose(dg!, f32(fx, 'grad.weight'), 1e-5, { what: `${name} (${mode}) dweight` });
      assertScaledClose(db!, f32(fx, 'grad.bias'), 1e-5, { what: `${name} (${mode}) dbias` });
    }
  });
});

describe('BatchNorm fused with its activation: fast equals plain (BatchNorm, then the activation)', () => {
  // 21 channels: the kernels' 16-, 4- and 1-channel paths.
  it.each((['relu', 'relu6', 'hardswish', 'hardsigmoid'] as const).flatMap((act) => [[act, 16] as const, [act, 21] as const]))('%s, %i channels', (act, c) => {
    const shape: [number, number, number, number] = c === 16 ? [8, 32, 32, 16] : [4, 9, 7, c];
    const x = rnd(shape, 21, 2);
    const up = rnd(shape, 22);
    const gamma = rnd([c], 23);
    const beta = rnd([c], 24);
    const run = () =>
      tf.tidy(() => {
        const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(batchNormTrain(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3, act).y, tf.tensor(up, shape)));
        return tf.grads(f)([tf.tensor4d(x, shape), tf.tensor1d(gamma), tf.tensor1d(beta)]).map((t) => t.dataSync() as Float32Array);
      });
    setKernelMode('plain');
    const plain = run();
    setKernelMode('fast');
    const fast = run();
    ['dx', 'dgamma', 'dbeta'].forEach((what, i) => assertScaledClose(fast[i]!, plain[i]!, 1e-5, { what }));
  });
});

describe('pooling and channel scaling backward: fast equals plain', () => {
  it.each([
    [2, 5, 7, 13],
    [3, 4, 4, 16],
    [1, 1, 1, 5],
  ])('n%i %ix%i, %i channels', (n, h, w, c) => {
    const x = rnd([n, h, w, c], 11);
    const gate = rnd([n, c], 12);
    const up = rnd([n, h, w, c], 13);
    const run = () =>
      tf.tidy(() => {
        const f = (a: tf.Tensor, g: tf.Tensor) => {
          const s = scaleChannels(a as tf.Tensor4D, g as tf.Tensor2D);
          return tf.add(tf.sum(tf.mul(s, tf.tensor(up, [n, h, w, c]))), tf.sum(tf.square(globalAvgPool(s))));
        };
        return tf.grads(f)([tf.tensor4d(x, [n, h, w, c]), tf.tensor2d(gate, [n, c])]).map((t) => t.dataSync() as Float32Array);
      });
    setKernelMode('plain');
    const plain = run();
    setKernelMode('fast');
    const numTensors = tf.memory().numTensors;
    const fast = run();
    expect(tf.memory().numTensors).toBe(numTensors);
    assertScaledClose(fast[0]!, plain[0]!, 1e-5, { what: 'dx' });
    assertScaledClose(fast[1]!, plain[1]!, 1e-5, { what: 'dgate' });
  });
});
