// The fast path (our WASM SIMD kernels) against the plain path (tfjs ops only) on random inputs
// and weights, edge cases included: odd sizes, borders, stride 2 on odd input, dilation 2,
// channel counts that are not multiples of 4 (or 8, 16), batches of 2. No timing here.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import { assertScaledClose } from '@mnv3/test-utils';
import { Conv2d, Conv2dNormActivation, InvertedResidual, Linear, SqueezeExcitation, batchNorm2d, getKernelMode, globalAvgPool, hardsigmoid, hardswish, normal, relaxedSimdEnabled, seededRng, setKernelMode, uniform, type ActivationName, type Layer, type Module } from '../src/index.js';
import type { StateDict } from '@mnv3/io';
// The kernels this process runs are registered by the test setup from the built package
// (@mnv3/layers/backend), so their profiler hook is that module's.
import { setKernelProfiler, wasmValues } from '@mnv3/layers';

const TOL = 1e-5;

afterEach(() => setKernelMode('fast'));

/** Random weights everywhere, BatchNorm statistics included (so folded biases are not zero). */
function randomize<M extends Module>(m: M, seed: number): M {
  const rng = seededRng(seed);
  const sd: StateDict = new Map();
  for (const [key, p] of m.namedStateEntries()) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (p.dtype === 'int64') {
      sd.set(key, { dtype: 'int64', shape: [...p.shape], data: new BigInt64Array(n) });
      continue;
    }
    const data = key.endsWith('running_var') ? uniform(rng, n, 0.5, 2) : normal(rng, n, 0, key.endsWith('weight') && p.shape.length === 4 ? 0.5 : 1);
    sd.set(key, { dtype: 'float32', shape: [...p.shape], data });
  }
  m.loadStateDict(sd);
  return m;
}

function randomInput(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  return tf.tensor4d(normal(seededRng(seed), shape.reduce((a, b) => a * b, 1), 0, 2), shape);
}

/** Runs `fn` in plain then fast mode; returns both outputs and the kernels each mode ran. */
async function bothPaths(fn: () => tf.Tensor): Promise<{ plain: Float32Array; fast: Float32Array; shape: number[]; fastKernels: string[]; plainKernels: string[] }> {
  const run = async (mode: 'plain' | 'fast') => {
    setKernelMode(mode);
    let out: Float32Array = new Float32Array();
    let shape: number[] = [];
    const info = await tf.profile(async () => {
      const y = fn();
      out = (await y.data()) as Float32Array;
      shape = y.shape;
      y.dispose();
    });
    return { out, shape, kernels: info.kernels.map((k) => k.name) };
  };
  const p = await run('plain');
  const f = await run('fast');
  expect(f.shape).toEqual(p.shape);
  return { plain: p.out, fast: f.out, shape: p.shape, fastKernels: f.kernels, plainKernels: p.kernels };
}

async function expectSame(layer: Layer, x: tf.Tensor4D, kernel: string): Promise<void> {
  const r = await bothPaths(() => layer.forward(x));
  assertScaledClose(r.fast, r.plain, TOL, { shape: r.shape, what: `fast vs plain (${kernel})` });
  expect(r.fastKernels).toContain(kernel);
  expect(r.plainKernels.some((k) => k.startsWith('Mnv3'))).toBe(false);
}

describe('kernel mode', () => {
  it('defaults to fast and validates its argument', () => {
    expect(getKernelMode()).toBe('fast');
    setKernelMode('plain');
    expect(getKernelMode()).toBe('plain');
    expect(() => setKernelMode('turbo' as never)).toThrow(/unknown kernel mode/);
  });
});

// This file also runs in the `layers-relaxed` project (Node with --experimental-wasm-relaxed-simd),
// where the kernels must load in their relaxed build and fuse the convolutions' multiply-adds.
const RELAXED_RUN = process.execArgv.includes('--experimental-wasm-relaxed-simd');

describe('the kernels build', () => {
  it(RELAXED_RUN ? 'is the relaxed-SIMD one, whose convolution fuses x·w + b (one rounding)' : 'is the plain-SIMD one, whose convolution rounds x·w, then adds b', async () => {
    expect(relaxedSimdEnabled()).toBe(RELAXED_RUN);
    // x = w = 1 + 2⁻¹², b = −(1 + 2⁻¹¹): x·w = 1 + 2⁻¹¹ + 2⁻²⁴ exactly, which float32 rounds to
    // 1 + 2⁻¹¹ (a tie, to even). Fused: b + x·w = 2⁻²⁴; multiply then add: 0.
    const v = 1 + 2 ** -12;
    const layer = new Conv2d(1, 8, { bias: true });
    layer.loadStateDict(new Map([
      ['weight', { dtype: 'float32', shape: [8, 1, 1, 1], data: new Float32Array(8).fill(v) }],
      ['bias', { dtype: 'float32', shape: [8], data: new Float32Array(8).fill(-(1 + 2 ** -11)) }],
    ]));
    const y = layer.forward(tf.fill([1, 4, 4, 1], v) as tf.Tensor4D);
    expect(new Set(await y.data())).toEqual(new Set([RELAXED_RUN ? 2 ** -24 : 0]));
    y.dispose();
  });
});

