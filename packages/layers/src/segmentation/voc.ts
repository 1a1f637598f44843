/**
 * PASCAL VOC's 21 classes in TorchVision's order (`torchvision.models._meta._VOC_CATEGORIES`),
 * the label set of TorchVision's COCO-with-VOC-labels segmentation checkpoints. Index 0 is the
 * background; label maps use 255 for "ignore" (object borders).
 */
export const VOC_CATEGORIES: readonly string[] = Object.freeze([
  '__background__',
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
]);

/** The label VOC masks use for pixels that are not scored (object borders, "difficult" areas). */
export const VOC_IGNORE_INDEX = 255;

/**
 * The PASCAL VOC colormap (the devkit's `VOClabelcolormap.m` / `labelcolormap`): entry `i` spreads
 * the bits of `i` over R, G and B from the most significant bit down (`bitget`), so 0 is black,
 * 1 (aeroplane) `[128, 0, 0]`, 15 (person) `[192, 128, 128]` and 255 (ignore) the near-white
 * `[224, 224, 192]`.
 *
 * @param n how many entries (default 256, every uint8 label).
 * @returns uint8 `[n, 3]` RGB, row-major.
 */
export function vocColormap(n = 256): Uint8Array {
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new RangeError(`colormap size must be an integer in 1..256, got ${n}`);
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= (c & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    out.set([r, g, b], i * 3);
  }
  return out;
}

/** `vocColormap(256)`: uint8 `[256, 3]` RGB, the palette VOC's `SegmentationClass` PNGs carry. */
export const VOC_PALETTE: Uint8Array = vocColormap(256);
