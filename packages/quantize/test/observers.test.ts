// The observers against torch's on the same batches: min / max after every batch, the histogram,
// and the final scale and zero point.
import { describe, expect, it } from 'vitest';
import { toFloat32 } from '@mnv3/io';
import { fixtureTensor, loadFixture } from '@mnv3/test-utils';
import { HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver, type Observer } from '../src/index.js';
import { scalar } from './helpers.js';

const f = loadFixture('quantize', 'observers');
const batches = [0, 1, 2, 3, 4].map((i) => toFloat32(fixtureTensor(f, `batch${i}`)));

function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
}

const OBSERVERS: [string, () => Observer][] = [
  ['histogram', () => new HistogramObserver()],
  ['minmax', () => new MinMaxObserver()],
  ['minmax_symmetric_qint8', () => new MinMaxObserver({ dtype: 'qint8', qscheme: 'per_tensor_symmetric' })],
  ['moving_average', () => new MovingAverageMinMaxObserver()],
];

describe.each(OBSERVERS)('%s observer', (name, make) => {
  it('tracks torch min / max batch by batch and gives its scale (1e-6 relative) and zero point', () => {
    const obs = make();
    batches.forEach((b, i) => {
      obs.observe(b);
      expect(obs.minVal, `min after batch ${i}`).toBe(scalar(f, `${name}.min_val.${i}`));
      expect(obs.maxVal, `max after batch ${i}`).toBe(scalar(f, `${name}.max_val.${i}`));
      if (obs instanceof HistogramObserver) {
        const ref = toFloat32(fixtureTensor(f, `${name}.histogram.${i}`));
        let worst = 0;
        for (let k = 0; k < ref.length; k++) worst = Math.max(worst, Math.abs(obs.histogram[k]! - ref[k]!));
        expect(worst, `histogram after batch ${i}`).toBe(0);
        const q = obs.calculateQParams();
        expect(rel(q.scale, scalar(f, `${name}.scale.${i}`)), `scale after batch ${i}`).toBeLessThanOrEqual(1e-6);
        expect(q.zeroPoint, `zero point after batch ${i}`).toBe(scalar(f, `${name}.zero_point.${i}`));
      }
    });
    const q = obs.calculateQParams();
    expect(rel(q.scale, scalar(f, `${name}.scale`))).toBeLessThanOrEqual(1e-6);
    expect(q.zeroPoint).toBe(scalar(f, `${name}.zero_point`));
  });
});
