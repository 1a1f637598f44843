import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3DepthwiseConv2d } from './names.js';
import { runSplit } from './kernel-pool.js';
import { ACT_CODE, addressOf, kernelsFor, type ActCodeName, type WasmBackendLike } from './wasm-module.js';

/**
 * Depthwise convolution with bias and activation fused: input `x` `[N,H,W,C]`, `filter`
 * `[k,k,C,1]`, optional `bias` `[C]`; attrs `stride`, `pad` (symmetric, explicit, as PyTorch's),
 * `dilation`, `activation` (linear, relu, relu6, hardswish, hardsigmoid).
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, filter, bias } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo };
  const { stride, pad, dilation, activation } = attrs as { stride: number; pad: number; dilation: number; activation: ActCodeName };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [k, kw, fc, mult] = filter.shape as [number, number, number, number];
  if (k !== kw || fc !== c || mult !== 1) throw new Error(`${Mnv3DepthwiseConv2d}: filter [${filter.shape}] does not fit input [${x.shape}]`);
  if (bias && bias.shape[0] !== c) throw new Error(`${Mnv3DepthwiseConv2d}: bias [${bias.shape}] does not fit ${c} channels`);
  const span = dilation * (k - 1) + 1;
  const oh = Math.floor((h + 2 * pad - span) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - span) / stride) + 1;
  if (oh < 1 || ow < 1) throw new Error(`${Mnv3DepthwiseConv2d}: input [${x.shape}] is too small for kernel ${k}, dilation ${dilation}, padding ${pad}`);
  const out = be.makeOutput([n, oh, ow, c], 'float32');
  const l = kernelsFor(be)!;
  const args = [addressOf(be, x), addressOf(be, filter), bias ? addressOf(be, bias) : 0, addressOf(be, out), n, h, w, c, k, stride, dilation, pad, oh, ow, ACT_CODE[activation]];
  // Split over output rows (n·oh); ~2 multiply-adds per ns.
  runSplit(l.exports, l.pool, 'depthwise', args, n * oh, 1, (n * oh * ow * c * k * k) / 2);
  return out;
};

export const mnv3DepthwiseConv2dConfig: KernelConfig = { kernelName: Mnv3DepthwiseConv2d, backendName: 'wasm', kernelFunc };
