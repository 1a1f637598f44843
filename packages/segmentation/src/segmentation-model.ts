import type * as tf from '@tensorflow/tfjs-core';
import { Module, type ModelEntry, type Weights } from '@mnv3/layers';

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
 * One segmentation model of the registry: its builder, its published checkpoints (`null` when
 * TorchVision published none, as for FCN on MobileNetV3) and whether `auxLoss: true` is accepted.
 */
export interface SegmentationModelEntry extends ModelEntry<SegmentationBuildOptions, SegmentationModel> {
  auxLoss: boolean;
}
