/** What `ConfusionMatrix.compute()` returns (TorchVision's `acc_global, acc, iu`), float64. */
export interface SegmentationMetrics {
  /** Correct pixels / scored pixels, in [0, 1] (NaN before any scored pixel). */
  accGlobal: number;
  /** Per class: correct / pixels of that class in the target ("average row correct"); NaN for an absent class. */
  acc: Float64Array;
  /** Per class: intersection over union; NaN when the class is in neither target nor prediction. */
  iu: Float64Array;
  /** `iu.mean() · 100`, as TorchVision's `__str__` prints it ("mean IoU"); NaN if any IoU is NaN, as there. */
  meanIoU: number;
}

/**
 * TorchVision's `references/segmentation/utils.py` `ConfusionMatrix`: rows are target classes,
 * columns predicted classes. `update` scores only pixels whose target is in `[0, numClasses)`,
 * so VOC's 255 ("ignore") drops out, exactly as `k = (a >= 0) & (a < n)` does there. Counts are
 * exact integers (float64); `compute()` divides in float64 — TorchVision divides in float32, whose
 * results are these rounded to float32 (`Math.fround`) while counts stay below 2^24.
 *
 * @example
 * const cm = new ConfusionMatrix(21);
 * cm.update(targetLabels, predictedLabels); // same length, flat HW or NHW order
 * cm.compute().meanIoU; // e.g. 57.9
 */
export class ConfusionMatrix {
  /** `[numClasses, numClasses]` counts, row-major: `mat[t · n + p]` pixels of class t predicted p. */
  readonly mat: Float64Array;

  constructor(readonly numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
    this.mat = new Float64Array(numClasses * numClasses);
  }

  /**
   * Adds one batch: `target` (TorchVision's `a`) and `prediction` (`b`) are flat label maps of the
   * same length and order (any integer typed array or array). Targets outside `[0, numClasses)`
   * are ignored; a scored pixel's prediction must be in `[0, numClasses)`.
   */
  update(target: ArrayLike<number>, prediction: ArrayLike<number>): this {
    const n = this.numClasses;
    if (target.length !== prediction.length) {
      throw new RangeError(`target and prediction differ in size: ${target.length} vs ${prediction.length} pixels`);
    }
    // Count into a scratch matrix first, so a bad prediction leaves the totals untouched.
    const add = new Float64Array(n * n);
    for (let i = 0; i < target.length; i++) {
      const a = target[i]!;
      if (!(a >= 0 && a < n)) continue;
      const b = prediction[i]!;
      if (!(Number.isInteger(b) && b >= 0 && b < n)) {
        throw new RangeError(`prediction ${b} at pixel ${i} is not a class index (valid: integers 0..${n - 1})`);
      }
      add[Math.trunc(a) * n + b]!++;
    }
    for (let i = 0; i < add.length; i++) this.mat[i]! += add[i]!;
    return this;
  }

  /** Zeroes the counts. */
  reset(): void {
    this.mat.fill(0);
  }

  /** Adds another matrix's counts (TorchVision's `reduce_from_all_processes`, across workers). */
  merge(other: ConfusionMatrix): this {
    if (other.numClasses !== this.numClasses) {
      throw new RangeError(`cannot merge a ${other.numClasses}-class confusion matrix into a ${this.numClasses}-class one`);
    }
    for (let i = 0; i < this.mat.length; i++) this.mat[i]! += other.mat[i]!;
    return this;
  }

  /** Global pixel accuracy, per-class accuracy and per-class IoU, as TorchVision's `compute()`. */
  compute(): SegmentationMetrics {
    const n = this.numClasses;
    const acc = new Float64Array(n);
    const iu = new Float64Array(n);
    let diagSum = 0;
    let total = 0;
    for (let t = 0; t < n; t++) {
      let row = 0;
      let col = 0;
      for (let k = 0; k < n; k++) {
        row += this.mat[t * n + k]!;
        col += this.mat[k * n + t]!;
      }
      const d = this.mat[t * n + t]!;
      diagSum += d;
      total += row;
      acc[t] = d / row;
      iu[t] = d / (row + col - d);
    }
    let sum = 0;
    for (const v of iu) sum += v;
    return { accGlobal: diagSum / total, acc, iu, meanIoU: (sum / n) * 100 };
  }

  /**
   * TorchVision's report, character for character: global correct, average row correct, IoU
   * (percent, one decimal) and mean IoU, from float32 values as TorchVision computes them.
   */
  toString(): string {
    const { accGlobal, acc, iu } = this.compute();
    const f32 = (v: number) => Math.fround(v);
    const list = (a: Float64Array) => `[${Array.from(a, (v) => `'${formatFixed1(f32(v) * 100)}'`).join(', ')}]`;
    let sum = 0;
    for (const v of iu) sum = f32(sum + f32(v));
    return (
      `global correct: ${formatFixed1(f32(accGlobal) * 100)}\n` +
      `average row correct: ${list(acc)}\n` +
      `IoU: ${list(iu)}\n` +
      `mean IoU: ${formatFixed1(f32(sum / this.numClasses) * 100)}`
    );
  }
}

/** Python's `'{:.1f}'.format(v)`: correctly rounded, exact ties to even, `nan`/`inf` spelled as Python. */
export function formatFixed1(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const tenfold = v * 10;
  // A binary value exactly halfway between two one-decimal numbers is a multiple of 0.25 (x.25, x.75).
  if (Number.isInteger(v * 4) && !Number.isInteger(v * 2) && Number.isFinite(tenfold)) {
    const lo = Math.floor(tenfold);
    const even = lo % 2 === 0 ? lo : lo + 1;
    return (even / 10).toFixed(1);
  }
  return v.toFixed(1);
}
