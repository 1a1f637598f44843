// TorchVision's `F.interpolate` modes on NHWC tensors.
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

/**
 * `F.interpolate(x, size, mode="nearest")` on NHWC: source index `floor(dst · in/out)` (float32
 * scale, clamped to `in - 1`), exactly PyTorch's `nearest_idx` (identity when sizes agree, `dst >>
 * 1` when the output is twice the input).
 */
export function interpolateNearest(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (h === size[0] && w === size[1]) return tf.clone(x);
  const idx = (inSize: number, outSize: number) => {
    const out = new Int32Array(outSize);
    const scale = Math.fround(inSize / outSize);
    for (let i = 0; i < outSize; i++) {
      out[i] = outSize === inSize ? i : outSize === 2 * inSize ? i >> 1 : Math.min(Math.floor(Math.fround(i * scale)), inSize - 1);
    }
    return out;
  };
  return tf.tidy(() => {
    const rows = tf.gather(x, tf.tensor1d(idx(h, size[0]), 'int32'), 1);
    return tf.gather(rows, tf.tensor1d(idx(w, size[1]), 'int32'), 2) as tf.Tensor4D;
  });
}
