// The readers against mutated files: every case must parse or throw one of our typed errors (with a
// code), never a raw TypeError / RangeError from inside, and within 1 s. `pnpm test` runs 200 cases
// per format; `pnpm fuzz` at the root runs 10,000 (MNV3_FUZZ_CASES sets any count). The files
// in test/corpus/ are inputs that once failed; they are replayed every run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError, ImageError, decodeImage, encodePng, readCheckpoint, readNpy, writeNpy, writeSafetensors, type StateDict } from '../src/index.js';
import { mutateBytes, seededPick } from '@mnv3/test-utils';
import { legacyCheckpoint, zipCheckpoint } from './helpers/torch-bytes.js';

const CASES = Number(process.env.MNV3_FUZZ_CASES ?? 200);
const CORPUS = join(import.meta.dirname, 'corpus');
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';

/** What reading gave: 'ok', or the typed error's class and code. Anything else is rethrown. */
function outcome(read: () => unknown): string {
  try {
    read();
    return 'ok';
  } catch (e) {
    if (e instanceof CheckpointError || e instanceof ImageError) return `${e.name}:${e.code}`;
    throw e;
  }
}

const STATE: StateDict = new Map([
  ['conv.weight', { dtype: 'float32', shape: [4, 3, 3, 3], data: Float32Array.from({ length: 108 }, (_, i) => i / 7) }],
  ['conv.bias', { dtype: 'float32', shape: [4], data: Float32Array.from([1, 2, 3, 4]) }],
  ['bn.num_batches_tracked', { dtype: 'int64', shape: [], data: BigInt64Array.from([5n]) }],
]);
const SPECS = [
  { name: 'conv.weight', storageType: 'FloatStorage', key: '0', numel: 108, offset: 0, shape: [4, 3, 3, 3], stride: [27, 9, 3, 1] },
  { name: 'conv.bias', storageType: 'FloatStorage', key: '1', numel: 4, offset: 0, shape: [4], stride: [1] },
];
const le = (a: Float32Array) => new Uint8Array(a.buffer.slice(0));
const weight = STATE.get('conv.weight')!.data as Float32Array;
const bias = STATE.get('conv.bias')!.data as Float32Array;
const image = { width: 23, height: 17, data: Uint8Array.from({ length: 23 * 17 * 3 }, (_, i) => (i * 37) & 0xff) };

const FORMATS: [string, () => Uint8Array, (b: Uint8Array) => unknown, number][] = [
  ['.pth (zip, deflated)', () => zipCheckpoint(SPECS, { '0': le(weight), '1': le(bias) }, { deflate: true }), readCheckpoint, 900],
  ['.pth (legacy)', () => legacyCheckpoint(SPECS, { '0': { data: le(weight) }, '1': { data: le(bias) } }), readCheckpoint, 700],
  ['.safetensors', () => writeSafetensors(STATE, { format: 'pt' }), readCheckpoint, 300],
  ['.npy', () => writeNpy({ dtype: 'float32', shape: [4, 3, 3, 3], data: weight }), (b) => readNpy(b), 128],
  ['PNG', () => encodePng(image), (b) => decodeImage(b), 64],
  ['JPEG (skimage rocket.jpg)', () => new Uint8Array(readFileSync(join(SKIMAGE, 'rocket.jpg'))), (b) => decodeImage(b), 700],
];

describe(`readers under ${CASES} mutations per format: parse or a typed error, within 1 s`, () => {
  it.each(FORMATS)('%s', (_, make, read, hot) => {
    const original = make();
    expect(outcome(() => read(original))).toBe('ok');
    const pick = seededPick(original.length);
    const outcomes: Record<string, number> = {};
    let worst = 0;
    for (let i = 0; i < CASES; i++) {
      const bytes = mutateBytes(original, pick, hot);
      const t0 = performance.now();
      const o = outcome(() => read(bytes));
      worst = Math.max(worst, performance.now() - t0);
      outcomes[o] = (outcomes[o] ?? 0) + 1;
    }
    console.log(`${_}: ${CASES} cases, worst ${worst.toFixed(1)} ms, ${JSON.stringify(outcomes)}`);
    expect(worst).toBeLessThan(1000);
    expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(CASES);
  }, Math.max(60_000, CASES * 100)); // the JPEG decoder takes up to ~50 ms a case
});

describe('the corpus of inputs that once failed', () => {
  const files = readdirSync(CORPUS).filter((f) => /\.(pth|safetensors|npy|png|jpe?g)$/.test(f));
  it('is there', () => expect(files.length).toBeGreaterThan(0));
  it.each(files)('%s: a typed error, quickly', (name) => {
    const bytes = new Uint8Array(readFileSync(join(CORPUS, name)));
    const read = /\.(png|jpe?g)$/.test(name) ? () => decodeImage(bytes) : () => readCheckpoint(bytes);
    const t0 = performance.now();
    expect(outcome(read)).toMatch(/^(CheckpointError|ImageError):/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
