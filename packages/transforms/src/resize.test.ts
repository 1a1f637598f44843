import { describe, expect, it } from 'vitest';
import { computeResizedOutputSize, resampleImage, resize } from './resize.js';
import type { RgbImage } from '@mnv3/io';

describe('computeResizedOutputSize (TorchVision 0.14)', () => {
  it('sets the shorter side and truncates the longer', () => {
    expect(computeResizedOutputSize([300, 451], 256)).toEqual([256, 384]); // int(384.85)
    expect(computeResizedOutputSize([451, 300], [256])).toEqual([384, 256]);
    expect(computeResizedOutputSize([512, 512], 232)).toEqual([232, 232]);
    expect(computeResizedOutputSize([1, 1], 520)).toEqual([520, 520]);
    expect(computeResizedOutputSize([197, 231], 232)).toEqual([232, 272]); // int(272.04)
  });

  it('takes [h, w] as given', () => {
    expect(computeResizedOutputSize([300, 451], [10, 20])).toEqual([10, 20]);
  });

  it('caps the longer side at maxSize', () => {
    expect(computeResizedOutputSize([100, 1000], 256, 1000)).toEqual([100, 1000]); // int(1000 * 256 / 2560)
    expect(computeResizedOutputSize([100, 300], 256, 1000)).toEqual([256, 768]);
    expect(() => computeResizedOutputSize([100, 300], 256, 256)).toThrow(/strictly greater/);
    expect(() => computeResizedOutputSize([100, 300], [1, 2], 300)).toThrow(/maxSize is only allowed/);
  });

  it('rejects bad sizes', () => {
    expect(() => computeResizedOutputSize([10, 10], [1, 2, 3])).toThrow(/3-element list/);
    expect(() => computeResizedOutputSize([10, 10], 2.5)).toThrow(/positive integers/);
  });
});

describe('resampleImage', () => {
  const img: RgbImage = { width: 2, height: 1, data: new Uint8Array([0, 100, 200, 255, 50, 0]) };

  it('keeps a constant image constant', () => {
    const c: RgbImage = { width: 3, height: 2, data: new Uint8Array(18).fill(77) };
    for (const interp of ['bilinear', 'bicubic', 'box', 'hamming', 'lanczos'] as const) {
      expect(new Set(resampleImage(c, 7, 5, interp).data)).toEqual(new Set([77]));
    }
  });

  it('averages when downscaling 2 → 1 (antialiased)', () => {
    expect([...resampleImage(img, 1, 1).data]).toEqual([128, 75, 100]);
  });

  it('returns the same image from resize when the size is unchanged', () => {
    expect(resize(img, [1, 2])).toBe(img);
  });
});
