// The int8 WASM SIMD kernels (through WasmQuantizedMobileNetV3) against the plain integer engine of
// qnnpack.ts, bit for bit, on random weights and inputs: every convolution geometry (1x1, k×k with
// groups = 1, depthwise 3x3 / 5x5, strides 1 / 2, dilation, odd sizes, channel counts off the SIMD
// widths, ReLU floors, fused hardswish), SE, residual add, pool and classifier, batches, and the
// relaxed-SIMD int8 dot on 7-bit weights. This file also runs in the `quantize-relaxed` project
// (Node with --experimental-wasm-relaxed-simd), where the kernels must load in their relaxed build.
import { describe, expect, it } from 'vitest';
import { relaxedSimdEnabled, seededRng } from '@mnv3/layers';
import type { ConvGeometry, QParams, QTensor } from './qnnpack.js';
import {
  type QuantizedWeights,
  QuantizedConv2d,
  QuantizedConvNormActivation,
  QuantizedHardswish,
  QuantizedInvertedResidual,
  QuantizedLinear,
  QuantizedMobileNetV3,
  QuantizedSqueezeExcitation,
  type QuantizedFeature,
} from './quantized.js';
import { WasmQuantizedMobileNetV3 } from './wasm-engine.js';

const RELAXED_RUN = process.execArgv.includes('--experimental-wasm-relaxed-simd');

/** Uniform numbers in [0, 1) from layers' seeded generator. */
function rng(seed: number): () => number {
  const r = seededRng(seed);
  return () => r.next();
}

function randomWeights(r: () => number, shape: number[], inScale: number, opts: { bits?: number; outZero?: number } = {}): QuantizedWeights {
  const n = shape.reduce((a, b) => a * b, 1);
  const half = 2 ** ((opts.bits ?? 8) - 1);
  const weight = new Int8Array(n);
  for (let i = 0; i < n; i++) weight[i] = Math.floor(r() * 2 * half) - half;
  // the extremes always present, so packing and the relaxed path's 7-bit test see them
  weight[0] = -half;
  weight[n - 1] = half - 1;
  const fanIn = n / shape[0]!;
  // the accumulator's spread in integers; scales chosen so that outputs spread over about ±40
  // quanta around the zero point (some saturating), with output scales near the input's
  const sigma = Math.sqrt(fanIn) * 74 * half * 0.577;
  const scale = inScale * (0.5 + r());
  const weightScale = (scale * 40) / (inScale * sigma);
  const bias = new Float32Array(shape[0]!);
  for (let i = 0; i < bias.length; i++) bias[i] = (r() - 0.5) * sigma * weightScale * inScale;
  return { weight, weightShape: shape, weightScale, bias, scale, zeroPoint: opts.outZero ?? Math.floor(r() * 200) + 20 };
}

function randomInput(r: () => number, shape: number[], q: QParams): QTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.floor(r() * 256);
  return { data, shape, scale: q.scale, zeroPoint: q.zeroPoint };
}

function geometry(inC: number, outC: number, k: number, stride = 1, dilation = 1, groups = 1): ConvGeometry {
  return { inChannels: inC, outChannels: outC, kernelSize: k, stride, padding: ((k - 1) / 2) * dilation, dilation, groups };
}

/** A model around `features` (only they are compared, unless a test runs the head), with a small classifier. */
function modelOf(r: () => number, quant: QParams, features: QuantizedFeature[], lastC: number, lastQ: QParams, bits?: number): QuantizedMobileNetV3 {
  const fc1 = randomWeights(r, [24, lastC], lastQ.scale, { bits });
  const hs = { scale: 0.05, zeroPoint: 30 };
  const fc2 = randomWeights(r, [13, 24], hs.scale, { bits });
  return new QuantizedMobileNetV3(
    quant,
    features,
    { fc1: new QuantizedLinear('classifier.0', 24, fc1), hardswish: new QuantizedHardswish('classifier.1', hs), fc2: new QuantizedLinear('classifier.3', 13, fc2) },
    13,
  );
}

