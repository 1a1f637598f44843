import { ImageError, assertRgbImage, type RgbImage } from '@mnv3/io';

/** ImageNet's per-channel mean (RGB), TorchVision's default for every preset. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet's per-channel standard deviation (RGB). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/**
 * A float32 image in NHWC-style HWC layout, ready for `tf.tensor(data, [1, ...shape])`.
 *
 * @example
 * const t = tf.tensor4d(x.data, [1, ...x.shape]);
 */
export interface FloatImage {
  /** float32, shape `[height, width, 3]`, HWC. */
  readonly data: Float32Array;
  readonly shape: [number, number, number];
}

/**
 * TorchVision's `pil_to_tensor` + `convert_image_dtype(float)`: uint8 → float32 `v / 255`, kept in
 * HWC order (our models run NHWC). The division is done in float32, exactly as torch does.
 *
 * @param img uint8 HWC RGB image.
 * @returns float32 `[H, W, 3]` in [0, 1].
 * @example
 * const x = toTensor(img); // x.shape = [img.height, img.width, 3]
 */
export function toTensor(img: RgbImage): FloatImage {
  assertRgbImage(img, 'toTensor');
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = Math.fround(v / 255);
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = lut[img.data[i]!]!;
  return { data: out, shape: [img.height, img.width, 3] };
}

function checkStats(mean: readonly number[], std: readonly number[], channels: number): void {
  if (mean.length !== channels || std.length !== channels) {
    throw new ImageError('invalid-argument', `normalize: mean and std need ${channels} values (one per channel), got ${mean.length} and ${std.length}`);
  }
  if (std.some((s) => Math.fround(s) === 0)) throw new ImageError('invalid-argument', 'normalize: std evaluated to zero, leading to division by zero');
}

/**
 * TorchVision's `F.normalize` on an HWC float32 image: `(x − mean[c]) / std[c]` per channel, in
 * float32 as torch computes it. Returns a new image unless `inplace`.
 *
 * @param image float32 `[H, W, C]`, HWC.
 * @example
 * const x = normalize(toTensor(img), IMAGENET_MEAN, IMAGENET_STD);
 */
export function normalize(
  image: FloatImage,
  mean: readonly number[] = IMAGENET_MEAN,
  std: readonly number[] = IMAGENET_STD,
  inplace = false,
): FloatImage {
  const c = image.shape[2];
  checkStats(mean, std, c);
  const m = mean.map((v) => Math.fround(v));
  const s = std.map((v) => Math.fround(v));
  const out = inplace ? image.data : new Float32Array(image.data.length);
  const src = image.data;
  for (let i = 0; i < src.length; i += c) {
    for (let ch = 0; ch < c; ch++) out[i + ch] = Math.fround(src[i + ch]! - m[ch]!) / s[ch]!;
  }
  return { data: out, shape: [...image.shape] };
}

/**
 * An HWC float32 image as CHW (TorchVision's layout), e.g. to compare with a saved `.npy` tensor.
 *
 * @param data float32 `[H, W, C]`, HWC.
 * @returns float32 `[C, H, W]`.
 * @example
 * const chw = hwcToChw(x.data, x.shape); // then shape [3, H, W]
 */
export function hwcToChw(data: Float32Array, shape: readonly [number, number, number]): Float32Array {
  const [h, w, c] = shape;
  if (data.length !== h * w * c) throw new ImageError('invalid-argument', `hwcToChw: shape [${shape.join(', ')}] needs ${h * w * c} values, got ${data.length}`);
  const out = new Float32Array(data.length);
  const plane = h * w;
  for (let p = 0; p < plane; p++) for (let ch = 0; ch < c; ch++) out[ch * plane + p] = data[p * c + ch]!;
  return out;
}

/**
 * A CHW float32 tensor as HWC (our layout).
 *
 * @param data float32 `[C, H, W]`, CHW.
 * @returns float32 `[H, W, C]`.
 * @example
 * const hwc = chwToHwc(chw, [3, 224, 224]);
 */
export function chwToHwc(data: Float32Array, shape: readonly [number, number, number]): Float32Array {
  const [c, h, w] = shape;
  if (data.length !== h * w * c) throw new ImageError('invalid-argument', `chwToHwc: shape [${shape.join(', ')}] needs ${h * w * c} values, got ${data.length}`);
  const out = new Float32Array(data.length);
  const plane = h * w;
  for (let p = 0; p < plane; p++) for (let ch = 0; ch < c; ch++) out[p * c + ch] = data[ch * plane + p]!;
  return out;
}

/**
 * A preset's HWC output as a batch of one in TorchVision's NCHW layout, for comparing with
 * `.npy` files or TorchVision tensors.
 *
 * @param image float32 `[H, W, C]`, HWC.
 * @returns float32 data with shape `[1, C, H, W]`.
 * @example
 * const { data, shape } = toNchw(ImageClassification({ cropSize: 224 }).apply(img)); // shape [1, 3, 224, 224]
 */
export function toNchw(image: FloatImage): { data: Float32Array; shape: [1, number, number, number] } {
  const [h, w, c] = image.shape;
  return { data: hwcToChw(image.data, image.shape), shape: [1, c, h, w] };
}
