// Decoding, Pillow's resize and TorchVision's presets against Pillow 9.4 / TorchVision 0.14
// (fixtures from tools/reference/suite_transforms.py). PNG and JPEG decoding and resizing must be
// bit-exact; preset tensors within 1e-3.
import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureTensor, listFixtures, loadFixture, type Fixture } from '@mnv3/test-utils';
import { ImageError, decodeImage, readImageHeader, toFloat32, type RgbImage } from '@mnv3/io';
import { readImageFile } from '@mnv3/io/node';
import { ImageClassification, SemanticSegmentation, centerCrop, chwToHwc, resampleImage, resize, type Interpolation } from '../src/index.js';

const SUITE = 'transforms';
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';

function u8(f: Fixture, name: string): { data: Uint8Array; shape: readonly number[] } {
  const t = fixtureTensor(f, name);
  expect(t.dtype).toBe('uint8');
  return { data: t.data as Uint8Array, shape: t.shape };
}

function rgbOf(f: Fixture): RgbImage {
  const { data, shape } = u8(f, 'rgb');
  return { height: shape[0]!, width: shape[1]!, data };
}

/** Number of differing bytes and the largest difference. */
function byteDiff(a: Uint8Array, b: Uint8Array): { count: number; max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let count = 0;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d) count++;
    sum += d;
    if (d > max) max = d;
  }
  return { count, max, mean: sum / a.length };
}

function expectSameImage(actual: RgbImage, expected: { data: Uint8Array; shape: readonly number[] }, what: string): void {
  expect([actual.height, actual.width, 3], `${what}: shape`).toEqual([...expected.shape]);
  const d = byteDiff(actual.data, expected.data);
  expect(d, `${what}: ${d.count} bytes differ, max ${d.max}`).toEqual({ count: 0, max: 0, mean: 0 });
}

const all = listFixtures(SUITE);
const pngCases = all.filter((n) => !n.startsWith('jpeg_'));
const jpegCases = all.filter((n) => n.startsWith('jpeg_'));
const presetMax = new Map<string, number>();

afterAll(() => {
  const rows = [...presetMax].map(([k, v]) => `${k}: ${v.toExponential(2)}`);
  if (rows.length) console.log(`max |ours − TorchVision| per preset over ${all.length} images — ${rows.join(', ')}`);
});

describe('fixtures', () => {
  it('cover photos, synthetic modes and JPEGs', () => {
    expect(all.filter((n) => n.startsWith('photo_')).length).toBeGreaterThanOrEqual(6);
    const modes = new Set(pngCases.map((n) => loadFixture(SUITE, n).config.mode));
    for (const m of ['RGB', 'RGBA', 'L', 'LA', 'P', '1', 'I']) expect(modes).toContain(m);
    // Every JPEG kind: subsamplings, progressive, restarts, arithmetic, grey, CMYK/YCCK, odd sizes.
    const jpegModes = new Set(jpegCases.map((n) => loadFixture(SUITE, n).config.mode));
    expect([...jpegModes].sort()).toEqual(['CMYK', 'L', 'RGB']);
    for (const kind of ['411', '422', '420', '444', '440', 'progressive', 'restart', 'arithmetic', 'ycck', 'cmyk', 'gray', '1x1', 'rocket', 'retina']) {
      expect(jpegCases.some((n) => n.includes(kind)), kind).toBe(true);
    }
  });
});

