import { roundHalfEven } from '@mnv3/io';
const f = Math.fround;

/**
 * TorchVision's `AnchorGenerator` (`models/detection/anchor_utils.py`): for feature map `i`,
 * `sizes[i].length × aspectRatios[i].length` anchors per location, centred on the location's
 * top-left pixel times the stride. Aspect ratio is height / width.
 *
 * @example new AnchorGenerator([[32, 64, 128, 256, 512]], [[0.5, 1, 2]]).numAnchorsPerLocation() // [15]
 */
export class AnchorGenerator {
  /** Per feature map, the `[A, 4]` anchors around the origin (`cell_anchors`), float32. */
  readonly cellAnchors: readonly Float32Array[];

  constructor(
    readonly sizes: readonly (readonly number[])[] = [[128, 256, 512]],
    readonly aspectRatios: readonly (readonly number[])[] = [[0.5, 1.0, 2.0]],
  ) {
    if (sizes.length !== aspectRatios.length) {
      throw new RangeError(`sizes and aspectRatios must have one entry per feature map, got ${sizes.length} and ${aspectRatios.length}`);
    }
    this.cellAnchors = sizes.map((s, i) => AnchorGenerator.generateAnchors(s, aspectRatios[i]!));
  }

  /**
   * `generate_anchors(scales, aspect_ratios)`: `[len(ratios)·len(scales), 4]`, ratio-major, as
   * `round([-w, -h, w, h] / 2)` with `h = sqrt(ratio)·scale`, `w = scale / sqrt(ratio)` in float32.
   */
  static generateAnchors(scales: readonly number[], aspectRatios: readonly number[]): Float32Array {
    const out = new Float32Array(scales.length * aspectRatios.length * 4);
    let k = 0;
    for (const ar of aspectRatios) {
      const hRatio = f(Math.sqrt(f(ar)));
      const wRatio = f(1 / hRatio);
      for (const s of scales) {
        const ws = f(wRatio * f(s));
        const hs = f(hRatio * f(s));
        out[k++] = roundHalfEven(f(-ws / 2));
        out[k++] = roundHalfEven(f(-hs / 2));
        out[k++] = roundHalfEven(f(ws / 2));
        out[k++] = roundHalfEven(f(hs / 2));
      }
    }
    return out;
  }

  /** `num_anchors_per_location()`: anchors per location for each feature map. */
  numAnchorsPerLocation(): number[] {
    return this.sizes.map((s, i) => s.length * this.aspectRatios[i]!.length);
  }

  /**
   * Anchors for a batch padded to `imageSize` (height, width) and feature maps of the given
   * `(height, width)`: `[ΣHᵢ·Wᵢ·Aᵢ, 4]` float32, level by level, location-major (row by row),
   * anchor-minor — identical for every image of the batch, as TorchVision's. Strides are
   * `imageSize // gridSize` per axis.
   */
  forward(imageSize: readonly [number, number], gridSizes: readonly (readonly [number, number])[]): Float32Array {
    if (gridSizes.length !== this.cellAnchors.length) {
      throw new RangeError(
        `Anchors should be given for every feature map: ${gridSizes.length} feature maps, ${this.cellAnchors.length} sizes / aspect ratios`,
      );
    }
    let total = 0;
    gridSizes.forEach(([h, w], i) => (total += h * w * this.cellAnchors[i]!.length));
    const out = new Float32Array(total);
    let k = 0;
    gridSizes.forEach(([gh, gw], level) => {
      const strideH = Math.floor(imageSize[0] / gh);
      const strideW = Math.floor(imageSize[1] / gw);
      const base = this.cellAnchors[level]!;
      for (let y = 0; y < gh; y++) {
        const sy = y * strideH;
        for (let x = 0; x < gw; x++) {
          const sx = x * strideW;
          for (let a = 0; a < base.length; a += 4) {
            out[k++] = f(sx + base[a]!);
            out[k++] = f(sy + base[a + 1]!);
            out[k++] = f(sx + base[a + 2]!);
            out[k++] = f(sy + base[a + 3]!);
          }
        }
      }
    });
    return out;
  }
}
