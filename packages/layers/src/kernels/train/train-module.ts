/**
 * What the training kernels (src/kernels/train) share: the exports of assembly/train-kernels.ts,
 * scratch space carved into aligned parts, and the geometry tfjs' convInfo gives a backprop kernel.
 */
import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';
import { kernelsFor, scratch, type KernelExports, type Loaded, type WasmBackendLike } from '../wasm-module.js';

/** The exports of assembly/train-kernels.ts (pointers are byte offsets into the tfjs heap). */
export interface TrainKernelExports {
  convBackpropFilterTableBytes(kh: number, kw: number, ci: number, co: number): number;
  convBackpropFilter(...args: number[]): void;
  convBackpropInput(...args: number[]): void;
  packTransposed1x1(w: number, out: number, ci: number, co: number): void;
  transposeTaps(w: number, out: number, taps: number, ci: number, co: number): void;
  packFilter(w: number, out: number, taps: number, ci: number, co: number): void;
  depthwiseBackpropInputTableBytes(kh: number, kw: number): number;
  depthwiseBackpropInput(...args: number[]): void;
  depthwiseBackpropFilter(...args: number[]): void;
  channelMoments(x: number, centre: number, out: number, p: number, c: number, square: number): void;
  channelAffineAct(x: number, out: number, a64: number, k64: number, a32: number, k32: number, p: number, c: number, act: number): void;
  channelGradSumsAct(dy: number, x: number, mean: number, a64: number, k64: number, a32: number, k32: number, sumG: number, dot: number, gout: number, p: number, c: number, act: number): void;
  channelAffineGrad(g: number, x: number, out: number, mean: number, A: number, B: number, C: number, p: number, c: number): void;
  activationGrad(x: number, dy: number, out: number, n: number, act: number): void;
  meanPixelsGrad(dy: number, add: number, out: number, n: number, p: number, c: number): void;
  scaleChannelsGateGrad(dy: number, x: number, dgate: number, n: number, p: number, c: number): void;
  packFilterOIHW(w: number, out: number, taps: number, ci: number, co: number): void;
  tapsFromOIHW(w: number, out: number, taps: number, ci: number, co: number): void;
  hwioToOIHW(w: number, out: number, taps: number, ci: number, co: number): void;
  runningStatsUpdate(rm: number, rv: number, mean: number, variance: number, rmOut: number, rvOut: number, c: number, momentum: number, n: number): void;
  rmspropStep(...args: number[]): void;
  sgdStep(...args: number[]): void;
}

export interface TrainKernels {
  l: Loaded;
  /** The inference kernels' exports (the GEMM, scaleChannels). */
  k: KernelExports;
  t: TrainKernelExports;
}

/** The loaded kernels for this backend; throws when they cannot load (no WASM SIMD). */
export function trainKernelsFor(be: WasmBackendLike, kernel: string): TrainKernels {
  const l = kernelsFor(be);
  if (!l) throw new Error(`${kernel}: the mnv3 WASM SIMD kernels are not loaded on this backend (WASM SIMD is required to train on wasm)`);
  return { l, k: l.exports, t: l.exports as unknown as TrainKernelExports };
}

/** Scratch of the given byte sizes, each part 16-byte aligned; returns the parts' addresses. */
export function scratchParts(be: WasmBackendLike, l: Loaded, sizes: number[]): number[] {
  const aligned = sizes.map((s) => Math.ceil(s / 16) * 16);
  const base = scratch(be, l, aligned.reduce((a, b) => a + b, 0) + 16);
  const out: number[] = [];
  let p = Math.ceil(base / 16) * 16;
  for (const s of aligned) {
    out.push(p);
    p += s;
  }
  return out;
}

export interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  /** tfjs' Conv2DBackprop* kernels have no such attribute (dilation 1); our gradient passes it. */
  dilations?: number | [number, number];
}

/** tfjs' convInfo for a backprop kernel, NHWC only; the kernel arguments after the shapes. */
export function convGeometry(
  kernel: string,
  inShape: number[],
  filterShape: [number, number, number, number],
  attrs: ConvAttrs,
  depthwise: boolean,
): { info: backend_util.Conv2DInfo; args: number[] } {
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') throw new Error(`${kernel}: only NHWC is supported on wasm, got ${attrs.dataFormat}`);
  const info = backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
  );
  const args = [
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
  return { info, args };
}

export const shape4 = (t: TensorInfo) => t.shape as [number, number, number, number];

/** The attributes of our train-mode convolutions (`Mnv3Conv2dTrain`, `Mnv3DepthwiseConv2dTrain`): torch's symmetric padding. */
export interface TrainConvAttrs {
  stride: number;
  pad: number;
  dilation: number;
}

/** The output side of a `k`×`k` convolution of NHWC `x` (throws when the input is too small). */
export function trainConvOutput(kernel: string, x: TensorInfo, k: number, { stride, pad, dilation }: TrainConvAttrs): { oh: number; ow: number } {
  const [, h, w] = shape4(x);
  const span = dilation * (k - 1) + 1;
  const oh = Math.floor((h + 2 * pad - span) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - span) / stride) + 1;
  if (oh < 1 || ow < 1) throw new Error(`${kernel}: input [${x.shape}] is too small for kernel ${k}, dilation ${dilation}, padding ${pad}`);
  return { oh, ow };
}

/**
 * BatchNorm's per-channel affine map from the batch statistics, as torch forms it: `scale =
 * invstd · γ`, `shift = β − mean · scale`, each rounded to float32 as torch's are, and held twice:
 * float32 for the relaxed build's FMA, float64 for the plain build's emulation of it (the kernels'
 * `a32` / `k32` and `a64` / `k64`: widened once per call, not per pixel). `invstd` is the float32
 * `1 / √(var + eps)` the forward saved. The forward and the backward both call it, so the backward
 * recomputes the very `x · scale + shift` the forward's activation saw. Returns the four arrays'
 * addresses in `at` (float64 scale, shift, then float32 scale, shift; `c` values each).
 */
export function batchNormAffine(buf: ArrayBufferLike, at: number, g: Float32Array, b: Float32Array, mean: Float32Array, invstd: Float32Array): { a64: number; k64: number; a32: number; k32: number } {
  const c = g.length;
  const [a64, k64, a32, k32] = [at, at + 8 * c, at + 16 * c, at + 20 * c];
  const [sc64, sh64, sc32, sh32] = [new Float64Array(buf, a64, c), new Float64Array(buf, k64, c), new Float32Array(buf, a32, c), new Float32Array(buf, k32, c)];
  for (let j = 0; j < c; j++) {
    const sc = Math.fround(invstd[j]! * g[j]!);
    const sh = Math.fround(b[j]! - mean[j]! * sc); // one rounding, as the FMA torch's AVX2 build contracts this to
    sc64[j] = sc32[j] = sc;
    sh64[j] = sh32[j] = sh;
  }
  return { a64, k64, a32, k32 };
}

/** Bytes of `batchNormAffine`'s arrays for c channels (at a 16-byte aligned address). */
export const batchNormAffineBytes = (c: number) => 24 * c;
