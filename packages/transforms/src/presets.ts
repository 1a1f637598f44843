import { centerCrop } from './crop.js';
import { ImageError, type RgbImage } from '@mnv3/io';
import { INTERPOLATIONS, computeResizedOutputSize, resize, type Interpolation } from './resize.js';
import { resizeTensor } from './functional.js';
import { IMAGENET_MEAN, IMAGENET_STD, normalize, toTensor, type FloatImage } from './tensor.js';

/** Options of `ImageClassification`, TorchVision's `_presets.ImageClassification` keywords. */
export interface ImageClassificationOptions {
  /** Side of the square central crop (224 for MobileNetV3). */
  cropSize: number;
  /** Shorter side after resizing: 256 for the V1 weights (default), 232 for V2. */
  resizeSize?: number;
  mean?: readonly number[];
  std?: readonly number[];
  interpolation?: Interpolation;
  /**
   * Convert to grayscale first (PIL's `convert('L')`, kept as 3 equal channels: torchvision's
   * `Grayscale(num_output_channels=3)`), for models trained on grayscale images (Fashion-MNIST).
   */
  grayscale?: boolean;
  /**
   * Which of TorchVision's resize paths to follow: a PIL image's (default; fixed-point, antialiased,
   * how the ImageNet weights are evaluated) or a uint8 tensor's (float32, no antialiasing, rounded:
   * how our trainer feeds Fashion-MNIST). They differ by one level on about a tenth of the values.
   */
  inputType?: 'pil' | 'tensor';
}

/** Options of `SemanticSegmentation`, TorchVision's `_presets.SemanticSegmentation` keywords. */
export interface SemanticSegmentationOptions {
  /** Shorter side after resizing (520 for LR-ASPP MobileNetV3); `null` skips resizing. */
  resizeSize: number | null;
  mean?: readonly number[];
  std?: readonly number[];
  interpolation?: Interpolation;
}

/**
 * A preset: its settings as plain data plus `apply`, which turns an RGB image into the model's
 * normalised float32 input, HWC (add the batch axis for NHWC).
 */
export interface ImageClassificationPreset {
  readonly kind: 'ImageClassification';
  readonly cropSize: number;
  readonly resizeSize: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly interpolation: Interpolation;
  readonly grayscale: boolean;
  readonly inputType: 'pil' | 'tensor';
  /** (grayscale →) resize (shorter side) → center crop → /255 → normalize; float32 `[cropSize, cropSize, 3]`. */
  apply(img: RgbImage): FloatImage;
}

/** See `ImageClassificationPreset`. */
export interface SemanticSegmentationPreset {
  readonly kind: 'SemanticSegmentation';
  readonly resizeSize: number | null;
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly interpolation: Interpolation;
  /** resize (shorter side) → /255 → normalize; float32 `[H, W, 3]`. */
  apply(img: RgbImage): FloatImage;
}

function positiveInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ImageError('invalid-argument', `${what} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

function checkInterpolation(v: Interpolation | undefined, what: string): Interpolation {
  const i = v ?? 'bilinear';
  if (!INTERPOLATIONS.includes(i)) throw new ImageError('invalid-argument', `${what}: unknown interpolation "${String(i)}"; choose one of ${INTERPOLATIONS.join(', ')}`);
  return i;
}

/**
 * PIL's `convert('L')` (ITU-R 601-2 luma in 16-bit fixed point, rounded: a gray pixel keeps its
 * value), as 3 equal channels.
 */
function pilGrayscale(img: RgbImage): RgbImage {
  const n = img.width * img.height;
  const src = img.data;
  const data = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    const l = (src[3 * p]! * 19595 + src[3 * p + 1]! * 38470 + src[3 * p + 2]! * 7471 + 0x8000) >>> 16;
    data[3 * p] = data[3 * p + 1] = data[3 * p + 2] = l;
  }
  return { width: img.width, height: img.height, data };
}

/**
 * TorchVision 0.14's `ImageClassification` preset (`weights.transforms()` of classification
 * weights): resize the shorter side to `resizeSize` (bilinear, antialiased as PIL does), center
 * crop `cropSize`, scale to [0, 1], normalise with ImageNet statistics.
 *
 * @returns the preset; `apply(img)` gives float32 `[cropSize, cropSize, 3]` HWC.
 * @example
 * const v1 = ImageClassification({ cropSize: 224, resizeSize: 256 }); // MobileNet_V3_Large_Weights.IMAGENET1K_V1
 * const v2 = ImageClassification({ cropSize: 224, resizeSize: 232 }); // IMAGENET1K_V2
 * const x = v1.apply(decodeImage(bytes)); // x.shape = [224, 224, 3]
 */
export function ImageClassification(options: ImageClassificationOptions): ImageClassificationPreset {
  options = options ?? ({} as ImageClassificationOptions);
  const cropSize = positiveInt(options.cropSize, 'ImageClassification: cropSize');
  const resizeSize = positiveInt(options.resizeSize ?? 256, 'ImageClassification: resizeSize');
  const interpolation = checkInterpolation(options.interpolation, 'ImageClassification');
  const mean = Object.freeze([...(options.mean ?? IMAGENET_MEAN)]);
  const std = Object.freeze([...(options.std ?? IMAGENET_STD)]);
  const grayscale = options.grayscale ?? false;
  if (typeof grayscale !== 'boolean') throw new ImageError('invalid-argument', `ImageClassification: grayscale must be true or false, got ${String(grayscale)}`);
  const inputType = options.inputType ?? 'pil';
  if (inputType !== 'pil' && inputType !== 'tensor') throw new ImageError('invalid-argument', `ImageClassification: inputType must be 'pil' or 'tensor', got ${String(inputType)}`);
  if (inputType === 'tensor' && interpolation !== 'bilinear' && interpolation !== 'nearest') {
    throw new ImageError('invalid-argument', `ImageClassification: the tensor path resizes with 'bilinear' or 'nearest', got ${interpolation}`);
  }
  const resizeShorter = (img: RgbImage): RgbImage => {
    if (inputType === 'pil') return resize(img, resizeSize, { interpolation });
    const [h, w] = computeResizedOutputSize([img.height, img.width], resizeSize);
    return resizeTensor(img, [h, w], interpolation as 'bilinear' | 'nearest');
  };
  return Object.freeze({
    kind: 'ImageClassification' as const,
    cropSize,
    resizeSize,
    mean,
    std,
    interpolation,
    grayscale,
    inputType,
    apply(img: RgbImage): FloatImage {
      const cropped = centerCrop(resizeShorter(grayscale ? pilGrayscale(img) : img), [cropSize, cropSize]);
      return normalize(toTensor(cropped), mean, std, true);
    },
  });
}

/**
 * TorchVision 0.14's `SemanticSegmentation` preset: resize the shorter side to `resizeSize`
 * (no crop), scale to [0, 1], normalise with ImageNet statistics.
 *
 * @returns the preset; `apply(img)` gives float32 `[H, W, 3]` HWC with min(H, W) = resizeSize.
 * @example
 * const seg = SemanticSegmentation({ resizeSize: 520 }); // LRASPP_MobileNet_V3_Large_Weights
 * const x = seg.apply(img);
 */
export function SemanticSegmentation(options: SemanticSegmentationOptions): SemanticSegmentationPreset {
  options = options ?? ({} as SemanticSegmentationOptions);
  const resizeSize = options.resizeSize === null ? null : positiveInt(options.resizeSize, 'SemanticSegmentation: resizeSize');
  const interpolation = checkInterpolation(options.interpolation, 'SemanticSegmentation');
  const mean = Object.freeze([...(options.mean ?? IMAGENET_MEAN)]);
  const std = Object.freeze([...(options.std ?? IMAGENET_STD)]);
  return Object.freeze({
    kind: 'SemanticSegmentation' as const,
    resizeSize,
    mean,
    std,
    interpolation,
    apply(img: RgbImage): FloatImage {
      const resized = resizeSize === null ? img : resize(img, resizeSize, { interpolation });
      return normalize(toTensor(resized), mean, std, true);
    },
  });
}

export interface ObjectDetectionPreset {
  readonly kind: 'ObjectDetection';
  /** /255 only; float32 `[H, W, 3]` in [0, 1] (the detector resizes and normalises itself). */
  apply(img: RgbImage): FloatImage;
}

/**
 * TorchVision's `ObjectDetection` preset (`transforms/_presets.py`): the image as float32 in
 * [0, 1], nothing else; `GeneralizedRCNNTransform` inside the model resizes and normalises.
 *
 * @returns the preset; `apply(img)` gives float32 `[H, W, 3]` HWC.
 * @example const x = ObjectDetection().apply(img); // FasterRCNN_MobileNet_V3_Large_FPN_Weights
 */
export function ObjectDetection(): ObjectDetectionPreset {
  return Object.freeze({ kind: 'ObjectDetection' as const, apply: (img: RgbImage): FloatImage => toTensor(img) });
}
