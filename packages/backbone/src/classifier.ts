import type * as tf from '@tensorflow/tfjs-core';
import { Module } from '@mnv3/layers';

/**
 * An ImageNet-style classifier: NHWC float32 images `[N, H, W, 3]`, normalised as its weights'
 * preset says, in; logits `[N, numClasses]` out.
 */
export abstract class ImageClassifier extends Module {
  abstract readonly numClasses: number;
  abstract forward(x: tf.Tensor4D): tf.Tensor2D;
}
