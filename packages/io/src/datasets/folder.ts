// ImageFolder (↔ torchvision/datasets/folder.py): classes are the sorted sub-folders of the root,
// samples every file under a class folder (recursively, sorted as `sorted(os.walk(...))`) whose name
// ends in one of the extensions, case-insensitively. Node only.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage } from '../image/decode.js';
import type { RgbImage } from '../image/image.js';

/** torchvision's `IMG_EXTENSIONS`. Only PNG and JPEG files can be decoded here; the others are listed as torchvision lists them and fail to load with an error naming the file. */
export const IMG_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

/** A folder that is not a dataset, or a sample that cannot be read; the message names the path. */
export class DatasetError extends Error {
  constructor(
    readonly code: 'no-classes' | 'empty-class' | 'unreadable-sample',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatasetError';
  }
}

/** Python's str ordering (by code point), which differs from JS's UTF-16 order only beyond the BMP. */
function comparePy(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d) return d;
  }
  return x.length - y.length;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory(); // follows symlinks, as os.DirEntry.is_dir()
  } catch {
    return false;
  }
}

/**
 * torchvision's `find_classes`: the root's sub-folders, sorted, and their indices.
 *
 * @throws DatasetError('no-classes') when the root has no sub-folder.
 * @example const { classes, classToIdx } = await findClasses('data/train');
 */
export async function findClasses(root: string): Promise<{ classes: string[]; classToIdx: Record<string, number> }> {
  const entries = await readdir(root);
  const classes: string[] = [];
  for (const name of entries) if (await isDir(join(root, name))) classes.push(name);
  classes.sort(comparePy);
  if (!classes.length) throw new DatasetError('no-classes', `Couldn't find any class folder in ${root}.`);
  return { classes, classToIdx: Object.fromEntries(classes.map((c, i) => [c, i])) };
}

/** Every directory under `dir` (itself included), following symlinks, as os.walk(followlinks=True) visits them. */
async function walk(dir: string, out: { dir: string; files: string[] }[], seen: Set<string>): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // os.walk ignores unreadable directories
  }
  const files: string[] = [];
  const dirs: string[] = [];
  for (const n of names) {
    const p = join(dir, n);
    if (await isDir(p)) dirs.push(p);
    else files.push(n);
  }
  out.push({ dir, files });
  for (const d of dirs) {
    const real = (await stat(d)).ino + ':' + (await stat(d)).dev;
    if (seen.has(real)) continue; // a symlink loop; os.walk would recurse until the path is too long
    seen.add(real);
    await walk(d, out, seen);
  }
}

/** Options of `ImageFolder`. */
export interface ImageFolderOptions {
  /** File-name endings that count as images (case-insensitive). Default torchvision's `IMG_EXTENSIONS`. */
  extensions?: readonly string[];
}

/** A dataset of image files in class folders. */
export interface ImageFolder {
  readonly root: string;
  readonly classes: readonly string[];
  readonly classToIdx: Readonly<Record<string, number>>;
  /** `[path, classIndex]` in torchvision's order. */
  readonly samples: readonly (readonly [string, number])[];
  /** The class index of every sample (torchvision's `targets`). */
  readonly targets: readonly number[];
  readonly length: number;
  /**
   * Reads and decodes sample `i` (PNG or JPEG, as Pillow's `convert('RGB')`).
   * @throws DatasetError('unreadable-sample') naming the file if it cannot be read or decoded.
   */
  get(i: number): Promise<{ image: RgbImage; label: number; path: string }>;
}

/**
 * torchvision's `ImageFolder(root)`: classes from `findClasses`, samples from `make_dataset` (files with
 * an allowed extension under each class folder, recursively, sorted), decoded on `get` with
 * `decodeImage`.
 *
 * A corrupt or undecodable image makes `get` throw a `DatasetError` naming the file rather than
 * skipping it: torchvision's loader raises too, and silently dropping samples would change the
 * dataset's length, class balance and index-to-sample mapping in the middle of an epoch. Find bad
 * files up front by loading every sample once (or remove them from the folder).
 *
 * @throws DatasetError('no-classes') if the root has no class folder, ('empty-class') listing every
 *   class without a valid file and the supported extensions.
 * @example
 * import { loadImageFolder } from '@mnv3/io/node';
 * const ds = await loadImageFolder('data/train');
 * const { image, label } = await ds.get(0);
 */
export async function loadImageFolder(root: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
  const extensions = (options.extensions ?? IMG_EXTENSIONS).map((e) => e.toLowerCase());
  if (!extensions.length) throw new RangeError('ImageFolder: extensions must not be empty');
  const { classes, classToIdx } = await findClasses(root);
  const samples: [string, number][] = [];
  const empty: string[] = [];
  for (const cls of classes) {
    const dirs: { dir: string; files: string[] }[] = [];
    await walk(join(root, cls), dirs, new Set());
    dirs.sort((a, b) => comparePy(a.dir, b.dir));
    let found = 0;
    for (const { dir, files } of dirs) {
      for (const f of [...files].sort(comparePy)) {
        if (extensions.some((e) => f.toLowerCase().endsWith(e))) {
          samples.push([join(dir, f), classToIdx[cls]!]);
          found++;
        }
      }
    }
    if (!found) empty.push(cls);
  }
  if (empty.length) {
    throw new DatasetError('empty-class', `Found no valid file for the classes ${empty.sort(comparePy).join(', ')}. Supported extensions are: ${extensions.join(', ')}`);
  }
  const frozen = Object.freeze(samples.map((s) => Object.freeze(s) as readonly [string, number]));
  return Object.freeze({
    root,
    classes: Object.freeze(classes),
    classToIdx: Object.freeze(classToIdx),
    samples: frozen,
    targets: Object.freeze(samples.map((s) => s[1])),
    length: samples.length,
    async get(i: number) {
      if (!Number.isInteger(i) || i < 0 || i >= samples.length) throw new RangeError(`ImageFolder: index ${i} is out of range for ${samples.length} samples`);
      const [path, label] = samples[i]!;
      try {
        return { image: decodeImage(await readFile(path)), label, path };
      } catch (e) {
        throw new DatasetError('unreadable-sample', `ImageFolder: cannot load ${path}: ${(e as Error).message}`, { cause: e });
      }
    },
  });
}