function convAct(r: () => number, name: string, g: ConvGeometry, inQ: QParams, act: 'relu' | 'hardswish' | null, bits?: number): QuantizedConvNormActivation {
  const w = randomWeights(r, [g.outChannels, g.inChannels / g.groups, g.kernelSize, g.kernelSize], inQ.scale, { bits });
  return new QuantizedConvNormActivation(
    new QuantizedConv2d(name, g, act === 'relu', w),
    act === 'hardswish' ? new QuantizedHardswish(`${name}.hs`, { scale: w.scale * 0.8, zeroPoint: 40 }) : null,
  );
}

const outQ = (c: QuantizedConvNormActivation): QParams => c.hardswish?.out ?? { scale: c.conv.q.scale, zeroPoint: c.conv.q.zeroPoint };

function expectEqual(ours: QTensor, ref: QTensor, what: string): void {
  expect(ours.shape, what).toEqual(ref.shape);
  expect({ scale: ours.scale, zeroPoint: ours.zeroPoint }, what).toEqual({ scale: ref.scale, zeroPoint: ref.zeroPoint });
  let diff = 0;
  let first = -1;
  for (let i = 0; i < ref.data.length; i++) {
    if (ours.data[i] !== ref.data[i]) {
      diff++;
      if (first < 0) first = i;
    }
  }
  expect({ diff, first, ours: ours.data[first], ref: ref.data[first] }, what).toEqual({ diff: 0, first: -1, ours: undefined, ref: undefined });
  // not all saturated: the comparison means something
  expect(new Set(ref.data).size, `${what}: distinct output values`).toBeGreaterThan(Math.min(8, ref.data.length / 4));
}

function engineFor(model: QuantizedMobileNetV3, relaxed = true): WasmQuantizedMobileNetV3 {
  const e = WasmQuantizedMobileNetV3.create(model, { relaxed });
  expect(e, 'the int8 kernels load on the wasm backend').not.toBeNull();
  return e!;
}

