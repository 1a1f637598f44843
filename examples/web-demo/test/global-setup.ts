import { ensureFixtures } from '@mnv3/test-utils';

/**
 * The oracle's random-weight checkpoints and real photos: `.cache/fixtures/classify`,
 * `segment_pipeline` (LR-ASPP, DeepLabV3 with its aux head) and `detection` (Faster R-CNN 320).
 */
export default function setup(): void {
  for (const suite of ['classify', 'segment_pipeline', 'detection']) ensureFixtures(suite);
}
