// The same JPEG bytes in Chromium as in Node and Pillow: decodeImage bundled by esbuild, run on a
// page's main thread (where browsers limit synchronous WebAssembly compilation), on every JPEG of
// the transforms oracle suite. Fails loudly without Chromium: .ci/run installs Debian's package.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureTensor, listFixtures, loadFixture } from '@mnv3/test-utils';
import { decodeImage } from '../src/index.js';
import type * as Decode from '../src/image/decode.js';

/** What the bundle puts on the page's globalThis. */
type PageGlobal = { mnv3io: typeof Decode };

const CHROMIUM = process.env.MNV3_CHROMIUM ?? '/usr/bin/chromium';
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('JPEG decoding in Chromium', () => {
  let browser: Browser;
  let bundle: string;
  beforeAll(async () => {
    const entry = fileURLToPath(new URL('../src/image/decode.ts', import.meta.url));
    const out = await build({ entryPoints: [entry], bundle: true, write: false, format: 'iife', globalName: 'mnv3io', platform: 'browser', target: 'es2022' });
    bundle = out.outputFiles[0]!.text;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(async () => browser?.close());

  it('gives Node’s and Pillow’s bytes for every oracle JPEG, on the main thread', async () => {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><title>jpeg</title>');
    await page.addScriptTag({ content: bundle });
    const names = listFixtures('transforms').filter((n) => n.startsWith('jpeg_'));
    expect(names.length).toBeGreaterThanOrEqual(20);
    for (const name of names) {
      const f = loadFixture('transforms', name);
      const encoded = fixtureTensor(f, 'encoded').data as Uint8Array;
      const decoded = await page.evaluate((b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const img = (globalThis as unknown as PageGlobal).mnv3io.decodeImage(bytes);
        let text = '';
        for (let i = 0; i < img.data.length; i += 0x8000) text += String.fromCharCode(...img.data.subarray(i, i + 0x8000));
        return { width: img.width, height: img.height, data: btoa(text) };
      }, Buffer.from(encoded).toString('base64'));
      const inPage = { width: decoded.width, height: decoded.height, sha256: sha256(Buffer.from(decoded.data, 'base64')) };
      const pillow = fixtureTensor(f, 'rgb');
      expect(inPage, name).toEqual({ width: pillow.shape[1], height: pillow.shape[0], sha256: sha256(pillow.data as Uint8Array) });
      expect(sha256(decodeImage(encoded).data), name).toBe(inPage.sha256);
    }
    await page.close();
  });

  it('reports a truncated JPEG in the page as ImageError truncated', async () => {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><title>jpeg</title>');
    await page.addScriptTag({ content: bundle });
    const encoded = fixtureTensor(loadFixture('transforms', 'jpeg_rocket'), 'encoded').data as Uint8Array;
    const error = await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      try {
        (globalThis as unknown as PageGlobal).mnv3io.decodeImage(bytes);
        return null;
      } catch (e) {
        return { name: (e as Error).name, code: (e as { code?: string }).code, message: (e as Error).message };
      }
    }, Buffer.from(encoded.subarray(0, encoded.length >> 1)).toString('base64'));
    expect(error).toMatchObject({ name: 'ImageError', code: 'truncated', message: expect.stringMatching(/JPEG is truncated/) });
    await page.close();
  });
});
