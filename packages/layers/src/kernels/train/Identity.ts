import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

interface RefCounting {
  incRef(dataId: object): void;
}

/** `x` as a new output sharing its data (one more reference to the buffer). */
export function shareData(backend: unknown, x: TensorInfo): TensorInfo {
  (backend as RefCounting).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/**
 * tfjs' `Identity` without the copy: the output shares the input's data, as tfjs-backend-cpu's
 * Identity and tfjs-backend-wasm's own Reshape do (tfjs tensors are immutable). tfjs-backend-wasm's
 * Identity copies the buffer, and the gradient tape clones every tensor it saves for the backward
 * pass: 807 whole-buffer copies in one MobileNetV3-Small training step.
 */
const kernelFunc = ({ inputs, backend }: Parameters<KernelFunc>[0]): TensorInfo => shareData(backend, inputs.x!);

export const identityConfig: KernelConfig = { kernelName: 'Identity', backendName: 'wasm', kernelFunc };