describe('fast activations match the plain ones', () => {
  const shapes: [number, number, number, number][] = [
    [1, 7, 9, 5],
    [2, 3, 3, 17],
    [1, 1, 1, 1],
    [1, 4, 4, 8],
  ];
  for (const shape of shapes) {
    for (const [name, fn] of [
      ['hardswish', hardswish],
      ['hardsigmoid', hardsigmoid],
    ] as const) {
      it(`${name} on [${shape.join(', ')}]`, async () => {
        // Values around the kinks at ±3 as well as random ones.
        const n = shape.reduce((a, b) => a * b, 1);
        const data = normal(seededRng(n), n, 0, 3);
        for (let i = 0; i < Math.min(n, 6); i++) data[i] = [-3, 3, 0, -3.0001, 2.9999, -0][i]!;
        const x = tf.tensor4d(data, shape);
        const r = await bothPaths(() => fn(x));
        assertScaledClose(r.fast, r.plain, TOL, { shape: r.shape, what: name });
        expect(r.fastKernels).toContain('Mnv3Activation');
        x.dispose();
      });
    }
  }
});

describe('fast depthwise convolution matches tfjs', () => {
  const cases: { k: number; stride: number; dilation: number; padding?: number; h: number; w: number; c: number; act: ActivationName | null; bias?: boolean }[] = [
    { k: 3, stride: 1, dilation: 1, h: 7, w: 9, c: 5, act: 'relu' },
    { k: 3, stride: 2, dilation: 1, h: 7, w: 9, c: 17, act: 'hardswish' },
    { k: 5, stride: 1, dilation: 1, h: 7, w: 9, c: 20, act: 'hardswish' },
    { k: 5, stride: 2, dilation: 1, h: 9, w: 7, c: 36, act: null },
    { k: 3, stride: 1, dilation: 2, h: 7, w: 9, c: 19, act: 'relu6' },
    { k: 5, stride: 1, dilation: 2, h: 11, w: 9, c: 16, act: 'hardsigmoid' },
    { k: 3, stride: 2, dilation: 1, h: 2, w: 3, c: 3, act: 'relu' },
    { k: 5, stride: 1, dilation: 1, h: 3, w: 2, c: 2, act: 'relu' },
    { k: 3, stride: 1, dilation: 1, padding: 0, h: 7, w: 9, c: 12, act: 'relu' },
    { k: 3, stride: 2, dilation: 1, padding: 2, h: 8, w: 9, c: 7, act: 'hardswish' },
    { k: 3, stride: 1, dilation: 1, h: 5, w: 5, c: 21, act: null, bias: false },
    { k: 5, stride: 2, dilation: 1, h: 13, w: 15, c: 33, act: 'hardswish' },
    { k: 3, stride: 1, dilation: 2, h: 9, w: 16, c: 40, act: 'relu' },
    { k: 5, stride: 1, dilation: 1, padding: 0, h: 6, w: 11, c: 24, act: 'relu6' },
    // padding wider than the kernel: output pixels with no tap inside the input at all
    { k: 3, stride: 1, dilation: 1, padding: 3, h: 4, w: 5, c: 9, act: 'hardswish' },
    { k: 3, stride: 2, dilation: 1, padding: 3, h: 5, w: 4, c: 18, act: 'relu' },
  ];
  for (const cs of cases) {
    it(`k${cs.k} s${cs.stride} d${cs.dilation} p${cs.padding ?? 'default'} ${cs.h}×${cs.w}×${cs.c} ${cs.act ?? 'linear'}${cs.bias === false ? ' no bias' : ''}`, async () => {
      const layer =
        cs.bias === false
          ? new Conv2d(cs.c, cs.c, { kernelSize: cs.k, stride: cs.stride, dilation: cs.dilation, padding: cs.padding ?? ((cs.k - 1) / 2) * cs.dilation, groups: cs.c, bias: false, activation: cs.act })
          : new Conv2dNormActivation(cs.c, cs.c, {
              kernelSize: cs.k,
              stride: cs.stride,
              dilation: cs.dilation,
              padding: cs.padding,
              groups: cs.c,
              activation: cs.act,
            });
      randomize(layer, cs.c * 31 + cs.k);
      const x = randomInput([2, cs.h, cs.w, cs.c], cs.h * 7 + cs.w);
      await expectSame(layer, x, 'Mnv3DepthwiseConv2d');
      x.dispose();
      layer.dispose();
    });
  }
});

