// Node-only helpers (`@mnv3/io/node`): kept out of the main entry so that it has no `node:` imports.
import { open, readFile } from 'node:fs/promises';
import { decodeImage, readImageHeader, type DecodeImageOptions } from './image/decode.js';
import { ImageError, MAX_IMAGE_PIXELS, checkImageSize, type RgbImage } from './image/image.js';

/**
 * Reads a PNG or JPEG file and decodes it to an 8-bit RGB image, as `decodeImage` (Pillow 9.4's
 * `Image.open(path).convert('RGB')`). The header is read and checked against `maxPixels` first.
 *
 * @param path file path.
 * @returns uint8 HWC RGB image.
 * @example
 * import { readImageFile } from '@mnv3/io/node';
 * const img = await readImageFile('cat.png');
 */
export async function readImageFile(path: string, options: DecodeImageOptions = {}): Promise<RgbImage> {
  const fh = await open(path, 'r');
  try {
    const head = new Uint8Array(64 * 1024);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    try {
      const { format, width, height } = readImageHeader(head.subarray(0, bytesRead));
      checkImageSize(width, height, format.toUpperCase(), options.maxPixels ?? MAX_IMAGE_PIXELS);
    } catch (e) {
      // A JPEG whose frame header lies past the first 64 KiB is checked by decodeImage instead.
      if (!(e instanceof ImageError && e.code === 'truncated' && bytesRead === head.length)) throw e;
    }
  } finally {
    await fh.close();
  }
  return decodeImage(await readFile(path), options);
}

export type { FashionMnist } from './datasets/mnist.js';
export { DEBIAN_FASHION_MNIST, FASHION_MNIST_CLASSES, IdxError, parseIdx, readFashionMnist } from './datasets/mnist.js';
export type { ImageFolder, ImageFolderOptions } from './datasets/folder.js';
export { DatasetError, IMG_EXTENSIONS, findClasses, loadImageFolder } from './datasets/folder.js';
