import { ensureFixtures } from '@mnv3/test-utils';

export default function setup(): void {
  for (const suite of ['classify', 'segment_pipeline', 'detection']) ensureFixtures(suite);
}
