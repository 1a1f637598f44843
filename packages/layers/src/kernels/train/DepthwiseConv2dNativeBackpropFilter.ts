import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { addressOf, type WasmBackendLike } from '../wasm-module.js';
import { convGeometry, shape4, trainKernelsFor, type ConvAttrs } from './train-module.js';

/**
 * tfjs' `DepthwiseConv2dNativeBackpropFilter` (missing from tfjs-backend-wasm 4.22): `dw`
 * `[kh,kw,C,1]` (attr `filterShape`) from `x` `[N,H,W,C]` and `dy`; any kernel, stride, padding,
 * dilation. Channel multipliers other than 1 are not supported.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  if (a.filterShape[3] !== 1) throw new Error(`DepthwiseConv2dNativeBackpropFilter: channel multiplier ${a.filterShape[3]} is not supported on wasm (only 1)`);
  const { info, args } = convGeometry('DepthwiseConv2dNativeBackpropFilter', x.shape, a.filterShape, a, true);
  const [n, h, w, c] = shape4(x);
  const { outHeight: oh, outWidth: ow } = info;
  if (dy.shape.join() !== [n, oh, ow, c].join()) throw new Error(`DepthwiseConv2dNativeBackpropFilter: dy [${dy.shape}] does not match the output [${n},${oh},${ow},${c}]`);
  const { t } = trainKernelsFor(be, 'DepthwiseConv2dNativeBackpropFilter');
  const out = be.makeOutput([...a.filterShape], 'float32');
  t.depthwiseBackpropFilter(addressOf(be, x), addressOf(be, dy), addressOf(be, out), n, h, w, c, oh, ow, ...args);
  return out;
};

export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: 'wasm', kernelFunc };
