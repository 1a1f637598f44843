import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { addressOf, scratch, type WasmBackendLike } from '../wasm-module.js';
import { convGeometry, shape4, trainKernelsFor, type ConvAttrs } from './train-module.js';

/**
 * tfjs' `DepthwiseConv2dNativeBackpropInput` (missing from tfjs-backend-wasm 4.22): `dx`
 * `[N,H,W,C]` (attr `inputShape`) from `dy` and `filter` `[kh,kw,C,1]`; any kernel, stride,
 * padding, dilation. Channel multipliers other than 1 are not supported.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  const fshape = shape4(filter);
  if (fshape[3] !== 1) throw new Error(`DepthwiseConv2dNativeBackpropInput: channel multiplier ${fshape[3]} is not supported on wasm (only 1)`);
  const { info, args } = convGeometry('DepthwiseConv2dNativeBackpropInput', a.inputShape, fshape, a, true);
  const [n, h, w, c] = a.inputShape;
  const { outHeight: oh, outWidth: ow } = info;
  if (dy.shape.join() !== [n, oh, ow, c].join()) throw new Error(`DepthwiseConv2dNativeBackpropInput: dy [${dy.shape}] does not match the output [${n},${oh},${ow},${c}]`);
  const { l, t } = trainKernelsFor(be, 'DepthwiseConv2dNativeBackpropInput');
  const out = be.makeOutput([n, h, w, c], 'float32');
  const table = scratch(be, l, t.depthwiseBackpropInputTableBytes(fshape[0], fshape[1]));
  t.depthwiseBackpropInput(addressOf(be, dy), addressOf(be, filter), addressOf(be, out), table, n, h, w, c, oh, ow, ...args);
  return out;
};

export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc };
