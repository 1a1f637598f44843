import { ensureFixtures } from '@mnv3/test-utils';

export default function setup(): void {
  ensureFixtures('detection');
}
