// JPEG photos through a *trained* MobileNetV3-Small against TorchVision's preset on PIL
// (tools/reference/suite_trained.py). Random-weight logits barely follow the pixels; these do, so
// this is where a decoding or preprocessing error would show up in the answers.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDir, fixtureTensor, loadFixture } from '@mnv3/test-utils';
import { decodeImage, toFloat32, type RgbImage } from '@mnv3/io';
import { load, type Classifier } from '../src/index.js';

const fixture = () => loadFixture('trained', 'jpeg_photos');
const photos = () => fixture().config.photos as string[];

/** Largest |ours − torch| as a fraction of the reference logits' range (max − min). */
function offByRange(ours: Float32Array, ref: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    lo = Math.min(lo, ref[i]!);
    hi = Math.max(hi, ref[i]!);
    worst = Math.max(worst, Math.abs(ours[i]! - ref[i]!));
  }
  return worst / (hi - lo);
}

describe('a trained model on JPEG photos gives TorchVision-on-PIL logits', () => {
  let classifier: Classifier;
  beforeAll(async () => {
    classifier = await load('mobilenet_v3_small', { weights: join(fixtureDir('trained'), 'mobilenet_v3_small_fashion.pth'), numClasses: 10 });
  });
  afterAll(() => classifier.dispose());

  it('the model is trained (its logits follow the photo)', () => {
    const f = fixture();
    expect(f.config.fashionTestAccuracy2000 as number).toBeGreaterThan(0.75);
    const a = toFloat32(fixtureTensor(f, `logits_${photos()[0]}`));
    const spread = Math.max(...photos().map((p) => offByRange(toFloat32(fixtureTensor(f, `logits_${p}`)), a)));
    expect(spread).toBeGreaterThan(0.2);
  });

  it('within 1e-3 of the logits’ range on every photo', async () => {
    const f = fixture();
    expect(photos().length).toBeGreaterThanOrEqual(6);
    const rows: string[] = [];
    for (const name of photos()) {
      const { data } = await classifier.logits(fixtureTensor(f, `encoded_${name}`).data as Uint8Array);
      const off = offByRange(data, toFloat32(fixtureTensor(f, `logits_${name}`)));
      rows.push(`${name} ${off.toExponential(1)}`);
      expect(off, name).toBeLessThan(1e-3);
    }
    console.log(`trained MobileNetV3-Small, |ours − torch| / range: ${rows.join(', ')}`);
  });

  it('would catch a decoder off by jpeg-js’s margin (±1–3 levels on 60% of the values)', async () => {
    const f = fixture();
    let caught = 0;
    for (const name of photos()) {
      const img = decodeImage(fixtureTensor(f, `encoded_${name}`).data as Uint8Array);
      const data = img.data.slice();
      let seed = 12345;
      for (let i = 0; i < data.length; i++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        if (seed % 10 < 6) data[i] = Math.min(255, Math.max(0, data[i]! + ((seed >>> 8) % 2 ? 1 : -1) * (1 + ((seed >>> 12) % 3))));
      }
      const perturbed: RgbImage = { width: img.width, height: img.height, data };
      const { data: logits } = await classifier.logits(perturbed);
      if (offByRange(logits, toFloat32(fixtureTensor(f, `logits_${name}`))) > 1e-3) caught++;
    }
    expect(caught).toBe(photos().length);
  });
});
