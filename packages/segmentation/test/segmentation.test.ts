// What the segmentation models' users handle: VOC's classes and palette, masks drawn and written as
// PNGs (@mnv3/transforms, @mnv3/io), class maps from logits, the VOC folder reader (./eval).
// (ConfusionMatrix and interpolateBilinear are checked against TorchVision in segment-deeplab.)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decode as decodePng, encode as encodePngRaw } from 'fast-png';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeMaskPng, encodeMaskPng, encodePng, type ClassMap } from '@mnv3/io';
import { VOC_PALETTE, colorizeMask, overlayMask, vocColormap } from '@mnv3/transforms';
import { VOC_CATEGORIES, logitsToClassMaps } from '../src/index.js';
import { formatFixed1, listVocSegmentation, readVocSegmentation } from '../src/eval/index.js';

const rgb = (i: number) => Array.from(VOC_PALETTE.subarray(i * 3, i * 3 + 3));

describe('VOC categories and palette', () => {
  it('has TorchVision\'s 21 categories in order', () => {
    expect(VOC_CATEGORIES).toHaveLength(21);
    expect(VOC_CATEGORIES[0]).toBe('__background__');
    expect(VOC_CATEGORIES[15]).toBe('person');
    expect(VOC_CATEGORIES[20]).toBe('tvmonitor');
  });

  it('is the standard bitget colormap', () => {
    expect(VOC_PALETTE).toHaveLength(768);
    expect(rgb(0)).toEqual([0, 0, 0]);
    expect(rgb(1)).toEqual([128, 0, 0]); // aeroplane
    expect(rgb(2)).toEqual([0, 128, 0]); // bicycle
    expect(rgb(7)).toEqual([128, 128, 128]); // car
    expect(rgb(8)).toEqual([64, 0, 0]); // cat
    expect(rgb(12)).toEqual([64, 0, 128]); // dog
    expect(rgb(15)).toEqual([192, 128, 128]); // person
    expect(rgb(20)).toEqual([0, 64, 128]); // tvmonitor
    expect(rgb(255)).toEqual([224, 224, 192]); // ignore
    expect(vocColormap(21)).toEqual(VOC_PALETTE.subarray(0, 63));
    expect(() => vocColormap(257)).toThrow(/1\.\.256/);
  });
});

describe('mask rendering', () => {
  // 3x2 map: background, aeroplane, person / ignore, cat, tvmonitor
  const mask: ClassMap = { data: Uint8Array.from([0, 1, 15, 255, 8, 20]), width: 3, height: 2 };

  it('colourises to RGBA and RGB, whose PNGs decode back to the same pixels', () => {
    const rgba = colorizeMask(mask);
    expect(rgba.channels).toBe(4);
    expect(Array.from(rgba.data.subarray(8, 12))).toEqual([192, 128, 128, 255]);
    const png = decodePng(encodePng(rgba));
    expect([png.width, png.height, png.channels, png.depth]).toEqual([3, 2, 4, 8]);
    expect(Array.from(png.data)).toEqual(Array.from(rgba.data));

    const rgbImg = colorizeMask(mask, { format: 'rgb', palette: VOC_PALETTE });
    const expected = [0, 1, 15, 255, 8, 20].flatMap(rgb);
    expect(Array.from(rgbImg.data)).toEqual(expected);
    const png3 = decodePng(encodePng(rgbImg));
    expect(png3.channels).toBe(3);
    expect(Array.from(png3.data)).toEqual(expected);
  });

  it('makes chosen classes transparent and refuses classes outside the palette', () => {
    const rgba = colorizeMask(mask, { transparent: [0, 255], alpha: 200 });
    expect(Array.from(rgba.data.filter((_, i) => i % 4 === 3))).toEqual([0, 200, 200, 0, 200, 200]);
    expect(() => colorizeMask(mask, { palette: vocColormap(21) })).toThrow(/class 255 at pixel 3 has no palette entry \(palette has 21\)/);
    expect(() => colorizeMask({ data: new Uint8Array(5), width: 3, height: 2 })).toThrow(/has 5 values, 3x2 needs 6/);
    expect(() => colorizeMask(mask, { format: 'bgr' as 'rgb' })).toThrow(/valid: rgb, rgba/);
  });

  it('overlays: round((1 − α)·photo + α·colour), background left alone, PNG round trip', () => {
    const photo = { data: new Uint8Array(3 * 2 * 3).fill(100), width: 3, height: 2, channels: 3 as const };
    const out = overlayMask(photo, mask, { alpha: 0.25 });
    const expected = [0, 1, 15, 255, 8, 20].flatMap((c) => (c === 0 ? [100, 100, 100] : rgb(c).map((v) => Math.round(0.75 * 100 + 0.25 * v))));
    expect(Array.from(out.data)).toEqual(expected);
    expect(Array.from(out.data.subarray(3, 6))).toEqual([107, 75, 75]);
    expect(Array.from(decodePng(encodePng(out)).data)).toEqual(expected);
    const rgba = { data: new Uint8Array(3 * 2 * 4).fill(10), width: 3, height: 2, channels: 4 as const };
    const o4 = overlayMask(rgba, mask, { alpha: 1, skip: [] });
    expect(Array.from(o4.data.subarray(0, 8))).toEqual([0, 0, 0, 10, 128, 0, 0, 10]);
    expect(() => overlayMask({ ...photo, width: 2, data: new Uint8Array(12) }, mask)).toThrow(/image is 2x2 but the class map 3x2/);
    expect(() => overlayMask(photo, mask, { alpha: 2 })).toThrow(/alpha must be in \[0, 1\]/);
  });

  it('writes VOC-style palette PNGs whose raw indices read back', () => {
    const bytes = encodeMaskPng(mask, VOC_PALETTE);
    const raw = decodePng(bytes);
    expect(raw.palette).toHaveLength(256);
    expect(raw.palette![15]).toEqual([192, 128, 128]);
    const back = decodeMaskPng(bytes);
    expect(Array.from(back.data)).toEqual([0, 1, 15, 255, 8, 20]);
    expect(back.palette).toEqual(VOC_PALETTE);
  });

  it('unpacks sub-byte palette indices and reads greyscale label PNGs', () => {
    // 4-bit indexed, 5 pixels wide: rows are padded to whole bytes.
    const indices = [0, 1, 2, 3, 15, 4, 5, 6, 7, 8];
    const packed = new Uint8Array(6);
    indices.forEach((v, i) => {
      const row = Math.floor(i / 5);
      const x = i % 5;
      packed[row * 3 + (x >> 1)]! |= v << (x % 2 === 0 ? 4 : 0);
    });
    const palette = Array.from({ length: 16 }, (_, i) => rgb(i));
    const png = encodePngRaw({ width: 5, height: 2, data: packed, channels: 1, depth: 4, palette });
    expect(Array.from(decodeMaskPng(png).data)).toEqual(indices);
    const grey = encodePngRaw({ width: 2, height: 1, data: Uint8Array.from([3, 255]), channels: 1, depth: 8 });
    expect(decodeMaskPng(grey)).toMatchObject({ width: 2, height: 1, palette: null });
    const colour = encodePngRaw({ width: 1, height: 1, data: Uint8Array.from([1, 2, 3]), channels: 3, depth: 8 });
    expect(() => decodeMaskPng(colour)).toThrow(/not a label PNG: expected an indexed \(palette\) or 8-bit greyscale PNG, got 3 channel\(s\) at 8 bits/);
  });

  it('formats like Python\'s {:.1f}, ties to even', () => {
    expect(['0.25', '0.75', '12.25', '12.35', '57.94', '100'].map((s) => formatFixed1(Number(s)))).toEqual(['0.2', '0.8', '12.2', '12.3', '57.9', '100.0']);
    expect(formatFixed1(NaN)).toBe('nan');
  });

  it('reads argmax class maps from NHWC logits without leaking', async () => {
    const logits = tf.tensor4d([0, 5, 1, 9, 2, 3, 7, 1, 0, 0, 0, 1], [2, 1, 2, 3]);
    const before = tf.memory().numTensors;
    const maps = await logitsToClassMaps(logits);
    expect(maps.map((m) => Array.from(m.data))).toEqual([[1, 0], [0, 2]]);
    expect(maps[0]).toMatchObject({ width: 2, height: 1 });
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });
});

