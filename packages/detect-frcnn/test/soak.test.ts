// Faster R-CNN under load (MNV3_SOAK_CALLS=1000 for the long run): see describeUnderLoad.
import { join } from 'node:path';
import { expect } from 'vitest';
import { describeUnderLoad, fixtureDir } from '@mnv3/test-utils';
import { load } from '@mnv3/detection';
import '../src/index.js';

const dir = () => fixtureDir('detection');

describeUnderLoad('fasterrcnn_mobilenet_v3_large_320_fpn', {
  load: () => load('fasterrcnn_mobilenet_v3_large_320_fpn', { weights: join(dir(), 'fasterrcnn_320.pth') }),
  call: (d, x) => d.detect(x),
  inputs: [join(dir(), 'chelsea.png')],
  expectSame: (a, b) => expect(a).toEqual(b),
  msPerCall: 3_000,
});
