import type * as tf from '@tensorflow/tfjs-core';
import { Module, overwriteValueParam, type Weights } from '@mnv3/layers';

/**
 * An ImageNet-style classifier: NHWC float32 images `[N, H, W, 3]`, normalised as its weights'
 * preset says, in; logits `[N, numClasses]` out.
 */
export abstract class ImageClassifier extends Module {
  abstract readonly numClasses: number;
  abstract forward(x: tf.Tensor4D): tf.Tensor2D;
}

/**
 * `numClasses` as TorchVision's classification builders settle it: with `weights`, their category
 * count (`_ovewrite_named_param`; a different explicit value is an error), else the option.
 */
export function classesFor(options: { numClasses?: number; weights?: Weights }): number | undefined {
  return options.weights ? overwriteValueParam('num_classes', options.numClasses, options.weights.meta.categories.length) : options.numClasses;
}
