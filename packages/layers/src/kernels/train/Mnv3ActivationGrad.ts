import { util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { Mnv3ActivationGrad } from '../names.js';
import { ACT_CODE, addressOf, type ActCodeName, type WasmBackendLike } from '../wasm-module.js';
import { trainKernelsFor } from './train-module.js';

/**
 * `dx = dy · act'(x)` in one pass, with torch's derivatives at the kinks (hardswish: −1/2 at −3,
 * 1 at 3, as torch's vectorised loop; hardsigmoid and relu6: 0 at the ends; relu: 0 at 0). Inputs `x`, `dy`; attr `activation`.
 */
const kernelFunc = ({ inputs, attrs, backend }: Parameters<KernelFunc>[0]): TensorInfo => {
  const be = backend as WasmBackendLike;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { t } = trainKernelsFor(be, Mnv3ActivationGrad);
  const out = be.makeOutput([...x.shape], 'float32');
  t.activationGrad(addressOf(be, x), addressOf(be, dy), addressOf(be, out), util.sizeFromShape(x.shape), ACT_CODE[(attrs as { activation: ActCodeName }).activation]);
  return out;
};

export const mnv3ActivationGradConfig: KernelConfig = { kernelName: Mnv3ActivationGrad, backendName: 'wasm', kernelFunc };
