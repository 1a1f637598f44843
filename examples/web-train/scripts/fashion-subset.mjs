// Writes the first N Fashion-MNIST training images (Debian's dataset-fashion-mnist, the order
// loadRecipeData's train split has) in the page's format: N label bytes, then N 28×28 uint8 images.
//   node scripts/fashion-subset.mjs 256 public/fashion-mnist.bin
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { readFashionMnist } from '@mnv3/io/node';

const [n = '256', out = 'public/fashion-mnist.bin', root] = process.argv.slice(2);
const count = Number(n);
if (!Number.isInteger(count) || count < 1) throw new Error(`fashion-subset: N must be a positive integer, got ${n}`);
const { images, labels } = await readFashionMnist({ train: true, ...(root ? { root } : {}) });
if (count > labels.length) throw new Error(`fashion-subset: the training set has ${labels.length} images, not ${count}`);
const bytes = new Uint8Array(count * 785);
for (let i = 0; i < count; i++) bytes[i] = labels[i];
bytes.set(images.subarray(0, count * 784), count);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bytes);
console.log(`${out}: ${count} images`);