describe.each(all)('%s', (name) => {
  const f = loadFixture(SUITE, name);
  const config = f.config as { kind: 'png' | 'jpeg'; mode: string; resizes: [number, number, Interpolation][]; tvResizes: number[]; presets: string[] };

  it(`decodes like Pillow's open().convert('RGB') (${config.kind}, mode ${config.mode}), exactly`, () => {
    const encoded = u8(f, 'encoded').data;
    expectSameImage(decodeImage(encoded), u8(f, 'rgb'), 'decode');
    const header = readImageHeader(encoded);
    expect([header.format, header.height, header.width]).toEqual([config.kind, ...u8(f, 'rgb').shape.slice(0, 2)]);
  });

  it("resizes like Pillow's Image.resize, bit-exact", () => {
    const img = rgbOf(f);
    config.resizes.forEach(([h, w, interp], i) => {
      expectSameImage(resampleImage(img, w, h, interp), u8(f, `resize.${i}`), `${interp} ${img.height}×${img.width} → ${h}×${w}`);
    });
  });

  it("resizes like TorchVision's F.resize(img, n), bit-exact", () => {
    const img = rgbOf(f);
    for (const n of config.tvResizes) expectSameImage(resize(img, n), u8(f, `tv_resize.${n}`), `F.resize(img, ${n})`);
  });

  it.each(config.presets)('matches TorchVision preset %s', (preset) => {
    const expected = fixtureTensor(f, `preset.${preset}`);
    const [c, h, w] = expected.shape as [number, number, number];
    const want = chwToHwc(toFloat32(expected), [c, h, w]);
    const [kind, a, b] = preset.split('_');
    const p =
      kind === 'cls'
        ? ImageClassification({ resizeSize: Number(a), cropSize: Number(b) })
        : kind === 'gray'
          ? ImageClassification({ resizeSize: Number(a), cropSize: Number(b), grayscale: true, inputType: 'tensor' })
          : SemanticSegmentation({ resizeSize: Number(a) });
    const got = p.apply(rgbOf(f));
    expect(got.shape).toEqual([h, w, c]);
    let max = 0;
    let off = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got.data[i]! - want[i]!);
      max = Math.max(max, d);
      if (d > 1e-5) off++;
    }
    presetMax.set(preset, Math.max(presetMax.get(preset) ?? 0, max));
    if (kind !== 'gray') return expect(max).toBeLessThanOrEqual(1e-3);
    // The grayscale tensor path (FASHION_MNIST_V1's): equal up to float32 rounding, except where the
    // float32 interpolation lands on a .5 and rounds the other way: one level (1/255/std), on at most
    // 12 of 12,288 values in 7 of the 61 images.
    const level = 1 / 255 / 0.225 + 1e-4;
    expect(max).toBeLessThanOrEqual(level);
    expect(off / want.length, `${off} of ${want.length} values one level off`).toBeLessThanOrEqual(0.002);
  });
});

function pngHeader(width: number, height: number, depth = 8, colorType = 2): Uint8Array {
  const b = new Uint8Array(33 + 12);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const v = new DataView(b.buffer);
  v.setUint32(8, 13);
  b.set([0x49, 0x48, 0x44, 0x52], 12);
  v.setUint32(16, width);
  v.setUint32(20, height);
  b.set([depth, colorType, 0, 0, 0], 24);
  // CRC left zero: the size check must fire before anything else is read.
  return b;
}

/** A complete 8-bit RGB PNG whose IDAT holds `rows` scanlines of a `width × height` image. */
function pngWithRows(width: number, height: number, rows: number, cut = 1): Uint8Array {
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const b = Buffer.alloc(body.length + 8);
    b.writeUInt32BE(data.length, 0);
    body.copy(b, 4);
    b.writeUInt32BE(crc32(body), body.length + 4);
    return b;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = new Uint8Array(rows * (1 + width * 3));
  for (let i = 0; i < raw.length; i++) raw[i] = i % (1 + width * 3) === 0 ? 0 : (i * 2654435761) >>> 24; // filter 0, noisy pixels
  const z = deflateSync(raw);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', z.subarray(0, Math.floor(z.length * cut))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

function jpegHeader(width: number, height: number): Uint8Array {
  return new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11, 8, height >> 8, height & 255, width >> 8, width & 255, 3, 1, 0x22, 0]);
}

