/**
 * The Node hub against a real HTTP server on 127.0.0.1 (random port, closed after the suite). Every
 * request the tests make is bounded: one per download attempt, each answered or cut at once.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HASH_REGEX, HubError, cacheDir, downloadWeights, formatBytes, hashPrefixFromFileName, loadBytes } from '../src/hub/index.js';

/** Deterministic, incompressible-looking payload. */
function payload(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const execFileAsync = promisify(execFile);
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const BODY = payload(300_000);
const DIGEST = sha256(BODY);
const GOOD_NAME = `mnv3_test-${DIGEST.slice(0, 8)}.pth`;
const BAD_NAME = 'mnv3_test-deadbeef.pth';

/** Compares large byte arrays by length and digest (element-wise toEqual is slow at this size). */
function expectBody(bytes: Uint8Array): void {
  expect(bytes.byteLength).toBe(BODY.byteLength);
  expect(sha256(bytes)).toBe(DIGEST);
}

let server: Server;
let base: string;
const hits = new Map<string, number>();

/** Sends `body` with Content-Length in several chunks, yielding between them. */
async function sendChunked(res: ServerResponse, body: Uint8Array, chunks: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.byteLength) });
  const step = Math.ceil(body.byteLength / chunks);
  for (let off = 0; off < body.byteLength; off += step) {
    res.write(body.subarray(off, off + step));
    await new Promise((r) => setTimeout(r, 2));
  }
  res.end();
}

/** Requests to /pair/ wait here until a second one arrives, so that two downloads surely overlap. */
let waiting: ServerResponse[] = [];

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  hits.set(path, (hits.get(path) ?? 0) + 1);
  if (path.startsWith('/pair/')) {
    waiting.push(res);
    if (waiting.length === 2) {
      for (const r of waiting) void sendChunked(r, BODY, 10);
      waiting = [];
    }
  } else if (path.startsWith('/ok/') || path.startsWith('/bad/')) {
    void sendChunked(res, BODY, 10);
  } else if (path.startsWith('/nolength/')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(BODY);
  } else if (path.startsWith('/cut/')) {
    // Headers promise the whole body, then the socket dies halfway through.
    res.writeHead(200, { 'content-length': String(BODY.byteLength) });
    res.write(BODY.subarray(0, BODY.byteLength / 2), () => setTimeout(() => req.socket.destroy(), 10));
  } else if (path.startsWith('/stall/')) {
    // Half the body, then nothing until the client gives up (closeAllConnections ends it at the latest).
    res.writeHead(200, { 'content-length': String(BODY.byteLength) });
    res.write(BODY.subarray(0, BODY.byteLength / 2));
  } else if (path.startsWith('/error500/')) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('boom');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'mnv3-hub-'));
  vi.stubEnv('MNV3_HOME', home);
  hits.clear();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await rm(home, { recursive: true, force: true });
});

const checkpoints = (): string => join(home, 'checkpoints');
async function listing(): Promise<string[]> {
  try {
    return (await readdir(checkpoints())).sort();
  } catch {
    return [];
  }
}

async function rejection(p: Promise<unknown>): Promise<HubError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HubError);
  return e as HubError;
}

describe('hash prefix parsing (torch.hub HASH_REGEX)', () => {
  it('takes the hex run between "-" and "."', () => {
    expect(hashPrefixFromFileName('mobilenet_v3_large-8738ca79.pth')).toBe('8738ca79');
    expect(hashPrefixFromFileName('mobilenet_v3_small-047dcff4.pth')).toBe('047dcff4');
    expect(hashPrefixFromFileName('resnet18-f37072fd.pth')).toBe('f37072fd');
  });
  it('uses the first match, like re.search', () => {
    expect(hashPrefixFromFileName('a-1.b-abcdef.pth')).toBe('1');
    expect(hashPrefixFromFileName('x-abc.tar.gz')).toBe('abc');
  });
  it('gives undefined when there is no hash or an empty one', () => {
    expect(hashPrefixFromFileName('weights.pth')).toBeUndefined();
    expect(hashPrefixFromFileName('mobilenet_v3_large.pth')).toBeUndefined();
    expect(hashPrefixFromFileName('model-.pth')).toBeUndefined();
    expect(hashPrefixFromFileName('model-8738ca79')).toBeUndefined(); // no dot after it
  });
  it('is lower-case hex only, like torch', () => {
    expect(hashPrefixFromFileName('model-ABCDEF.pth')).toBeUndefined();
    expect(hashPrefixFromFileName('model-12g4.pth')).toBeUndefined();
    expect(HASH_REGEX.source).toBe('-([a-f0-9]*)\\.');
  });
  it('formats byte counts', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(22 * 1024 * 1024)).toBe('22.0 MiB');
  });
});

