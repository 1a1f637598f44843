import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3GlobalAvgPool } from './names.js';
import { addressOf, kernelsFor, type WasmBackendLike } from './wasm-module.js';

/** `nn.AdaptiveAvgPool2d(1)` + flatten: `x` `[N,H,W,C]` → `[N,C]`, the mean over H×W in one pass. */
const kernelFunc = ({ inputs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const x = inputs.x!;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const out = be.makeOutput([n, c], 'float32');
  kernelsFor(be)!.exports.meanPixels(addressOf(be, x), addressOf(be, out), n, h * w, c);
  return out;
};

export const mnv3GlobalAvgPoolConfig: KernelConfig = { kernelName: Mnv3GlobalAvgPool, backendName: 'wasm', kernelFunc };
