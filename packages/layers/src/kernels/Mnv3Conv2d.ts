import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { runSplit } from './kernel-pool.js';
import { Mnv3Conv2d } from './names.js';
import { ACT_CODE, addressOf, kernelsFor, scratch, zeros, type ActCodeName, type WasmBackendLike } from './wasm-module.js';

/**
 * Convolution with groups = 1 and bias, activation and an optional residual fused:
 * `y = act(conv(x, filter) + bias) + residual`. Inputs `x` `[N,H,W,Ci]`, `filter` packed in
 * blocks of 8 output channels (`[ceil(Co/8)·k·k·Ci·8]`, zero-padded; see ConvKernel), optional
 * `bias` `[Co]` and `residual` `[N,OH,OW,Co]`; attrs `outChannels` (Co), `kernelSize`, `stride`,
 * `pad` (symmetric, explicit, as PyTorch's), `dilation`, `activation`.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, filter, bias, residual } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; residual?: TensorInfo };
  const { outChannels: co, kernelSize: k, stride, pad, dilation, activation } = attrs as {
    outChannels: number;
    kernelSize: number;
    stride: number;
    pad: number;
    dilation: number;
    activation: ActCodeName;
  };
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  if (filter.shape.length !== 1 || filter.shape[0] !== Math.ceil(co / 8) * 8 * k * k * ci) {
    throw new Error(`${Mnv3Conv2d}: packed filter [${filter.shape}] does not fit a ${k}x${k} convolution of ${ci} → ${co} channels`);
  }
  if (bias && bias.shape[0] !== co) throw new Error(`${Mnv3Conv2d}: bias [${bias.shape}] does not fit ${co} channels`);
  const span = dilation * (k - 1) + 1;
  const oh = Math.floor((h + 2 * pad - span) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - span) / stride) + 1;
  if (oh < 1 || ow < 1) throw new Error(`${Mnv3Conv2d}: input [${x.shape}] is too small for kernel ${k}, dilation ${dilation}, padding ${pad}`);
  const outShape = [n, oh, ow, co];
  if (residual && residual.shape.join() !== outShape.join()) {
    throw new Error(`${Mnv3Conv2d}: residual [${residual.shape}] does not match output [${outShape}]`);
  }
  const l = kernelsFor(be)!;
  const out = be.makeOutput(outShape, 'float32');
  // Tap lists: one slice per thread that may run a part of the call.
  const table = scratch(be, l, l.exports.convTableBytes(k) * (l.pool?.threads ?? 1));
  const p = n * oh * ow;
  const args = [
    addressOf(be, x),
    addressOf(be, filter),
    bias ? addressOf(be, bias) : 0,
    residual ? addressOf(be, residual) : 0,
    addressOf(be, out),
    zeros(be, l, ci * 4),
    table,
    h,
    w,
    ci,
    oh,
    ow,
    co,
    k,
    stride,
    dilation,
    pad,
    ACT_CODE[activation],
    p,
  ];
  // Split over output pixels (GEMM rows, in multiples of the 4-pixel tile), or over blocks of 8
  // output channels when the weights outweigh the inputs (few rows: each thread then streams only
  // its share of the weights). ~4 multiply-adds per ns.
  const nb = Math.ceil(co / 8);
  const byBlocks = nb * 8 * k * k > p;
  runSplit(l.exports, l.pool, 'conv', [...args, byBlocks ? 1 : 0], byBlocks ? nb : p, byBlocks ? 1 : 4, (p * ci * co * k * k) / 4);
  return out;
};

export const mnv3Conv2dConfig: KernelConfig = { kernelName: Mnv3Conv2d, backendName: 'wasm', kernelFunc };
