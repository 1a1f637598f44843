// Datasets against torchvision 0.14: FashionMNIST on Debian's dataset-fashion-mnist (fixtures from
// tools/reference/suite_datasets.py) and ImageFolder on a folder this test writes, listed by
// torchvision's own ImageFolder through the oracle interpreter.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ORACLE_PYTHON, fixtureTensor, loadFixture } from '@mnv3/test-utils';
import { batches, encodePng, shuffledIndices } from '../src/index.js';
import { DatasetError, FASHION_MNIST_CLASSES, IdxError, findClasses, loadImageFolder, parseIdx, readFashionMnist } from '../src/node.js';

describe.each([true, false])('FashionMNIST(train=%s)', (train) => {
  const f = loadFixture('datasets', `fashion_mnist_${train ? 'train' : 'test'}`);
  const cfg = f.config as { length: number; classes: string[]; picks: number[]; picked_labels: number[]; sha256: string; data_shape: number[] };
  it('has torchvision’s length, classes, labels, images', async () => {
    const ds = await readFashionMnist({ train });
    expect(ds.length).toBe(cfg.length);
    expect([ds.length, ds.height, ds.width]).toEqual(cfg.data_shape);
    expect([...ds.classes]).toEqual(cfg.classes);
    expect([...FASHION_MNIST_CLASSES]).toEqual(cfg.classes);
    expect(Buffer.from(ds.labels).equals(Buffer.from(fixtureTensor(f, 'labels').data as Uint8Array))).toBe(true);
    expect(createHash('sha256').update(ds.images).digest('hex')).toBe(cfg.sha256);
    const images = fixtureTensor(f, 'images').data as Uint8Array;
    cfg.picks.forEach((idx, k) => {
      const { image, label } = ds.get(idx);
      expect([image.width, image.height, image.channels]).toEqual([28, 28, 1]);
      expect(Buffer.from(image.data).equals(Buffer.from(images.subarray(k * 784, (k + 1) * 784))), `image ${idx}`).toBe(true);
      expect(label).toBe(cfg.picked_labels[k]);
    });
  });
});

describe('idx errors', () => {
  it('names the file and the problem', () => {
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 1, 2]), 'x.idx')).toThrow(IdxError);
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 1, 2]), 'x.idx')).toThrow(/x.idx: shape \[3\] needs 3 values, the file has 2/);
    expect(() => parseIdx(new Uint8Array([0, 0, 13, 1, 0, 0, 0, 1, 0, 0, 0, 0]), 'y')).toThrow(/not an idx file of uint8/);
    expect(() => parseIdx(new Uint8Array([0x1f, 0x8b, 1, 2]), 'z.gz')).toThrow(/z.gz: not a valid gzip file/);
    return expect(readFashionMnist({ root: tmpdir() })).rejects.toThrow(/neither train-images-idx3-ubyte.gz nor train-images-idx3-ubyte/);
  });
});

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** torchvision's ImageFolder on `root`: classes, class_to_idx, samples relative to root, or its error. */
function torchvisionImageFolder(root: string): { classes?: string[]; class_to_idx?: Record<string, number>; samples?: [string, number][]; error?: string; message?: string } {
  const script = `
import json, os, sys
from torchvision.datasets import ImageFolder
root = sys.argv[1]
try:
    ds = ImageFolder(root)
    print(json.dumps({"classes": ds.classes, "class_to_idx": ds.class_to_idx, "samples": [[os.path.relpath(p, root), t] for p, t in ds.samples]}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e)}))
`;
  return JSON.parse(execFileSync(ORACLE_PYTHON, ['-c', script, root], { encoding: 'utf8' })) as ReturnType<typeof torchvisionImageFolder>;
}

function tree(files: Record<string, Uint8Array | string | null>): string {
  const root = mkdtempSync(join(tmpdir(), 'mnv3-imagefolder-'));
  dirs.push(root);
  for (const [p, content] of Object.entries(files)) {
    const full = join(root, p);
    if (content === null) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(join(full, '..'), { recursive: true });
      writeFileSync(full, content);
    }
  }
  return root;
}

