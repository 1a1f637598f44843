import { ensureFixtures } from '@mnv3/test-utils';

/**
 * The oracle's random-weight checkpoints and real photos (`.cache/fixtures/classify`). Other
 * packages' tests make the same suite at the same time under turbo; if their directory swap races
 * ours, the second call finds their finished fixtures (same seeds, same files) and returns.
 */
export default async function setup(): Promise<void> {
  try {
    ensureFixtures('classify');
  } catch (e) {
    console.warn(`fixtures: ${(e as Error).message}; trying again`);
    await new Promise((r) => setTimeout(r, 3000));
    ensureFixtures('classify');
  }
}
