// The segmentation pipeline on real photos against TorchVision's preset, model and F.interpolate
// (tools/reference/suite_segment_pipeline.py).
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectSegmentationMatches, fixtureDir, loadFixture } from '@mnv3/test-utils';
import { load } from '../src/index.js';

const dir = () => fixtureDir('segment_pipeline');

describe('lraspp_mobilenet_v3_large pipeline matches TorchVision on real photos', () => {
  it.each([520, 320])('at %i', async (size) => {
    const f = loadFixture('segment_pipeline', 'pipeline');
    const photos = f.config.photos as string[];
    expect(photos.length).toBeGreaterThanOrEqual(3);
    const s = await load('lraspp_mobilenet_v3_large', { weights: join(dir(), 'lraspp.pth'), resizeSize: size });
    expect(s.categories[15]).toBe('person');
    const before = tf.memory().numTensors;
    for (const photo of photos) {
      const result = await s.segment(join(dir(), `${photo}.png`), { output: 'logits' });
      const agreement = expectSegmentationMatches(result, f, `${size}_lraspp_${photo}`);
      expect(result.classes.reduce((a, c) => a + c.share, 0)).toBeCloseTo(1, 9);
      console.log(`lraspp ${size} ${photo}: argmax agreement ${(agreement * 100).toFixed(4)}%`);
    }
    expect(tf.memory().numTensors).toBe(before);
    s.dispose();
  });

  it('refuses a resize it was not evaluated at, and registry weights with another class count', async () => {
    await expect(load('lraspp_mobilenet_v3_large', { weights: join(dir(), 'lraspp.pth'), resizeSize: 400 })).rejects.toThrow(/valid: 520, 320/);
    await expect(load('lraspp_mobilenet_v3_large', { weights: 'COCO_WITH_VOC_LABELS_V1', numClasses: 5 })).rejects.toThrow(/expected value 21 but got 5/);
    await expect(load('lraspp_mobilenet_v3_large', { weights: join(dir(), 'deeplabv3_aux.pth') })).rejects.toThrow(/checkpoint does not fit lraspp_mobilenet_v3_large/);
  });
});
