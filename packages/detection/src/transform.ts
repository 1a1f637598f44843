import * as tf from '@tensorflow/tfjs-core';

const f = Math.fround;

/** An image on the host: float32 NHWC-style `[H, W, C]` values, row-major. */
export interface HostImage {
  data: Float32Array;
  shape: readonly [number, number, number];
}

/** An input image: float32 `[H, W, 3]` in [0, 1], as a tfjs tensor or host array. */
export type DetectionImage = tf.Tensor3D | HostImage;

/** The batch the detector's body runs on (TorchVision's `ImageList`). */
export interface ImageList {
  /** `[N, Hp, Wp, 3]` float32: normalised, resized images, zero-padded to multiples of `sizeDivisible`. */
  tensors: tf.Tensor4D;
  /** Per image, the resized size `(height, width)` before padding. */
  imageSizes: [number, number][];
}

/** Reads an input image to the host, checking its shape. */
export async function toHostImage(image: DetectionImage, index = 0): Promise<HostImage> {
  const shape = image.shape;
  if (shape.length !== 3) {
    throw new RangeError(`images are expected to be 3d tensors of shape [H, W, 3] (HWC), got shape [${shape.join(', ')}] for image ${index}`);
  }
  const [h, w, c] = shape as [number, number, number];
  if (c !== 3) throw new RangeError(`image ${index} has ${c} channels in its last axis; expected [H, W, 3] (HWC), got [${shape.join(', ')}]`);
  if (!(h >= 1 && w >= 1)) throw new RangeError(`image ${index} is empty: [${shape.join(', ')}]`);
  if ('data' in image && image.data instanceof Float32Array) {
    if (image.data.length !== h * w * c) throw new RangeError(`image ${index} has ${image.data.length} values, shape [${shape.join(', ')}] needs ${h * w * c}`);
    return image as HostImage;
  }
  const t = image as tf.Tensor3D;
  if (t.dtype !== 'float32') {
    throw new TypeError(`Expected input images to be of floating type (in range [0, 1]), but found type ${t.dtype} instead (image ${index})`);
  }
  return { data: (await t.data()) as Float32Array, shape: [h, w, c] };
}

/**
 * The output size and scale TorchVision 0.14's `_resize_image_and_masks` picks: `scale =
 * min(minSize / min(h, w), maxSize / max(h, w))` in float32 (computed as `reciprocal(x) · size`,
 * as torch evaluates `float / tensor`), output `floor(h · scale)`,
 * `floor(w · scale)` in float64 (`F.interpolate(…, recompute_scale_factor=True)`).
 */
export function resizedSize(h: number, w: number, minSize: number, maxSize: number): { scale: number; size: [number, number] } {
  // Python's `800.0 / tensor` is `tensor.reciprocal() * 800.0` in torch: two float32 roundings.
  const scale = Math.min(f(f(1 / Math.min(h, w)) * minSize), f(f(1 / Math.max(h, w)) * maxSize));
  return { scale, size: [Math.floor(h * scale), Math.floor(w * scale)] };
}

/** Per output index: the two source indices and weights of PyTorch's linear upsampling (align_corners=False). */
function linearTaps(inSize: number, outSize: number) {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  const scale = f(inSize / outSize);
  for (let i = 0; i < outSize; i++) {
    // The ratio is float32; torch 1.13's CPU kernel (built for AVX2) then carries the source
    // coordinate at higher precision: computing it in float64 reproduces its weights exactly.
    let src = scale * (i + 0.5) - 0.5;
    if (src < 0) src = 0;
    const idx = Math.min(Math.floor(src), inSize - 1);
    const lambda = Math.min(Math.max(f(src - idx), 0), 1);
    i0[i] = idx;
    i1[i] = idx < inSize - 1 ? idx + 1 : idx;
    w1[i] = lambda;
    w0[i] = f(1 - lambda);
  }
  return { i0, i1, w0, w1 };
}

/**
 * `F.interpolate(mode="bilinear", align_corners=False)` to `size` with the scale recomputed from
 * the sizes, on a host `[H, W, C]` image: PyTorch's CPU arithmetic (float32 ratio `in/out`, source
 * `ratio·(dst+0.5)-0.5` clamped at 0, float32 weights, rows interpolated along x first); agrees
 * with torch 1.13 to 1 ulp.
 */
export function resizeBilinear(image: HostImage, size: readonly [number, number]): HostImage {
  const [h, w, c] = image.shape;
  const [oh, ow] = size;
  const ty = linearTaps(h, oh);
  const tx = linearTaps(w, ow);
  const src = image.data;
  const out = new Float32Array(oh * ow * c);
  for (let y = 0; y < oh; y++) {
    const r0 = ty.i0[y]! * w;
    const r1 = ty.i1[y]! * w;
    const wy0 = ty.w0[y]!;
    const wy1 = ty.w1[y]!;
    for (let x = 0; x < ow; x++) {
      const x0 = tx.i0[x]!;
      const x1 = tx.i1[x]!;
      const wx0 = tx.w0[x]!;
      const wx1 = tx.w1[x]!;
      const o = (y * ow + x) * c;
      for (let ch = 0; ch < c; ch++) {
        const t0 = f(f(src[(r0 + x0) * c + ch]! * wx0) + f(src[(r0 + x1) * c + ch]! * wx1));
        const t1 = f(f(src[(r1 + x0) * c + ch]! * wx0) + f(src[(r1 + x1) * c + ch]! * wx1));
        out[o + ch] = f(f(t0 * wy0) + f(t1 * wy1));
      }
    }
  }
  return { data: out, shape: [oh, ow, c] };
}

