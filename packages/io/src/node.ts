// Node-only helpers (`@mnv3/io/node`): kept out of the main entry so that it has no `node:` imports.
// Image files in, torch.save files and other outputs out (atomically).
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { decodeImage, readImageHeader, type DecodeImageOptions } from './image/decode.js';
import { ImageError, MAX_IMAGE_PIXELS, checkImageSize, type RgbImage } from './image/image.js';
import { saveTorchCheckpoint } from './torch-save.js';

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

/** Options of {@link writeTorchCheckpoint}. */
export interface WriteTorchCheckpointOptions {
  /** The archive folder name; default as torch 1.13: the file's base name up to its first dot. */
  archiveName?: string;
}

/**
 * Writes `obj` to `path` as `torch.save(obj, path)` does (see `saveTorchCheckpoint`), atomically:
 * the bytes go to a temporary file in the same folder, are flushed to disk, and only then renamed
 * over `path`. A failure at any point (a full disk, a value that cannot be pickled) leaves any
 * previous file at `path` as it was and removes the temporary file.
 *
 * @example await writeTorchCheckpoint('out/checkpoint.pth', new Map([['model', sd], ['epoch', 3]]));
 */
export async function writeTorchCheckpoint(path: string, obj: unknown, options: WriteTorchCheckpointOptions = {}): Promise<void> {
  const base = basename(path);
  const stem = base.includes('.') ? base.slice(0, base.indexOf('.')) : base;
  const bytes = saveTorchCheckpoint(obj, { archiveName: options.archiveName ?? (stem || 'archive') });
  await writeFileAtomic(path, bytes);
}

/**
 * Writes `data` to `path` whole or not at all: a temporary sibling file, fsync, rename. The
 * previous content of `path`, if any, survives any failure, and the error names `path`, not the
 * temporary file.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx');
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    if (e instanceof Error) {
      e.message = e.message.replaceAll(tmp, path);
      if ((e as NodeJS.ErrnoException).path === tmp) (e as NodeJS.ErrnoException).path = path;
    }
    throw e;
  }
}
