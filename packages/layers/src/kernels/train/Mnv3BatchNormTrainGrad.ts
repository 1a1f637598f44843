import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3BatchNormTrainGrad } from '../names.js';
import { addressOf, type WasmBackendLike } from '../wasm-module.js';
import { scratchParts, trainKernelsFor } from './train-module.js';

/**
 * The backward of Mnv3BatchNormTrain, torch's formula (`batch_norm_backward_cpu_template`, train):
 * with `sum = Σ dy`, `dot = Σ dy · (x − mean)` (float64) and `invstd = 1 / √(var + eps)`,
 * `dx = (dy − sum/P − (x − mean) · dot · invstd² / P) · invstd · γ`, `dγ = dot · invstd`,
 * `dβ = sum`. Inputs `dy`, `x` `[N,H,W,C]`, `gamma`, `mean`, `variance` `[C]`; attr `eps`.
 * Outputs `dx`, `dgamma`, `dbeta`.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo[] => {
  const be = backend as WasmBackendLike;
  const { dy, x, gamma, mean, variance } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'variance', TensorInfo>;
  const eps = (attrs as { eps: number }).eps;
  const c = x.shape[x.shape.length - 1]!;
  const p = x.shape.reduce((a, b) => a * b, 1) / c;
  const { l, t } = trainKernelsFor(be, Mnv3BatchNormTrainGrad);
  const dx = be.makeOutput([...x.shape], 'float32');
  const dgamma = be.makeOutput([c], 'float32');
  const dbeta = be.makeOutput([c], 'float32');
  const [sumDy, dot, ca, cb, cc] = scratchParts(be, l, [8 * c, 8 * c, 4 * c, 4 * c, 4 * c]) as [number, number, number, number, number];
  t.channelGradSums(addressOf(be, dy), addressOf(be, x), addressOf(be, mean), sumDy, dot, p, c);
  const buf = l.memory.buffer;
  const s = new Float64Array(buf, sumDy, c);
  const d = new Float64Array(buf, dot, c);
  const g = new Float32Array(buf, addressOf(be, gamma), c);
  const m = new Float32Array(buf, addressOf(be, mean), c);
  const v = new Float32Array(buf, addressOf(be, variance), c);
  const dg = new Float32Array(buf, addressOf(be, dgamma), c);
  const db = new Float32Array(buf, addressOf(be, dbeta), c);
  const A = new Float32Array(buf, ca, c);
  const B = new Float32Array(buf, cb, c);
  const C = new Float32Array(buf, cc, c);
  for (let j = 0; j < c; j++) {
    const invstd = Math.fround(1 / Math.sqrt(v[j]! + eps));
    const k = (d[j]! * invstd * invstd) / p;
    const gradMean = s[j]! / p;
    const w = invstd * g[j]!;
    // dx = dy·w − x·k·w + (mean·k − gradMean)·w
    A[j] = w;
    B[j] = -k * w;
    C[j] = (m[j]! * k - gradMean) * w;
    dg[j] = d[j]! * invstd;
    db[j] = s[j]!;
  }
  t.channelAffine(addressOf(be, dy), addressOf(be, x), addressOf(be, dx), ca, cb, cc, p, c);
  return [dx, dgamma, dbeta];
};

export const mnv3BatchNormTrainGradConfig: KernelConfig = { kernelName: Mnv3BatchNormTrainGrad, backendName: 'wasm', kernelFunc };
