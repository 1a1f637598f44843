// DeepLabV3 through the segmentation pipeline on real photos against TorchVision
// (tools/reference/suite_segment_pipeline.py).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectSegmentationMatches, fixtureDir, loadFixture } from '@mnv3/test-utils';
import { load } from '../src/index.js';

const dir = () => fixtureDir('segment_pipeline');

describe('deeplabv3_mobilenet_v3_large pipeline matches TorchVision on real photos', () => {
  it('with the aux head its checkpoint carries', async () => {
    const f = loadFixture('segment_pipeline', 'pipeline');
    const s = await load('deeplabv3_mobilenet_v3_large', { weights: join(dir(), 'deeplabv3_aux.pth'), auxLoss: true });
    for (const photo of f.config.photos as string[]) {
      const result = await s.segment(join(dir(), `${photo}.png`), { output: 'probabilities' });
      expectSegmentationMatches({ ...result, scores: undefined }, f, `520_deeplabv3_aux_${photo}`);
      // probabilities: a distribution per pixel
      const c = s.model.numClasses;
      let sum = 0;
      for (let k = 0; k < c; k++) sum += result.scores![k]!;
      expect(sum).toBeCloseTo(1, 5);
    }
    s.dispose();
  });

  it('says to build with auxLoss when the checkpoint has an aux head', async () => {
    await expect(load('deeplabv3_mobilenet_v3_large', { weights: join(dir(), 'deeplabv3_aux.pth') })).rejects.toThrow(/auxiliary head: build with auxLoss/);
    await expect(load('fcn_mobilenet_v3_large', { weights: 'DEFAULT' })).rejects.toThrow(/no published weights/);
  });
});
