import { util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3Activation } from './names.js';
import { runSplit } from './kernel-pool.js';
import { ACT_CODE, addressOf, kernelsFor, type ActCodeName, type WasmBackendLike } from './wasm-module.js';

/** `y = act(x)` elementwise in one pass (hardswish is four tfjs ops otherwise). Attr `activation`. */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const b = backend as WasmBackendLike;
  const x = inputs.x!;
  const code = ACT_CODE[attrs!.activation as ActCodeName];
  const out = b.makeOutput([...x.shape], 'float32');
  const l = kernelsFor(b)!;
  const size = util.sizeFromShape(x.shape);
  // Split over elements, 8 at a time (the kernel's vector step); ~0.5 ns each.
  runSplit(l.exports, l.pool, 'activation', [addressOf(b, x), addressOf(b, out), size, code], size, 8, size / 2);
  return out;
};

export const mnv3ActivationConfig: KernelConfig = { kernelName: Mnv3Activation, backendName: 'wasm', kernelFunc };
