import { ensureFixtures } from '@mnv3/test-utils';

/** The oracle's random-weight LR-ASPP and DeepLabV3 (aux head) checkpoints and real photos (`.cache/fixtures/segment_pipeline`). */
export default function setup(): void {
  ensureFixtures('segment_pipeline');
}