export interface GeneralizedRCNNTransformOptions {
  /** Target size of the shorter side. Default 800. */
  minSize?: number;
  /** Cap on the longer side. Default 1333. */
  maxSize?: number;
  /** Default ImageNet's `[0.485, 0.456, 0.406]`. */
  imageMean?: readonly number[];
  /** Default ImageNet's `[0.229, 0.224, 0.225]`. */
  imageStd?: readonly number[];
  /** Padded sizes are multiples of this. Default 32. */
  sizeDivisible?: number;
}

/**
 * TorchVision's `GeneralizedRCNNTransform` at inference: normalise each image, resize it (the
 * shorter side to `minSize`, the longer at most `maxSize`, bilinear), and pad the batch with
 * zeros to a common size divisible by `sizeDivisible`; `postprocess` maps boxes back.
 */
export class GeneralizedRCNNTransform {
  readonly minSize: number;
  readonly maxSize: number;
  readonly imageMean: readonly number[];
  readonly imageStd: readonly number[];
  readonly sizeDivisible: number;

  constructor(options: GeneralizedRCNNTransformOptions = {}) {
    this.minSize = options.minSize ?? 800;
    this.maxSize = options.maxSize ?? 1333;
    this.imageMean = options.imageMean ?? [0.485, 0.456, 0.406];
    this.imageStd = options.imageStd ?? [0.229, 0.224, 0.225];
    this.sizeDivisible = options.sizeDivisible ?? 32;
    for (const [k, v] of [['minSize', this.minSize], ['maxSize', this.maxSize], ['sizeDivisible', this.sizeDivisible]] as const) {
      if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`${k} must be a positive integer, got ${v}`);
    }
    if (this.imageMean.length !== 3 || this.imageStd.length !== 3) throw new RangeError('imageMean and imageStd must have 3 values (R, G, B)');
  }

  /** `(image - mean) / std` per channel, float32. */
  normalize(image: HostImage): HostImage {
    const [h, w, c] = image.shape;
    const mean = this.imageMean.map(f);
    const std = this.imageStd.map(f);
    const out = new Float32Array(h * w * c);
    const src = image.data;
    for (let i = 0; i < out.length; i++) out[i] = f(f(src[i]! - mean[i % c]!) / std[i % c]!);
    return { data: out, shape: image.shape };
  }

  /** TorchVision's inference `resize`: `_resize_image_and_masks` with `min_size[-1]`. */
  resize(image: HostImage): HostImage {
    const [h, w] = image.shape;
    return resizeBilinear(image, resizedSize(h, w, this.minSize, this.maxSize).size);
  }

  /** Normalises, resizes and batches the images. The caller disposes `tensors`. */
  async forward(images: readonly DetectionImage[]): Promise<ImageList> {
    if (images.length === 0) throw new RangeError('images list should not be empty');
    const prepared: HostImage[] = [];
    for (let i = 0; i < images.length; i++) prepared.push(this.resize(this.normalize(await toHostImage(images[i]!, i))));
    return this.batchImages(prepared);
  }

  /** `batch_images`: zero-pads to the largest height / width, rounded up to `sizeDivisible`. */
  batchImages(images: readonly HostImage[]): ImageList {
    const d = this.sizeDivisible;
    const H = Math.ceil(Math.max(...images.map((im) => im.shape[0])) / d) * d;
    const W = Math.ceil(Math.max(...images.map((im) => im.shape[1])) / d) * d;
    const batch = new Float32Array(images.length * H * W * 3);
    images.forEach((im, n) => {
      const [h, w] = im.shape;
      for (let y = 0; y < h; y++) batch.set(im.data.subarray(y * w * 3, (y + 1) * w * 3), ((n * H + y) * W) * 3);
    });
    return { tensors: tf.tensor4d(batch, [images.length, H, W, 3]), imageSizes: images.map((im) => [im.shape[0], im.shape[1]]) };
  }

  /**
   * `postprocess`: each image's detections with boxes mapped from its resized size back to its
   * original size (both `(height, width)`); labels and scores unchanged.
   */
  postprocess<D extends { boxes: Float32Array }>(
    results: readonly D[],
    imageShapes: readonly (readonly [number, number])[],
    originalSizes: readonly (readonly [number, number])[],
  ): D[] {
    return results.map((r, i) => ({ ...r, boxes: GeneralizedRCNNTransform.resizeBoxes(r.boxes, imageShapes[i]!, originalSizes[i]!) }));
  }

  /**
   * `resize_boxes` from the resized `imageShape` back to `originalSize` (both `(height, width)`):
   * x scaled by `orig_w / resized_w`, y by `orig_h / resized_h`, in float32. Returns a new array.
   */
  static resizeBoxes(boxes: Float32Array, imageShape: readonly [number, number], originalSize: readonly [number, number]): Float32Array {
    const rh = f(f(originalSize[0]) / f(imageShape[0]));
    const rw = f(f(originalSize[1]) / f(imageShape[1]));
    const out = new Float32Array(boxes.length);
    for (let i = 0; i < boxes.length; i++) out[i] = f(boxes[i]! * (i % 2 === 0 ? rw : rh));
    return out;
  }
}
