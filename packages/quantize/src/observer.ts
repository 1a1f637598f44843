// torch/ao/quantization/observer.py: the observers that pick a tensor's scale and zero point, with
// torch's float32 tensor arithmetic step by step (each `Math.fround` is one float32 tensor op).
import type { QParams } from './qnnpack.js';
import { rint } from './qnnpack.js';

const f32 = Math.fround;
/** `torch.finfo(torch.float32).eps`, the observers' `eps` buffer. */
export const FLOAT32_EPS = 2 ** -23;

export type QScheme = 'per_tensor_affine' | 'per_tensor_symmetric';
export type QDType = 'quint8' | 'qint8';

export interface ObserverOptions {
  /** Default `quint8` (activations); weights are `qint8`. */
  dtype?: QDType;
  /** Default `per_tensor_affine`; weights use `per_tensor_symmetric`. */
  qscheme?: QScheme;
}

/**
 * `UniformQuantizationObserverBase._calculate_qparams` for one min / max pair (per tensor, 8 bits,
 * no reduced range). Unobserved values (min +inf, max -inf) give torch's silent default, scale 1
 * and zero point 0; callers that must not accept that check `observed` first.
 */
export function calculateQParams(minVal: number, maxVal: number, dtype: QDType = 'quint8', qscheme: QScheme = 'per_tensor_affine'): QParams {
  if (!observed(minVal, maxVal)) return { scale: 1, zeroPoint: 0 };
  const [qmin, qmax] = dtype === 'quint8' ? [0, 255] : [-128, 127];
  const minNeg = Math.min(minVal, 0);
  const maxPos = Math.max(maxVal, 0);
  if (qscheme === 'per_tensor_symmetric') {
    const m = Math.max(-minNeg, maxPos);
    const scale = Math.max(f32(m / ((qmax - qmin) / 2)), FLOAT32_EPS);
    return { scale, zeroPoint: dtype === 'quint8' ? 128 : 0 };
  }
  const scale = Math.max(f32(f32(maxPos - minNeg) / (qmax - qmin)), FLOAT32_EPS);
  const zp = qmin - rint(f32(minNeg / scale));
  return { scale, zeroPoint: Math.min(Math.max(zp, qmin), qmax) };
}

/** `check_min_max_valid`: false for an observer that never saw a value. */
export function observed(minVal: number, maxVal: number): boolean {
  return !(minVal === Infinity && maxVal === -Infinity);
}

/** `torch.aminmax` of a float32 array. */
export function aminmax(x: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Common interface of the observers: `observe` a tensor's values, then `calculateQParams`. */
export interface Observer {
  minVal: number;
  maxVal: number;
  observe(x: ArrayLike<number>): void;
  calculateQParams(): QParams;
}

/** `MinMaxObserver`: the running minimum and maximum. */
export class MinMaxObserver implements Observer {
  minVal = Infinity;
  maxVal = -Infinity;
  readonly dtype: QDType;
  readonly qscheme: QScheme;
  constructor(options: ObserverOptions = {}) {
    this.dtype = options.dtype ?? 'quint8';
    this.qscheme = options.qscheme ?? 'per_tensor_affine';
  }

  observe(x: ArrayLike<number>): void {
    if (x.length === 0) return;
    const [lo, hi] = aminmax(x);
    this.minVal = Math.min(lo, this.minVal);
    this.maxVal = Math.max(hi, this.maxVal);
  }

  calculateQParams(): QParams {
    return calculateQParams(this.minVal, this.maxVal, this.dtype, this.qscheme);
  }
}

/** `MovingAverageMinMaxObserver`: min/max ← min/max + c · (current − min/max), c = 0.01. */
export class MovingAverageMinMaxObserver extends MinMaxObserver {
  readonly averagingConstant: number;
  constructor(options: ObserverOptions & { averagingConstant?: number } = {}) {
    super(options);
    this.averagingConstant = options.averagingConstant ?? 0.01;
  }

  override observe(x: ArrayLike<number>): void {
    if (x.length === 0) return;
    const [lo, hi] = aminmax(x);
    if (this.minVal === Infinity && this.maxVal === -Infinity) {
      this.minVal = lo;
      this.maxVal = hi;
    } else {
      this.minVal = movingAverage(this.minVal, lo, this.averagingConstant);
      this.maxVal = movingAverage(this.maxVal, hi, this.averagingConstant);
    }
  }
}

/** One moving-average step in float32, as both the observer and `fused_moving_avg_obs_fake_quant` do it. */
export function movingAverage(running: number, current: number, c: number): number {
  return f32(running + f32(f32(c) * f32(current - running)));
}

// -------------------------------------------------------------------------------------------------
// HistogramObserver

/**
 * `torch.histc(x, bins, min, max)` on the CPU (linear interpolation, float32): values outside
 * [min, max] are dropped; min == max takes the data's range, and an empty range widens by ±1.
 */
export function histc(x: ArrayLike<number>, bins: number, min: number, max: number, out: Float32Array<ArrayBufferLike> = new Float32Array(bins)): Float32Array<ArrayBufferLike> {
  let left = min;
  let right = max;
  if (left === right && x.length > 0) [left, right] = aminmax(x);
  if (left === right) {
    left -= 1;
    right += 1;
  }
  const l = f32(left);
  const r = f32(right);
  const width = f32(r - l);
  out.fill(0);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!(v >= l && v <= r)) continue;
    let pos = Math.trunc(f32(f32(f32(v - l) * bins) / width));
    if (pos === bins) pos -= 1;
    out[pos]! += 1;
  }
  return out;
}

