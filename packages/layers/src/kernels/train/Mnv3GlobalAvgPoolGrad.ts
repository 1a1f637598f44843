import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3GlobalAvgPoolFork, Mnv3GlobalAvgPoolGrad } from '../names.js';
import { globalAvgPoolKernel } from '../Mnv3GlobalAvgPool.js';
import { addressOf, type WasmBackendLike } from '../wasm-module.js';
import { shareData } from './Identity.js';
import { trainKernelsFor } from './train-module.js';

/**
 * Global average pooling's backward: `dy` `[N,C]` → `[N,H,W,C]` (attr `inputShape`), each pixel
 * `dy / (H·W)`, plus the optional input `add` `[N,H,W,C]` (with {@link Mnv3GlobalAvgPoolFork}: the
 * gradient of its pass-through output).
 */
const grad = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { dy, add } = inputs as { dy: TensorInfo; add?: TensorInfo };
  const [n, h, w, c] = (attrs as { inputShape: [number, number, number, number] }).inputShape;
  if (add && add.shape.join() !== [n, h, w, c].join()) throw new Error(`${Mnv3GlobalAvgPoolGrad}: add [${add.shape}] does not match the input shape [${n},${h},${w},${c}]`);
  const { t } = trainKernelsFor(be, Mnv3GlobalAvgPoolGrad);
  const out = be.makeOutput([n, h, w, c], 'float32');
  t.meanPixelsGrad(addressOf(be, dy), add ? addressOf(be, add) : 0, addressOf(be, out), n, h * w, c);
  return out;
};

/**
 * Global average pooling that also passes `x` through: outputs the mean `[N,C]` and `x` itself
 * (its data shared, as `Identity`). Squeeze-and-excitation pools x and scales x: given the
 * pass-through to scale, x has one consumer on the tape, and its gradient is one pass
 * (`Mnv3GlobalAvgPoolGrad` with `add`) instead of the pooling's gradient then a sum of the two.
 */
const fork = (args: Parameters<KernelFunc>[0]): TensorInfo[] => [globalAvgPoolKernel(args), shareData(args.backend, args.inputs.x!)];

export const mnv3GlobalAvgPoolGradConfig: KernelConfig = { kernelName: Mnv3GlobalAvgPoolGrad, backendName: 'wasm', kernelFunc: grad };
export const mnv3GlobalAvgPoolForkConfig: KernelConfig = { kernelName: Mnv3GlobalAvgPoolFork, backendName: 'wasm', kernelFunc: fork };
