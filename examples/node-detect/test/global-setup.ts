import { ensureFixtures } from '@mnv3/test-utils';

/** The oracle's random-weight Faster R-CNN 320 checkpoint and a real photo (`.cache/fixtures/detection`), and LR-ASPP's checkpoint as one of another model. */
export default function setup(): void {
  ensureFixtures('detection');
  ensureFixtures('segment_pipeline'); // lraspp.pth: a checkpoint of another model
}
