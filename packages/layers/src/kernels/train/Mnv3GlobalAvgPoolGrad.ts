import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3GlobalAvgPoolGrad } from '../names.js';
import { addressOf, type WasmBackendLike } from '../wasm-module.js';
import { trainKernelsFor } from './train-module.js';

/** Global average pooling's backward: `dy` `[N,C]` → `[N,H,W,C]` (attr `inputShape`), each pixel `dy / (H·W)`. */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const dy = inputs.dy!;
  const [n, h, w, c] = (attrs as { inputShape: [number, number, number, number] }).inputShape;
  const { t } = trainKernelsFor(be, Mnv3GlobalAvgPoolGrad);
  const out = be.makeOutput([n, h, w, c], 'float32');
  t.meanPixelsGrad(addressOf(be, dy), addressOf(be, out), n, h * w, c);
  return out;
};

export const mnv3GlobalAvgPoolGradConfig: KernelConfig = { kernelName: Mnv3GlobalAvgPoolGrad, backendName: 'wasm', kernelFunc };
