/**
 * `torchvision.ops.roi_align` on host arrays, a port of TorchVision's CPU kernel
 * (`csrc/ops/cpu/roi_align_kernel.cpp`, `roi_align_common.h`) with its float32 arithmetic,
 * border rules and averaging, reading NHWC feature maps.
 */

import { bilinearGatherHost, GATHER_HEADER_WORDS, GATHER_SAMPLE_WORDS, type BilinearSamples } from '@mnv3/layers';

const f = Math.fround;

/** A feature map on the host: NHWC float32 `[N, H, W, C]`. */
export interface HostFeatureMap {
  data: Float32Array;
  shape: readonly [number, number, number, number];
}

export interface RoiAlignOptions {
  /** Output `[height, width]` per RoI (a number for square). */
  outputSize: number | readonly [number, number];
  /** Box coordinates × `spatialScale` = feature-map coordinates (1/stride). Default 1. */
  spatialScale?: number;
  /** Sampling points per bin and axis; `<= 0`: adaptive, `ceil(roi size / output size)`. Default -1. */
  samplingRatio?: number;
  /** Shift box coordinates by -0.5 pixel (`aligned=True`). Default false, as Faster R-CNN. */
  aligned?: boolean;
}

/**
 * RoIAlign: for each RoI `[K, 5]` `(batch index, x1, y1, x2, y2)` in input coordinates, the average
 * of bilinear samples on a regular grid in each of `outputSize` bins. Returns float32
 * `[K, C, PH, PW]` (TorchVision's layout, so that `flatten(1)` matches its box head).
 *
 * Border rules, as TorchVision: a sample with `y < -1`, `y > H`, `x < -1` or `x > W` contributes
 * 0; otherwise coordinates are clamped to `[0, H-1]` / `[0, W-1]`. Without `aligned`, RoIs are
 * at least 1×1 feature pixel.
 */
export function roiAlign(input: HostFeatureMap, rois: Float32Array, options: RoiAlignOptions): Float32Array {
  const [N, H, W, C] = input.shape;
  if (input.data.length !== N * H * W * C) throw new RangeError(`input has ${input.data.length} values, shape [${input.shape.join(', ')}] needs ${N * H * W * C}`);
  const [PH, PW] = outputSizeOf(options);
  const K = rois.length / 5;
  const samples = roiAlignSamples([input.shape], rois, new Int32Array(K), options);
  return bilinearGatherHost([input.data], C, samples, K * C * PH * PW, PH * PW);
}

function outputSizeOf(options: Pick<RoiAlignOptions, 'outputSize'>): [number, number] {
  return typeof options.outputSize === 'number' ? [options.outputSize, options.outputSize] : [options.outputSize[0], options.outputSize[1]];
}

/**
 * RoIAlign's geometry as a `bilinearGather` table (TorchVision's CPU kernel, float32 arithmetic):
 * RoI `n` samples map `levels[n]` (shapes NHWC in `shapes`) at that level's spatial scale (one
 * number for all, or one per level); cell (n, ph, pw) goes to the `[K, C, PH, PW]` output
 * (channel stride PH·PW). Samples outside the map are left out (they contribute 0); the divisor
 * still counts them.
 */
