// The splits of a recipe's dataset (Node): Fashion-MNIST's idx files (Debian's
// dataset-fashion-mnist by default) or an ImageFolder tree, with the validation split held out of
// the training set (the test set is only for the end of a run).
import { join } from 'node:path';
import { DatasetError, loadImageFolder, readFashionMnist } from '@mnv3/io/node';
import { shuffledIndices } from '@mnv3/io';
import { seededRng } from '@mnv3/transforms';
import { RecipeError, type Recipe } from '../recipes.js';
import type { TrainData } from '../train-core.js';
import { packUniform, subset, type PackedImages } from './pipeline.js';

/** Options of {@link loadRecipeData}. */
export interface LoadDataOptions {
  /** Fashion-MNIST: the folder of the idx files (default Debian's). ImageFolder: a folder with `train/` and `val/`. */
  dataDir?: string;
  /** Keep at most this many images of each split (small runs and tests). */
  limit?: { train?: number; val?: number; test?: number };
  /** Called for each ImageFolder image that could not be decoded (it is skipped). */
  onSkip?: (path: string, error: Error) => void;
}

const head = (p: PackedImages, n: number | undefined) => (n === undefined || n >= p.length ? p : subset(p, Array.from({ length: n }, (_, i) => i)));

async function packFolder(root: string, onSkip?: LoadDataOptions['onSkip']): Promise<{ images: PackedImages; classes: readonly string[] }> {
  const ds = await loadImageFolder(root);
  const chunks: Uint8Array[] = [];
  const widths: number[] = [];
  const heights: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < ds.length; i++) {
    try {
      const { image, label } = await ds.get(i);
      chunks.push(image.data);
      widths.push(image.width);
      heights.push(image.height);
      labels.push(label);
    } catch (e) {
      if (!(e instanceof DatasetError)) throw e;
      onSkip?.(ds.samples[i]![0], e);
    }
  }
  const offsets = new Float64Array(chunks.length + 1);
  for (let i = 0; i < chunks.length; i++) offsets[i + 1] = offsets[i]! + chunks[i]!.length;
  const data = new Uint8Array(offsets[chunks.length]!);
  chunks.forEach((c, i) => data.set(c, offsets[i]!));
  return {
    images: { data, offsets, widths: Uint32Array.from(widths), heights: Uint32Array.from(heights), channels: 3, labels: Int32Array.from(labels), length: chunks.length },
    classes: ds.classes,
  };
}

/**
 * The train / validation / test splits of a recipe's dataset, as packed uint8 images.
 * Fashion-MNIST: train = the first 50,000 training images, val = the last 10,000, test = t10k.
 * ImageFolder (`dataDir/train`, `dataDir/val`): val = a seeded 10% of train/, test = val/.
 * The recipe's `valSize` sets another validation size.
 *
 * @example const data = await loadRecipeData(getRecipe('mobilenet_v3_small-fashion-mnist'), { limit: { train: 512 } });
 */
export async function loadRecipeData(recipe: Recipe, options: LoadDataOptions = {}): Promise<TrainData> {
  const limit = options.limit ?? {};
  if (recipe.dataset === 'fashion-mnist') {
    const root = options.dataDir;
    const tr = await readFashionMnist({ ...(root ? { root } : {}), train: true });
    const te = await readFashionMnist({ ...(root ? { root } : {}), train: false });
    const all = packUniform(tr.images, tr.labels, 28, 28, 1);
    const valSize = recipe.valSize ?? 10_000;
    if (!(valSize < all.length)) throw new RecipeError('invalid-value', `valSize must be below Fashion-MNIST's ${all.length} training images, got ${valSize}`);
    const cut = all.length - valSize;
    const train = subset(all, Array.from({ length: Math.min(cut, limit.train ?? cut) }, (_, i) => i));
    const val = subset(all, Array.from({ length: Math.min(valSize, limit.val ?? valSize) }, (_, i) => cut + i));
    const test = head(packUniform(te.images, te.labels, 28, 28, 1), limit.test);
    return { train, val, test, numClasses: tr.classes.length };
  }
  if (!options.dataDir) throw new RangeError(`loadRecipeData: recipe ${recipe.name} trains on an ImageFolder: pass dataDir (a folder with train/ and val/)`);
  const { images: trainAll, classes } = await packFolder(join(options.dataDir, 'train'), options.onSkip);
  if (classes.length < 2) throw new DatasetError('no-classes', `loadRecipeData: ${join(options.dataDir, 'train')} has ${classes.length} class; classification needs at least 2`);
  const order = shuffledIndices(trainAll.length, seededRng(0x7a1));
  const valSize = recipe.valSize ?? Math.max(1, Math.round(trainAll.length / 10));
  if (!(valSize < trainAll.length)) throw new RecipeError('invalid-value', `valSize must be below the ${trainAll.length} images of ${join(options.dataDir, 'train')}, got ${valSize}`);
  const valIdx = Array.from(order.subarray(0, valSize)).sort((x, y) => x - y);
  const trainIdx = Array.from(order.subarray(valSize)).sort((x, y) => x - y);
  const { images: test } = await packFolder(join(options.dataDir, 'val'), options.onSkip);
  return {
    train: subset(trainAll, trainIdx.slice(0, limit.train ?? trainIdx.length)),
    val: subset(trainAll, valIdx.slice(0, limit.val ?? valIdx.length)),
    test: head(test, limit.test),
    numClasses: classes.length,
  };
}
