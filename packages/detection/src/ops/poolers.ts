import { boxArea } from './boxes.js';
import * as tf from '@tensorflow/tfjs-core';
import { roundHalfEven } from '@mnv3/io';
import { bilinearGather } from '@mnv3/layers';
import { roiAlignSamples, type HostFeatureMap } from './roi-align.js';

const f = Math.fround;

/**
 * TorchVision's `LevelMapper` (`ops/poolers.py`): the FPN level of each box by eq. 1 of the FPN
 * paper, `floor(k0 + log2(sqrt(area) / s0) + eps)` clamped to `[kMin, kMax]`, minus `kMin`
 * (float32 as TorchVision).
 */
export class LevelMapper {
  constructor(
    readonly kMin: number,
    readonly kMax: number,
    readonly canonicalScale = 224,
    readonly canonicalLevel = 4,
    readonly eps = 1e-6,
  ) {}

  /** Level index (0-based, int32) of each box of the concatenated per-image lists. */
  map(boxLists: readonly Float32Array[]): Int32Array {
    const total = boxLists.reduce((n, b) => n + b.length / 4, 0);
    const out = new Int32Array(total);
    let k = 0;
    const s0 = f(this.canonicalScale);
    const eps = f(this.eps);
    for (const boxes of boxLists) {
      for (const area of boxArea(boxes)) {
        const s = f(Math.sqrt(area));
        const lvl = Math.floor(f(f(this.canonicalLevel + f(Math.log2(f(s / s0)))) + eps));
        out[k++] = Math.min(Math.max(lvl, this.kMin), this.kMax) - this.kMin;
      }
    }
    return out;
  }
}

/**
 * `_infer_scale`: the power of two nearest to feature height / image height (TorchVision uses
 * the first axis only).
 */
export function inferScale(featureSize: readonly [number, number], originalSize: readonly [number, number]): number {
  const approx = featureSize[0] / originalSize[0];
  return 2 ** roundHalfEven(f(Math.log2(f(approx))));
}

export interface MultiScaleRoIAlignOptions {
  canonicalScale?: number;
  canonicalLevel?: number;
}

/**
 * TorchVision's `MultiScaleRoIAlign`: pools each box from the FPN level `LevelMapper` assigns
 * it, with `roi_align(…, aligned=False)`. Only the feature maps named in `featmapNames` are used,
 * in the order of the feature dict.
 *
 * As TorchVision 0.14, the scales and level mapper are inferred on the first call (from the
 * feature sizes and the largest image height / width) and then cached for every later call.
 */
export class MultiScaleRoIAlign {
  readonly outputSize: readonly [number, number];
  /** Set by the first `forward`. */
  scales: number[] | null = null;
  mapLevels: LevelMapper | null = null;
  readonly canonicalScale: number;
  readonly canonicalLevel: number;

  constructor(
    readonly featmapNames: readonly string[],
    outputSize: number | readonly [number, number],
    readonly samplingRatio: number,
    options: MultiScaleRoIAlignOptions = {},
  ) {
    this.outputSize = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize;
    this.canonicalScale = options.canonicalScale ?? 224;
    this.canonicalLevel = options.canonicalLevel ?? 4;
  }

  /** The feature maps this pooler uses, in the feature dict's order (`_filter_input`). */
  filter<T>(features: ReadonlyMap<string, T> | Readonly<Record<string, T>>): T[] {
    const entries = features instanceof Map ? [...features.entries()] : Object.entries(features as Record<string, T>);
    return entries.filter(([k]) => this.featmapNames.includes(k)).map(([, v]) => v);
  }

  /** `_setup_scales`, once. */
  setupScales(featureSizes: readonly (readonly [number, number])[], imageShapes: readonly (readonly [number, number])[]): void {
    if (this.scales && this.mapLevels) return;
    if (imageShapes.length === 0) throw new Error('images list should not be empty');
    let maxH = 0;
    let maxW = 0;
    for (const [h, w] of imageShapes) {
      maxH = Math.max(maxH, h);
      maxW = Math.max(maxW, w);
    }
    const scales = featureSizes.map((s) => inferScale(s, [maxH, maxW]));
    const lvlMin = -f(Math.log2(f(scales[0]!)));
    const lvlMax = -f(Math.log2(f(scales[scales.length - 1]!)));
    this.scales = scales;
    this.mapLevels = new LevelMapper(Math.trunc(lvlMin), Math.trunc(lvlMax), this.canonicalScale, this.canonicalLevel);
  }

  /**
   * @param features the feature maps (NHWC tensors or host arrays) by name, in TorchVision's dict order
   * @param boxes per image, `[Kᵢ, 4]` boxes in the (resized) image's coordinates
   * @param imageShapes per image, the resized (unpadded) `(height, width)`
   * @returns (resolves to) float32 `[ΣKᵢ, C·PH·PW]` (each row TorchVision's `[C, PH, PW]` flattened), in the
   *   order of the concatenated boxes
   */
  async forward(
    features: ReadonlyMap<string, FeatureMap> | Readonly<Record<string, FeatureMap>>,
    boxes: readonly Float32Array[],
    imageShapes: readonly (readonly [number, number])[],
  ): Promise<tf.Tensor2D> {
    const maps = this.filter(features);
    if (maps.length === 0) {
      throw new Error(`none of the feature maps ${this.featmapNames.join(', ')} is present`);
    }
    const shapes = maps.map((m) => m.shape);
    this.setupScales(
      shapes.map((s) => [s[1], s[2]] as const),
      imageShapes,
    );
    const scales = this.scales!;
    const rois = toRoiFormat(boxes);
    const K = rois.length / 5;
    const [PH, PW] = this.outputSize;
    const C = shapes[0]![3];
    const levels = maps.length === 1 ? new Int32Array(K) : Int32Array.from(this.mapLevels!.map(boxes));
    // One table over every RoI: each samples its level's map at that level's scale.
    const samples = roiAlignSamples(shapes, rois, levels, { outputSize: this.outputSize, samplingRatio: this.samplingRatio, spatialScale: scales });
    const tensors = maps.map((m) => (m instanceof tf.Tensor ? m : tf.tensor4d(m.data, [...m.shape])));
    try {
      const pooled = await bilinearGather(tensors, samples, K * C * PH * PW, PH * PW);
      const rows = tf.reshape<tf.Rank.R2>(pooled, [K, C * PH * PW]);
      pooled.dispose();
      return rows;
    } finally {
      tensors.forEach((t, i) => t !== maps[i] && t.dispose());
    }
  }
}

/** A feature map for the pooler: an NHWC tensor, or its data on the host. */
export type FeatureMap = tf.Tensor4D | HostFeatureMap;

/** `_convert_to_roi_format`: `[ΣKᵢ, 5]` rows `(image index, x1, y1, x2, y2)`. */
export function toRoiFormat(boxes: readonly Float32Array[]): Float32Array {
  const total = boxes.reduce((n, b) => n + b.length / 4, 0);
  const rois = new Float32Array(total * 5);
  let k = 0;
  boxes.forEach((b, i) => {
    for (let j = 0; j < b.length / 4; j++) {
      rois[k++] = i;
      for (let c = 0; c < 4; c++) rois[k++] = b[4 * j + c]!;
    }
  });
  return rois;
}
