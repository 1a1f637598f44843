import { expect } from 'vitest';
import { toFloat32, type SegmentationResult } from '@mnv3/layers';
import { assertScaledClose } from './close.js';
import { fixtureTensor, type Fixture } from './fixtures.js';

/**
 * Checks a segmentation result against the oracle's `classes…` / `logits…` tensors for one photo:
 * logits (CHW there, HWC here) within `tol`·max(1, max|ref|), argmax agreement ≥ `minAgreement`.
 * Returns the agreement.
 */
export function expectSegmentationMatches(result: SegmentationResult, f: Fixture, key: string, tol = 1e-3, minAgreement = 0.999): number {
  const classes = fixtureTensor(f, `classes${key}`);
  const [h, w] = classes.shape as [number, number];
  expect([result.height, result.width]).toEqual([h, w]);
  const ref = classes.data as Uint8Array;
  let same = 0;
  for (let i = 0; i < ref.length; i++) if (result.classMap.data[i] === ref[i]) same++;
  const agreement = same / ref.length;
  expect(agreement, `argmax agreement for ${key}`).toBeGreaterThanOrEqual(minAgreement);
  if (result.scores) {
    const chw = toFloat32(fixtureTensor(f, `logits${key}`));
    const c = chw.length / (h * w);
    const hwc = new Float32Array(chw.length);
    for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) hwc[i * c + k] = chw[k * h * w + i]!;
    assertScaledClose(result.scores, hwc, tol, { what: `logits ${key}` });
  }
  return agreement;
}