describe('cacheDir', () => {
  it('prefers MNV3_HOME, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(cacheDir({ MNV3_HOME: '/m', XDG_CACHE_HOME: '/x' })).toBe(join('/m', 'checkpoints'));
    expect(cacheDir({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'mnv3', 'checkpoints'));
    expect(cacheDir({ MNV3_HOME: '', XDG_CACHE_HOME: '' })).toMatch(/\.cache[/\\]mnv3[/\\]checkpoints$/);
    expect(cacheDir()).toBe(join(home, 'checkpoints'));
  });
});

describe('downloadWeights', () => {
  it('downloads into the cache, verifies the hash from the file name, and reports progress', async () => {
    const calls: [number, number | undefined][] = [];
    const path = await downloadWeights(`${base}/ok/${GOOD_NAME}`, { progress: (r, t) => calls.push([r, t]) });
    expect(path).toBe(join(checkpoints(), GOOD_NAME));
    expectBody(await readFile(path));
    expect(await listing()).toEqual([GOOD_NAME]);
    expect(hits.get(`/ok/${GOOD_NAME}`)).toBe(1);

    expect(calls.length).toBeGreaterThan(2);
    expect(calls[0]).toEqual([0, BODY.byteLength]);
    for (let i = 1; i < calls.length; i++) expect(calls[i]![0]).toBeGreaterThan(calls[i - 1]![0]);
    expect(calls.at(-1)).toEqual([BODY.byteLength, BODY.byteLength]);
  });

  it('makes no request on a cache hit', async () => {
    const url = `${base}/ok/${GOOD_NAME}`;
    const first = await downloadWeights(url, { progress: false });
    const second = await downloadWeights(url, { progress: false });
    expect(second).toBe(first);
    expect(hits.get(`/ok/${GOOD_NAME}`)).toBe(1);

    // A file placed by hand counts as cached too (the offline fallback): no request at all.
    await writeFile(join(checkpoints(), 'placed-by-hand.pth'), BODY);
    expect(await downloadWeights(`${base}/ok/placed-by-hand.pth`, { progress: false })).toBe(join(checkpoints(), 'placed-by-hand.pth'));
    expect(hits.has('/ok/placed-by-hand.pth')).toBe(false);
  });

  it('two downloads of one file at once, in one process and in two, leave one good file', async () => {
    const url = `${base}/pair/${GOOD_NAME}`;
    const [a, b] = await Promise.all([downloadWeights(url, { progress: false }), downloadWeights(url, { progress: false })]);
    expect(a).toBe(b);
    expectBody(await readFile(a));
    expect(await listing()).toEqual([GOOD_NAME]);
    expect(hits.get(`/pair/${GOOD_NAME}`)).toBe(2); // both missed the cache, and the server answered them together

    // Two CLI runs at once: separate processes racing on the same cache directory (the built
    // package: `pnpm build` comes before the tests).
    await rm(checkpoints(), { recursive: true, force: true });
    hits.clear();
    const hub = pathToFileURL(join(import.meta.dirname, '../dist/hub/index.js')).href;
    const script = `const { downloadWeights } = await import(${JSON.stringify(hub)}); console.log(await downloadWeights(${JSON.stringify(url)}, { progress: false }));`;
    const run = () => execFileAsync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, MNV3_HOME: home } });
    const outs = await Promise.all([run(), run()]);
    expect(outs.map((o) => o.stdout.trim())).toEqual([a, a]);
    expectBody(await readFile(a));
    expect(await listing()).toEqual([GOOD_NAME]);
    expect(hits.get(`/pair/${GOOD_NAME}`)).toBe(2);
  });

  it('never takes a leftover .partial for the file, and sweeps stale ones', async () => {
    await mkdir(checkpoints(), { recursive: true });
    const stale = `${GOOD_NAME}.0123456789ab.partial`;
    const live = `${GOOD_NAME}.ba9876543210.partial`;
    await writeFile(join(checkpoints(), stale), BODY.subarray(0, 10));
    await writeFile(join(checkpoints(), live), BODY.subarray(0, 10));
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(join(checkpoints(), stale), hourAgo, hourAgo);
    const path = await downloadWeights(`${base}/ok/${GOOD_NAME}`, { progress: false });
    expectBody(await readFile(path));
    expect(hits.get(`/ok/${GOOD_NAME}`)).toBe(1);
    expect(await listing()).toEqual([GOOD_NAME, live].sort());
  });

  it('honours fileName, dir and an explicit sha256Prefix', async () => {
    const dir = join(home, 'elsewhere');
    const path = await downloadWeights(`${base}/ok/whatever`, {
      fileName: 'renamed.bin',
      dir,
      sha256Prefix: DIGEST.slice(0, 12).toUpperCase(),
      progress: false,
    });
    expect(path).toBe(join(dir, 'renamed.bin'));
    expect(sha256(new Uint8Array(await readFile(path)))).toBe(DIGEST);
  });

  it('draws a terminal bar on stderr when progress: true forces it', async () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      return true;
    });
    const path = await downloadWeights(`${base}/ok/${GOOD_NAME}`, { progress: true });
    vi.mocked(process.stderr.write).mockRestore();
    const out = written.join('');
    expect(out).toContain(`Downloading: "${base}/ok/${GOOD_NAME}" to ${path}`);
    expect(out).toContain(GOOD_NAME);
    expect(out).toContain('100%');
    expect(out).toContain(`${formatBytes(BODY.byteLength)}/${formatBytes(BODY.byteLength)}`);
  });

  it('draws nothing with progress: false', async () => {
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await downloadWeights(`${base}/ok/${GOOD_NAME}`, { progress: false });
    expect(spy).not.toHaveBeenCalled();
  });

  it('works without Content-Length (total unknown)', async () => {
    const calls: (number | undefined)[] = [];
    const path = await downloadWeights(`${base}/nolength/${GOOD_NAME}`, { progress: (_r, t) => calls.push(t) });
    expectBody(await readFile(path));
    // undici may or may not add a length for a single write; either way the bytes are right.
    expect(calls.every((t) => t === undefined || t === BODY.byteLength)).toBe(true);
  });

  it('rejects a hash mismatch and caches nothing', async () => {
    const err = await rejection(downloadWeights(`${base}/bad/${BAD_NAME}`, { progress: false }));
    expect(err.code).toBe('hash-mismatch');
    expect(err.message).toContain('"deadbeef"');
    expect(err.message).toContain(DIGEST);
    expect(await listing()).toEqual([]);
  });

  it('rejects an explicit sha256Prefix mismatch and caches nothing', async () => {
    const err = await rejection(downloadWeights(`${base}/ok/${GOOD_NAME}`, { sha256Prefix: '0000', progress: false }));
    expect(err.code).toBe('hash-mismatch');
    expect(await listing()).toEqual([]);
    // The same file with the check switched off is accepted.
    await downloadWeights(`${base}/bad/${BAD_NAME}`, { sha256Prefix: false, progress: false });
    expect(await listing()).toEqual([BAD_NAME]);
  });

  it('rejects an interrupted transfer (socket destroyed halfway) and caches nothing', async () => {
    const err = await rejection(downloadWeights(`${base}/cut/${GOOD_NAME}`, { progress: false }));
    expect(err.code).toBe('interrupted');
    expect(err.message).toContain(`of ${BODY.byteLength} bytes`);
    expect(err.message).toContain('nothing was cached');
    expect(await listing()).toEqual([]);
    // A later run does not mistake anything for a cache hit: it asks the server again.
    await rejection(downloadWeights(`${base}/cut/${GOOD_NAME}`, { progress: false }));
    expect(hits.get(`/cut/${GOOD_NAME}`)).toBe(2);
    expect(await listing()).toEqual([]);
  });

  it('stops on abort and caches nothing', async () => {
    const controller = new AbortController();
    const p = downloadWeights(`${base}/stall/${GOOD_NAME}`, {
      signal: controller.signal,
      progress: (received) => {
        if (received > 0) setTimeout(() => controller.abort(), 20);
      },
    });
    const err = await rejection(p);
    expect(err.code).toBe('aborted');
    expect(await listing()).toEqual([]);
    const again = await rejection(downloadWeights(`${base}/ok/${GOOD_NAME}`, { signal: AbortSignal.abort(), progress: false }));
    expect(again.code).toBe('aborted');
    expect(hits.has(`/ok/${GOOD_NAME}`)).toBe(false);
  });

  it('names the status and URL on 404 and 500', async () => {
    const e404 = await rejection(downloadWeights(`${base}/missing/${GOOD_NAME}`, { progress: false }));
    expect(e404.code).toBe('http-status');
    expect(e404.details.status).toBe(404);
    expect(e404.message).toContain('HTTP 404');
    expect(e404.message).toContain(`${base}/missing/${GOOD_NAME}`);
    const e500 = await rejection(downloadWeights(`${base}/error500/${GOOD_NAME}`, { progress: false }));
    expect(e500.message).toContain('HTTP 500');
    expect(await listing()).toEqual([]);
  });

  it('says the machine seems offline when the connection is refused, and how to pass a file instead', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const err = await rejection(downloadWeights(`http://127.0.0.1:${port}/models/${GOOD_NAME}`, { progress: false }));
    expect(err.code).toBe('offline');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toMatch(/seems to be offline/);
    expect(err.message).toContain('--weights FILE');
    expect(err.message).toContain(join(checkpoints(), GOOD_NAME));
    expect(await listing()).toEqual([]);
  });

  it('rejects bad URLs and unsafe file names before any request', async () => {
    expect((await rejection(downloadWeights('not a url'))).code).toBe('invalid-source');
    expect((await rejection(downloadWeights('ftp://127.0.0.1/x.pth'))).code).toBe('invalid-source');
    expect((await rejection(downloadWeights(`${base}/ok/`))).message).toContain('fileName');
    expect((await rejection(downloadWeights(`${base}/ok/x.pth`, { fileName: '../escape.pth' }))).code).toBe('invalid-source');
    expect((await rejection(downloadWeights(`${base}/ok/x.pth`, { sha256Prefix: 'xyz' }))).message).toContain('hex');
    expect(hits.size).toBe(0);
  });
});

