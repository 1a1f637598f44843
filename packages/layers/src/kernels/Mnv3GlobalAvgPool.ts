import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3GlobalAvgPool } from './names.js';
import { runSplit } from './kernel-pool.js';
import { addressOf, kernelsFor, type WasmBackendLike } from './wasm-module.js';

/** `nn.AdaptiveAvgPool2d(1)` + flatten: `x` `[N,H,W,C]` → `[N,C]`, the mean over H×W in one pass. */
export const globalAvgPoolKernel = ({ inputs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const x = inputs.x!;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const out = be.makeOutput([n, c], 'float32');
  const l = kernelsFor(be)!;
  // Split over channels, 4 at a time; ~0.3 ns per element read.
  runSplit(l.exports, l.pool, 'meanPixels', [addressOf(be, x), addressOf(be, out), n, h * w, c], c, 4, (n * h * w * c) / 3);
  return out;
};

export const mnv3GlobalAvgPoolConfig: KernelConfig = { kernelName: Mnv3GlobalAvgPool, backendName: 'wasm', kernelFunc: globalAvgPoolKernel };
