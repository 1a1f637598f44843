import { batchNorm2d, frozenBatchNorm2d, overwriteValueParam, verifyWeights, type NormLayer, type Weights, type WeightsEnum } from '@mnv3/layers';
import { GeneralizedRCNNTransform } from './transform.js';

/**
 * The keyword arguments every TorchVision detection builder takes (`weights`, `weights_backbone`,
 * `num_classes`, `trainable_backbone_layers`, the transform's and the anchors'), camelCased; each
 * builder adds its own.
 */
export interface DetectorBuilderOptions {
  /**
   * The detector checkpoint the caller will load (an entry of the builder's weights table, e.g.
   * `COCO_V1`). As TorchVision, it builds the backbone with `FrozenBatchNorm2d` — the key set of
   * the published checkpoints — and fixes `numClasses` to its categories. Nothing is downloaded:
   * load its state dict with `loadStateDict`.
   */
  weights?: Weights;
  /**
   * ImageNet backbone weights (an entry of the backbone's weights table); selects FrozenBatchNorm2d
   * too. TorchVision's builders download them; nothing is downloaded here, so name them to get
   * that builder's key set.
   */
  weightsBackbone?: Weights;
  /** Default the weights' category count, or 91 (COCO with background and N/A). */
  numClasses?: number;
  /**
   * Backbone stages left trainable (validated; no effect at inference): 0 to the backbone's
   * maximum, default 3 with weights; without weights always the maximum, as TorchVision.
   */
  trainableBackboneLayers?: number;
  /** Overrides the norm layer choice (`frozenBatchNorm2d()` or `batchNorm2d()`, eps 1e-5). */
  normLayer?: NormLayer;
  minSize?: number;
  maxSize?: number;
  imageMean?: readonly number[];
  imageStd?: readonly number[];
  sizeDivisible?: number;
  /** Anchor sizes per FPN map. */
  anchorSizes?: readonly (readonly number[])[];
  /** Aspect ratios (height / width) per FPN map. Default `[0.5, 1, 2]` for every map. */
  aspectRatios?: readonly (readonly number[])[];
}

/** What a builder resolves from those options before building anything. */
export interface ResolvedDetectorOptions {
  weights: Weights | null;
  numClasses: number;
  trainableBackboneLayers: number;
  normLayer: NormLayer;
  transform: GeneralizedRCNNTransform;
}

/**
 * The prologue every TorchVision detection builder runs: `weights.verify`, the backbone weights'
 * `verify`, `_ovewrite_value_param('num_classes', …)`, `_validate_trainable_layers`, the norm layer
 * (FrozenBatchNorm2d when anything is pretrained), and the transform with the builder's size
 * defaults. Every value is validated; errors name the option and the valid range.
 */
export function resolveDetectorOptions(
  name: string,
  options: DetectorBuilderOptions,
  spec: { table: WeightsEnum; backboneTable: WeightsEnum; backboneName: string; maxTrainable: number; minSize: number; maxSize: number },
): ResolvedDetectorOptions {
  const w = options.weights ?? null;
  if (w) verifyWeights(spec.table, w, name);
  if (options.weightsBackbone && w === null) verifyWeights(spec.backboneTable, options.weightsBackbone, spec.backboneName);
  const numClasses = w ? overwriteValueParam('num_classes', options.numClasses, w.meta.categories.length) : (options.numClasses ?? 91);
  checkNumberOption('numClasses', numClasses, true, 1);
  const isTrained = w !== null || options.weightsBackbone != null;
  // _validate_trainable_layers: without weights TorchVision warns and trains every layer.
  const trainable = isTrained ? (options.trainableBackboneLayers ?? 3) : spec.maxTrainable;
  checkNumberOption('trainableBackboneLayers', trainable, true, 0, spec.maxTrainable);
  const transform = new GeneralizedRCNNTransform({
    minSize: options.minSize ?? spec.minSize,
    maxSize: options.maxSize ?? spec.maxSize,
    imageMean: options.imageMean,
    imageStd: options.imageStd,
    sizeDivisible: options.sizeDivisible,
  });
  return { weights: w, numClasses, trainableBackboneLayers: trainable, normLayer: options.normLayer ?? (isTrained ? frozenBatchNorm2d() : batchNorm2d()), transform };
}

/**
 * Validates a numeric builder option: a number (not NaN), an integer if asked, in `[min, max]`;
 * the error names the option and the valid range.
 */
export function checkNumberOption(name: string, v: number, integer: boolean, min: number, max = Infinity): void {
  if (typeof v !== 'number' || Number.isNaN(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${String(v)}`);
  }
}
