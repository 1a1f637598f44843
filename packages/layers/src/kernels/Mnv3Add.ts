import { util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3Add } from './names.js';
import { ACT_CODE, addressOf, kernelsFor, type ActCodeName, type WasmBackendLike } from './wasm-module.js';

/** `y = act(a + b)` for two tensors of one shape (the residual add; no broadcasting). */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  if (!util.arraysEqual(a.shape, b.shape)) throw new Error(`${Mnv3Add}: shapes [${a.shape}] and [${b.shape}] differ`);
  const code = ACT_CODE[(attrs?.activation as ActCodeName | undefined) ?? 'linear'];
  const out = be.makeOutput([...a.shape], 'float32');
  kernelsFor(be)!.exports.add(addressOf(be, a), addressOf(be, b), addressOf(be, out), util.sizeFromShape(a.shape), code);
  return out;
};

export const mnv3AddConfig: KernelConfig = { kernelName: Mnv3Add, backendName: 'wasm', kernelFunc };
