import { util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3RmspropStep, Mnv3SgdStep } from '../names.js';
import { addressOf, type WasmBackendLike } from '../wasm-module.js';
import { trainKernelsFor } from './train-module.js';

/** Attributes of {@link Mnv3RmspropStep}: torch's RMSprop options (`epsInside`: TensorFlow's `sqrt(v + eps)`). */
export interface RmspropStepAttrs {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
  epsInside: boolean;
  maximize: boolean;
}

/** Attributes of {@link Mnv3SgdStep}: torch's SGD options. */
export interface SgdStepAttrs {
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  maximize: boolean;
}

const MAXIMIZE = 8;

function sameSize(kernel: string, p: TensorInfo, others: (TensorInfo | undefined)[]): number {
  const n = util.sizeFromShape(p.shape);
  for (const t of others) {
    if (t && (util.sizeFromShape(t.shape) !== n || t.dtype !== 'float32')) throw new Error(`${kernel}: every input must be float32 of the parameter's ${n} values, got ${t.dtype} [${t.shape}]`);
  }
  if (p.dtype !== 'float32') throw new Error(`${kernel}: the parameter must be float32, got ${p.dtype}`);
  return n;
}

/**
 * One RMSprop step of a parameter in one pass. Inputs `param`, `grad`, `squareAvg`, and
 * `momentumBuffer` (momentum > 0) and `gradAvg` (centred); outputs, in that order, the new
 * `param`, `squareAvg`, then `momentumBuffer` and `gradAvg` where given.
 */
const rmsprop = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo[] => {
  const be = backend as WasmBackendLike;
  const { param, grad, squareAvg, momentumBuffer, gradAvg } = inputs as Record<string, TensorInfo | undefined>;
  const a = attrs as unknown as RmspropStepAttrs;
  if (!param || !grad || !squareAvg) throw new Error(`${Mnv3RmspropStep}: needs param, grad and squareAvg`);
  if ((a.momentum > 0) !== (momentumBuffer !== undefined)) throw new Error(`${Mnv3RmspropStep}: momentumBuffer goes with momentum > 0 (momentum ${a.momentum})`);
  if (a.centered !== (gradAvg !== undefined)) throw new Error(`${Mnv3RmspropStep}: gradAvg goes with centered`);
  const n = sameSize(Mnv3RmspropStep, param, [grad, squareAvg, momentumBuffer, gradAvg]);
  const { t } = trainKernelsFor(be, Mnv3RmspropStep);
  const out = (x: TensorInfo | undefined) => (x ? be.makeOutput([...param.shape], 'float32') : undefined);
  const [p, sq, buf, ga] = [out(param)!, out(squareAvg)!, out(momentumBuffer), out(gradAvg)];
  const at = (x: TensorInfo | undefined) => (x ? addressOf(be, x) : 0);
  const flags = (buf ? 1 : 0) | (ga ? 2 : 0) | (a.epsInside ? 4 : 0) | (a.maximize ? MAXIMIZE : 0);
  t.rmspropStep(at(param), at(grad), at(squareAvg), at(momentumBuffer), at(gradAvg), at(p), at(sq), at(buf), at(ga), n, -a.lr, a.alpha, 1 - a.alpha, a.eps, a.weightDecay, a.momentum, flags);
  return [p, sq, ...(buf ? [buf] : []), ...(ga ? [ga] : [])];
};

/**
 * One SGD step of a parameter in one pass. Inputs `param`, `grad`, and `momentumBuffer` (momentum ≠ 0
 * after the first step: without it the buffer starts as the gradient, as torch's does); outputs the
 * new `param`, then the `momentumBuffer` when momentum ≠ 0.
 */
const sgd = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo[] => {
  const be = backend as WasmBackendLike;
  const { param, grad, momentumBuffer } = inputs as Record<string, TensorInfo | undefined>;
  const a = attrs as unknown as SgdStepAttrs;
  if (!param || !grad) throw new Error(`${Mnv3SgdStep}: needs param and grad`);
  if (a.momentum === 0 && momentumBuffer) throw new Error(`${Mnv3SgdStep}: momentumBuffer given with momentum 0`);
  const n = sameSize(Mnv3SgdStep, param, [grad, momentumBuffer]);
  const { t } = trainKernelsFor(be, Mnv3SgdStep);
  const p = be.makeOutput([...param.shape], 'float32');
  const buf = a.momentum !== 0 ? be.makeOutput([...param.shape], 'float32') : undefined;
  const flags = (buf ? 1 : 0) | (buf && !momentumBuffer ? 2 : 0) | (a.nesterov ? 4 : 0) | (a.maximize ? MAXIMIZE : 0);
  const at = (x: TensorInfo | undefined) => (x ? addressOf(be, x) : 0);
  t.sgdStep(at(param), at(grad), at(momentumBuffer), at(p), at(buf), n, -a.lr, a.weightDecay, a.momentum, 1 - a.dampening, flags);
  return buf ? [p, buf] : [p];
};

export const mnv3RmspropStepConfig: KernelConfig = { kernelName: Mnv3RmspropStep, backendName: 'wasm', kernelFunc: rmsprop };
export const mnv3SgdStepConfig: KernelConfig = { kernelName: Mnv3SgdStep, backendName: 'wasm', kernelFunc: sgd };
