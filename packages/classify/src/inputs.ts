import * as tf from '@tensorflow/tfjs-core';
import { loadImage, type ImageClassificationPreset, type ImageSource } from '@mnv3/layers';

/** What `classify` accepts for one image (see `loadImage` in `@mnv3/layers`). */
export type ImageInput = ImageSource;

/**
 * Loads one image and applies the classification preset: NHWC float32 `[1, cropSize, cropSize, 3]`,
 * normalised. The caller disposes the tensor.
 */
export async function toImageBatch(input: ImageInput, preset: ImageClassificationPreset): Promise<tf.Tensor4D> {
  const img = await loadImage(input);
  const { data, shape } = preset.apply(img);
  return tf.tensor4d(data, [1, ...shape]);
}
