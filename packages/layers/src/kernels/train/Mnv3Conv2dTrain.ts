import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3Conv2dTrain, Mnv3Conv2dTrainGrad } from '../names.js';
import { addressOf, zeros, type WasmBackendLike } from '../wasm-module.js';
import { convGeometry, scratchParts, shape4, trainConvOutput, trainKernelsFor, type TrainConvAttrs } from './train-module.js';

/** The output side of a convolution of `x` `[N,H,W,ci]` with a torch-layout `filter` `[co,ci,k,k]`. */
function geometry(kernel: string, x: TensorInfo, filter: TensorInfo, attrs: TrainConvAttrs) {
  const [n, h, w, ci] = shape4(x);
  const [co, fci, k, kw] = shape4(filter);
  if (k !== kw || fci !== ci) throw new Error(`${kernel}: filter [${filter.shape}] (torch's [out, in, k, k]) does not fit input [${x.shape}]`);
  return { n, h, w, ci, co, k, ...trainConvOutput(kernel, x, k, attrs) };
}

/**
 * A dense convolution in train mode on the inference GEMM (`conv`, kernels.ts): `x` `[N,H,W,Ci]`,
 * `filter` in torch's layout `[Co,Ci,k,k]` (the parameter itself: no transpose on the tape; packed
 * into scratch on each call, the weights change every step), optional `bias` `[Co]` (added in the
 * GEMM; attr `bias` true with it, for the gradient); attrs `stride`, `pad` (symmetric, explicit),
 * `dilation`. No activation (BatchNorm follows, or the caller's). Its gradient (registered by
 * `@mnv3/layers/train`) is {@link Mnv3Conv2dTrainGrad}.
 */
const forward = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, filter, bias } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo };
  const a = attrs as unknown as TrainConvAttrs;
  const { n, h, w, ci, co, k, oh, ow } = geometry(Mnv3Conv2dTrain, x, filter, a);
  const { l, k: kx, t } = trainKernelsFor(be, Mnv3Conv2dTrain);
  const out = be.makeOutput([n, oh, ow, co], 'float32');
  const zero = zeros(be, l, ci * 4);
  const [table, packed] = scratchParts(be, l, [kx.convTableBytes(k), Math.ceil(co / 8) * 32 * k * k * ci]) as [number, number];
  t.packFilterOIHW(addressOf(be, filter), packed, k * k, ci, co);
  const p = n * oh * ow;
  if (bias && bias.shape.join() !== String(co)) throw new Error(`${Mnv3Conv2dTrain}: bias [${bias.shape}] does not fit ${co} output channels`);
  kx.conv(addressOf(be, x), packed, bias ? addressOf(be, bias) : 0, 0, addressOf(be, out), zero, table, h, w, ci, oh, ow, co, k, a.stride, a.dilation, a.pad, 0, p, 0, 0, p);
  return out;
};

/**
 * The gradients of {@link Mnv3Conv2dTrain} in one call: inputs `dy` `[N,OH,OW,Co]`, `x`, `filter`
 * `[Co,Ci,k,k]`; outputs `dx` `[N,H,W,Ci]` and `dfilter` `[Co,Ci,k,k]`, the layouts of the forward's
 * inputs, and with attr `bias` the bias's, `Σ dy` over the pixels `[Co]`. The arithmetic is
 * `Conv2DBackpropInput`'s and `Conv2DBackpropFilter`'s (a 1x1 of stride 1 without padding is
 * `dy · filterᵀ` in the GEMM); only the filter's layout differs.
 */
const backward = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo[] => {
  const be = backend as WasmBackendLike;
  const { dy, x, filter } = inputs as { dy: TensorInfo; x: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as TrainConvAttrs;
  const { n, h, w, ci, co, k, oh, ow } = geometry(Mnv3Conv2dTrainGrad, x, filter, a);
  if (dy.shape.join() !== [n, oh, ow, co].join()) throw new Error(`${Mnv3Conv2dTrainGrad}: dy [${dy.shape}] does not match the output [${n},${oh},${ow},${co}]`);
  const { l, k: kx, t } = trainKernelsFor(be, Mnv3Conv2dTrainGrad);
  const taps = k * k;
  const { args } = convGeometry(Mnv3Conv2dTrainGrad, [n, h, w, ci], [k, k, ci, co], { strides: a.stride, pad: [[0, 0], [a.pad, a.pad], [a.pad, a.pad], [0, 0]], dilations: a.dilation }, false);
  const dx = be.makeOutput([n, h, w, ci], 'float32');
  const df = be.makeOutput([co, ci, k, k], 'float32');
  const [dyAt, xAt, fAt] = [addressOf(be, dy), addressOf(be, x), addressOf(be, filter)];
  const zero = zeros(be, l, Math.max(ci, co) * 4);
  const gemm = k === 1 && a.stride === 1 && a.pad === 0;
  const [gemmTable, wt, filterTable, dfHwio] = scratchParts(be, l, [
    gemm ? kx.convTableBytes(1) : 0,
    gemm ? Math.ceil(ci / 8) * co * 32 : taps * ci * co * 4,
    t.convBackpropFilterTableBytes(k, k, ci, co),
    taps * ci * co * 4,
  ]) as [number, number, number, number];
  if (gemm) {
    // An OIHW 1x1 filter is [co][ci]: the "HWIO" filter of the convolution from co to ci channels.
    const pixels = n * h * w;
    t.packFilter(fAt, wt, 1, co, ci);
    kx.conv(dyAt, wt, 0, 0, addressOf(be, dx), zero, gemmTable, h, w, co, h, w, ci, 1, 1, 1, 0, 0, pixels, 0, 0, pixels);
  } else {
    t.tapsFromOIHW(fAt, wt, taps, ci, co);
    t.convBackpropInput(dyAt, wt, addressOf(be, dx), n, h, w, ci, oh, ow, co, ...args);
  }
  t.convBackpropFilter(xAt, dyAt, dfHwio, zero, filterTable, n, h, w, ci, oh, ow, co, ...args);
  t.hwioToOIHW(dfHwio, addressOf(be, df), taps, ci, co);
  if (!(attrs as { bias?: boolean }).bias) return [dx, df];
  // Σ dy per channel: BatchNorm's moment sums (float32 blocks, float64 totals) centred on zeros.
  const db = be.makeOutput([co], 'float32');
  const [sums] = scratchParts(be, l, [co * 8]) as [number];
  t.channelMoments(dyAt, zero, sums, n * oh * ow, co, 0);
  new Float32Array(l.memory.buffer, addressOf(be, db), co).set(new Float64Array(l.memory.buffer, sums, co));
  return [dx, df, db];
};

export const mnv3Conv2dTrainConfig: KernelConfig = { kernelName: Mnv3Conv2dTrain, backendName: 'wasm', kernelFunc: forward };
export const mnv3Conv2dTrainGradConfig: KernelConfig = { kernelName: Mnv3Conv2dTrainGrad, backendName: 'wasm', kernelFunc: backward };