/** c10's `div_floor_floating` in float32 (torch.div(..., rounding_mode='floor')). */
function divFloor(a: number, b: number): number {
  if (b === 0) return f32(a / b);
  const mod = f32(a % b);
  let div = f32(f32(a - mod) / b);
  if (mod !== 0 && b < 0 !== mod < 0) div = f32(div - 1);
  if (div === 0) return Object.is(f32(a / b), -0) || f32(a / b) < 0 ? -0 : 0;
  let floordiv = Math.floor(div);
  if (f32(div - floordiv) > 0.5) floordiv += 1;
  return floordiv;
}

/** `_get_norm`: density · (end³ − begin³) / 3, float32. */
function getNorm(begin: number, end: number, density: number): number {
  const n = f32(f32(f32(f32(end * end) * end) - f32(f32(begin * begin) * begin)) / 3);
  return f32(density * n);
}

/**
 * `HistogramObserver` (2048 bins, upsample rate 128, quint8 affine as `get_default_qconfig('qnnpack')`
 * configures it): the running histogram, re-binned as ranges grow, and the L2-error search for
 * min / max in `calculate_qparams`. Ported with torch 1.13's quirks (histc's range is `int()` of
 * the float range).
 */
export class HistogramObserver implements Observer {
  minVal = Infinity;
  maxVal = -Infinity;
  readonly bins: number;
  readonly upsampleRate: number;
  histogram: Float32Array<ArrayBufferLike>;
  readonly dstNbins = 256;
  readonly dtype: QDType = 'quint8';
  readonly qscheme: QScheme = 'per_tensor_affine';

  constructor(options: { bins?: number; upsampleRate?: number } = {}) {
    this.bins = options.bins ?? 2048;
    this.upsampleRate = options.upsampleRate ?? 128;
    this.histogram = new Float32Array(this.bins);
  }

  observe(x: ArrayLike<number>): void {
    if (x.length === 0) return;
    const sameValues = this.minVal === this.maxVal;
    const uninitialized = this.minVal === Infinity && this.maxVal === -Infinity;
    if (uninitialized || sameValues) {
      [this.minVal, this.maxVal] = aminmax(x);
      histc(x, this.bins, Math.trunc(this.minVal), Math.trunc(this.maxVal), this.histogram);
      return;
    }
    const [newMin, newMax] = aminmax(x);
    let combinedMin = Math.min(newMin, this.minVal);
    let combinedMax = Math.max(newMax, this.maxVal);
    // _adjust_min_max
    const histBinWidth = f32(f32(this.maxVal - this.minVal) / (this.bins * this.upsampleRate));
    const binsWidth = f32(this.bins * histBinWidth);
    const downsampleRate = Math.ceil(f32(f32(combinedMax - combinedMin) / binsWidth));
    const e = f32(f32(downsampleRate * binsWidth) - f32(combinedMax - combinedMin));
    combinedMax = f32(combinedMax + e);
    combinedMin = f32(combinedMin);
    const startIdx = rint(f32(f32(this.minVal - combinedMin) / histBinWidth));
    const combined = histc(x, this.bins, Math.trunc(combinedMin), Math.trunc(combinedMax));
    if (combinedMin === this.minVal && combinedMax === this.maxVal) {
      for (let i = 0; i < this.bins; i++) combined[i] = f32(combined[i]! + this.histogram[i]!);
    } else {
      this.combineHistograms(combined, this.histogram, downsampleRate, startIdx);
    }
    this.histogram = combined;
    this.minVal = combinedMin;
    this.maxVal = combinedMax;
  }

