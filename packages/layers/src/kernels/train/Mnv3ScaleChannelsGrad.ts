import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3ScaleChannelsGrad } from '../names.js';
import { addressOf, type WasmBackendLike } from '../wasm-module.js';
import { trainKernelsFor } from './train-module.js';

/** The backward of `x · gate`: `dx = dy · gate`, `dgate[n][c] = Σ_pixels dy · x`. Inputs `dy`, `x` `[N,H,W,C]`, `gate` `[N,C]`. */
const kernelFunc = ({ inputs, backend }: Parameters<KernelFunc>[0]): TensorInfo[] => {
  const be = backend as WasmBackendLike;
  const { dy, x, gate } = inputs as { dy: TensorInfo; x: TensorInfo; gate: TensorInfo };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const { k, t } = trainKernelsFor(be, Mnv3ScaleChannelsGrad);
  const dx = be.makeOutput([n, h, w, c], 'float32');
  const dgate = be.makeOutput([n, c], 'float32');
  k.scaleChannels(addressOf(be, dy), addressOf(be, gate), addressOf(be, dx), n, h * w, c, 0, n * h * w);
  t.scaleChannelsGateGrad(addressOf(be, dy), addressOf(be, x), addressOf(be, dgate), n, h * w, c);
  return [dx, dgate];
};

export const mnv3ScaleChannelsGradConfig: KernelConfig = { kernelName: Mnv3ScaleChannelsGrad, backendName: 'wasm', kernelFunc };
