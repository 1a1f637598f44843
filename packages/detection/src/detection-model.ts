import { Module, type ModelEntry, type NormLayer, type Weights } from '@mnv3/layers';
import type { DetectionImage } from './transform.js';

/** Detections of one image, TorchVision's `{boxes, labels, scores}`, by decreasing score. */
export interface Detections {
  /** `[K, 4]` float32 `(x1, y1, x2, y2)`. */
  boxes: Float32Array;
  /** `[K]` class indices into the categories (Faster R-CNN never returns 0, the background; RetinaNet's sigmoid classes may). */
  labels: Int32Array;
  /** `[K]` scores (softmax probabilities for Faster R-CNN, sigmoid ones for RetinaNet). */
  scores: Float32Array;
}

/**
 * A detection model at inference, as TorchVision's detectors in eval mode: a list of float32
 * `[H, W, 3]` images (HWC, RGB, in [0, 1], any size) in, one `Detections` per image out, in the
 * image's pixels. Input tensors are not disposed.
 */
export abstract class DetectionModel extends Module {
  /** Class names by label, when known (COCO's for the COCO builders). */
  abstract readonly categories: readonly string[] | null;
  abstract forward(images: readonly DetectionImage[]): Promise<Detections[]>;
}

/**
 * Options every detection builder understands (TorchVision's kwargs, camelCased); each builder
 * adds its own (`boxScoreThresh`, `minSize`, …).
 */
export interface DetectionBuildOptions {
  /** Output classes including the background; default the weights' category count, or 91 (COCO). */
  numClasses?: number;
  /** The checkpoint the caller will load: fixes `numClasses` and selects FrozenBatchNorm2d, as TorchVision. */
  weights?: Weights;
  /** Overrides the norm layer choice (`frozenBatchNorm2d()` or `batchNorm2d()`). */
  normLayer?: NormLayer;
}

/** One detection model of the registry: its builder, its published checkpoints, its score threshold's name. */
export interface DetectionModelEntry extends ModelEntry<DetectionBuildOptions, DetectionModel> {
  /**
   * The builder option that sets the minimum score of a returned detection (TorchVision's
   * `box_score_thresh` for Faster R-CNN, `score_thresh` for RetinaNet): `load()`'s `scoreThresh` sets it.
   */
  scoreThreshOption: string;
}

