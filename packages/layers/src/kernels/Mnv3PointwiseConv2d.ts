import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3PointwiseConv2d } from './names.js';
import { ACT_CODE, addressOf, kernelsFor, type ActCodeName, type WasmBackendLike } from './wasm-module.js';

/**
 * 1x1 convolution with bias, activation and an optional residual fused:
 * `y = act(x · filter + bias) + residual`. Inputs `x` `[N,H,W,Ci]`, `filter` `[1,1,Ci,Co]`,
 * optional `bias` `[Co]` and `residual` `[N,H,W,Co]`; attr `activation`.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, filter, bias, residual } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; residual?: TensorInfo };
  const activation = ((attrs?.activation as ActCodeName | undefined) ?? 'linear') as ActCodeName;
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const [kh, kw, fi, co] = filter.shape as [number, number, number, number];
  if (kh !== 1 || kw !== 1 || fi !== ci) throw new Error(`${Mnv3PointwiseConv2d}: filter [${filter.shape}] does not fit input [${x.shape}]`);
  if (bias && bias.shape[0] !== co) throw new Error(`${Mnv3PointwiseConv2d}: bias [${bias.shape}] does not fit ${co} channels`);
  const outShape = [n, h, w, co];
  if (residual && residual.shape.join() !== outShape.join()) {
    throw new Error(`${Mnv3PointwiseConv2d}: residual [${residual.shape}] does not match output [${outShape}]`);
  }
  const out = be.makeOutput(outShape, 'float32');
  kernelsFor(be)!.exports.pointwise(
    addressOf(be, x),
    addressOf(be, filter),
    bias ? addressOf(be, bias) : 0,
    residual ? addressOf(be, residual) : 0,
    addressOf(be, out),
    n * h * w,
    ci,
    co,
    ACT_CODE[activation],
  );
  return out;
};

export const mnv3PointwiseConv2dConfig: KernelConfig = { kernelName: Mnv3PointwiseConv2d, backendName: 'wasm', kernelFunc };
