import { describe, expect, it } from 'vitest';
import { addParams, hardsigmoidTable, hardswishTable, qadd, qglobalAvgPool, quantizePerTensor, rint } from './qnnpack.js';

describe('qnnpack arithmetic', () => {
  it('rounds half to even, as lrintf and cvtps2dq', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(rint)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });

  it('quantizes with x × (1 / scale) in float32, clamped to [0, 255]', () => {
    expect([...quantizePerTensor(Float32Array.of(0, 0.05, 0.15, -1, 100), 0.1, 10)]).toEqual([10, 10, 12, 0, 255]);
  });

  it("derives QNNPACK's add multipliers: the larger scale ratio has a multiplier in [2^21, 2^22)", () => {
    const p = addParams({ scale: 0.02, zeroPoint: 3 }, { scale: 0.05, zeroPoint: 200 }, { scale: 0.07, zeroPoint: 128 });
    expect(Math.max(p.aMultiplier, p.bMultiplier)).toBeGreaterThanOrEqual(2 ** 21);
    expect(Math.max(p.aMultiplier, p.bMultiplier)).toBeLessThan(2 ** 22);
    expect(p.zeroPointProduct).toBe(-(p.aMultiplier * 3 + p.bMultiplier * 200));
    // a·(qa − za)·sa + (qb − zb)·sb ≈ (qy − zy)·sy within half a quantum (plus multiplier rounding)
    const y = qadd({ data: Uint8Array.of(50), shape: [1], scale: 0.02, zeroPoint: 3 }, { data: Uint8Array.of(10), shape: [1], scale: 0.05, zeroPoint: 200 }, { scale: 0.07, zeroPoint: 128 });
    const exact = (50 - 3) * 0.02 + (10 - 200) * 0.05;
    expect(Math.abs((y.data[0]! - 128) * 0.07 - exact)).toBeLessThanOrEqual(0.0351);
  });

  it('hardswish and hardsigmoid tables follow the float functions within half an output quantum', () => {
    const hs = hardswishTable({ scale: 0.05, zeroPoint: 100 }, { scale: 0.04, zeroPoint: 20 });
    const sg = hardsigmoidTable({ scale: 0.05, zeroPoint: 100 });
    for (let i = 0; i < 256; i++) {
      const x = 0.05 * (i - 100);
      const h = (x * Math.min(Math.max(x + 3, 0), 6)) / 6;
      expect(Math.abs((hs[i]! - 20) * 0.04 - Math.min(Math.max(h, -0.8), 9.4))).toBeLessThanOrEqual(0.0201);
      // 1.0 saturates at 255/256, as in QNNPACK
      expect(Math.abs(sg[i]! / 256 - Math.min(Math.min(Math.max(x + 3, 0), 6) / 6, 255 / 256))).toBeLessThanOrEqual(0.5 / 256 + 1e-6);
    }
  });

  it('global average pooling of a 1×1 map is the identity; otherwise the rounded mean', () => {
    const one = qglobalAvgPool({ data: Uint8Array.of(7, 9), shape: [1, 1, 1, 2], scale: 0.1, zeroPoint: 3 });
    expect([...one.data]).toEqual([7, 9]);
    const two = qglobalAvgPool({ data: Uint8Array.of(1, 10, 2, 20), shape: [1, 1, 2, 2], scale: 0.1, zeroPoint: 3 });
    // in the zero-point-shifted domain: (1 + 2 − 2·3) / 2 = −1.5 → −2 (even) → 1; (10 + 20 − 6) / 2 = 12 → 15
    expect([...two.data]).toEqual([1, 15]);
  });
});