export function roiAlignSamples(
  shapes: readonly (readonly [number, number, number, number])[],
  rois: Float32Array,
  levels: Int32Array,
  options: Omit<RoiAlignOptions, 'spatialScale'> & { spatialScale?: number | readonly number[] },
): BilinearSamples {
  if (rois.length % 5 !== 0) throw new RangeError(`rois must have shape [K, 5] (batch index, x1, y1, x2, y2), got ${rois.length} values`);
  const [PH, PW] = outputSizeOf(options);
  const { spatialScale = 1 } = options;
  const scales: readonly number[] = typeof spatialScale === 'number' ? shapes.map(() => spatialScale) : spatialScale;
  if (levels.length !== rois.length / 5) throw new RangeError(`levels must have one entry per RoI (${rois.length / 5}), got ${levels.length}`);
  const samplingRatio = options.samplingRatio ?? -1;
  const aligned = options.aligned ?? false;
  const K = rois.length / 5;
  const C = shapes[0]![3];
  // Sized for the worst case when the grid is fixed, grown otherwise.
  let table = new Int32Array(K * PH * PW * (GATHER_HEADER_WORDS + GATHER_SAMPLE_WORDS * Math.max(1, samplingRatio) ** 2));
  let weights = new Float32Array(table.buffer);
  let t = 0;
  const reserve = (words: number) => {
    if (t + words <= table.length) return;
    const grown = new Int32Array(Math.max(2 * table.length, t + words));
    grown.set(table);
    table = grown;
    weights = new Float32Array(table.buffer);
  };
  for (let n = 0; n < K; n++) {
    const level = levels[n]!;
    const [N, H, W] = shapes[level]!;
    const scale = f(scales[level]!);
    const b = Math.trunc(rois[5 * n]!);
    if (!(b >= 0 && b < N)) throw new RangeError(`RoI ${n} has batch index ${rois[5 * n]}, valid: 0..${N - 1}`);
    const offset = aligned ? 0.5 : 0;
    const startW = f(f(rois[5 * n + 1]! * scale) - offset);
    const startH = f(f(rois[5 * n + 2]! * scale) - offset);
    const endW = f(f(rois[5 * n + 3]! * scale) - offset);
    const endH = f(f(rois[5 * n + 4]! * scale) - offset);
    let roiW = f(endW - startW);
    let roiH = f(endH - startH);
    if (!aligned) {
      roiW = Math.max(roiW, 1);
      roiH = Math.max(roiH, 1);
    }
    const binH = f(roiH / PH);
    const binW = f(roiW / PW);
    const gridH = samplingRatio > 0 ? samplingRatio : Math.ceil(f(roiH / PH));
    const gridW = samplingRatio > 0 ? samplingRatio : Math.ceil(f(roiW / PW));
    const count = Math.max(gridH * gridW, 1);
    const base = b * H * W * C;
    for (let ph = 0; ph < PH; ph++) {
      for (let pw = 0; pw < PW; pw++) {
        reserve(GATHER_HEADER_WORDS + GATHER_SAMPLE_WORDS * gridH * gridW);
        const header = t;
        t += GATHER_HEADER_WORDS;
        let valid = 0;
        for (let iy = 0; iy < gridH; iy++) {
          const y = f(f(startH + f(ph * binH)) + f(f(f(iy + 0.5) * binH) / gridH));
          for (let ix = 0; ix < gridW; ix++) {
            let xx = f(f(startW + f(pw * binW)) + f(f(f(ix + 0.5) * binW) / gridW));
            let yy = y;
            // Out of the map: contributes 0 to every channel.
            if (!(yy >= -1 && yy <= H && xx >= -1 && xx <= W)) continue;
            if (yy <= 0) yy = 0;
            if (xx <= 0) xx = 0;
            let yLow = Math.trunc(yy);
            let xLow = Math.trunc(xx);
            let yHigh: number;
            let xHigh: number;
            if (yLow >= H - 1) {
              yHigh = yLow = H - 1;
              yy = yLow;
            } else yHigh = yLow + 1;
            if (xLow >= W - 1) {
              xHigh = xLow = W - 1;
              xx = xLow;
            } else xHigh = xLow + 1;
            const ly = f(yy - yLow);
            const lx = f(xx - xLow);
            const hy = f(1 - ly);
            const hx = f(1 - lx);
            table[t] = base + (yLow * W + xLow) * C;
            table[t + 1] = base + (yLow * W + xHigh) * C;
            table[t + 2] = base + (yHigh * W + xLow) * C;
            table[t + 3] = base + (yHigh * W + xHigh) * C;
            weights[t + 4] = hy * hx;
            weights[t + 5] = hy * lx;
            weights[t + 6] = ly * hx;
            weights[t + 7] = ly * lx;
            t += GATHER_SAMPLE_WORDS;
            valid++;
          }
        }
        table[header] = valid;
        weights[header + 1] = count;
        table[header + 2] = n * C * PH * PW + ph * PW + pw;
        table[header + 3] = level;
      }
    }
  }
  return { table: table.subarray(0, t), cells: K * PH * PW };
}
