import * as tf from '@tensorflow/tfjs-core';
import { toFloat32, type HostTensor } from '@mnv3/io';

export interface CloseOptions {
  atol?: number;
  rtol?: number;
}

export interface CloseReport {
  ok: boolean;
  /** Elements outside |a−e| ≤ atol + rtol·|e|. */
  mismatched: number;
  worstIndex: number;
  worstActual: number;
  worstExpected: number;
  maxAbsDiff: number;
  maxAbsExpected: number;
}

/** Compares with torch.allclose semantics, |a−e| ≤ atol + rtol·|e|, and finds the worst element. */
export function compareClose(actual: ArrayLike<number>, expected: ArrayLike<number>, options: CloseOptions = {}): CloseReport {
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-5;
  if (actual.length !== expected.length) throw new Error(`length mismatch: actual ${actual.length}, expected ${expected.length}`);
  let mismatched = 0;
  let worstIndex = -1;
  let worstExcess = -Infinity;
  let maxAbsDiff = 0;
  let maxAbsExpected = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const diff = Math.abs(a - e);
    const bad = !(diff <= atol + rtol * Math.abs(e)) && !(Number.isNaN(a) && Number.isNaN(e));
    if (bad) mismatched++;
    const excess = Number.isNaN(diff) ? Infinity : diff - (atol + rtol * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worstIndex = i;
    }
    if (diff > maxAbsDiff || Number.isNaN(diff)) maxAbsDiff = Number.isNaN(diff) ? Infinity : diff;
    maxAbsExpected = Math.max(maxAbsExpected, Math.abs(e));
  }
  return {
    ok: mismatched === 0,
    mismatched,
    worstIndex,
    worstActual: worstIndex >= 0 ? actual[worstIndex]! : NaN,
    worstExpected: worstIndex >= 0 ? expected[worstIndex]! : NaN,
    maxAbsDiff,
    maxAbsExpected,
  };
}

function unravel(index: number, shape: readonly number[]): number[] {
  const out: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    out.unshift(index % shape[d]!);
    index = Math.floor(index / shape[d]!);
  }
  return out;
}

/**
 * Throws unless `actual` matches `expected` elementwise (torch semantics); the message names the
 * worst element by its multi-index, both values, and how many elements failed.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  options: CloseOptions & { shape?: readonly number[]; what?: string } = {},
): CloseReport {
  const r = compareClose(actual, expected, options);
  if (!r.ok) {
    const where = options.shape ? `[${unravel(r.worstIndex, options.shape).join(', ')}]` : `${r.worstIndex}`;
    throw new Error(
      `${options.what ?? 'tensor'}: ${r.mismatched}/${actual.length} elements differ beyond atol=${options.atol ?? 1e-5}, rtol=${options.rtol ?? 1e-5}; ` +
        `worst at ${where}: actual ${r.worstActual}, expected ${r.worstExpected} (max |diff| ${r.maxAbsDiff}, max |expected| ${r.maxAbsExpected})`,
    );
  }
  return r;
}

/**
 * The parity bar the issues set: max |a−e| ≤ tol·max(1, max|e|), i.e. atol scaled by the output's
 * magnitude and no rtol.
 */
export function assertScaledClose(
  actual: ArrayLike<number>,
  expected: HostTensor | ArrayLike<number>,
  tol: number,
  options: { shape?: readonly number[]; what?: string } = {},
): CloseReport {
  const e = 'dtype' in expected ? toFloat32(expected as HostTensor) : (expected as ArrayLike<number>);
  let maxAbs = 0;
  for (let i = 0; i < e.length; i++) maxAbs = Math.max(maxAbs, Math.abs(e[i]!));
  const shape = options.shape ?? ('dtype' in expected ? (expected as HostTensor).shape : undefined);
  return assertClose(actual, e, { atol: tol * Math.max(1, maxAbs), rtol: 0, shape, what: options.what });
}

/** NCHW host data (TorchVision's layout) → NHWC (ours). */
export function nchwToNhwc(data: Float32Array, shape: readonly number[]): { data: Float32Array; shape: [number, number, number, number] } {
  const [n, c, h, w] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[((b * h + y) * w + x) * c + ch] = data[((b * c + ch) * h + y) * w + x]!;
  return { data: out, shape: [n, h, w, c] };
}

/** Reads a tfjs NHWC tensor back as NCHW host data, to compare with TorchVision's output. */
export async function nhwcTensorToNchw(t: tf.Tensor4D): Promise<Float32Array> {
  const [n, h, w, c] = t.shape;
  const data = (await t.data()) as Float32Array;
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) out[((b * c + ch) * h + y) * w + x] = data[((b * h + y) * w + x) * c + ch]!;
  return out;
}

/** A TorchVision NCHW host tensor as an NHWC tfjs tensor (the caller disposes it). */
export function nhwcTensor(t: HostTensor): tf.Tensor4D {
  const { data, shape } = nchwToNhwc(toFloat32(t), t.shape);
  return tf.tensor4d(data, shape);
}