describe('loadBytes', () => {
  it('passes bytes through as a Uint8Array', async () => {
    const bytes = payload(64, 7);
    expect(await loadBytes(bytes)).toEqual(bytes);
    expect(await loadBytes(bytes.buffer as ArrayBuffer)).toEqual(bytes);
    const buf = Buffer.from(bytes);
    const fromBuffer = await loadBytes(buf);
    expect(fromBuffer.constructor).toBe(Uint8Array);
    expect(fromBuffer).toEqual(bytes);
    expect(await loadBytes(new DataView(bytes.buffer, 8, 8))).toEqual(bytes.subarray(8, 16));
  });

  it('reads local paths and file:// URLs', async () => {
    const bytes = payload(128, 3);
    await mkdir(join(home, 'local'), { recursive: true });
    const file = join(home, 'local', 'w.safetensors');
    await writeFile(file, bytes);
    expect(await loadBytes(file)).toEqual(bytes);
    expect(await loadBytes(pathToFileURL(file).href)).toEqual(bytes);
    expect(await loadBytes(pathToFileURL(file))).toEqual(bytes);
    const missing = await rejection(loadBytes(join(home, 'nope.pth')));
    expect(missing.code).toBe('not-found');
    expect(missing.message).toContain('nope.pth');
    expect((await rejection(loadBytes(join(home, 'local')))).message).toContain('directory');
  });

  it('downloads http(s) URLs through the cache', async () => {
    const url = `${base}/ok/${GOOD_NAME}`;
    expectBody(await loadBytes(url, { progress: false }));
    expectBody(await loadBytes(new URL(url), { progress: false }));
    expect(hits.get(`/ok/${GOOD_NAME}`)).toBe(1);
  });

  it('rejects other schemes', async () => {
    expect((await rejection(loadBytes('s3://bucket/x.pth'))).code).toBe('invalid-source');
    expect((await rejection(loadBytes(''))).code).toBe('invalid-source');
  });
});

describe('downloadWeights of a bundled file (file: URL)', () => {
  it('returns the file itself when its bytes match the name’s hash prefix, and caches nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mnv3-bundled-'));
    const cache = await mkdtemp(join(tmpdir(), 'mnv3-cache-'));
    try {
      const path = join(dir, GOOD_NAME);
      await writeFile(path, BODY);
      expect(await downloadWeights(pathToFileURL(path).href, { dir: cache })).toBe(path);
      expect(await readdir(cache)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(cache, { recursive: true, force: true });
    }
  });

  it('refuses a damaged or missing bundled file with the reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mnv3-bundled-'));
    try {
      const damaged = join(dir, GOOD_NAME);
      const bytes = BODY.slice();
      bytes[1000] = bytes[1000]! ^ 1;
      await writeFile(damaged, bytes);
      await expect(downloadWeights(pathToFileURL(damaged))).rejects.toMatchObject({ code: 'hash-mismatch', message: expect.stringMatching(/is damaged.*reinstall/) });
      await expect(downloadWeights(pathToFileURL(join(dir, BAD_NAME)))).rejects.toMatchObject({ code: 'not-found', message: expect.stringMatching(/cannot be read/) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
