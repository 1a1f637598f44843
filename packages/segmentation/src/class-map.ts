import * as tf from '@tensorflow/tfjs-core';
import type { ClassMap } from '@mnv3/io';

/**
 * Per-pixel argmax of NHWC logits `[N, H, W, C]` (a segmentation model's `out`), read back as one
 * uint8 class map per image when C ≤ 256, int32 otherwise. Does not dispose `logits`.
 *
 * @example const [mask] = await logitsToClassMaps(model.forward(x).out);
 */
export async function logitsToClassMaps(logits: tf.Tensor4D): Promise<ClassMap[]> {
  const [n, height, width, c] = logits.shape;
  const indices = tf.argMax(logits, 3);
  let values: Int32Array;
  try {
    values = (await indices.data()) as Int32Array;
  } finally {
    indices.dispose();
  }
  const maps: ClassMap[] = [];
  for (let b = 0; b < n; b++) {
    const slice = values.subarray(b * height * width, (b + 1) * height * width);
    maps.push({ data: c <= 256 ? Uint8Array.from(slice) : Int32Array.from(slice), width, height });
  }
  return maps;
}
