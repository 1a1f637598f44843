// Train mode of the layers against torch (oracle suite "grad"): Conv2dNormActivation and
// InvertedResidual blocks on seeded weights, one forward in train mode and a backward of
// sum(y · dy): output, input gradient, every parameter's gradient and the running statistics after
// the forward, on the fast path (our WASM kernels) and the plain one (tfjs ops). Then the
// semantics of train()/eval(), dropout, stochastic depth and frozen BatchNorm statistics.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { toFloat32, type StateDict } from '@mnv3/io';
import { assertScaledClose, listFixtures, loadFixture, nhwcMap, nhwcTensorToNchw, type Fixture } from '@mnv3/test-utils';
import '../src/train/index.js';
import {
  BatchNorm2d,
  Conv2dNormActivation,
  Dropout,
  InvertedResidual,
  Sequential,
  StochasticDepth,
  batchNorm2d,
  freezeBatchNormStats,
  invertedResidualConfig,
  normal,
  seededRng,
  setKernelMode,
  stochasticDepth,
  type ActivationName,
  type Layer,
} from '../src/index.js';

afterEach(() => setKernelMode('fast'));

const MOBILENET_BN = batchNorm2d({ eps: 0.001, momentum: 0.01 });

function blockFor(fx: Fixture): Layer {
  const c = fx.config as Record<string, unknown>;
  if (c.kind === 'conv_norm_act') {
    return new Conv2dNormActivation(c.inChannels as number, c.outChannels as number, {
      kernelSize: c.kernelSize as number,
      stride: c.stride as number,
      groups: c.groups as number,
      normLayer: MOBILENET_BN,
      activation: c.activation as ActivationName,
    });
  }
  const [i, k, e, o, se, act, s, d] = c.row as [number, number, number, number, boolean, 'HS' | 'RE', number, number];
  return new InvertedResidual(invertedResidualConfig(i, k, e, o, se, act, s, d, 1), MOBILENET_BN);
}

/** One train-mode forward of `m` on NHWC `x` and the gradients of sum(y · dy). */
export function trainStep(m: Layer, x: tf.Tensor4D, dy: tf.Tensor4D): { y: tf.Tensor4D; dx: tf.Tensor; grads: Map<string, tf.Tensor> } {
  const xv = tf.variable(x, true);
  let y: tf.Tensor4D | null = null;
  const params = m.namedParameters();
  const { value, grads } = tf.variableGrads(() => {
    const out = m.forward(xv);
    y = tf.keep(out);
    return tf.sum(tf.mul(out, dy));
  }, [xv, ...params.map(([, v]) => v)]);
  value.dispose();
  const dx = grads[xv.name]!;
  xv.dispose();
  return { y: y!, dx, grads: new Map(params.map(([k, v]) => [k, grads[v.name]!])) };
}

describe('blocks in train mode equal torch (forward, backward, running statistics)', () => {
  const names = listFixtures('grad', 'block_');
  for (const mode of ['fast', 'plain'] as const) {
    it.each(names)(`%s (${mode})`, async (name) => {
      setKernelMode(mode);
      const fx = loadFixture('grad', name);
      const m = blockFor(fx);
      m.loadStateDict(fx.stateDict);
      const numTensors = tf.memory().numTensors;
      m.train();
      const x = nhwcMap(fx, 'x');
      const dyMap = nhwcMap(fx, 'dy');
      const xt = tf.tensor4d(x.data, x.shape);
      const dyt = tf.tensor4d(dyMap.data, dyMap.shape);
      const { y, dx, grads } = trainStep(m, xt, dyt);
      assertScaledClose(await nhwcTensorToNchw(y), toFloat32(fx.tensors.get('y')!), 1e-5, { what: `${name} y` });
      assertScaledClose(await nhwcTensorToNchw(dx as tf.Tensor4D), toFloat32(fx.tensors.get('dx')!), 1e-5, { what: `${name} dx` });
      expect([...grads.keys()].sort()).toEqual([...fx.tensors.keys()].filter((k) => k.startsWith('grad.')).map((k) => k.slice(5)).sort());
      for (const [key, g] of grads) assertScaledClose((await g.data()) as Float32Array, toFloat32(fx.tensors.get(`grad.${key}`)!), 1e-5, { what: `${name} grad ${key}` });
      const after = m.stateDict();
      for (const [k, t] of fx.tensors) {
        if (!k.startsWith('after.')) continue;
        const key = k.slice(6);
        if (key.endsWith('num_batches_tracked')) expect(Number((after.get(key)!.data as BigInt64Array)[0]), key).toBe(Number((t.data as BigInt64Array)[0]));
        else assertScaledClose(toFloat32(after.get(key)!), toFloat32(t), 1e-6, { what: `${name} ${key}` });
      }
      tf.dispose([y, dx, xt, dyt, ...grads.values()]);
      m.eval();
      expect(tf.memory().numTensors).toBe(numTensors);
      m.dispose();
    });
  }
});

