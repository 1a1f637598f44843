import { ImageError, assertRgbImage, roundHalfEven, type RgbImage } from '@mnv3/io';

function checkSize(size: number | readonly number[], what: string): [number, number] {
  const s = typeof size === 'number' ? [size] : [...size];
  if (s.length === 1) s.push(s[0]!);
  if (s.length !== 2 || s.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new ImageError('invalid-argument', `${what}: size must be a positive integer, [size] or [height, width], got ${JSON.stringify(size)}`);
  }
  return [s[0]!, s[1]!];
}

/**
 * PIL's `img.crop((left, top, left + width, top + height))`: the window may reach outside the
 * image, where it is filled with zeros (black).
 *
 * @param img uint8 HWC RGB image.
 * @returns uint8 HWC RGB image of `height × width` pixels.
 * @example
 * const patch = crop(img, 10, 20, 64, 64); // top, left, height, width
 */
export function crop(img: RgbImage, top: number, left: number, height: number, width: number): RgbImage {
  assertRgbImage(img, 'crop');
  for (const [k, v] of Object.entries({ top, left, height, width })) {
    if (!Number.isInteger(v)) throw new ImageError('invalid-argument', `crop: ${k} must be an integer, got ${v}`);
  }
  if (height < 1 || width < 1) throw new ImageError('invalid-argument', `crop: height and width must be at least 1, got ${height}×${width}`);
  const out = new Uint8Array(height * width * 3);
  const x0 = Math.max(0, left);
  const x1 = Math.min(img.width, left + width);
  if (x1 > x0) {
    for (let y = Math.max(0, top); y < Math.min(img.height, top + height); y++) {
      const src = (y * img.width + x0) * 3;
      out.set(img.data.subarray(src, src + (x1 - x0) * 3), ((y - top) * width + (x0 - left)) * 3);
    }
  }
  return { width, height, data: out };
}

/**
 * Where TorchVision 0.14's `F.center_crop` takes its window, as `crop(img, top, left, h, w)`
 * arguments on the unpadded image: `int(round((size - crop) / 2.0))` with Python's ties-to-even
 * rounding, after TorchVision's zero padding (`(crop - size) // 2` before, the rest after) on any
 * side the crop exceeds.
 *
 * @param imageSize `[height, width]` of the input.
 * @param cropSize `[height, width]` of the crop.
 * @returns `[top, left]`, negative where the crop pads.
 * @example
 * centerCropOffsets([256, 341], [224, 224]); // [16, 58]  (round(58.5) = 58)
 */
export function centerCropOffsets(imageSize: readonly [number, number], cropSize: readonly [number, number]): [number, number] {
  const offset = (size: number, c: number): number => {
    if (c > size) {
      const before = Math.floor((c - size) / 2);
      const padded = size + before + Math.floor((c - size + 1) / 2);
      return roundHalfEven((padded - c) / 2.0) - before;
    }
    return roundHalfEven((size - c) / 2.0);
  };
  return [offset(imageSize[0], cropSize[0]), offset(imageSize[1], cropSize[1])];
}

/**
 * TorchVision 0.14's `F.center_crop` on a PIL image: the central `[h, w]` window (a number means
 * a square), zero-padded as TorchVision pads when the crop is larger than the image.
 *
 * @param img uint8 HWC RGB image.
 * @param size crop size: `n`, `[n]` or `[height, width]`.
 * @returns uint8 HWC RGB image of the crop size.
 * @example
 * const c = centerCrop(resize(img, 256), 224);
 */
export function centerCrop(img: RgbImage, size: number | readonly number[]): RgbImage {
  assertRgbImage(img, 'centerCrop');
  const [h, w] = checkSize(size, 'centerCrop');
  if (h === img.height && w === img.width) return img;
  const [top, left] = centerCropOffsets([img.height, img.width], [h, w]);
  return crop(img, top, left, h, w);
}