describe('VOC-style folder reader (@mnv3/segmentation/eval)', () => {
  const root = mkdtempSync(join(tmpdir(), 'mnv3-voc-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'JPEGImages'));
  mkdirSync(join(root, 'SegmentationClass'));
  mkdirSync(join(root, 'ImageSets/Segmentation'), { recursive: true });
  const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0]); // only the signature matters here
  writeFileSync(join(root, 'JPEGImages/2007_000032.jpg'), jpeg);
  writeFileSync(join(root, 'JPEGImages/2007_000039.png'), encodePng({ data: new Uint8Array(12), width: 2, height: 2, channels: 3 }));
  writeFileSync(join(root, 'SegmentationClass/2007_000032.png'), encodeMaskPng({ data: Uint8Array.from([0, 1, 255, 15]), width: 2, height: 2 }, VOC_PALETTE));
  writeFileSync(join(root, 'SegmentationClass/2007_000039.png'), encodeMaskPng({ data: Uint8Array.from([20, 20, 0, 0]), width: 2, height: 2 }, VOC_PALETTE));
  writeFileSync(join(root, 'ImageSets/Segmentation/val.txt'), '2007_000039\n');

  it('lists and reads every pair, masks as raw palette indices', async () => {
    const samples = [];
    for await (const s of readVocSegmentation(root)) samples.push(s);
    expect(samples.map((s) => [s.id, s.imageFormat])).toEqual([
      ['2007_000032', 'jpeg'],
      ['2007_000039', 'png'],
    ]);
    expect(Array.from(samples[0]!.mask.data)).toEqual([0, 1, 255, 15]);
    expect(samples[0]!.image).toEqual(jpeg);
    expect((await listVocSegmentation(root, { split: 'val' })).map((e) => e.id)).toEqual(['2007_000039']);
    expect(await listVocSegmentation(root, { limit: 1 })).toHaveLength(1);
  });

  it('names what is missing', async () => {
    await expect(listVocSegmentation(join(root, 'nope'))).rejects.toThrow(/is not a VOC-style segmentation folder: it needs JPEGImages\/ and SegmentationClass\//);
    await expect(listVocSegmentation(root, { split: 'train' })).rejects.toThrow(/split "train" has no list file/);
    writeFileSync(join(root, 'SegmentationClass/2008_000001.png'), encodeMaskPng({ data: new Uint8Array(1), width: 1, height: 1 }, VOC_PALETTE));
    await expect(listVocSegmentation(root)).rejects.toThrow(/sample "2008_000001" has a mask .* but no photo/);
  });
});