describe('int8 WASM kernels equal the plain integer engine bit for bit', () => {
  it(RELAXED_RUN ? 'loads the relaxed-SIMD build under --experimental-wasm-relaxed-simd' : 'loads the plain-SIMD build without relaxed SIMD', () => {
    const r = rng(1);
    const q = { scale: 0.02, zeroPoint: 7 };
    const e = engineFor(modelOf(r, q, [convAct(r, 'c', geometry(3, 8, 3, 2), q, null)], 8, q));
    expect(relaxedSimdEnabled()).toBe(RELAXED_RUN);
    expect(e.relaxedBuild).toBe(RELAXED_RUN);
    e.dispose();
  });

  const convCases: [string, ConvGeometry, 'relu' | 'hardswish' | null, [number, number, number]][] = [
    ['1x1 16→24 relu', geometry(16, 24, 1), 'relu', [2, 7, 9]],
    ['1x1 13→21 (off the widths) hardswish', geometry(13, 21, 1), 'hardswish', [1, 5, 11]],
    ['1x1 200→37 on single pixels (linear-like rows, split by output blocks)', geometry(200, 37, 1), null, [3, 1, 1]],
    ['stem 3x3 s2 3→16 hardswish', geometry(3, 16, 3, 2), 'hardswish', [2, 17, 20]],
    ['3x3 s1 5→9 relu', geometry(5, 9, 3), 'relu', [1, 8, 7]],
    ['5x5 s2 d1 6→11', geometry(6, 11, 5, 2), null, [1, 13, 9]],
    ['3x3 dilation 2 7→8', geometry(7, 8, 3, 1, 2), 'relu', [1, 9, 10]],
    ['depthwise 3x3 s1 72 relu', geometry(72, 72, 3, 1, 1, 72), 'relu', [2, 11, 13]],
    ['depthwise 3x3 s2 16', geometry(16, 16, 3, 2, 1, 16), null, [1, 17, 20]],
    ['depthwise 5x5 s2 40 hardswish', geometry(40, 40, 5, 2, 1, 40), 'hardswish', [1, 15, 14]],
    ['depthwise 5x5 s1 dilation 2 21 (off the widths)', geometry(21, 21, 5, 1, 2, 21), 'hardswish', [1, 12, 11]],
    ['depthwise 3x3 s2 dilation 2 11', geometry(11, 11, 3, 2, 2, 11), 'relu', [2, 9, 8]],
    ['depthwise 3x3 s1 on 1×1', geometry(24, 24, 3, 1, 1, 24), null, [1, 1, 1]],
  ];
  it.each(convCases)('%s', (_, g, act, [n, h, w]) => {
    const r = rng(h * 131 + w * 7 + g.inChannels);
    const q = { scale: 0.03, zeroPoint: 100 };
    const conv = convAct(r, 'conv', g, q, act);
    const model = modelOf(r, q, [conv], g.outChannels, outQ(conv));
    const e = engineFor(model);
    const x = randomInput(r, [n, h, w, g.inChannels], q);
    expectEqual(e.forwardFeatures(x, 0, 1), conv.forward(x), 'conv');
    e.dispose();
  });

  it.each([
    ['1x1', geometry(32, 24, 1)],
    ['depthwise 3x3', geometry(24, 24, 3, 1, 1, 24)],
  ] as const)('%s: requantization far past the int16 range (|acc × scale| up to 10^8) saturates as rint + clamp does', (_, g) => {
    const r = rng(g.groups * 5 + 3);
    const q = { scale: 0.03, zeroPoint: 100 };
    const conv = convAct(r, 'conv', g, q, null);
    // output scale 10^-6 of what it was: |acc × scale| around 4·10^7, both signs
    const w = conv.conv.q;
    const tiny = new QuantizedConvNormActivation(new QuantizedConv2d('conv', g, false, { ...w, scale: w.scale * 1e-6 }), null);
    const e = engineFor(modelOf(r, q, [tiny], g.outChannels, outQ(tiny)));
    const x = randomInput(r, [1, 6, 5, g.inChannels], q);
    const ours = e.forwardFeatures(x, 0, 1);
    const ref = tiny.forward(x);
    expect(Buffer.from(ours.data).equals(Buffer.from(ref.data))).toBe(true);
    expect(new Set(ref.data)).toEqual(new Set([0, 255]));
    e.dispose();
  });

  it.each([
    ['expand, depthwise 3x3, SE, project, residual add', 16, 64, 3, 1, true, 'relu'],
    ['depthwise 5x5 s2, SE, hardswish, no residual', 24, 72, 5, 2, true, 'hardswish'],
    ['no expansion, depthwise, SE (SE on a 1×1 map)', 16, 16, 3, 2, true, 'relu'],
    ['expand 40→120 without SE, residual', 40, 120, 3, 1, false, 'hardswish'],
  ] as const)('block: %s', (_, cin, exp, k, stride, se, act) => {
    const r = rng(cin * 17 + exp + k + stride);
    const q = { scale: 0.04, zeroPoint: 60 };
    const layers: (QuantizedConvNormActivation | QuantizedSqueezeExcitation)[] = [];
    let cur: QParams = q;
    if (exp !== cin) {
      const c = convAct(r, 'expand', geometry(cin, exp, 1), cur, act);
      layers.push(c);
      cur = outQ(c);
    }
    const dw = convAct(r, 'dw', geometry(exp, exp, k, stride, 1, exp), cur, act);
    layers.push(dw);
    cur = outQ(dw);
    if (se) {
      const sq = Math.max(8, Math.round(exp / 4 / 8) * 8);
      const fc1 = new QuantizedConv2d('fc1', geometry(exp, sq, 1), true, randomWeights(r, [sq, exp, 1, 1], cur.scale, { outZero: 0 }));
      const fc2 = new QuantizedConv2d('fc2', geometry(sq, exp, 1), false, randomWeights(r, [exp, sq, 1, 1], fc1.q.scale));
      const mulQ = { scale: cur.scale * 0.7, zeroPoint: cur.zeroPoint };
      layers.push(new QuantizedSqueezeExcitation(fc1, fc2, mulQ));
      cur = mulQ;
    }
    const outC = stride === 1 ? cin : cin + 8;
    const proj = convAct(r, 'project', geometry(exp, outC, 1), cur, null);
    layers.push(proj);
    const addQ = stride === 1 ? { scale: q.scale * 1.3, zeroPoint: 120 } : null;
    const block = new QuantizedInvertedResidual(layers, addQ);
    const model = modelOf(r, q, [block], outC, addQ ?? outQ(proj));
    const e = engineFor(model);
    for (const [n, h, w] of [
      [1, 14, 14],
      [2, 9, 11],
      [1, 1, 1],
    ] as const) {
      const x = randomInput(r, [n, h, w, cin], q);
      expectEqual(e.forwardFeatures(x, 0, 1), block.forward(x), `block at ${n}×${h}×${w}`);
    }
    e.dispose();
  });

  it('quant stub, features, pool and classifier on a batch: logits equal', () => {
    const r = rng(99);
    const quant = { scale: 0.0187, zeroPoint: 114 };
    const stem = convAct(r, 'stem', geometry(3, 16, 3, 2), quant, 'hardswish');
    const pw = convAct(r, 'last', geometry(16, 48, 1), outQ(stem), 'hardswish');
    const model = modelOf(r, quant, [stem, pw], 48, outQ(pw));
    const e = engineFor(model);
    for (const [n, h, w] of [
      [3, 31, 29],
      [1, 2, 2],
    ] as const) {
      const x = new Float32Array(n * h * w * 3);
      for (let i = 0; i < x.length; i++) x[i] = (r() - 0.5) * 6;
      // exact ties of the quantizer's rounding
      x[0] = (0.5 * quant.scale) as number;
      const ref = model.forward(x, [n, h, w, 3]);
      const ours = e.forward(x, [n, h, w, 3]);
      expectEqual(e.quantizeInput(x, [n, h, w, 3]), model.quantize(x, [n, h, w, 3]), 'quant');
      expect(Array.from(ours.quantized.data)).toEqual(Array.from(ref.quantized.data));
      expect(Array.from(ours.logits)).toEqual(Array.from(ref.logits));
    }
    e.dispose();
  });

  it("the relaxed int8 dot on 7-bit weights ([-64, 63]) gives the plain engine's results; 8-bit layers stay on the int16 dot", () => {
    const r = rng(7);
    const q = { scale: 0.025, zeroPoint: 3 };
    const c7 = convAct(r, 'seven', geometry(37, 29, 1), q, 'relu', 7);
    const c8 = convAct(r, 'eight', geometry(29, 19, 1), outQ(c7), null, 8);
    const model = modelOf(r, q, [c7, c8], 19, outQ(c8), 7);
    const e = engineFor(model);
    expect(e.relaxedLayers()).toEqual(RELAXED_RUN ? ['seven', 'classifier.0', 'classifier.3'] : []);
    for (const [n, h, w] of [
      [1, 9, 7],
      [2, 3, 5],
    ] as const) {
      const x = randomInput(r, [n, h, w, 37], q);
      expectEqual(e.forwardFeatures(x, 0, 2), c8.forward(c7.forward(x)), `7-bit then 8-bit layer at ${n}×${h}×${w}`);
      const feats = c8.forward(c7.forward(x));
      expectEqual(e.forwardHead(feats), model.forwardHead(feats), 'classifier with 7-bit weights');
    }
    // the same model with relaxed off: every layer on the int16 dot, same bits
    const plain = engineFor(model, false);
    expect(plain.relaxedLayers()).toEqual([]);
    const x = randomInput(r, [1, 6, 6, 37], q);
    expectEqual(plain.forwardFeatures(x, 0, 2), e.forwardFeatures(x, 0, 2), 'relaxed off');
    plain.dispose();
    e.dispose();
  });
});
