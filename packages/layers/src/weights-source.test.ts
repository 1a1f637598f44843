// resolveStateDict's downloads go through the hash-checked hubs, in Node and in browsers alike (a
// browser is stood in for by hiding process.versions.node while resolveStateDict picks its hub;
// Node has fetch and crypto.subtle, and no Cache Storage, so nothing is cached there).
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubError } from '@mnv3/io/hub-browser';
import { CheckpointError, writeSafetensors, type StateDict } from '@mnv3/io';
import { resolveStateDict } from './weights-source.js';
import { weights } from './weights-api.js';

const STATE: StateDict = new Map([['fc.weight', { dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }]]);
const BODY = writeSafetensors(STATE);
const PREFIX = createHash('sha256').update(BODY).digest('hex').slice(0, 8);

let server: Server;
let base: string;
let requests = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-length': String(BODY.byteLength) });
    res.end(BODY);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const META = { categories: ['a', 'b'], numParams: 4, minSize: [1, 1] as const, metrics: {}, recipe: '' };
const entry = (name: string) => weights(`${base}/${name}`, { kind: 'ObjectDetection' }, META);

/**
 * Calls `fn` as if in a browser: `process.versions.node` is hidden while its synchronous start
 * runs (where resolveStateDict picks its hub), and back before Node's own fetch needs it.
 */
function asBrowser<T>(fn: () => Promise<T>): Promise<T> {
  const versions = process.versions;
  Object.defineProperty(process, 'versions', { value: { ...versions, node: undefined }, configurable: true });
  try {
    return fn();
  } finally {
    Object.defineProperty(process, 'versions', { value: versions, configurable: true });
  }
}

describe('resolveStateDict downloads through the checked hubs', () => {
  it('in a browser: a weights entry and a URL load when their hash prefix matches', async () => {
    const before = requests;
    const sd = await asBrowser(() => resolveStateDict(entry(`w-${PREFIX}.safetensors`)));
    expect(Array.from(sd.get('fc.weight')!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    const byUrl = await asBrowser(() => resolveStateDict(`${base}/w-${PREFIX}.safetensors`));
    expect([...byUrl.keys()]).toEqual(['fc.weight']);
    // The browser hub ran (Node's would have served the second from its disk cache).
    expect(requests).toBe(before + 2);
  });

  it('in a browser: a file whose digest does not match the name is refused', async () => {
    const before = requests;
    const err = await asBrowser(() => resolveStateDict(entry('w-00000000.safetensors'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).code).toBe('hash-mismatch');
    await expect(asBrowser(() => resolveStateDict(`${base}/w-00000000.safetensors`))).rejects.toThrow(/does not start with the expected prefix "00000000"/);
    expect(requests).toBe(before + 2);
  });

  it('a file that is not a checkpoint: the error names the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnv3-ws-'));
    const path = join(dir, 'broken.pth');
    writeFileSync(path, 'not a checkpoint at all');
    const err = await resolveStateDict(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).message.startsWith(`${path}: not a weights file`)).toBe(true);
  });

  it('in Node: the same entry is cached on disk and refused when its digest does not match', async () => {
    process.env.MNV3_HOME = mkdtempSync(join(tmpdir(), 'mnv3-ws-'));
    try {
      const sd = await resolveStateDict(entry(`w-${PREFIX}.safetensors`), { progress: false });
      expect([...sd.keys()]).toEqual(['fc.weight']);
      const before = requests;
      await resolveStateDict(entry(`w-${PREFIX}.safetensors`), { progress: false });
      expect(requests).toBe(before); // from the cache, no request
      await expect(resolveStateDict(entry('w-00000000.safetensors'), { progress: false })).rejects.toThrow(/does not start with the expected prefix/);
    } finally {
      delete process.env.MNV3_HOME;
    }
  });
});