function randomBlock(seed: number): InvertedResidual {
  const m = new InvertedResidual(invertedResidualConfig(24, 3, 72, 24, true, 'HS', 1, 1, 1), MOBILENET_BN);
  const rng = seededRng(seed);
  const sd: StateDict = new Map();
  for (const [key, p] of m.namedStateEntries()) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (p.dtype === 'int64') sd.set(key, { dtype: 'int64', shape: [...p.shape], data: new BigInt64Array(n) });
    else sd.set(key, { dtype: 'float32', shape: [...p.shape], data: key.endsWith('running_var') ? Float32Array.from(normal(rng, n), (v) => 1 + Math.abs(v)) : normal(rng, n, 0, 0.3) });
  }
  m.loadStateDict(sd);
  return m;
}

describe('the fast path runs our kernels, the plain path tfjs ops only', () => {
  it.each(['fast', 'plain'] as const)('%s', async (mode) => {
    setKernelMode(mode);
    const m = randomBlock(17);
    m.train();
    const x = tf.tensor4d(normal(seededRng(18), 2 * 6 * 5 * 24), [2, 6, 5, 24]);
    const info = await tf.profile(() => {
      const { y, dx, grads } = trainStep(m, x, tf.onesLike(x));
      tf.dispose([y, dx, ...grads.values()]);
    });
    const names = new Set(info.kernels.map((k) => k.name));
    const ours = ['Mnv3Conv2dTrain', 'Mnv3Conv2dTrainGrad', 'Mnv3DepthwiseConv2dTrain', 'Mnv3DepthwiseConv2dTrainGrad', 'Mnv3BatchNormTrain', 'Mnv3BatchNormTrainGrad', 'Mnv3RunningStats', 'Mnv3ScaleChannels', 'Mnv3ScaleChannelsGrad', 'Mnv3GlobalAvgPoolGrad', 'Mnv3ActivationGrad'];
    const tfjsConvolutions = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'Transpose'];
    if (mode === 'fast') {
      for (const k of ours) expect(names, k).toContain(k);
      // The convolutions and their gradients are ours (on torch's weight layout): no transposes.
      for (const k of tfjsConvolutions) expect(names, k).not.toContain(k);
    } else {
      expect([...names].filter((k) => k.startsWith('Mnv3'))).toEqual([]);
      for (const k of tfjsConvolutions) expect(names, k).toContain(k);
    }
    m.eval();
    m.dispose();
    x.dispose();
  });
});

describe('train() and eval()', () => {
  it('eval() after train() without a step gives the same outputs and the same weights', async () => {
    const m = randomBlock(1);
    const x = tf.tensor4d(normal(seededRng(2), 2 * 6 * 5 * 24), [2, 6, 5, 24]);
    const before = (await m.forward(x).data()) as Float32Array;
    const sd = m.stateDict();
    m.train();
    expect(m.parameters().length).toBe([...m.namedStateEntries()].filter(([, p]) => p.kind === 'parameter').length);
    expect(m.training).toBe(true);
    m.eval();
    expect(m.training).toBe(false);
    expect(m.parameters()).toEqual([]);
    for (const [k, t] of m.stateDict()) expect(t.data, k).toEqual(sd.get(k)!.data);
    expect((await m.forward(x).data()) as Float32Array).toEqual(before);
    m.dispose();
    x.dispose();
  });

  it('an SGD step changes the eval outputs; stateDict() in train mode reads the variables', () => {
    const m = randomBlock(3);
    const x = tf.tensor4d(normal(seededRng(4), 2 * 6 * 5 * 24), [2, 6, 5, 24]);
    const before = m.forward(x).dataSync().slice();
    m.train();
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(m.forward(x))), m.parameters());
    for (const v of m.parameters()) v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.01)));
    const w = m.parameters()[0]!.dataSync().slice();
    expect(toFloat32(m.stateDict().get('block.0.0.weight')!)).toEqual(w);
    m.eval();
    expect(toFloat32(m.stateDict().get('block.0.0.weight')!)).toEqual(w);
    const after = m.forward(x).dataSync();
    expect(Math.max(...after.map((v, i) => Math.abs(v - before[i]!)))).toBeGreaterThan(1e-3);
    tf.dispose(Object.values(grads));
    m.dispose();
    x.dispose();
  });

  it('refuses to train a module with no weights', () => {
    expect(() => new BatchNorm2d(4).train()).toThrow(/no weights/);
  });
});

