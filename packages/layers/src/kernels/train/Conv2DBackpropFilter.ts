import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { addressOf, scratch, zeros, type WasmBackendLike } from '../wasm-module.js';
import { convGeometry, shape4, trainKernelsFor, type ConvAttrs } from './train-module.js';

/**
 * tfjs' `Conv2DBackpropFilter` (missing from tfjs-backend-wasm 4.22): the filter gradient of a dense
 * convolution, `dw` `[kh,kw,ci,co]` from `x` `[N,H,W,ci]` and `dy` `[N,OH,OW,co]`, any kernel,
 * stride, padding and (our attribute) dilation. Tiles of 4 × 8 channels over chunks of pixels
 * (with fewer than 4 input channels, 4 im2col columns × 8 channels).
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  const { info, args } = convGeometry('Conv2DBackpropFilter', x.shape, a.filterShape, a, false);
  const [n, h, w, ci] = shape4(x);
  const { outHeight: oh, outWidth: ow, outChannels: co } = info;
  if (dy.shape.join() !== [n, oh, ow, co].join()) throw new Error(`Conv2DBackpropFilter: dy [${dy.shape}] does not match the output [${n},${oh},${ow},${co}]`);
  const { l, t } = trainKernelsFor(be, 'Conv2DBackpropFilter');
  const out = be.makeOutput([...a.filterShape], 'float32');
  const zero = zeros(be, l, ci * 4);
  const table = scratch(be, l, t.convBackpropFilterTableBytes(a.filterShape[0], a.filterShape[1], ci, co));
  t.convBackpropFilter(addressOf(be, x), addressOf(be, dy), addressOf(be, out), zero, table, n, h, w, ci, oh, ow, co, ...args);
  return out;
};

export const conv2DBackpropFilterConfig: KernelConfig = { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc };
