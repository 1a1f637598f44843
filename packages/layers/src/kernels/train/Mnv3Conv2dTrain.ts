import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3Conv2dTrain } from '../names.js';
import { addressOf, zeros, type WasmBackendLike } from '../wasm-module.js';
import { scratchParts, shape4, trainKernelsFor } from './train-module.js';

/**
 * A dense convolution in train mode on the inference GEMM (`conv`, kernels.ts): `x` `[N,H,W,Ci]`,
 * `filter` `[k,k,Ci,Co]` (packed into scratch on each call: the weights change every step); attrs
 * `stride`, `pad` (symmetric, explicit), `dilation`. No bias or activation (BatchNorm follows).
 * Its gradient (registered by `@mnv3/layers/train`) is Conv2DBackpropInput / Conv2DBackpropFilter.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const { stride, pad, dilation } = attrs as { stride: number; pad: number; dilation: number };
  const [n, h, w, ci] = shape4(x);
  const [k, kw, fci, co] = shape4(filter);
  if (k !== kw || fci !== ci) throw new Error(`${Mnv3Conv2dTrain}: filter [${filter.shape}] does not fit input [${x.shape}]`);
  const span = dilation * (k - 1) + 1;
  const oh = Math.floor((h + 2 * pad - span) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - span) / stride) + 1;
  if (oh < 1 || ow < 1) throw new Error(`${Mnv3Conv2dTrain}: input [${x.shape}] is too small for kernel ${k}, dilation ${dilation}, padding ${pad}`);
  const { l, k: kx, t } = trainKernelsFor(be, Mnv3Conv2dTrain);
  const out = be.makeOutput([n, oh, ow, co], 'float32');
  const zero = zeros(be, l, ci * 4);
  const [table, packed] = scratchParts(be, l, [kx.convTableBytes(k), Math.ceil(co / 8) * 32 * k * k * ci]) as [number, number];
  t.packFilter(addressOf(be, filter), packed, k * k, ci, co);
  const p = n * oh * ow;
  kx.conv(addressOf(be, x), packed, 0, 0, addressOf(be, out), zero, table, h, w, ci, oh, ow, co, k, stride, dilation, pad, 0, p, 0, 0, p);
  return out;
};

export const mnv3Conv2dTrainConfig: KernelConfig = { kernelName: Mnv3Conv2dTrain, backendName: 'wasm', kernelFunc };