  /** `_combine_histograms`: upsample the old histogram, place it on the new grid, integrate, downsample. */
  private combineHistograms(orig: Float32Array<ArrayBufferLike>, hist: Float32Array<ArrayBufferLike>, downsampleRate: number, startIdx: number): void {
    const up = this.upsampleRate;
    const n = this.bins;
    // Entries of the zero-padded upsampled histogram, cumulated in float64, sampled every
    // `downsampleRate`: only the run [startIdx, startIdx + n * up) is non-zero.
    let cum = 0;
    let prevF32 = 0; // shifted_integral_histogram is a float32 tensor
    let j = 0;
    for (let k = 0; k < n; k++) {
      const end = (k + 1) * downsampleRate; // exclusive
      for (; j < end; j++) {
        const src = j - startIdx;
        if (src >= 0 && src < n * up) cum += hist[Math.floor(src / up)]!;
      }
      const interpolated = (cum - prevF32) / up;
      orig[k] = f32(orig[k]! + f32(interpolated));
      prevF32 = f32(cum);
    }
  }

  /** `_non_linear_param_search`: the min / max that minimise the L2 quantization error. */
  nonLinearParamSearch(): [number, number] {
    const bins = this.bins;
    const binWidth = f32(f32(this.maxVal - this.minVal) / bins);
    let totalD = 0;
    for (let i = 0; i < bins; i++) totalD += this.histogram[i]!;
    const total = f32(totalD);
    const cSum = new Float32Array(bins);
    let acc = 0;
    for (let i = 0; i < bins; i++) {
      acc += this.histogram[i]!;
      cSum[i] = acc;
    }
    const stepsize = 1e-5;
    let alpha = 0;
    let beta = 1;
    let startBin = 0;
    let endBin = bins - 1;
    let normMin = Infinity;
    while (alpha < beta) {
      const nextAlpha = alpha + stepsize;
      const nextBeta = beta - stepsize;
      let l = startBin;
      let r = endBin;
      const lo = f32(nextAlpha * total);
      const hi = f32(nextBeta * total);
      while (l < endBin && cSum[l]! < lo) l++;
      while (r > startBin && cSum[r]! > hi) r--;
      let nextStart = startBin;
      let nextEnd = endBin;
      if (l - startBin > endBin - r) {
        nextStart = l;
        alpha = nextAlpha;
      } else {
        nextEnd = r;
        beta = nextBeta;
      }
      if (nextStart === startBin && nextEnd === endBin) continue;
      const norm = this.quantizationError(nextStart, nextEnd);
      if (norm > normMin) break;
      normMin = norm;
      startBin = nextStart;
      endBin = nextEnd;
    }
    const newMin = f32(this.minVal + f32(binWidth * startBin));
    const newMax = f32(this.minVal + f32(binWidth * (endBin + 1)));
    return [newMin, newMax];
  }

  /** `_compute_quantization_error` for the candidate range [startBin, endBin]. */
  private quantizationError(startBin: number, endBin: number): number {
    const bins = this.bins;
    const binWidthD = (this.maxVal - this.minVal) / bins; // Python float from .item()
    const dstBinWidthD = (binWidthD * (endBin - startBin + 1)) / this.dstNbins;
    if (dstBinWidthD === 0) return 0;
    const bw = f32(binWidthD);
    const dbw = f32(dstBinWidthD);
    const halfD = f32(dstBinWidthD / 2);
    const negHalfD = f32(-dstBinWidthD / 2);
    const middleBase = f32(f32(f32(f32(halfD * halfD) * halfD) - f32(f32(negHalfD * negHalfD) * negHalfD)) / 3);
    let sum = 0;
    for (let i = 0; i < bins; i++) {
      const begin = f32(f32(i - startBin) * bw);
      const end = f32(begin + bw);
      const dBegin = Math.min(Math.max(divFloor(begin, dbw), 0), this.dstNbins - 1);
      const dBeginCenter = f32(f32(dBegin + 0.5) * dbw);
      const dEnd = Math.min(Math.max(divFloor(end, dbw), 0), this.dstNbins - 1);
      const density = f32(this.histogram[i]! / bw);
      let norm = getNorm(f32(begin - dBeginCenter), halfD, density);
      norm = f32(norm + f32(f32(dEnd - dBegin - 1) * f32(density * middleBase)));
      const dEndCenter = f32(f32(dEnd * dbw) + halfD);
      norm = f32(norm + getNorm(negHalfD, f32(end - dEndCenter), density));
      sum += norm;
    }
    return f32(sum);
  }

  calculateQParams(): QParams {
    if (!observed(this.minVal, this.maxVal)) return { scale: 1, zeroPoint: 0 };
    const [lo, hi] = this.nonLinearParamSearch();
    return calculateQParams(lo, hi, 'quint8', 'per_tensor_affine');
  }
}
