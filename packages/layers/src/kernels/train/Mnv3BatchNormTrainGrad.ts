import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3BatchNormTrainGrad } from '../names.js';
import { ACT_CODE, addressOf, type ActCodeName, type WasmBackendLike } from '../wasm-module.js';
import { batchNormAffine, batchNormAffineBytes, scratchParts, trainKernelsFor } from './train-module.js';

/**
 * The backward of Mnv3BatchNormTrain, torch's formula (`batch_norm_backward_cpu_template`, train):
 * with `sum = Σ dy`, `dot = Σ dy · (x − mean)` (float64) and the forward's float32 `invstd`,
 * `dx = (dy − sum/P − (x − mean) · dot · invstd² / P) · invstd · γ`, `dγ = dot · invstd`,
 * `dβ = sum`. With attr `activation` (fused in the forward), `dy` is first taken through the
 * activation's derivative at `x · scale + shift`, recomputed. Inputs `dy`, `x` `[N,H,W,C]`,
 * `gamma`, `beta`, `mean`, `invstd` `[C]`. Outputs `dx`, `dgamma`, `dbeta`.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo[] => {
  const be = backend as WasmBackendLike;
  const { dy, x, gamma, beta, mean, invstd } = inputs as Record<'dy' | 'x' | 'gamma' | 'beta' | 'mean' | 'invstd', TensorInfo>;
  const { activation } = attrs as { activation?: ActCodeName };
  const act = ACT_CODE[activation ?? 'linear'];
  const c = x.shape[x.shape.length - 1]!;
  const p = x.shape.reduce((a, b) => a * b, 1) / c;
  const { l, t } = trainKernelsFor(be, Mnv3BatchNormTrainGrad);
  const dx = be.makeOutput([...x.shape], 'float32');
  const dgamma = be.makeOutput([c], 'float32');
  const dbeta = be.makeOutput([c], 'float32');
  const [sumDy, dot, ca, cb, cc, affine] = scratchParts(be, l, [8 * c, 8 * c, 4 * c, 4 * c, 4 * c, batchNormAffineBytes(c)]) as [number, number, number, number, number, number];
  const buf = l.memory.buffer;
  const f32 = (v: TensorInfo) => new Float32Array(buf, addressOf(be, v), c);
  const { a64, k64, a32, k32 } = act ? batchNormAffine(buf, affine, f32(gamma), f32(beta), f32(mean), f32(invstd)) : { a64: 0, k64: 0, a32: 0, k32: 0 };
  // With an activation, dy · act' goes to dx's buffer, and the input gradient is made from it in place.
  t.channelGradSumsAct(addressOf(be, dy), addressOf(be, x), addressOf(be, mean), a64, k64, a32, k32, sumDy, dot, addressOf(be, dx), p, c, act);
  const s = new Float64Array(buf, sumDy, c);
  const d = new Float64Array(buf, dot, c);
  const [g, is, dg, db] = [f32(gamma), f32(invstd), f32(dgamma), f32(dbeta)];
  const A = new Float32Array(buf, ca, c);
  const B = new Float32Array(buf, cb, c);
  const C = new Float32Array(buf, cc, c);
  for (let j = 0; j < c; j++) {
    const k = (d[j]! * is[j]! * is[j]!) / p;
    const gradMean = s[j]! / p;
    const w = is[j]! * g[j]!;
    // dx = dy·w − (x − mean)·k·w − gradMean·w
    A[j] = w;
    B[j] = -k * w;
    C[j] = -gradMean * w;
    dg[j] = d[j]! * is[j]!;
    db[j] = s[j]!;
  }
  t.channelAffineGrad(act ? addressOf(be, dx) : addressOf(be, dy), addressOf(be, x), addressOf(be, dx), addressOf(be, mean), ca, cb, cc, p, c);
  return [dx, dgamma, dbeta];
};

export const mnv3BatchNormTrainGradConfig: KernelConfig = { kernelName: Mnv3BatchNormTrainGrad, backendName: 'wasm', kernelFunc };
