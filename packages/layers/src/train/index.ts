/**
 * `@mnv3/layers/train`: what training needs on top of the inference layers. Importing it registers
 * the gradient configs of every kernel the training path uses (tfjs-core's Node entry registers
 * none; see gradients.ts), so inference-only users never load it.
 *
 * @example
 * import '@mnv3/layers/train';
 * const grads = tf.grads((x) => tf.sum(tf.square(x)))([tf.tensor([1, 2])]);
 */
import { registerGradients } from './gradients.js';

registerGradients();

export { GRADIENT_KERNELS, markDilatedBackprop, registerGradients, registerMissingGradients } from './gradients.js';
