import * as tf from '@tensorflow/tfjs-core';
import type { ClassMap, RgbImage } from '@mnv3/io';
import { ModelRegistry, interpolateBilinear, loadPretrained, readImageInput, type ImageInput, type LoadOptions, type Weights } from '@mnv3/layers';
import { SemanticSegmentation, type SemanticSegmentationPreset } from '@mnv3/transforms';
import { logitsToClassMaps } from './class-map.js';
import type { SegmentationModel, SegmentationModelEntry } from './segmentation-model.js';
import { VOC_CATEGORIES } from './voc.js';

/** The shorter sides TorchVision's segmentation weights are run at: 520, or 320 for speed. */
export const SEGMENTATION_RESIZE_SIZES: readonly number[] = [520, 320];

export interface SegmentOptions {
  /** Also return per-class logits, or softmax probabilities, at the original size. */
  output?: 'classes' | 'logits' | 'probabilities';
}

/** A class present in a result and the share of pixels it covers. */
export interface ClassShare {
  index: number;
  label: string;
  /** Fraction of the image's pixels, 0..1. */
  share: number;
}

/** One image's segmentation, at the image's original size. */
export interface SegmentationResult {
  width: number;
  height: number;
  /** Argmax class per pixel, row-major `[height, width]`. */
  classMap: ClassMap;
  /** Classes present, largest share first. */
  classes: ClassShare[];
  /** float32 HWC `[height, width, numClasses]`, when asked for with `output`. */
  scores?: Float32Array;
}

/** Shares of each class in a class map, largest first. */
export function classShares(map: ClassMap, categories: readonly string[]): ClassShare[] {
  const counts = new Map<number, number>();
  for (const c of map.data) counts.set(c, (counts.get(c) ?? 0) + 1);
  const total = map.width * map.height;
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .map(([index, n]) => ({ index, label: categories[index] ?? String(index), share: n / total }));
}

/**
 * A loaded segmentation model with TorchVision's eval preset: images in, class maps at the
 * original size out. Create it with `load`; release it with `dispose()`.
 */
export class Segmenter {
  constructor(
    readonly name: string,
    readonly model: SegmentationModel,
    /** Class names, index-aligned with the logits. */
    readonly categories: readonly string[],
    readonly preset: SemanticSegmentationPreset,
    readonly weights: Weights | null,
  ) {}

  /**
   * Runs the model on an already-normalised NHWC batch `[N, H, W, 3]`; returns `{ out, aux? }`
   * logits at the input size (the caller disposes them).
   */
  forward(x: tf.Tensor4D): { out: tf.Tensor4D; aux?: tf.Tensor4D } {
    return this.model.forward(x);
  }

  /**
   * Segments one image (→ its result) or several (→ one each): resize the shorter side to the
   * preset's size (Pillow's antialiased bilinear), normalise, run, then resize the logits
   * bilinearly back to the image's size and take the per-pixel argmax.
   *
   * @example const { classes } = await segmenter.segment('street.png'); // [{ index: 0, label: '__background__', share: 0.71 }, …]
   */
  async segment(input: ImageInput, options?: SegmentOptions): Promise<SegmentationResult>;
  async segment(input: readonly ImageInput[], options?: SegmentOptions): Promise<SegmentationResult[]>;
  async segment(input: ImageInput | readonly ImageInput[], options: SegmentOptions = {}): Promise<SegmentationResult | SegmentationResult[]> {
    const output = options.output ?? 'classes';
    if (!['classes', 'logits', 'probabilities'].includes(output)) {
      throw new RangeError(`unknown output "${String(output)}"; valid: classes, logits, probabilities`);
    }
    const inputs = Array.isArray(input) ? (input as readonly ImageInput[]) : [input as ImageInput];
    const results: SegmentationResult[] = [];
    for (const item of inputs) results.push(await this.segmentImage(await readImageInput(item), output));
    return Array.isArray(input) ? results : results[0]!;
  }

  private async segmentImage(img: RgbImage, output: NonNullable<SegmentOptions['output']>): Promise<SegmentationResult> {
    const { data, shape } = this.preset.apply(img);
    const x = tf.tensor4d(data, [1, ...shape]);
    const full = tf.tidy(() => {
      const { out, aux } = this.model.forward(x);
      aux?.dispose();
      const resized = interpolateBilinear(out, [img.height, img.width]);
      return output === 'probabilities' ? tf.softmax(resized) : resized;
    });
    x.dispose();
    try {
      const [classMap] = await logitsToClassMaps(full);
      const result: SegmentationResult = {
        width: img.width,
        height: img.height,
        classMap: classMap!,
        classes: classShares(classMap!, this.categories),
      };
      if (output !== 'classes') result.scores = (await full.data()) as Float32Array;
      return result;
    } finally {
      full.dispose();
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Every segmentation model by TorchVision name. `@mnv3/segment-lraspp` and `@mnv3/segment-deeplab`
 * register theirs when imported (TorchVision's `register_model`).
 */
export const SEGMENTATION_MODELS = new ModelRegistry<SegmentationModelEntry>('segmentation');

export interface LoadSegmenterOptions extends LoadOptions {
  numClasses?: number;
  auxLoss?: boolean;
  /** Shorter side the images are resized to: 520 (default, TorchVision's preset) or 320 (low-res). */
  resizeSize?: number;
}

/**
 * Builds a registered segmentation model by TorchVision name, loads its weights and wraps it with
 * TorchVision's eval preset (520, or 320 for speed).
 *
 * @example
 * import '@mnv3/segment-lraspp';
 * const s = await load('lraspp_mobilenet_v3_large', { weights: 'COCO_WITH_VOC_LABELS_V1' });
 */
export async function load(name: string, options: LoadSegmenterOptions): Promise<Segmenter> {
  const entry = SEGMENTATION_MODELS.get(name);
  const { resizeSize = 520, ...rest } = options;
  if (!SEGMENTATION_RESIZE_SIZES.includes(resizeSize)) {
    throw new RangeError(`resize ${resizeSize} is not a size the weights were evaluated at; valid: ${SEGMENTATION_RESIZE_SIZES.join(', ')}`);
  }
  const { model, weights } = await loadPretrained(name, entry, rest);
  const categories = weights ? weights.meta.categories : model.numClasses === VOC_CATEGORIES.length ? VOC_CATEGORIES : [];
  return new Segmenter(name, model, categories, SemanticSegmentation({ resizeSize }), weights);
}