function expectImageError(fn: () => unknown, code: string, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError);
    expect((e as ImageError).code).toBe(code);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected an ImageError ${code}`);
}

describe('bad input gives clear errors', () => {
  const astronaut = new Uint8Array(readFileSync(`${SKIMAGE}/astronaut.png`));

  it('truncated PNG', () => {
    expectImageError(() => decodeImage(astronaut.subarray(0, astronaut.length >> 1)), 'truncated', /PNG is truncated/);
    expectImageError(() => decodeImage(astronaut.subarray(0, 20)), 'truncated', /PNG is truncated/);
  });

  it('PNG image data that ends early', () => {
    expect(decodeImage(pngWithRows(4, 4, 4)).data.length).toBe(48);
    expectImageError(() => decodeImage(pngWithRows(4, 4, 2)), 'truncated', /holds 26 of the 52 bytes a 4×4 image needs/);
    expectImageError(() => decodeImage(pngWithRows(4, 4, 4, 0.5)), 'truncated', /inflating the image data failed/);
  });

  it('bad chunk CRC', () => {
    const bad = astronaut.slice();
    bad[29] = bad[29]! ^ 1; // inside IHDR's CRC
    expectImageError(() => decodeImage(bad), 'corrupt', /bad CRC in chunk IHDR/);
  });

  it('corrupt PNG data', () => {
    const bad = astronaut.slice();
    for (let i = 1000; i < 1100; i++) bad[i] = bad[i]! ^ 0x5a;
    expectImageError(() => decodeImage(bad), 'corrupt', /PNG is corrupt/);
  });

  it('garbage and empty input', () => {
    expectImageError(() => decodeImage(new TextEncoder().encode('this is not an image at all')), 'unknown-format', /neither PNG .* nor JPEG/);
    expectImageError(() => decodeImage(new Uint8Array(0)), 'empty', /0 bytes/);
  });

  it('a 40000×40000 PNG header fails fast, before allocating', () => {
    const t0 = performance.now();
    expectImageError(() => decodeImage(pngHeader(40000, 40000)), 'too-large', /40000×40000 .* exceeds the limit of 178956970 pixels/);
    expect(performance.now() - t0).toBeLessThan(50);
    expectImageError(() => decodeImage(jpegHeader(40000, 40000)), 'too-large', /JPEG: image size 40000×40000/);
    expectImageError(() => decodeImage(astronaut, { maxPixels: 512 * 511 }), 'too-large', /512×512/);
  });

  it('0-sized and invalid PNG headers', () => {
    expectImageError(() => decodeImage(pngHeader(0, 0)), 'empty', /empty \(0×0\)/);
    expectImageError(() => decodeImage(pngHeader(5, 5, 16, 3)), 'corrupt', /bit depth 16 is invalid for colour type 3/);
  });

  it('truncated JPEG, as Pillow (which raises "image file is truncated")', () => {
    const rocket = new Uint8Array(readFileSync(`${SKIMAGE}/rocket.jpg`));
    expectImageError(() => decodeImage(rocket.subarray(0, rocket.length >> 1)), 'truncated', /JPEG is truncated: Premature end of JPEG file/);
    expectImageError(() => decodeImage(rocket.subarray(0, rocket.length - 2)), 'truncated', /JPEG is truncated/); // no EOI
    expectImageError(() => decodeImage(rocket.subarray(0, 100)), 'truncated', /JPEG is truncated/);
    expectImageError(() => decodeImage(readFileSync(`${SKIMAGE}/truncated.jpg`)), 'truncated', /JPEG is truncated/);
  });

  it('a 12-bit JPEG is unsupported, as in Pillow; the decoder recovers after every error', () => {
    const rocket = new Uint8Array(readFileSync(`${SKIMAGE}/rocket.jpg`));
    const twelveBit = rocket.slice();
    const sof = twelveBit.findIndex((v, i) => v === 0xff && twelveBit[i + 1] === 0xc0);
    twelveBit[sof + 4] = 12; // the SOF's sample precision
    expectImageError(() => decodeImage(twelveBit), 'unsupported', /JPEG is of a kind not supported: Unsupported JPEG data precision 12/);
    const corrupt = rocket.slice();
    corrupt.fill(0xff, 600, 640); // inside the Huffman tables
    expect(() => decodeImage(corrupt)).toThrow(ImageError);
    // After both failures, a fresh decoder instance gives Pillow's bytes again.
    expectSameImage(decodeImage(rocket), u8(loadFixture(SUITE, 'jpeg_rocket'), 'rgb'), 'rocket after errors');
  });

  it('bad sizes and options name the valid choices', () => {
    const img: RgbImage = { width: 1, height: 1, data: new Uint8Array([1, 2, 3]) };
    expect(() => resize(img, 0)).toThrow(/positive integers/);
    expect(() => resize(img, 10, { interpolation: 'nearest-exact' as Interpolation })).toThrow(/choose one of nearest, bilinear, bicubic, box, hamming, lanczos/);
    expect(() => resize(img, 10, { antialias: false })).toThrow(/antialias/);
    expect(() => resize(img, 10, { maxSize: 10 })).toThrow(/maxSize = 10 must be strictly greater/);
    expect(() => resize({ width: 0, height: 0, data: new Uint8Array(0) }, 10)).toThrow(/at least 1×1/);
    expect(() => centerCrop({ width: 2, height: 2, data: new Uint8Array(5) }, 1)).toThrow(/needs 12 bytes/);
    expect(() => ImageClassification({ cropSize: 0 })).toThrow(/cropSize must be a positive integer/);
  });

  it('a 1×1 image goes through the presets (upscaled, then cropped)', () => {
    const img: RgbImage = { width: 1, height: 1, data: new Uint8Array([255, 0, 128]) };
    const x = ImageClassification({ cropSize: 224 }).apply(img);
    expect(x.shape).toEqual([224, 224, 3]);
    expect(x.data[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
  });
});

describe('readImageFile (@mnv3/io/node)', () => {
  it('reads and decodes a PNG file like decodeImage', async () => {
    const img = await readImageFile(`${SKIMAGE}/chelsea.png`);
    const direct = decodeImage(readFileSync(`${SKIMAGE}/chelsea.png`));
    expect([img.width, img.height]).toEqual([451, 300]);
    expect(byteDiff(img.data, direct.data).count).toBe(0);
  });
});
