// @mnv3/io in Chromium, bundled by esbuild and served from 127.0.0.1 (a secure context, so Cache
// Storage exists): JPEG decoding on the page's main thread (where browsers limit synchronous
// WebAssembly compilation) gives Pillow's and Node's bytes on every JPEG of the transforms oracle
// suite, and two downloads of the same weights at once leave one good Cache Storage entry. Fails
// loudly without Chromium: .ci/run installs Debian's package.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureTensor, listFixtures, loadFixture } from '@mnv3/test-utils';
import { decodeImage } from '../src/index.js';
import type * as Entry from './browser/entry.js';

/** What the bundle puts on the page's globalThis. */
type PageGlobal = { mnv3io: typeof Entry };

const CHROMIUM = process.env.MNV3_CHROMIUM ?? '/usr/bin/chromium';
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const WEIGHTS = new Uint8Array(3_000_000).map((_, i) => (i * 131 + 17) & 0xff);
const WEIGHTS_NAME = `w-${sha256(WEIGHTS).slice(0, 8)}.pth`;

let browser: Browser;
let server: Server;
let base: string;
let weightRequests = 0;

beforeAll(async () => {
  const entry = fileURLToPath(new URL('./browser/entry.ts', import.meta.url));
  const out = await build({ entryPoints: [entry], bundle: true, write: false, format: 'iife', globalName: 'mnv3io', platform: 'browser', target: 'es2022' });
  const bundle = out.outputFiles[0]!.text;
  server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>mnv3 io</title><script src="/io.js"></script>');
    } else if (req.url === '/io.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(bundle);
    } else if (req.url === `/w/${WEIGHTS_NAME}`) {
      weightRequests++;
      // Slowly, in pieces, so that the two downloads really overlap.
      res.writeHead(200, { 'content-length': String(WEIGHTS.length) });
      let off = 0;
      const next = () => {
        if (off >= WEIGHTS.length) return void res.end();
        res.write(WEIGHTS.subarray(off, (off += 300_000)));
        setTimeout(next, 20);
      };
      next();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

async function openPage(): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.waitForFunction(() => 'mnv3io' in globalThis);
  return page;
}

describe('JPEG decoding in Chromium', () => {
  it('gives Node’s and Pillow’s bytes for every oracle JPEG, on the main thread', async () => {
    const page = await openPage();
    const names = listFixtures('transforms').filter((n) => n.startsWith('jpeg_'));
    expect(names.length).toBeGreaterThanOrEqual(20);
    for (const name of names) {
      const f = loadFixture('transforms', name);
      const encoded = fixtureTensor(f, 'encoded').data as Uint8Array;
      const inPage = await page.evaluate(async (b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const img = (globalThis as unknown as PageGlobal).mnv3io.decodeImage(bytes);
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', img.data as Uint8Array<ArrayBuffer>));
        return { width: img.width, height: img.height, sha256: [...digest].map((v) => v.toString(16).padStart(2, '0')).join('') };
      }, Buffer.from(encoded).toString('base64'));
      const pillow = fixtureTensor(f, 'rgb');
      expect(inPage, name).toEqual({ width: pillow.shape[1], height: pillow.shape[0], sha256: sha256(pillow.data as Uint8Array) });
      expect(sha256(decodeImage(encoded).data), name).toBe(inPage.sha256);
    }
    await page.close();
  });

  it('reports a truncated JPEG in the page as ImageError truncated', async () => {
    const page = await openPage();
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

describe('hub-browser in Chromium', () => {
  it('two downloads of the same weights at once leave one good Cache Storage entry', async () => {
    const page = await openPage();
    weightRequests = 0;
    const url = `${base}/w/${WEIGHTS_NAME}`;
    const result = await page.evaluate(async (u) => {
      const io = (globalThis as unknown as PageGlobal).mnv3io;
      const hex = async (b: Uint8Array) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>))].map((v) => v.toString(16).padStart(2, '0')).join('');
      await caches.delete(io.DEFAULT_CACHE_NAME);
      const [a, b] = await Promise.all([io.downloadWeights(u), io.downloadWeights(u)]);
      const cache = await caches.open(io.DEFAULT_CACHE_NAME);
      const keys = (await cache.keys()).map((r) => r.url);
      const cached = new Uint8Array(await (await cache.match(u))!.arrayBuffer());
      const again = await io.downloadWeights(u);
      return { a: await hex(a), b: await hex(b), keys, cached: await hex(cached), again: await hex(again) };
    }, url);
    const digest = sha256(WEIGHTS);
    expect(result).toEqual({ a: digest, b: digest, keys: [url], cached: digest, again: digest });
    expect(weightRequests).toBe(2); // both downloaded; the third call was served from the cache
    await page.close();
  });
});
