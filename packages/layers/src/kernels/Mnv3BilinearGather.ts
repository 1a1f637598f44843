import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3BilinearGather } from './names.js';
import { addressOf, kernelsFor, scratch, type WasmBackendLike } from './wasm-module.js';

/**
 * Averages of bilinear samples (see `bilinearGather` in gather.ts for the table): inputs `x0`,
 * `x1`… the NHWC maps (same channel count); attrs `table` (Int32Array), `cells`, `outLength`,
 * `channelStride`. Output: float32 `[outLength]`.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { table, cells, outLength, channelStride } = attrs as unknown as { table: Int32Array; cells: number; outLength: number; channelStride: number };
  const maps: TensorInfo[] = [];
  for (let i = 0; inputs[`x${i}`]; i++) maps.push(inputs[`x${i}`]!);
  const c = maps[0]!.shape[3]!;
  const kernels = kernelsFor(be)!;
  const out = be.makeOutput([outLength], 'float32');
  // One scratch area: the maps' addresses, then the table (both 4-byte words).
  const at = scratch(be, kernels, (maps.length + table.length) * 4);
  const words = new Int32Array(kernels.memory.buffer, at, maps.length + table.length);
  maps.forEach((m, i) => (words[i] = addressOf(be, m)));
  words.set(table, maps.length);
  kernels.exports.bilinearGather(at + maps.length * 4, cells, at, addressOf(be, out), c, channelStride);
  return out;
};

export const mnv3BilinearGatherConfig: KernelConfig = { kernelName: Mnv3BilinearGather, backendName: 'wasm', kernelFunc };
