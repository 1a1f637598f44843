/**
 * Registers the training path's kernels for tfjs' `wasm` backend, from one explicit list (as
 * register-all-kernels.ts does for inference). Five carry tfjs' own kernel names, so tfjs'
 * gradient configs and its engine run them: `Conv2DBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropInput` and `DepthwiseConv2dNativeBackpropFilter` (missing from
 * tfjs-backend-wasm 4.22), `Conv2DBackpropInput` (replacing tfjs' scalar loop) and `Identity`
 * (sharing data instead of copying it); tfjs' own are kept and run in `plain` kernel mode, the
 * reference. Idempotent; registering again after tfjs-backend-wasm re-registered its
 * kernels puts ours back.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';
import { getKernelMode } from '../fast.js';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.js';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './DepthwiseConv2dNativeBackpropFilter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './DepthwiseConv2dNativeBackpropInput.js';
import { identityConfig } from './Identity.js';
import { mnv3ActivationGradConfig } from './Mnv3ActivationGrad.js';
import { mnv3BatchNormTrainConfig } from './Mnv3BatchNormTrain.js';
import { mnv3BatchNormTrainGradConfig } from './Mnv3BatchNormTrainGrad.js';
import { mnv3Conv2dTrainConfig, mnv3Conv2dTrainGradConfig } from './Mnv3Conv2dTrain.js';
import { mnv3DepthwiseConv2dTrainConfig, mnv3DepthwiseConv2dTrainGradConfig } from './Mnv3DepthwiseConv2dTrain.js';
import { mnv3GlobalAvgPoolForkConfig, mnv3GlobalAvgPoolGradConfig } from './Mnv3GlobalAvgPoolGrad.js';
import { mnv3RmspropStepConfig, mnv3SgdStepConfig } from './Mnv3OptimizerSteps.js';
import { mnv3RunningStatsConfig } from './Mnv3RunningStats.js';
import { mnv3ScaleChannelsConfig } from './Mnv3ScaleChannels.js';
import { mnv3ScaleChannelsGradConfig } from './Mnv3ScaleChannelsGrad.js';

const trainingKernelConfigs: KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  identityConfig,
  mnv3ActivationGradConfig,
  mnv3BatchNormTrainConfig,
  mnv3BatchNormTrainGradConfig,
  mnv3Conv2dTrainConfig,
  mnv3Conv2dTrainGradConfig,
  mnv3DepthwiseConv2dTrainConfig,
  mnv3DepthwiseConv2dTrainGradConfig,
  mnv3GlobalAvgPoolForkConfig,
  mnv3GlobalAvgPoolGradConfig,
  mnv3RmspropStepConfig,
  mnv3RunningStatsConfig,
  mnv3SgdStepConfig,
  mnv3ScaleChannelsConfig,
  mnv3ScaleChannelsGradConfig,
];

/** tfjs-backend-wasm's own kernels we replace, by name: they run in `plain` mode. */
const replaced = new Map<string, KernelConfig>();
/** What we registered, by name (to tell ours from a registration made since). */
const ours = new Map<string, KernelConfig>();

function withPlainFallback(config: KernelConfig): KernelConfig {
  const original = replaced.get(config.kernelName);
  const kernelFunc: KernelFunc = (args) => (original && getKernelMode() === 'plain' ? original.kernelFunc(args) : config.kernelFunc(args));
  // tfjs' kernel binds its WASM function in its setupFunc, which tfjs runs when the backend
  // initialises: kept, so that the original still works when we registered before that.
  return original?.setupFunc ? { ...config, kernelFunc, setupFunc: original.setupFunc } : { ...config, kernelFunc };
}

export function registerTrainingKernels(): void {
  for (const config of trainingKernelConfigs) {
    const current = getKernel(config.kernelName, config.backendName);
    if (current && current === ours.get(config.kernelName)) continue;
    if (current) {
      if (!replaced.has(config.kernelName)) replaced.set(config.kernelName, current);
      unregisterKernel(config.kernelName, config.backendName);
    }
    const mine = withPlainFallback(config);
    ours.set(config.kernelName, mine);
    registerKernel(mine);
  }
}

/** The names of the training kernels (tfjs' five and ours). */
export const TRAINING_KERNELS: readonly string[] = trainingKernelConfigs.map((c) => c.kernelName);
