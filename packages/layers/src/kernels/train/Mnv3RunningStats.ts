import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3RunningStats } from '../names.js';
import { addressOf, type WasmBackendLike } from '../wasm-module.js';
import { trainKernelsFor } from './train-module.js';

/**
 * BatchNorm's running statistics after a train-mode batch in one call (instead of six tfjs ops):
 * inputs `runningMean`, `runningVar`, the batch `mean` and biased `variance` `[C]`; attrs `momentum`
 * (or the cumulative factor) and `count` (values per channel); outputs the new `runningMean` and
 * `runningVar` (unbiased batch variance), computed in float64 as torch's CPU kernel does.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo[] => {
  const be = backend as WasmBackendLike;
  const { runningMean, runningVar, mean, variance } = inputs as Record<string, TensorInfo>;
  const { momentum, count } = attrs as { momentum: number; count: number };
  const c = runningMean!.shape[0]!;
  for (const t of [runningVar, mean, variance]) if (t!.shape.length !== 1 || t!.shape[0] !== c) throw new Error(`${Mnv3RunningStats}: every input must be [${c}], got [${t!.shape}]`);
  if (!(count > 1)) throw new Error(`${Mnv3RunningStats}: needs more than 1 value per channel, got ${count}`);
  const { t } = trainKernelsFor(be, Mnv3RunningStats);
  const rm = be.makeOutput([c], 'float32');
  const rv = be.makeOutput([c], 'float32');
  const at = (x: TensorInfo) => addressOf(be, x);
  t.runningStatsUpdate(at(runningMean!), at(runningVar!), at(mean!), at(variance!), at(rm), at(rv), c, momentum, count);
  return [rm, rv];
};

export const mnv3RunningStatsConfig: KernelConfig = { kernelName: Mnv3RunningStats, backendName: 'wasm', kernelFunc };
