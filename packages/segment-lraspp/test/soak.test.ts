// LR-ASPP under load (MNV3_SOAK_CALLS=1000 for the long run): see describeUnderLoad.
import { join } from 'node:path';
import { expect } from 'vitest';
import { describeUnderLoad, fixtureDir } from '@mnv3/test-utils';
import { load } from '../src/index.js';

const dir = () => fixtureDir('segment_pipeline');

describeUnderLoad('lraspp_mobilenet_v3_large', {
  load: () => load('lraspp_mobilenet_v3_large', { weights: join(dir(), 'lraspp.pth'), resizeSize: 320 }),
  call: (s, x) => s.segment(x, { output: 'logits' }),
  inputs: ['chelsea', 'coffee', 'astronaut'].map((p) => join(dir(), `${p}.png`)),
  expectSame: (a, b) => {
    expect(a.classes).toEqual(b.classes);
    expect(Buffer.from(a.scores!.buffer).equals(Buffer.from(b.scores!.buffer))).toBe(true);
  },
  msPerCall: 1_000,
});