describe('fast convolution (our GEMM kernel) matches tfjs', () => {
  // 1x1 cases, then kxk ones: strides, dilations, padding wide enough that whole taps fall
  // outside the input (the kernel skips them), pixel counts that are not multiples of 4 or of
  // its 64-pixel chunks, input channels past its 256-channel chunks, output channels not a
  // multiple of 8.
  const cases: { k?: number; s?: number; d?: number; p?: number; h: number; w: number; ci: number; co: number; act: ActivationName | null; n?: number }[] = [
    { h: 7, w: 9, ci: 5, co: 7, act: 'hardswish' },
    { h: 7, w: 9, ci: 16, co: 24, act: 'relu' },
    { h: 3, w: 1, ci: 1, co: 1, act: null },
    { h: 1, w: 1, ci: 13, co: 9, act: 'relu6' },
    { h: 4, w: 5, ci: 24, co: 17, act: 'hardsigmoid' },
    { h: 2, w: 2, ci: 40, co: 120, act: 'hardswish', n: 3 },
    { h: 11, w: 13, ci: 300, co: 20, act: 'relu', n: 1 },
    { h: 9, w: 8, ci: 600, co: 33, act: 'hardswish', n: 1 },
    { k: 3, s: 1, h: 7, w: 9, ci: 5, co: 7, act: 'relu' },
    { k: 3, s: 1, h: 7, w: 9, ci: 8, co: 7, act: 'relu' },
    { k: 3, s: 2, h: 9, w: 7, ci: 8, co: 16, act: 'hardswish' },
    { k: 3, s: 2, h: 9, w: 7, ci: 3, co: 16, act: 'hardswish' },
    { k: 3, s: 2, h: 8, w: 10, ci: 3, co: 16, act: 'hardswish', n: 1 },
    { k: 1, s: 2, h: 9, w: 7, ci: 12, co: 10, act: null },
    { k: 3, d: 2, h: 9, w: 11, ci: 20, co: 12, act: 'relu' },
    { k: 3, d: 6, h: 9, w: 10, ci: 24, co: 16, act: 'relu', n: 1 },
    { k: 3, d: 12, h: 5, w: 6, ci: 40, co: 9, act: 'relu', n: 1 },
    { k: 3, d: 4, h: 11, w: 13, ci: 270, co: 24, act: 'relu', n: 1 },
    { k: 5, s: 1, p: 0, h: 8, w: 9, ci: 6, co: 8, act: null },
    { k: 5, s: 1, p: 0, h: 8, w: 9, ci: 10, co: 8, act: null },
    { k: 3, s: 1, p: 3, h: 4, w: 5, ci: 9, co: 5, act: 'hardswish' },
  ];
  for (const cs of cases) {
    const k = cs.k ?? 1;
    const label = `k${k} s${cs.s ?? 1} d${cs.d ?? 1} p${cs.p ?? 'default'} ${cs.n ?? 2}×${cs.h}×${cs.w}×${cs.ci} → ${cs.co} ${cs.act ?? 'linear'}`;
    it(label, async () => {
      const layer = randomize(
        new Conv2dNormActivation(cs.ci, cs.co, { kernelSize: k, stride: cs.s ?? 1, dilation: cs.d ?? 1, padding: cs.p, activation: cs.act }),
        cs.ci * 7 + cs.co + k,
      );
      const x = randomInput([cs.n ?? 2, cs.h, cs.w, cs.ci], cs.ci + k);
      // kxk over fewer than 8 input channels (the stem) is left to XNNPACK, by design.
      await expectSame(layer, x, k > 1 && cs.ci < 8 ? 'FusedConv2D' : 'Mnv3Conv2d');
      x.dispose();
      layer.dispose();
    });
  }

  it('a convolution without bias', async () => {
    const layer = randomize(new Conv2d(6, 10, { bias: false }), 5);
    const x = randomInput([1, 5, 3, 6], 2);
    await expectSame(layer, x, 'Mnv3Conv2d');
  });

  it('a linear layer (rows as pixels), more than one chunk of rows and of input features', async () => {
    for (const [n, i, o, act] of [
      [5, 300, 13, 'relu'],
      [130, 40, 24, null],
      [1, 7, 3, 'hardswish'],
    ] as const) {
      const lin = randomize(new Linear(i, o, { activation: act }), n + i);
      const x = tf.tensor2d(normal(seededRng(i), n * i), [n, i]);
      const r = await bothPaths(() => lin.forward(x));
      expect(r.shape).toEqual([n, o]);
      assertScaledClose(r.fast, r.plain, TOL, { shape: r.shape, what: `linear ${n}×${i} → ${o}` });
      expect(r.fastKernels).toContain('Mnv3Conv2d');
      x.dispose();
      lin.dispose();
    }
  });

  for (const k of [1, 3]) {
    it(`switches a ${k}x${k} filter's layout back and forth with the mode, and dispose() releases it all`, async () => {
      const before = tf.memory().numTensors;
      const layer = randomize(new Conv2dNormActivation(12, 20, { kernelSize: k, activation: 'hardswish' }), 8);
      const x = randomInput([1, 5, 7, 12], 3);
      const outs: Float32Array[] = [];
      for (const mode of ['fast', 'plain', 'fast', 'plain'] as const) {
        setKernelMode(mode);
        const y = layer.forward(x);
        outs.push((await y.data()) as Float32Array);
        y.dispose();
      }
      assertScaledClose(outs[2]!, outs[0]!, 0);
      assertScaledClose(outs[3]!, outs[1]!, 0);
      assertScaledClose(outs[0]!, outs[1]!, TOL);
      x.dispose();
      layer.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('grouped (not depthwise) convolutions and sigmoid gates stay on tfjs', async () => {
    for (const layer of [
      randomize(new Conv2d(8, 12, { kernelSize: 3, padding: 1, groups: 4 }), 1),
      randomize(new Conv2d(8, 12, { kernelSize: 1, activation: 'sigmoid' }), 2),
    ]) {
      const x = randomInput([1, 5, 6, 8], 4);
      const r = await bothPaths(() => layer.forward(x));
      assertScaledClose(r.fast, r.plain, TOL, { shape: r.shape });
      expect(r.fastKernels.some((k) => k.startsWith('Mnv3'))).toBe(false);
      x.dispose();
      layer.dispose();
    }
  });
});

describe('fast global average pooling matches tfjs', () => {
  for (const shape of [
    [2, 7, 9, 17],
    [1, 7, 7, 960],
    [1, 1, 1, 3],
  ] as [number, number, number, number][]) {
    it(`on [${shape.join(', ')}]`, async () => {
      const x = randomInput(shape, shape[3]);
      const r = await bothPaths(() => globalAvgPool(x));
      assertScaledClose(r.fast, r.plain, TOL, { shape: r.shape });
      expect(r.fastKernels).toContain('Mnv3GlobalAvgPool');
      x.dispose();
    });
  }
});

describe('fast squeeze-and-excitation matches tfjs', () => {
  for (const [c, s, h, w] of [
    [16, 8, 7, 9],
    [17, 8, 3, 5],
    [5, 3, 1, 1],
    [72, 24, 4, 4],
  ] as const) {
    it(`C=${c} squeeze=${s} on 2×${h}×${w}`, async () => {
      const layer = randomize(new SqueezeExcitation(c, s, { scaleActivation: 'hardsigmoid' }), c + s);
      const x = randomInput([2, h, w, c], c);
      await expectSame(layer, x, 'Mnv3SqueezeExcite');
      layer.dispose();
    });
  }

  it('keeps the plain path for a sigmoid gate', async () => {
    const layer = randomize(new SqueezeExcitation(8, 8), 1);
    const x = randomInput([1, 3, 3, 8], 1);
    const r = await bothPaths(() => layer.forward(x));
    assertScaledClose(r.fast, r.plain, TOL, { shape: r.shape });
    expect(r.fastKernels).not.toContain('Mnv3SqueezeExcite');
  });
});

describe('fast inverted residual blocks match tfjs', () => {
  // [input, kernel, expanded, out, SE, activation, stride, dilation], as MobileNetV3's tables.
  const rows: [number, number, number, number, boolean, 'HS' | 'RE', number, number][] = [
    [16, 3, 16, 16, true, 'RE', 2, 1],
    [24, 3, 72, 24, false, 'RE', 1, 1],
    [40, 5, 120, 40, true, 'RE', 1, 1],
    [80, 3, 184, 80, false, 'HS', 1, 1],
    [112, 5, 672, 160, true, 'HS', 2, 1],
    [160, 5, 960, 160, true, 'HS', 1, 2],
    [20, 3, 36, 20, true, 'HS', 1, 1],
  ];
  for (const row of rows) {
    it(`[${row.join(', ')}] on odd 7×9 input`, async () => {
      const ir = randomize(
        new InvertedResidual(
          { inputChannels: row[0], kernel: row[1], expandedChannels: row[2], outChannels: row[3], useSe: row[4], activation: row[5], stride: row[6], dilation: row[7] },
          batchNorm2d({ eps: 0.001 }),
        ),
        row[2],
      );
      const x = randomInput([2, 7, 9, row[0]], row[0]);
      await expectSame(ir, x, 'Mnv3DepthwiseConv2d');
      ir.dispose();
    });
  }
});

describe('setKernelProfiler', () => {
  it("reports each of our kernels' calls with its time, and nothing once turned off", async () => {
    const ir = randomize(
      new InvertedResidual(
        { inputChannels: 24, kernel: 5, expandedChannels: 72, outChannels: 24, useSe: true, activation: 'HS', stride: 1, dilation: 1 },
        batchNorm2d({ eps: 0.001 }),
      ),
      3,
    );
    const x = randomInput([1, 9, 9, 24], 3);
    const calls: [string, number][] = [];
    setKernelProfiler((kernel, ms) => calls.push([kernel, ms]));
    try {
      tf.dispose(ir.forward(x));
    } finally {
      setKernelProfiler(null);
    }
    // expand (1x1 conv), depthwise, SE (pool, two dense layers, scaling), project (1x1 conv + residual)
    expect(calls.map(([k]) => k)).toEqual(['conv', 'depthwise', 'meanPixels', 'denseAct', 'denseAct', 'scaleChannels', 'conv']);
    for (const [, ms] of calls) expect(ms).toBeGreaterThanOrEqual(0);
    const before = calls.length;
    tf.dispose(ir.forward(x));
    expect(calls).toHaveLength(before);
    ir.dispose();
    x.dispose();
  });
});

describe('wasmValues', () => {
  it("views a float32 tensor's values on the WASM heap (reads and writes go through), null for int32 and on the cpu backend", async () => {
    const t = tf.tensor([1.5, -2, 3.25, 4], [2, 2]);
    const view = wasmValues(t)!;
    expect(Array.from(view)).toEqual([1.5, -2, 3.25, 4]);
    view[1] = 7;
    expect(Array.from(t.dataSync())).toEqual([1.5, 7, 3.25, 4]);
    const ints = tf.tensor([1, 2], [2], 'int32');
    expect(wasmValues(ints)).toBeNull();
    tf.dispose([t, ints]);
    await tf.setBackend('cpu');
    try {
      const c = tf.tensor([1, 2]);
      expect(wasmValues(c)).toBeNull();
      c.dispose();
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

describe('the cpu backend', () => {
  it('runs the plain path with the mode left on fast, and agrees with wasm', async () => {
    const ir = randomize(
      new InvertedResidual(
        { inputChannels: 24, kernel: 5, expandedChannels: 72, outChannels: 24, useSe: true, activation: 'HS', stride: 1, dilation: 1 },
        batchNorm2d(),
      ),
      3,
    );
    const lin = randomize(new Linear(24, 10, { activation: 'hardswish' }), 4);
    const data = normal(seededRng(9), 2 * 7 * 9 * 24);
    const runOn = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(data, [2, 7, 9, 24]);
      const info = await tf.profile(async () => {
        const y = tf.tidy(() => lin.forward(tf.mean(ir.forward(x), [1, 2])));
        await y.data();
        y.dispose();
      });
      const y = tf.tidy(() => lin.forward(tf.mean(ir.forward(x), [1, 2])));
      const out = (await y.data()) as Float32Array;
      tf.dispose([x, y]);
      return { out, kernels: info.kernels.map((k) => k.name) };
    };
    expect(getKernelMode()).toBe('fast');
    const wasm = await runOn('wasm');
    try {
      const cpu = await runOn('cpu');
      expect(cpu.kernels.some((k) => k.startsWith('Mnv3'))).toBe(false);
      assertScaledClose(cpu.out, wasm.out, TOL);
    } finally {
      await tf.setBackend('wasm');
    }
    expect(wasm.kernels).toContain('Mnv3SqueezeExcite');
  });
});

describe('the embedded WASM binary', () => {
  it('is up to date with assembly/kernels.ts', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..');
    // Recompiles the AssemblyScript source and compares with the committed generated file.
    expect(() => execFileSync(process.execPath, [join(root, 'scripts/build-wasm.mjs'), '--check'], { cwd: root, stdio: 'pipe' })).not.toThrow();
  });
});
