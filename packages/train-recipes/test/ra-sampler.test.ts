// train.py's --ra-sampler --ra-reps R: the loader's batches, each image R times in a row, each copy
// augmented on its own (the order itself against TorchVision's RASampler, on 1 to 3 processes, is in
// data-parallel.test.ts).
import { describe, expect, it } from 'vitest';
import { WorkerBatchLoader, getRecipe, packUniform, pipelineSpec } from '../src/index.js';

describe('the loader with repeated augmentation', () => {
  const images = packUniform(Uint8Array.from({ length: 300 * 8 * 8 }, (_, i) => (i * 37) % 251), Array.from({ length: 300 }, (_, i) => i % 10), 8, 8, 1);
  const spec = pipelineSpec(getRecipe('mobilenet_v3_small-fashion-mnist', { trainCropSize: 8, valResizeSize: 8, valCropSize: 8 }), 'train');
  const noWorkers = () => {
    throw new Error('no workers here');
  };

  it('gives ⌊n / 256⌋·256 samples, each image 3 times in a row with its own augmentation', async () => {
    const loader = new WorkerBatchLoader(images, { ...spec, randomCropPadding: 2 }, { batchSize: 64, shuffle: true, seed: 1, workers: 0, repetitions: 3 }, noWorkers);
    expect(loader.stepsPerEpoch).toBe(4);
    const labels: number[] = [];
    const pixels: Float32Array[] = [];
    for await (const b of loader.epoch(2)) {
      labels.push(...b.labels);
      for (let k = 0; k < b.n; k++) pixels.push(b.images.subarray(k * 8 * 8 * 3, (k + 1) * 8 * 8 * 3));
    }
    expect(labels.length).toBe(256);
    for (let i = 0; i + 2 < 255; i += 3) expect([labels[i + 1], labels[i + 2]]).toEqual([labels[i], labels[i]]);
    const differ = pixels.filter((p, i) => i % 3 === 1 && p.some((v, j) => v !== pixels[i - 1]![j])).length;
    expect(differ).toBeGreaterThan(40);
    await loader.close();
  });

  it('refuses fewer than 256 images and a bad repetition count', () => {
    const few = { ...images, length: 200 };
    expect(() => new WorkerBatchLoader(few, spec, { batchSize: 64, shuffle: true, seed: 1, workers: 0, repetitions: 3 }, noWorkers)).toThrow(
      /repeated augmentation \(--ra-sampler\) keeps ⌊n \/ 256⌋·256 samples per epoch, none of these 200 images/,
    );
    expect(() => new WorkerBatchLoader(images, spec, { batchSize: 64, shuffle: true, seed: 1, workers: 0, repetitions: 0 }, noWorkers)).toThrow(/repetitions \(--ra-reps\) must be an integer ≥ 1, got 0/);
  });
});
