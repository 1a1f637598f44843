import { expect } from 'vitest';
import { toFloat32, type ClassMap } from '@mnv3/io';
import { assertScaledClose } from './close.js';
import { fixtureTensor, type Fixture } from './fixtures.js';

/**
 * Checks a segmentation result against the oracle's `classes…` / `logits…` tensors for one photo:
 * logits (CHW there, HWC here) within `tol`·max(1, max|ref|), argmax agreement ≥ `minAgreement`.
 * Returns the agreement.
 */
export function expectSegmentationMatches(
  result: { width: number; height: number; classMap: ClassMap; scores?: Float32Array },
  f: Fixture,
  key: string,
  tol = 1e-3,
  minAgreement = 0.999,
): number {
  // f: Fixture, key: string, tol = 1e-3, minAgreement = 0.999): number {
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

/** Share of pixels whose argmax over classes agrees, for NCHW host logits `[N, C, H, W]`. */
export function argmaxAgreement(actual: Float32Array, expected: Float32Array, shape: readonly number[]): number {
  const [n, c, h, w] = shape as [number, number, number, number];
  let agree = 0;
  for (let b = 0; b < n; b++)
    for (let p = 0; p < h * w; p++) {
      let ia = 0;
      let ie = 0;
      for (let k = 1; k < c; k++) {
        const o = (b * c + k) * h * w + p;
        if (actual[o]! > actual[(b * c + ia) * h * w + p]!) ia = k;
        if (expected[o]! > expected[(b * c + ie) * h * w + p]!) ie = k;
      }
      if (ia === ie) agree++;
    }
  return agree / (n * h * w);
}