describe('frozen BatchNorm statistics', () => {
  it('normalise with the running statistics, keep them, and still train weight and bias', async () => {
    const m = randomBlock(5);
    const x = tf.tensor4d(normal(seededRng(6), 2 * 6 * 5 * 24), [2, 6, 5, 24]);
    const evalOut = (await m.forward(x).data()) as Float32Array;
    const sd = m.stateDict();
    freezeBatchNormStats(m);
    m.train();
    const { y, grads } = trainStep(m, x, tf.onesLike(x));
    assertScaledClose((await y.data()) as Float32Array, evalOut, 1e-5, { what: 'frozen train-mode output vs eval output' });
    expect(grads.get('block.0.1.weight')).toBeDefined();
    for (const [k, t] of m.stateDict()) if (k.includes('running') || k.includes('num_batches')) expect(t.data, k).toEqual(sd.get(k)!.data);
    m.eval();
    m.dispose();
  });
});

describe('dropout and stochastic depth', () => {
  it('Dropout: identity in eval, p = 0 and when frozen; in train mode zeros a fraction p and scales by 1/(1-p)', async () => {
    const d = new Dropout<tf.Tensor2D>(0.3, { seed: 7 });
    const x = tf.ones([200, 100]) as tf.Tensor2D;
    expect(d.forward(x)).toBe(x);
    d.training = true;
    const y = (await d.forward(x).data()) as Float32Array;
    const zeros = y.filter((v) => v === 0).length / y.length;
    expect(Math.abs(zeros - 0.3)).toBeLessThan(0.01);
    expect(new Set(y.filter((v) => v !== 0))).toEqual(new Set([Math.fround(1 / 0.7)]));
    // The gradient is the mask (a second instance with the same seed replays it).
    const d2 = new Dropout<tf.Tensor2D>(0.5, { seed: 8 });
    d2.training = true;
    const mask = (await d2.forward(x).data()) as Float32Array;
    const d3 = new Dropout<tf.Tensor2D>(0.5, { seed: 8 });
    d3.training = true;
    const g = tf.grads((a: tf.Tensor) => d3.forward(a as tf.Tensor2D))([x]);
    expect((await g[0]!.data()) as Float32Array).toEqual(mask);
    const all = new Dropout<tf.Tensor2D>(1, { seed: 9 });
    all.training = true;
    expect(Math.max(...((await all.forward(x).data()) as Float32Array))).toBe(0);
    expect(new Dropout<tf.Tensor2D>(0).forward(x)).toBe(x);
  });

  it("stochasticDepth 'row' drops whole images with probability p, 'batch' the whole batch", async () => {
    const x = tf.ones([400, 2, 3, 4]) as tf.Tensor4D;
    const y = (await stochasticDepth(x, 0.25, 'row', true, seededRng(10)).data()) as Float32Array;
    let dropped = 0;
    for (let i = 0; i < 400; i++) {
      const img = y.subarray(i * 24, (i + 1) * 24);
      expect(new Set(img).size).toBe(1);
      if (img[0] === 0) dropped++;
      else expect(img[0]).toBeCloseTo(1 / 0.75, 6);
    }
    expect(Math.abs(dropped / 400 - 0.25)).toBeLessThan(0.06);
    const b = (await stochasticDepth(x, 0.5, 'batch', true, seededRng(11)).data()) as Float32Array;
    expect(new Set(b).size).toBe(1);
    expect(stochasticDepth(x, 0.5, 'row', false, seededRng(12))).toBe(x);
    expect(stochasticDepth(x, 0, 'row', true, seededRng(12))).toBe(x);
    expect(() => stochasticDepth(x, 1.5, 'row', true, seededRng(12))).toThrow(/between 0 and 1/);
    expect(() => stochasticDepth(x, 0.5, 'col' as 'row', true, seededRng(12))).toThrow(/row/);
    const sd = new StochasticDepth(0.5, 'row', { seed: 1 });
    expect(sd.forward(x)).toBe(x);
  });

  it('InvertedResidual applies stochastic depth to the branch only, in train mode', async () => {
    const m = randomBlock(13);
    m.stochasticDepthProb = 1;
    const x = tf.tensor4d(normal(seededRng(14), 2 * 6 * 5 * 24), [2, 6, 5, 24]);
    m.train();
    // p = 1 drops the branch of every image: the block is the identity (the residual).
    expect((await m.forward(x).data()) as Float32Array).toEqual((await x.data()) as Float32Array);
    m.stochasticDepthProb = 0;
    expect((await m.forward(x).data()) as Float32Array).not.toEqual((await x.data()) as Float32Array);
    m.eval();
    m.dispose();
  });

  it('a Sequential of trainable modules trains as a whole', () => {
    const s = new Sequential([randomBlock(15), randomBlock(16)]);
    s.train();
    expect(s.namedParameters().map(([k]) => k)).toContain('1.block.2.fc1.weight');
    s.eval();
    s.dispose();
  });
});
