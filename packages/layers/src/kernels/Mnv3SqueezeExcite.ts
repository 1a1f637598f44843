import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3SqueezeExcite } from './names.js';
import { runSplit } from './kernel-pool.js';
import { ACT_CODE, addressOf, kernelsFor, scratch, type WasmBackendLike } from './wasm-module.js';

/**
 * MobileNetV3's squeeze-and-excitation as one tfjs kernel: mean over H×W, `fc1` + ReLU, `fc2` +
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
  const p = h * w;
  // pooled [n][C], gate [n][C], hidden [n][S]
  const tmp = scratch(be, l, n * (2 * c + s) * 4);
  const [xa, oa] = [addressOf(be, x), addressOf(be, out)];
  const [w1a, b1a, w2a, b2a] = [addressOf(be, w1), addressOf(be, b1), addressOf(be, w2), addressOf(be, b2)];
  // Four steps, each split over its outputs when there is a pool: pooling over channels, the two
  // layers over their outputs, scaling over pixels.
  const gate = tmp + n * c * 4;
  const hidden = gate + n * c * 4;
  runSplit(l.exports, l.pool, 'meanPixels', [xa, tmp, n, p, c], c, 4, (n * p * c) / 3);
  runSplit(l.exports, l.pool, 'denseAct', [tmp, w1a, b1a, hidden, n, c, s, ACT_CODE.relu], s, 4, (n * c * s) / 2);
  runSplit(l.exports, l.pool, 'denseAct', [hidden, w2a, b2a, gate, n, s, c, ACT_CODE.hardsigmoid], c, 4, (n * c * s) / 2);
  runSplit(l.exports, l.pool, 'scaleChannels', [xa, gate, oa, n, p, c], n * p, 1, (n * p * c) / 2);
  return out;
};

export const mnv3SqueezeExciteConfig: KernelConfig = { kernelName: Mnv3SqueezeExcite, backendName: 'wasm', kernelFunc };
