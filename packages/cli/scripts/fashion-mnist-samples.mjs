// Writes examples/images/fashion-mnist/: the first image of each class in Fashion-MNIST's test split
// (Debian's dataset-fashion-mnist), as 28×28 PNG (gray: three equal channels), named by their index
// in the split. `node packages/cli/scripts/fashion-mnist-samples.mjs` from the repository root.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodePng } from '@mnv3/io';
import { FASHION_MNIST_CLASSES, readFashionMnist } from '@mnv3/io/node';

const out = fileURLToPath(new URL('../../../examples/images/fashion-mnist/', import.meta.url));
mkdirSync(out, { recursive: true });
const { images, labels } = await readFashionMnist({ train: false });
const seen = new Set();
for (let i = 0; i < labels.length && seen.size < FASHION_MNIST_CLASSES.length; i++) {
  if (seen.has(labels[i])) continue;
  seen.add(labels[i]);
  const rgb = new Uint8Array(784 * 3);
  for (let p = 0; p < 784; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = images[i * 784 + p];
  const name = `t10k-${String(i).padStart(5, '0')}.png`;
  writeFileSync(`${out}${name}`, encodePng({ width: 28, height: 28, data: rgb }));
  console.log(`${name}\t${labels[i]}\t${FASHION_MNIST_CLASSES[labels[i]]}`);
}
