import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3SqueezeExcite } from './names.js';
import { addressOf, kernelsFor, scratch, type WasmBackendLike } from './wasm-module.js';

/**
 * MobileNetV3's squeeze-and-excitation in one kernel: mean over H×W, `fc1` + ReLU, `fc2` +
 * hardsigmoid, `x · gate`. Inputs `x` `[N,H,W,C]`, `w1` `[1,1,C,S]`, `b1` `[S]`, `w2` `[1,1,S,C]`,
 * `b2` `[C]` (the 1x1 convolutions' filters as tfjs holds them).
 */
const kernelFunc = ({ inputs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, w1, b1, w2, b2 } = inputs as Record<'x' | 'w1' | 'b1' | 'w2' | 'b2', TensorInfo>;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const s = w1.shape[3]!;
  if (w1.shape[2] !== c || w2.shape[2] !== s || w2.shape[3] !== c || b1.shape[0] !== s || b2.shape[0] !== c) {
    throw new Error(`${Mnv3SqueezeExcite}: weights [${w1.shape}], [${w2.shape}] do not fit input [${x.shape}]`);
  }
  const out = be.makeOutput([...x.shape], 'float32');
  const l = kernelsFor(be)!;
  const tmp = scratch(be, l, (2 * c + s) * 4);
  l.exports.squeezeExcite(
    addressOf(be, x),
    addressOf(be, w1),
    addressOf(be, b1),
    addressOf(be, w2),
    addressOf(be, b2),
    addressOf(be, out),
    tmp,
    n,
    h * w,
    c,
    s,
  );
  return out;
};

export const mnv3SqueezeExciteConfig: KernelConfig = { kernelName: Mnv3SqueezeExcite, backendName: 'wasm', kernelFunc };
