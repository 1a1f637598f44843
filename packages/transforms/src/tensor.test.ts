import { describe, expect, it } from 'vitest';
import { IMAGENET_MEAN, IMAGENET_STD, chwToHwc, hwcToChw, normalize, toNchw, toTensor } from './tensor.js';

describe('toTensor / normalize (float32, as torch)', () => {
  const img = { width: 2, height: 1, data: new Uint8Array([0, 128, 255, 10, 20, 30]) };

  it('scales by 1/255 in float32 and keeps HWC', () => {
    const x = toTensor(img);
    expect(x.shape).toEqual([1, 2, 3]);
    expect(x.data[1]).toBe(Math.fround(128 / 255));
    expect(x.data[2]).toBe(1);
  });

  it('normalises per channel with ImageNet statistics', () => {
    const x = normalize(toTensor(img));
    const want = Math.fround(Math.fround(Math.fround(20 / 255) - Math.fround(IMAGENET_MEAN[1])) / Math.fround(IMAGENET_STD[1]));
    expect(x.data[4]).toBe(want);
  });

  it('rejects statistics of the wrong length or a zero std', () => {
    expect(() => normalize(toTensor(img), [0.5], [0.5])).toThrow(/need 3 values \(one per channel\)/);
    expect(() => normalize(toTensor(img), [0, 0, 0], [1, 0, 1])).toThrow(/division by zero/);
  });

  it('converts between HWC and CHW / NCHW', () => {
    const x = toTensor(img);
    const chw = hwcToChw(x.data, x.shape);
    expect([...chw]).toEqual([0, 10, 128, 20, 255, 30].map((v) => Math.fround(v / 255)));
    expect([...chwToHwc(chw, [3, 1, 2])]).toEqual([...x.data]);
    expect(toNchw(x).shape).toEqual([1, 3, 1, 2]);
  });
});