const png = (v: number): Uint8Array => encodePng({ width: 3, height: 2, data: new Uint8Array(18).fill(v) });

describe('ImageFolder', () => {
  it('lists classes, class_to_idx and samples in torchvision’s order', async () => {
    const root = tree({
      'zebra/b.png': png(1),
      'zebra/A.PNG': png(2),
      'zebra/notes.txt': 'not an image',
      'zebra/sub dir/c.jpg': png(3), // a PNG named .jpg: listed by extension, decoded by content
      'zebra/sub/d.png': png(4),
      'zebra/sub/deeper/e.Jpeg': png(5),
      'apple/x.webp': 'RIFF', // listed (torchvision's extensions) but not decodable here
      'apple/y.png': png(6),
      'Banana/z.png': png(7),
      'Banana/.hidden.png': png(8),
      'élan/q.png': png(9),
      'stray.png': png(10), // a file in the root is not a class
      'empty-but-nested/inner/ok.tif': 'II*',
    });
    symlinkSync(join(root, 'apple'), join(root, 'linked'));
    const tv = torchvisionImageFolder(root);
    expect(tv.error, tv.message).toBeUndefined();
    const ds = await loadImageFolder(root);
    expect([...ds.classes]).toEqual(tv.classes);
    expect({ ...ds.classToIdx }).toEqual(tv.class_to_idx);
    expect(ds.samples.map(([p, t]) => [relative(root, p), t])).toEqual(tv.samples);
    expect(ds.length).toBe(tv.samples!.length);
    const first = await ds.get(ds.samples.findIndex(([p]) => p.endsWith('y.png')));
    expect([first.image.width, first.image.height, first.image.data[0]]).toEqual([3, 2, 6]);
    expect(first.label).toBe(ds.classToIdx.apple);
  });

  it('fails as torchvision does on a folder without class folders', async () => {
    const root = tree({ 'a.png': png(1) });
    const tv = torchvisionImageFolder(root);
    expect(tv.error).toBe('FileNotFoundError');
    const err = await loadImageFolder(root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).code).toBe('no-classes');
    expect((err as Error).message).toBe(tv.message);
    await expect(findClasses(root)).rejects.toThrow(/Couldn't find any class folder/);
  });

  it('fails as torchvision does on classes without images, naming them and the extensions', async () => {
    const root = tree({ 'cats/a.png': png(1), 'dogs/readme.txt': 'x', 'owls': null });
    const tv = torchvisionImageFolder(root);
    expect(tv.error).toBe('FileNotFoundError');
    const err = await loadImageFolder(root).catch((e: unknown) => e);
    expect((err as DatasetError).code).toBe('empty-class');
    expect((err as Error).message).toBe(tv.message);
  });

  it('a corrupt image fails to load with an error naming the file', async () => {
    const root = tree({ 'cats/good.png': png(1), 'cats/broken.png': png(2).subarray(0, 30) });
    const ds = await loadImageFolder(root);
    expect(ds.samples.map(([p]) => relative(root, p))).toEqual(['cats/broken.png', 'cats/good.png']);
    await expect(ds.get(0)).rejects.toThrow(/ImageFolder: cannot load .*cats\/broken.png/);
    expect((await ds.get(1)).image.data[0]).toBe(1);
  });
});

describe('shuffledIndices and batches', () => {
  it('permute every index once, reproducibly, and batch as BatchSampler', () => {
    let s = 1;
    const rng = () => ((s = (s * 48271) % 2147483647) - 1) / 2147483646;
    const p = shuffledIndices(1000, rng);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect([...p.subarray(0, 10)]).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    s = 1;
    expect(shuffledIndices(1000, rng)).toEqual(p);
    expect(batches(p, 300).map((b) => b.length)).toEqual([300, 300, 300, 100]);
    expect(batches(p, 300, { dropLast: true }).map((b) => b.length)).toEqual([300, 300, 300]);
    expect(() => batches(p, 0)).toThrow(/batchSize must be a positive integer/);
  });
});
