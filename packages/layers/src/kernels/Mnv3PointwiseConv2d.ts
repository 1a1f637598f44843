import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3PointwiseConv2d } from './names.js';
import { runSplit } from './kernel-pool.js';
import { ACT_CODE, addressOf, kernelsFor, type ActCodeName, type WasmBackendLike } from './wasm-module.js';

/**
 * 1x1 convolution with bias, activation and an optional residual fused:
 * `y = act(x · filter + bias) + residual`. Inputs `x` `[N,H,W,Ci]`, `filter` packed in blocks of
 * 8 output channels (`[ceil(Co/8)·Ci·8]`, zero-padded; see ConvKernel), optional `bias` `[Co]`
 * and `residual` `[N,H,W,Co]`; attrs `outChannels` (Co), `activation`.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, filter, bias, residual } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; residual?: TensorInfo };
  const activation = ((attrs?.activation as ActCodeName | undefined) ?? 'linear') as ActCodeName;
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const co = attrs!.outChannels as number;
  if (filter.shape.length !== 1 || filter.shape[0] !== Math.ceil(co / 8) * 8 * ci) {
    throw new Error(`${Mnv3PointwiseConv2d}: packed filter [${filter.shape}] does not fit ${ci} → ${co} channels`);
  }
  if (bias && bias.shape[0] !== co) throw new Error(`${Mnv3PointwiseConv2d}: bias [${bias.shape}] does not fit ${co} channels`);
  const outShape = [n, h, w, co];
  if (residual && residual.shape.join() !== outShape.join()) {
    throw new Error(`${Mnv3PointwiseConv2d}: residual [${residual.shape}] does not match output [${outShape}]`);
  }
  const out = be.makeOutput(outShape, 'float32');
  const l = kernelsFor(be)!;
  const p = n * h * w;
  const args = [addressOf(be, x), addressOf(be, filter), bias ? addressOf(be, bias) : 0, residual ? addressOf(be, residual) : 0, addressOf(be, out), p, ci, co, ACT_CODE[activation]];
  // Split over pixels (GEMM rows) in multiples of the 4-pixel tile; ~4 multiply-adds per ns.
  runSplit(l.exports, l.pool, 'pointwise', args, p, 4, (p * ci * co) / 4);
  return out;
};

export const mnv3PointwiseConv2dConfig: KernelConfig = { kernelName: Mnv3PointwiseConv2d, backendName: 'wasm', kernelFunc };
