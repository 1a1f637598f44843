/**
 * Registers every custom kernel of the fast path for tfjs' `wasm` backend, from one explicit
 * list (as tfjs-backend-wasm's register_all_kernels.ts). Idempotent.
 */
import { getKernel, registerKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { mnv3ActivationConfig } from './Mnv3Activation.js';
import { mnv3BilinearGatherConfig } from './Mnv3BilinearGather.js';
import { mnv3DepthwiseConv2dConfig } from './Mnv3DepthwiseConv2d.js';
import { mnv3GlobalAvgPoolConfig } from './Mnv3GlobalAvgPool.js';
import { mnv3Conv2dConfig } from './Mnv3Conv2d.js';
import { mnv3SqueezeExciteConfig } from './Mnv3SqueezeExcite.js';

const kernelConfigs: KernelConfig[] = [
  mnv3ActivationConfig,
  mnv3BilinearGatherConfig,
  mnv3DepthwiseConv2dConfig,
  mnv3GlobalAvgPoolConfig,
  mnv3Conv2dConfig,
  mnv3SqueezeExciteConfig,
];

export function registerAllKernels(): void {
  for (const config of kernelConfigs) {
    if (!getKernel(config.kernelName, config.backendName)) registerKernel(config);
  }
}
