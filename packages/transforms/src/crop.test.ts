import { describe, expect, it } from 'vitest';
import { centerCrop, centerCropOffsets, crop } from './crop.js';
import type { RgbImage } from '@mnv3/io';

function ramp(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set([i % 256, (i >> 8) % 256, 7], i * 3);
  return { width, height, data };
}

describe('centerCropOffsets (TorchVision: int(round((size - crop) / 2.0)), ties to even)', () => {
  it('rounds half to even like Python', () => {
    expect(centerCropOffsets([256, 341], [224, 224])).toEqual([16, 58]); // 58.5 → 58
    expect(centerCropOffsets([255, 227], [224, 224])).toEqual([16, 2]); // 15.5 → 16, 1.5 → 2
    expect(centerCropOffsets([225, 229], [224, 224])).toEqual([0, 2]); // 0.5 → 0, 2.5 → 2
    expect(centerCropOffsets([224, 224], [224, 224])).toEqual([0, 0]);
  });

  it('pads (crop − size) // 2 before when the crop is larger', () => {
    expect(centerCropOffsets([200, 300], [224, 224])).toEqual([-12, 38]);
    expect(centerCropOffsets([1, 1], [4, 5])).toEqual([-1, -2]); // pads 1 top/2 bottom, 2 left/2 right
  });
});

describe('crop and centerCrop', () => {
  it('crops the central window', () => {
    const img = ramp(5, 4);
    const c = centerCrop(img, [2, 3]);
    expect([c.height, c.width]).toEqual([2, 3]);
    expect(c.data[0]).toBe(1 * 5 + 1); // top 1, left 1
  });

  it('fills outside the image with zeros', () => {
    const img: RgbImage = { width: 1, height: 1, data: new Uint8Array([9, 8, 7]) };
    const c = centerCrop(img, 3);
    expect([...c.data]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...crop(img, -1, 0, 2, 1).data]).toEqual([0, 0, 0, 9, 8, 7]);
  });

  it('rejects bad sizes, naming the forms it accepts', () => {
    expect(() => centerCrop(ramp(2, 2), 0)).toThrow(/positive integer, \[size\] or \[height, width\]/);
    expect(() => centerCrop(ramp(2, 2), [1, 2, 3])).toThrow(/\[height, width\]/);
  });
});
