import * as tf from '@tensorflow/tfjs-core';

/**
 * `F.interpolate(x, size, mode="bilinear", align_corners=False)` on NHWC float32 `[N, H, W, C]` →
 * `[N, height, width, C]`: half-pixel centres, source coordinates clamped at 0, as PyTorch. tfjs'
 * `resizeBilinear(x, size, false, true)` computes exactly this (the WASM kernel agrees with
 * PyTorch to a few ulp, tested against TorchVision); a 1×1 map is broadcast, which is exact.
 *
 * @example interpolateBilinear(logits, [520, 520]) // [N, 520, 520, C]
 */
export function interpolateBilinear(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  const [height, width] = size;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new RangeError(`interpolation size must be two positive integers, got [${size.join(', ')}]`);
  }
  const [n, h, w, c] = x.shape;
  if (h === 1 && w === 1) return tf.broadcastTo(x, [n, height, width, c]);
  return tf.image.resizeBilinear(x, [height, width], false, true);
}
