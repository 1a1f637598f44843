/**
 * `torchvision.ops.roi_align` on host arrays, a port of TorchVision's CPU kernel
 * (`csrc/ops/cpu/roi_align_kernel.cpp`, `roi_align_common.h`) with its float32 arithmetic,
 * border rules and averaging, reading NHWC feature maps.
 */

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
  if (rois.length % 5 !== 0) throw new RangeError(`rois must have shape [K, 5] (batch index, x1, y1, x2, y2), got ${rois.length} values`);
  const [PH, PW] = typeof options.outputSize === 'number' ? [options.outputSize, options.outputSize] : options.outputSize;
  const scale = f(options.spatialScale ?? 1);
  const samplingRatio = options.samplingRatio ?? -1;
  const aligned = options.aligned ?? false;
  const K = rois.length / 5;
  const out = new Float32Array(K * C * PH * PW);
  const acc = new Float32Array(C);
  const x = input.data;
  for (let n = 0; n < K; n++) {
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
        acc.fill(0);
        for (let iy = 0; iy < gridH; iy++) {
          const y = f(f(startH + f(ph * binH)) + f(f(f(iy + 0.5) * binH) / gridH));
          for (let ix = 0; ix < gridW; ix++) {
            let xx = f(f(startW + f(pw * binW)) + f(f(f(ix + 0.5) * binW) / gridW));
            let yy = y;
            if (!(yy >= -1 && yy <= H && xx >= -1 && xx <= W)) {
              // Out of the map: contributes 0 to every channel (acc += 0·v leaves acc as is).
              continue;
            }
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
            const w1 = f(hy * hx);
            const w2 = f(hy * lx);
            const w3 = f(ly * hx);
            const w4 = f(ly * lx);
            const p1 = base + (yLow * W + xLow) * C;
            const p2 = base + (yLow * W + xHigh) * C;
            const p3 = base + (yHigh * W + xLow) * C;
            const p4 = base + (yHigh * W + xHigh) * C;
            for (let c = 0; c < C; c++) {
              acc[c] = acc[c]! + f(f(f(f(w1 * x[p1 + c]!) + f(w2 * x[p2 + c]!)) + f(w3 * x[p3 + c]!)) + f(w4 * x[p4 + c]!));
            }
          }
        }
        const o = n * C * PH * PW + ph * PW + pw;
        for (let c = 0; c < C; c++) out[o + c * PH * PW] = f(acc[c]! / count);
      }
    }
  }
  return out;
}
