// draw_bounding_boxes against torchvision.utils.draw_bounding_boxes (PIL) on the oracle's images.
import { describe, expect, it } from 'vitest';
import { f32, fixtureTensor, loadFixture } from '@mnv3/test-utils';
import { decode } from 'fast-png';
import { encodePng, type RgbImage } from '@mnv3/io';
import { drawBoundingBoxes, generateColorPalette } from '../src/index.js';

const F = loadFixture('detection', 'ops');

/** A CHW uint8 fixture as an RGB image; grayscale tiled to RGB, as draw_bounding_boxes does. */
function hwc(name: string): RgbImage {
  const t = fixtureTensor(F, name);
  const [c, h, w] = t.shape as [number, number, number];
  const src = t.data as Uint8Array;
  const data = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < 3; k++) data[(y * w + x) * 3 + k] = src[((c === 1 ? 0 : k) * h + y) * w + x]!;
  return { data, width: w, height: h };
}

function diffCount(a: Uint8Array, b: Uint8Array, tol = 0): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > tol) n++;
  return n;
}

describe('drawBoundingBoxes matches torchvision.utils.draw_bounding_boxes', () => {
  const img = hwc('draw_in');
  const boxes = f32(F, 'draw_boxes');

  it('outlines (width 2), default palette and labels in PIL default font: pixel-exact', () => {
    const out = drawBoundingBoxes(img, boxes, { labels: ['person', 'dog 17', 'N/A', 'x'], width: 2 });
    const e = hwc('draw_out_labels').data;
    expect(diffCount(out.data, e)).toBe(0);
  });

  it('fills blended at alpha 100 with given colors: pixel-exact', () => {
    const out = drawBoundingBoxes(img, boxes, { colors: [[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 99, 199]], fill: true });
    expect(diffCount(out.data, hwc('draw_out_fill').data)).toBe(0);
  });

  it('grayscale input, one color for all, width 3', () => {
    const out = drawBoundingBoxes(hwc('draw_in_gray'), boxes.subarray(0, 8), { labels: ['a', 'b'], colors: [10, 200, 30], width: 3 });
    expect(diffCount(out.data, hwc('draw_out_gray').data)).toBe(0);
  });

  it('palette, PNG round trip and errors', () => {
    expect(generateColorPalette(3)).toEqual([
      [0, 0, 0],
      [(2 ** 25 - 1) % 255, (2 ** 15 - 1) % 255, (2 ** 21 - 1) % 255],
      [(2 * (2 ** 25 - 1)) % 255, (2 * (2 ** 15 - 1)) % 255, (2 * (2 ** 21 - 1)) % 255],
    ]);
    const png = encodePng(img);
    const back = decode(png);
    expect([back.width, back.height, back.channels]).toEqual([90, 60, 3]);
    expect(Array.from(back.data as Uint8Array)).toEqual(Array.from(img.data));
    expect(() => drawBoundingBoxes(img, [10, 10, 5, 20])).toThrow(/\(xmin, ymin, xmax, ymax\) format/);
    expect(() => drawBoundingBoxes(img, boxes, { labels: ['a'] })).toThrow(/Number of boxes \(4\) and labels \(1\) mismatch/);
    expect(() => drawBoundingBoxes({ data: new Uint8Array(16), width: 2, height: 2, channels: 4 }, [])).toThrow(/Only RGB images/);
  });
});
