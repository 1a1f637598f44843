// FASHION_MNIST_V1, the model this repository ships, held to its model card: its accuracy on all
// 10,000 test images of Fashion-MNIST (Debian's dataset-fashion-mnist) through its own preset, as
// `load()` gives it, is the number its weights entry and card state, within 0.05 points.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readFashionMnist } from '@mnv3/io/node';
import { FASHION_MNIST_CLASSES } from '@mnv3/io';
import { load, type Classifier } from '../src/index.js';

const CARD = fileURLToPath(new URL('../../quantize/weights/FASHION_MNIST_V1.md', import.meta.url));

async function testAccuracy(classifier: Classifier): Promise<number> {
  const { images, labels } = await readFashionMnist({ train: false });
  const B = 100;
  const S = classifier.preset.cropSize;
  let hits = 0;
  for (let b = 0; b < labels.length; b += B) {
    const n = Math.min(B, labels.length - b);
    const batch = new Float32Array(n * S * S * 3);
    for (let i = 0; i < n; i++) {
      const gray = images.subarray((b + i) * 784, (b + i + 1) * 784);
      const rgb = new Uint8Array(784 * 3);
      for (let p = 0; p < 784; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = gray[p]!;
      batch.set(classifier.preset.apply({ width: 28, height: 28, data: rgb }).data, i * S * S * 3);
    }
    const logits = await classifier.logitsNhwc(batch, [n, S, S, 3]);
    for (let i = 0; i < n; i++) {
      const row = logits.subarray(i * 10, (i + 1) * 10);
      if (row.indexOf(Math.max(...row)) === labels[b + i]) hits++;
    }
  }
  return (100 * hits) / labels.length;
}

/** The card's table row for a variant (`| int8 | … | 93.12 |`): the test-set acc@1 it states. */
function cardAccuracy(variant: 'int8' | 'float32'): number {
  const row = readFileSync(CARD, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`| ${variant} |`));
  if (!row) throw new Error(`${CARD} has no "| ${variant} |" row`);
  return Number(row.split('|').at(-2)!.trim());
}

describe('FASHION_MNIST_V1 (the built-in model)', () => {
  it.each([
    ['int8', true],
    ['float32', false],
  ] as const)('%s: test-set accuracy is the card’s, within 0.05 points', async (variant, quantize) => {
    const classifier = await load('mobilenet_v3_small', { weights: 'FASHION_MNIST_V1', quantize });
    try {
      expect(classifier.quantized).toBe(quantize);
      expect(classifier.categories).toEqual(FASHION_MNIST_CLASSES);
      expect(classifier.preset).toMatchObject({ cropSize: 64, resizeSize: 64, grayscale: true, inputType: 'tensor' });
      if (!quantize) expect((classifier.model as unknown as { numParams(): number }).numParams()).toBe(classifier.weights!.meta.numParams);
      const stated = classifier.weights!.meta.metrics['Fashion-MNIST']!['acc@1']!;
      expect(cardAccuracy(variant)).toBe(stated);
      const measured = await testAccuracy(classifier);
      expect(Math.abs(measured - stated)).toBeLessThanOrEqual(0.05);
    } finally {
      classifier.dispose();
    }
  });

  it('is the int8 DEFAULT of mobilenet_v3_small', async () => {
    const classifier = await load('mobilenet_v3_small', { quantize: true });
    try {
      expect(classifier.weights?.url).toMatch(/mobilenet_v3_small-fashion_mnist_v1_int8-[0-9a-f]{8}\.safetensors$/);
    } finally {
      classifier.dispose();
    }
  });
});
