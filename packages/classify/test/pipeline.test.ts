// The whole pipeline against TorchVision: PNG photos through the V1 preset and a random-weight
// checkpoint saved by torch.save (tools/reference/suite_classify.py).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertScaledClose, compareClose, fixtureDir, fixtureTensor, loadFixture } from '@mnv3/test-utils';
import { decodeImage, toFloat32 } from '@mnv3/io';
import { ImageClassification } from '@mnv3/transforms';
import { load, topk, type Classifier } from '../src/index.js';

const dir = () => fixtureDir('classify');
const fixture = () => loadFixture('classify', 'pipeline');

function top5(logits: Float32Array): number[] {
  return topk(logits, 5).map((p) => p.index);
}

describe('classification pipeline matches TorchVision on real photos', () => {
  let classifier: Classifier;
  beforeAll(async () => {
    classifier = await load('mobilenet_v3_large', { weights: join(dir(), 'mobilenet_v3_large.pth') });
  });
  afterAll(() => classifier.dispose());

  it('uses at least 5 photos', () => {
    expect((fixture().config.photos as string[]).length).toBeGreaterThanOrEqual(5);
  });

  it('preprocesses each photo as the V1 preset does on PIL (within 1e-3)', () => {
    const f = fixture();
    const preset = ImageClassification({ cropSize: 224, resizeSize: 256 });
    let worst = 0;
    for (const name of f.config.photos as string[]) {
      const ours = preset.apply(decodeImage(readFileSync(join(dir(), `${name}.png`))));
      const chw = toFloat32(fixtureTensor(f, `preset_${name}`)); // [3, 224, 224]
      const hwc = new Float32Array(chw.length);
      for (let c = 0; c < 3; c++) for (let i = 0; i < 224 * 224; i++) hwc[i * 3 + c] = chw[c * 224 * 224 + i]!;
      const r = compareClose(ours.data, hwc, { atol: 1e-3, rtol: 0 });
      worst = Math.max(worst, r.maxAbsDiff);
      expect(r.ok, `${name}: max diff ${r.maxAbsDiff}`).toBe(true);
    }
    console.log(`preset max |ours - TorchVision| over ${(f.config.photos as string[]).length} photos: ${worst.toExponential(2)}`);
  });

  it('gives TorchVision logits and top-5 for each photo', async () => {
    const f = fixture();
    for (const name of f.config.photos as string[]) {
      const { data } = await classifier.logits(join(dir(), `${name}.png`));
      const ref = toFloat32(fixtureTensor(f, `logits_${name}`));
      assertScaledClose(data, ref, 1e-3, { what: `${name} logits` });
      expect(top5(data), name).toEqual(top5(ref));
    }
  });

  it('classify returns named top-k with softmax scores and leaks no tensor', async () => {
    const before = tf.memory().numTensors;
    const photo = readFileSync(join(dir(), 'chelsea.png'));
    const [one, two] = await classifier.classify([photo, new Uint8Array(photo)], { topk: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(one).toHaveLength(3);
    expect(one).toEqual(two);
    expect(one![0]!.label).toBe(classifier.categories[one![0]!.index]);
    expect(one![0]!.score).toBeGreaterThanOrEqual(one![1]!.score);
    const single = await classifier.classify(photo);
    expect(single).toHaveLength(5);
  });
});

describe('loading', () => {
  it('reads the legacy torch.save format with a custom numClasses', async () => {
    const c = await load('mobilenet_v3_small', { weights: join(dir(), 'mobilenet_v3_small_10.pth'), numClasses: 10 });
    expect(c.model.numClasses).toBe(10);
    expect(c.categories).toEqual([]);
    const [best] = await c.classify(join(dir(), 'coffee.png'), { topk: 1 });
    expect(best!.label).toBe(String(best!.index));
    c.dispose();
  });

  it('uses a cached registry file without any download', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mnv3-home-'));
    mkdirSync(join(home, 'checkpoints'));
    copyFileSync(join(dir(), 'mobilenet_v3_large.pth'), join(home, 'checkpoints', 'mobilenet_v3_large-8738ca79.pth'));
    const old = process.env.MNV3_HOME;
    process.env.MNV3_HOME = home;
    try {
      const c = await load('mobilenet_v3_large', { weights: 'IMAGENET1K_V1', progress: false });
      expect(c.weights?.meta.metrics['ImageNet-1K']?.['acc@1']).toBe(74.042);
      expect(c.preset.resizeSize).toBe(256);
      const { data } = await c.logits(join(dir(), 'astronaut.png'));
      expect(top5(data)).toEqual(top5(toFloat32(fixtureTensor(fixture(), 'logits_astronaut'))));
      c.dispose();
    } finally {
      if (old === undefined) delete process.env.MNV3_HOME;
      else process.env.MNV3_HOME = old;
    }
  });

  it('names the problem for bad options and checkpoints', async () => {
    await expect(load('mobilenet_v4')).rejects.toThrow(/unknown model "mobilenet_v4"; valid: mobilenet_v3_large/);
    await expect(load('mobilenet_v3_large', { weights: 'IMAGENET1K_V9' })).rejects.toThrow(/valid: IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT/);
    await expect(load('mobilenet_v3_large', { weights: 'IMAGENET1K_V1', numClasses: 10 })).rejects.toThrow(/'num_classes' expected value 1000 but got 10/);
    await expect(load('mobilenet_v3_large', { weights: join(dir(), 'mobilenet_v3_small_10.pth') })).rejects.toThrow(
      /checkpoint does not fit mobilenet_v3_large/,
    );
    await expect(load('mobilenet_v3_small', { weights: join(dir(), 'mobilenet_v3_small_10.pth') })).rejects.toThrow(
      /only the last layer differs: check numClasses/,
    );
  });
});
