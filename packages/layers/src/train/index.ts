/**
 * `@mnv3/layers/train`: what training needs on top of the inference layers. Importing it
 * registers the gradient configs of every kernel the training path uses (tfjs-core's Node entry
 * registers none; see gradients.ts), the gradients of our own kernels, and our WASM SIMD training
 * kernels for the `wasm` backend (the backprop kernels tfjs-backend-wasm lacks or runs slowly), so
 * inference-only users never load any of it.
 *
 * @example
 * import '@mnv3/layers/train';
 * const grads = tf.grads((x) => tf.sum(tf.square(x)))([tf.tensor([1, 2])]);
 */
import { registerTrainingKernels } from '../kernels/train/register-training-kernels.js';
import { setTrainingSupport } from '../module.js';
import { markDilatedBackprop, registerGradients, registerMissingGradients } from './gradients.js';
import { MNV3_GRADIENTS } from './mnv3-gradients.js';

/**
 * Registers everything training needs (idempotent): gradients where missing, and our training
 * kernels for `wasm` (again, if tfjs-backend-wasm was imported after this module and put its own
 * Conv2DBackpropInput back). `Module.train()` calls it.
 */
export function prepareTraining(): void {
  registerGradients();
  registerMissingGradients(MNV3_GRADIENTS);
  registerTrainingKernels();
  markDilatedBackprop('wasm');
}

prepareTraining();
setTrainingSupport(prepareTraining);

export { GRADIENT_KERNELS, markDilatedBackprop, registerGradients, registerMissingGradients } from './gradients.js';
export { MNV3_GRADIENTS } from './mnv3-gradients.js';
export { TRAINING_KERNELS, registerTrainingKernels } from '../kernels/train/register-training-kernels.js';
export { activateTrain, batchNormTrain, fusedRmspropStep, fusedSgdStep, scaleChannels, updateRunningStats } from './ops.js';
export type { RmspropStepAttrs, SgdStepAttrs } from '../kernels/train/Mnv3OptimizerSteps.js';
export { conv2dTrain } from '../nn.js';
