import { ensureFixtures } from '@mnv3/test-utils';

export default function setup(): void {
  ensureFixtures('layers');
  ensureFixtures('checkpoints');
  ensureFixtures('transforms');
}
