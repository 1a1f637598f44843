// MobileNetV3-Large classification under load (MNV3_SOAK_CALLS=1000 for the long run): see
// describeUnderLoad. A PNG and a JPEG alternate, so both decoders are in the loop.
import { join } from 'node:path';
import { expect } from 'vitest';
import { describeUnderLoad, fixtureDir } from '@mnv3/test-utils';
import { load } from '../src/index.js';

describeUnderLoad('mobilenet_v3_large', {
  load: () => load('mobilenet_v3_large', { weights: join(fixtureDir('classify'), 'mobilenet_v3_large.pth') }),
  call: (c, x) => c.logits(x),
  inputs: [join(fixtureDir('classify'), 'chelsea.png'), '/usr/lib/python3/dist-packages/skimage/data/rocket.jpg'],
  expectSame: (a, b) => expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true),
  msPerCall: 500,
});
