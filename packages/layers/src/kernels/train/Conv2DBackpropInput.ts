import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { addressOf, zeros, type WasmBackendLike } from '../wasm-module.js';
import { convGeometry, scratchParts, shape4, trainKernelsFor, type ConvAttrs } from './train-module.js';

/**
 * tfjs' `Conv2DBackpropInput` (tfjs-backend-wasm's is a scalar loop): the input gradient of a dense
 * convolution, `dx` `[N,H,W,ci]` (attr `inputShape`) from `dy` `[N,OH,OW,co]` and `filter`
 * `[kh,kw,ci,co]`. A 1x1 convolution of stride 1 without padding is `dy · filterᵀ`: it runs in the
 * inference GEMM (`conv`, kernels.ts) with the filter transposed and packed; anything else in a
 * gather kernel over input pixels (any kernel, stride, padding and, our attribute, dilation).
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  const fshape = shape4(filter);
  const { info, args } = convGeometry('Conv2DBackpropInput', a.inputShape, fshape, a, false);
  const [n, h, w, ci] = a.inputShape;
  const { outHeight: oh, outWidth: ow, outChannels: co } = info;
  if (dy.shape.join() !== [n, oh, ow, co].join()) throw new Error(`Conv2DBackpropInput: dy [${dy.shape}] does not match the output [${n},${oh},${ow},${co}]`);
  const { l, k, t } = trainKernelsFor(be, 'Conv2DBackpropInput');
  const out = be.makeOutput([n, h, w, ci], 'float32');
  const pad = info.padInfo;
  const plain1x1 = fshape[0] === 1 && fshape[1] === 1 && info.strideHeight === 1 && info.strideWidth === 1 && pad.top === 0 && pad.left === 0 && pad.bottom === 0 && pad.right === 0;
  if (plain1x1) {
    const pixels = n * h * w;
    const packedBytes = Math.ceil(ci / 8) * co * 32;
    const zero = zeros(be, l, co * 4);
    const [table, packed] = scratchParts(be, l, [k.convTableBytes(1), packedBytes]);
    t.packTransposed1x1(addressOf(be, filter), packed!, ci, co);
    k.conv(addressOf(be, dy), packed!, 0, 0, addressOf(be, out), zero, table!, h, w, co, h, w, ci, 1, 1, 1, 0, 0, pixels, 0, 0, pixels);
    return out;
  }
  const [wt] = scratchParts(be, l, [fshape[0] * fshape[1] * ci * co * 4]);
  t.transposeTaps(addressOf(be, filter), wt!, fshape[0] * fshape[1], ci, co);
  t.convBackpropInput(addressOf(be, dy), wt!, addressOf(be, out), n, h, w, ci, oh, ow, co, ...args);
  return out;
};

export const conv2DBackpropInputConfig: KernelConfig = { kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc };
