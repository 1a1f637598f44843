import { ensureFixtures } from '@mnv3/test-utils';

/** The oracle's random-weight checkpoints and real photos (`.cache/fixtures/classify`). */
export default function setup(): void {
  ensureFixtures('classify');
}
