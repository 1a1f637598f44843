import type * as tf from '@tensorflow/tfjs-core';
import type { Weights, WeightsEnum } from '../weights-api.js';
import { Module } from '../module.js';

/**
 * What TorchVision's segmentation models return (an `OrderedDict` there): NHWC float32 logits
 * `[N, H, W, numClasses]` at the input's size. `aux` only from models built with `auxLoss`.
 * The caller disposes both.
 */
export interface SegmentationOutput {
  out: tf.Tensor4D;
  aux?: tf.Tensor4D;
}

/**
 * A semantic segmentation model: NHWC float32 `[N, H, W, 3]` (normalised as the weights'
 * preset says) → per-pixel class logits at the input's size.
 */
export abstract class SegmentationModel extends Module {
  /** Output classes, including the background. */
  abstract readonly numClasses: number;
  abstract forward(x: tf.Tensor4D): SegmentationOutput;
}

/** Options every segmentation builder understands (camelCase of TorchVision's kwargs). */
export interface SegmentationBuildOptions {
  /** Output classes including the background; default 21 (VOC) or the weights' category count. */
  numClasses?: number;
  /** Build the auxiliary FCN head too (`aux` output); models without one refuse `true`. */
  auxLoss?: boolean;
  /** The checkpoint the caller will load: fixes `numClasses` (and `auxLoss` where TorchVision does). */
  weights?: Weights;
}

/**
 * One entry of a segmentation model registry (`LRASPP_MODELS`, `DEEPLAB_MODELS`): merge them with
 * object spread for a registry of every segmentation model by TorchVision name.
 */
export interface SegmentationModelEntry {
  build(options?: SegmentationBuildOptions): SegmentationModel;
  /** The published checkpoints; `null` when TorchVision published none (FCN on MobileNetV3). */
  weights: WeightsEnum | null;
  /** Whether `auxLoss: true` is accepted. */
  auxLoss: boolean;
}
