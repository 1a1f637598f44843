import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3BatchNormTrain } from '../names.js';
import { ACT_CODE, addressOf, type ActCodeName, type WasmBackendLike } from '../wasm-module.js';
import { batchNormAffine, batchNormAffineBytes, scratchParts, trainKernelsFor } from './train-module.js';

/**
 * BatchNorm2d in train mode, NHWC: batch statistics per channel over N·H·W (the mean, then the
 * sum of squared deviations from it, as torch's CPU kernel; float32 blocks summed in float64), then
 * `y = x · scale + shift` with `scale = γ / √(var + eps)`,
 * `shift = β − mean · scale` (torch's form), then the activation after the norm, fused (attr
 * `activation`: linear, relu, relu6, hardswish, hardsigmoid; default linear). Inputs `x`
 * `[N,H,W,C]`, `gamma`, `beta` `[C]`; attr `eps`. Outputs `y`, the batch `mean`, the biased
 * `variance` and `invstd` = `1 / √(var + eps)` `[C]` (from the float64 variance, stored as float32,
 * as torch saves it for the backward: a last-bit difference in `y` moves values across ReLU's kink).
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo[] => {
  const be = backend as WasmBackendLike;
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { eps, activation } = attrs as { eps: number; activation?: ActCodeName };
  const c = x.shape[x.shape.length - 1]!;
  const p = x.shape.reduce((a, b) => a * b, 1) / c;
  if (gamma.shape[0] !== c || beta.shape[0] !== c) throw new Error(`${Mnv3BatchNormTrain}: gamma [${gamma.shape}] / beta [${beta.shape}] do not fit ${c} channels`);
  const { l, t } = trainKernelsFor(be, Mnv3BatchNormTrain);
  const y = be.makeOutput([...x.shape], 'float32');
  const mean = be.makeOutput([c], 'float32');
  const variance = be.makeOutput([c], 'float32');
  const invstd = be.makeOutput([c], 'float32');
  const [sum, sq, affine] = scratchParts(be, l, [8 * c, 8 * c, batchNormAffineBytes(c)]) as [number, number, number];
  const buf = l.memory.buffer;
  const s = new Float64Array(buf, sum, c);
  const q = new Float64Array(buf, sq, c);
  const g = new Float32Array(buf, addressOf(be, gamma), c);
  const b = new Float32Array(buf, addressOf(be, beta), c);
  const m = new Float32Array(buf, addressOf(be, mean), c);
  const v = new Float32Array(buf, addressOf(be, variance), c);
  const is = new Float32Array(buf, addressOf(be, invstd), c);
  // The sum of deviations from the first pixel (x's first row), then the squares from the mean.
  const first = new Float32Array(buf, addressOf(be, x), c);
  t.channelMoments(addressOf(be, x), addressOf(be, x), sum, p, c, 0);
  for (let j = 0; j < c; j++) m[j] = first[j]! + s[j]! / p;
  t.channelMoments(addressOf(be, x), addressOf(be, mean), sq, p, c, 1);
  for (let j = 0; j < c; j++) {
    const vr = q[j]! / p;
    v[j] = vr;
    is[j] = 1 / Math.sqrt(vr + eps);
  }
  const { a64, k64, a32, k32 } = batchNormAffine(buf, affine, g, b, m, is);
  const act = ACT_CODE[activation ?? 'linear'];
  t.channelAffineAct(addressOf(be, x), addressOf(be, y), a64, k64, a32, k32, p, c, act);
  return [y, mean, variance, invstd];
};

export const mnv3BatchNormTrainConfig: KernelConfig = { kernelName: Mnv3BatchNormTrain, backendName: 'wasm', kernelFunc };
