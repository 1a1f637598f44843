import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3ScaleChannels } from '../names.js';
import { addressOf, type WasmBackendLike } from '../wasm-module.js';
import { trainKernelsFor } from './train-module.js';

/** `x · gate`, `x` `[N,H,W,C]`, `gate` `[N,C]`: squeeze-and-excitation's scaling, differentiable (see Mnv3ScaleChannelsGrad). */
const kernelFunc = ({ inputs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, gate } = inputs as { x: TensorInfo; gate: TensorInfo };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (gate.shape.join() !== [n, c].join()) throw new Error(`${Mnv3ScaleChannels}: gate [${gate.shape}] does not fit input [${x.shape}]`);
  const { k } = trainKernelsFor(be, Mnv3ScaleChannels);
  const out = be.makeOutput([n, h, w, c], 'float32');
  k.scaleChannels(addressOf(be, x), addressOf(be, gate), addressOf(be, out), n, h * w, c, 0, n * h * w);
  return out;
};

export const mnv3ScaleChannelsConfig: KernelConfig = { kernelName: Mnv3ScaleChannels, backendName: 'wasm', kernelFunc };
