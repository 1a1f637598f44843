// Fashion-MNIST (↔ torchvision/datasets/mnist.py, `FashionMNIST`): the idx files read as
// `read_sn3_pascalvincent_tensor` does, gzipped or not. Node only (reads files; gunzips with node:zlib).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { GrayImage } from '../image/image.js';
import { FASHION_MNIST_CLASSES } from './fashion-mnist-classes.js';

export { FASHION_MNIST_CLASSES };

/** Where Debian's `dataset-fashion-mnist` package installs the gzipped idx files. */
export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

/** A malformed idx file: the message names the file and what is wrong. */
export class IdxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdxError';
  }
}

/**
 * Parses an idx ("SN3 Pascal Vincent") file of uint8 values, gzipped or not.
 *
 * @returns the dimensions and the values (uint8, row-major).
 * @example const { shape, data } = parseIdx(bytes, 'train-labels-idx1-ubyte.gz');
 */
export function parseIdx(bytes: Uint8Array, name = 'idx file'): { shape: number[]; data: Uint8Array } {
  let b = bytes;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = new Uint8Array(gunzipSync(b));
    } catch (e) {
      throw new IdxError(`${name}: not a valid gzip file (${(e as Error).message})`);
    }
  }
  if (b.length < 4) throw new IdxError(`${name}: ${b.length} bytes is too short for an idx header`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = view.getUint32(0);
  const nd = magic % 256;
  const ty = Math.floor(magic / 256);
  if (nd < 1 || nd > 3 || ty !== 8) throw new IdxError(`${name}: magic 0x${magic.toString(16)} is not an idx file of uint8 (type 8) with 1 to 3 dimensions`);
  if (b.length < 4 + 4 * nd) throw new IdxError(`${name}: truncated header`);
  const shape = Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i));
  const n = shape.reduce((a, v) => a * v, 1);
  const off = 4 + 4 * nd;
  if (b.length - off !== n) throw new IdxError(`${name}: shape [${shape.join(', ')}] needs ${n} values, the file has ${b.length - off}`);
  return { shape, data: b.subarray(off, off + n) };
}

/** A split of Fashion-MNIST in memory. */
export interface FashionMnist {
  /** uint8 `[N, 28, 28]`, row-major, as torchvision's `dataset.data`. */
  readonly images: Uint8Array;
  /** uint8 `[N]` class indices, as torchvision's `dataset.targets`. */
  readonly labels: Uint8Array;
  readonly length: number;
  readonly height: 28;
  readonly width: 28;
  readonly classes: readonly string[];
  /** Sample `i` as torchvision's `dataset[i]` gives it (a mode-"L" image and its label). */
  get(i: number): { image: GrayImage; label: number };
}

/**
 * Reads Fashion-MNIST's idx files (`{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`) from `root`,
 * by default Debian's `/usr/share/datasets/fashion-mnist`, as torchvision's `FashionMNIST(train=...)`.
 *
 * @returns images `[N, 28, 28]` uint8, labels `[N]`, `FASHION_MNIST_CLASSES`.
 * @example
 * import { readFashionMnist } from '@mnv3/io/node';
 * const train = await readFashionMnist({ train: true });
 * const { image, label } = train.get(0); // 28×28 GrayImage, 9 ('Ankle boot')
 */
export async function readFashionMnist(options: { root?: string; train?: boolean } = {}): Promise<FashionMnist> {
  const root = options.root ?? DEBIAN_FASHION_MNIST;
  const split = (options.train ?? true) ? 'train' : 't10k';
  const read = async (stem: string): Promise<{ shape: number[]; data: Uint8Array }> => {
    for (const name of [`${stem}.gz`, stem]) {
      let bytes: Uint8Array;
      try {
        bytes = await readFile(join(root, name));
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') continue;
        throw e;
      }
      return parseIdx(bytes, join(root, name));
    }
    throw new IdxError(`Fashion-MNIST: neither ${stem}.gz nor ${stem} is in ${root} (install Debian's dataset-fashion-mnist or pass root)`);
  };
  const img = await read(`${split}-images-idx3-ubyte`);
  const lab = await read(`${split}-labels-idx1-ubyte`);
  if (img.shape.length !== 3 || img.shape[1] !== 28 || img.shape[2] !== 28) throw new IdxError(`Fashion-MNIST: images must be [N, 28, 28], got [${img.shape.join(', ')}]`);
  if (lab.shape.length !== 1 || lab.shape[0] !== img.shape[0]) throw new IdxError(`Fashion-MNIST: ${img.shape[0]} images but labels of shape [${lab.shape.join(', ')}]`);
  const bad = lab.data.findIndex((v) => v >= FASHION_MNIST_CLASSES.length);
  if (bad >= 0) throw new IdxError(`Fashion-MNIST: label ${lab.data[bad]} at index ${bad} is not a class index (0..9)`);
  const length = img.shape[0]!;
  const images = img.data;
  const labels = lab.data;
  return Object.freeze({
    images,
    labels,
    length,
    height: 28 as const,
    width: 28 as const,
    classes: FASHION_MNIST_CLASSES,
    get(i: number) {
      if (!Number.isInteger(i) || i < -length || i >= length) throw new RangeError(`Fashion-MNIST: index ${i} is out of range for ${length} samples`);
      const k = i < 0 ? length + i : i;
      return { image: { width: 28, height: 28, channels: 1 as const, data: images.slice(k * 784, (k + 1) * 784) }, label: labels[k]! };
    },
  });
}
