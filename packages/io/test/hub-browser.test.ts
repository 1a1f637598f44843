/**
 * The browser hub run in Node against a 127.0.0.1 server, with a minimal in-memory stand-in for
 * the Cache Storage API (Node has fetch and crypto.subtle but no `caches`).
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HubError, clearWeightsCache, downloadWeights, loadBytes } from '../src/hub/browser.js';

const BODY = new Uint8Array(50_000).map((_, i) => (i * 31 + 7) & 0xff);
const DIGEST = createHash('sha256').update(BODY).digest('hex');
const NAME = `w-${DIGEST.slice(0, 8)}.pth`;

class FakeCache {
  readonly entries = new Map<string, Uint8Array<ArrayBuffer>>();
  async match(key: string): Promise<Response | undefined> {
    const v = this.entries.get(key);
    return v ? new Response(v) : undefined;
  }
  async put(key: string, res: Response): Promise<void> {
    this.entries.set(key, new Uint8Array(await res.arrayBuffer()));
  }
  async delete(key: string): Promise<boolean> {
    return this.entries.delete(key);
  }
}
const stores = new Map<string, FakeCache>();
const fakeCaches = {
  async open(name: string) {
    if (!stores.has(name)) stores.set(name, new FakeCache());
    return stores.get(name)!;
  },
  async delete(name: string) {
    return stores.delete(name);
  },
};

let server: Server;
let base: string;
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url?.startsWith('/ok/')) {
      res.writeHead(200, { 'content-length': String(BODY.byteLength) });
      res.end(BODY);
    } else if (req.url?.startsWith('/cut/')) {
      res.writeHead(200, { 'content-length': String(BODY.byteLength) });
      res.write(BODY.subarray(0, 1000), () => setTimeout(() => req.socket.destroy(), 10));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  stores.clear();
  hits = 0;
  vi.stubGlobal('caches', fakeCaches);
});
afterEach(() => {
  vi.unstubAllGlobals();
});

async function rejection(p: Promise<unknown>): Promise<HubError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HubError);
  return e as HubError;
}

const digestOf = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('hub-browser', () => {
  it('downloads, verifies, caches, and serves the next call from the cache', async () => {
    const seen: number[] = [];
    const bytes = await downloadWeights(`${base}/ok/${NAME}`, { progress: (r) => seen.push(r) });
    expect(digestOf(bytes)).toBe(DIGEST);
    expect(seen[0]).toBe(0);
    expect(seen.at(-1)).toBe(BODY.byteLength);
    expect(digestOf(await downloadWeights(`${base}/ok/${NAME}`))).toBe(DIGEST);
    expect(hits).toBe(1);
    expect(await clearWeightsCache(`${base}/ok/${NAME}`)).toBe(true);
    await downloadWeights(`${base}/ok/${NAME}`);
    expect(hits).toBe(2);
  });

  it('caches nothing on a hash mismatch, an interrupted transfer or an HTTP error', async () => {
    expect((await rejection(downloadWeights(`${base}/ok/w-deadbeef.pth`))).code).toBe('hash-mismatch');
    expect((await rejection(downloadWeights(`${base}/cut/${NAME}`))).code).toBe('interrupted');
    const e404 = await rejection(downloadWeights(`${base}/missing/${NAME}`));
    expect(e404.code).toBe('http-status');
    expect(e404.message).toContain('HTTP 404');
    expect(stores.get('mnv3-checkpoints')?.entries.size ?? 0).toBe(0);
  });

  it('downloads without caching where Cache Storage is missing', async () => {
    vi.unstubAllGlobals();
    expect(digestOf(await downloadWeights(`${base}/ok/${NAME}`))).toBe(DIGEST);
    expect(digestOf(await downloadWeights(`${base}/ok/${NAME}`))).toBe(DIGEST);
    expect(hits).toBe(2);
  });

  it('loadBytes takes bytes, Blobs, data: and http URLs', async () => {
    expect(await loadBytes(new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
    expect(await loadBytes(new Blob([new Uint8Array([4, 5])]))).toEqual(new Uint8Array([4, 5]));
    expect(await loadBytes('data:application/octet-stream;base64,AQID')).toEqual(new Uint8Array([1, 2, 3]));
    expect(digestOf(await loadBytes(`${base}/ok/${NAME}`))).toBe(DIGEST);
    expect((await rejection(loadBytes('ftp://x/y.pth'))).code).toBe('invalid-source');
  });
});
