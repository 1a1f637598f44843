import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { runSplit } from '../kernel-pool.js';
import { Mnv3DepthwiseConv2dTrain, Mnv3DepthwiseConv2dTrainGrad } from '../names.js';
import { addressOf, type WasmBackendLike } from '../wasm-module.js';
import { convGeometry, scratchParts, shape4, trainConvOutput, trainKernelsFor, type TrainConvAttrs } from './train-module.js';

/** The output side of a depthwise convolution of `x` `[N,H,W,C]` with a torch-layout `filter` `[C,1,k,k]`. */
function geometry(kernel: string, x: TensorInfo, filter: TensorInfo, attrs: TrainConvAttrs) {
  const [n, h, w, c] = shape4(x);
  const [fc, one, k, kw] = shape4(filter);
  if (fc !== c || one !== 1 || k !== kw) throw new Error(`${kernel}: filter [${filter.shape}] (torch's [C, 1, k, k]) does not fit input [${x.shape}]`);
  return { n, h, w, c, k, ...trainConvOutput(kernel, x, k, attrs) };
}

/**
 * A depthwise convolution in train mode on the inference kernel (`depthwise`, kernels.ts): `x`
 * `[N,H,W,C]`, `filter` in torch's layout `[C,1,k,k]` (the parameter itself: its `[k,k,C]` copy is
 * made in scratch on each call, so no Transpose goes on the tape); attrs `stride`, `pad`
 * (symmetric), `dilation`. No bias or activation (BatchNorm follows). Its gradient is
 * {@link Mnv3DepthwiseConv2dTrainGrad}.
 */
const forward = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as TrainConvAttrs;
  const { n, h, w, c, k, oh, ow } = geometry(Mnv3DepthwiseConv2dTrain, x, filter, a);
  const { l, t } = trainKernelsFor(be, Mnv3DepthwiseConv2dTrain);
  const out = be.makeOutput([n, oh, ow, c], 'float32');
  const [taps] = scratchParts(be, l, [k * k * c * 4]) as [number];
  t.tapsFromOIHW(addressOf(be, filter), taps, k * k, 1, c);
  const args = [addressOf(be, x), taps, 0, addressOf(be, out), n, h, w, c, k, a.stride, a.dilation, a.pad, oh, ow, 0];
  runSplit(l.exports, l.pool, 'depthwise', args, n * oh, 1, (n * oh * ow * c * k * k) / 2);
  return out;
};

/**
 * Both gradients of {@link Mnv3DepthwiseConv2dTrain} in one call: inputs `dy` `[N,OH,OW,C]`, `x`,
 * `filter` `[C,1,k,k]`; outputs `dx` `[N,H,W,C]` and `dfilter` `[C,1,k,k]`, by the kernels of
 * `DepthwiseConv2dNativeBackpropInput` and `DepthwiseConv2dNativeBackpropFilter`.
 */
const backward = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo[] => {
  const be = backend as WasmBackendLike;
  const { dy, x, filter } = inputs as { dy: TensorInfo; x: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as TrainConvAttrs;
  const { n, h, w, c, k, oh, ow } = geometry(Mnv3DepthwiseConv2dTrainGrad, x, filter, a);
  if (dy.shape.join() !== [n, oh, ow, c].join()) throw new Error(`${Mnv3DepthwiseConv2dTrainGrad}: dy [${dy.shape}] does not match the output [${n},${oh},${ow},${c}]`);
  const { l, t } = trainKernelsFor(be, Mnv3DepthwiseConv2dTrainGrad);
  const { args } = convGeometry(Mnv3DepthwiseConv2dTrainGrad, [n, h, w, c], [k, k, c, 1], { strides: a.stride, pad: [[0, 0], [a.pad, a.pad], [a.pad, a.pad], [0, 0]], dilations: a.dilation }, true);
  const dx = be.makeOutput([n, h, w, c], 'float32');
  const df = be.makeOutput([c, 1, k, k], 'float32');
  const [taps, dTaps, table] = scratchParts(be, l, [k * k * c * 4, k * k * c * 4, t.depthwiseBackpropInputTableBytes(k, k)]) as [number, number, number];
  t.tapsFromOIHW(addressOf(be, filter), taps, k * k, 1, c);
  t.depthwiseBackpropInput(addressOf(be, dy), taps, addressOf(be, dx), table, n, h, w, c, oh, ow, ...args);
  t.depthwiseBackpropFilter(addressOf(be, x), addressOf(be, dy), dTaps, n, h, w, c, oh, ow, ...args);
  t.hwioToOIHW(dTaps, addressOf(be, df), k * k, 1, c);
  return [dx, df];
};

export const mnv3DepthwiseConv2dTrainConfig: KernelConfig = { kernelName: Mnv3DepthwiseConv2dTrain, backendName: 'wasm', kernelFunc: forward };
export const mnv3DepthwiseConv2dTrainGradConfig: KernelConfig = { kernelName: Mnv3DepthwiseConv2dTrainGrad, backendName: 'wasm', kernelFunc: backward };
