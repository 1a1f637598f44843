// Node-only (reads the file system): exported from `@mnv3/segmentation/eval`, never from the main entry.
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { decodeMaskPng, type ClassMap } from '@mnv3/io';

/** One image/mask pair of a VOC-style folder, before reading. */
export interface VocSampleEntry {
  /** The file stem shared by image and mask (`2007_000032`). */
  id: string;
  imagePath: string;
  maskPath: string;
}

/** One read sample: the photo's file bytes (decode them with an image decoder) and the label map. */
export interface VocSample extends VocSampleEntry {
  /** The photo's encoded bytes, as on disk. */
  image: Uint8Array;
  imageFormat: 'jpeg' | 'png';
  /** Class indices per pixel (0..20, 255 = ignore), with the mask's palette when it has one. */
  mask: ClassMap & { data: Uint8Array; palette: Uint8Array | null };
}

/** Which samples `listVocSegmentation` / `readVocSegmentation` return. */
export interface VocSegmentationOptions {
  /**
   * Reads the ids from `ImageSets/Segmentation/<split>.txt` (`train`, `val`, `trainval`, …);
   * default: every `SegmentationClass/*.png`, sorted.
   */
  split?: string;
  /** At most this many samples (in list order). */
  limit?: number;
}

const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

/**
 * Lists the samples of a VOC-style folder: `root/JPEGImages/<id>.jpg|.jpeg|.png` photos with
 * `root/SegmentationClass/<id>.png` palette masks (the layout of `VOCdevkit/VOC2012`). A mask
 * whose photo is missing is an error naming both paths.
 */
export async function listVocSegmentation(root: string, options: VocSegmentationOptions = {}): Promise<VocSampleEntry[]> {
  const imageDir = join(root, 'JPEGImages');
  const maskDir = join(root, 'SegmentationClass');
  let images: string[];
  let masks: string[];
  try {
    [images, masks] = await Promise.all([readdir(imageDir), readdir(maskDir)]);
  } catch (e) {
    throw new Error(
      `${root} is not a VOC-style segmentation folder: it needs JPEGImages/ and SegmentationClass/ (${(e as Error).message})`,
      { cause: e },
    );
  }
  const imageById = new Map<string, string>();
  for (const f of images) {
    const ext = extname(f).toLowerCase();
    if (IMAGE_EXTENSIONS.includes(ext)) imageById.set(f.slice(0, -ext.length), f);
  }
  let ids: string[];
  if (options.split !== undefined) {
    const listFile = join(root, 'ImageSets', 'Segmentation', `${options.split}.txt`);
    let text: string;
    try {
      text = await readFile(listFile, 'utf8');
    } catch (e) {
      throw new Error(`split "${options.split}" has no list file ${listFile}`, { cause: e });
    }
    ids = text.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  } else {
    ids = masks.filter((f) => extname(f).toLowerCase() === '.png').map((f) => f.slice(0, -4)).sort();
  }
  if (options.limit !== undefined) ids = ids.slice(0, Math.max(0, options.limit));
  const maskSet = new Set(masks);
  return ids.map((id) => {
    const maskPath = join(maskDir, `${id}.png`);
    if (!maskSet.has(`${id}.png`)) throw new Error(`sample "${id}" has no mask ${maskPath}`);
    const image = imageById.get(id);
    if (!image) throw new Error(`sample "${id}" has a mask ${maskPath} but no photo ${join(imageDir, id)}{${IMAGE_EXTENSIONS.join(',')}}`);
    return { id, imagePath: join(imageDir, image), maskPath };
  });
}

/**
 * Reads one sample: the photo's bytes and the mask's palette indices (not its colours). The mask
 * must be an indexed or 8-bit greyscale PNG.
 */
export async function readVocSample(entry: VocSampleEntry): Promise<VocSample> {
  const [image, maskBytes] = await Promise.all([readFile(entry.imagePath), readFile(entry.maskPath)]);
  let mask: VocSample['mask'];
  try {
    mask = decodeMaskPng(maskBytes);
  } catch (e) {
    throw new Error(`${entry.maskPath}: ${(e as Error).message}`, { cause: e });
  }
  const imageFormat = image[0] === 0x89 && image[1] === 0x50 ? 'png' : image[0] === 0xff && image[1] === 0xd8 ? 'jpeg' : null;
  if (!imageFormat) throw new Error(`${entry.imagePath} is neither a JPEG nor a PNG file`);
  return { ...entry, image: new Uint8Array(image.buffer, image.byteOffset, image.length), imageFormat, mask };
}

/**
 * Reads a VOC-style folder sample by sample (see `listVocSegmentation` for the layout).
 *
 * @example
 * for await (const s of readVocSegmentation('VOCdevkit/VOC2012', { split: 'val' })) cm.update(s.mask.data, predict(s.image));
 */
export async function* readVocSegmentation(root: string, options: VocSegmentationOptions = {}): AsyncGenerator<VocSample> {
  for (const entry of await listVocSegmentation(root, options)) yield await readVocSample(entry);
}
