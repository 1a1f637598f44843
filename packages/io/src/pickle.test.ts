import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { CheckpointError } from './errors.js';
import { isTuple, unpickle, type UnpickleHooks } from './pickle.js';
import { loadTorchCheckpoint, readStateDict } from './torch-load/index.js';
import { PickleWriter, codeOf, legacyCheckpoint, zipCheckpoint } from '../test/helpers/torch-bytes.js';

const refuse: UnpickleHooks = {
  findGlobal: (m, n) => {
    throw new CheckpointError('forbidden-global', `forbidden global "${m}.${n}"`);
  },
  reduce: () => {
    throw new CheckpointError('corrupt', 'not callable here');
  },
  newObject: () => {
    throw new CheckpointError('corrupt', 'not callable here');
  },
  build: (o) => o,
  persistentLoad: () => {
    throw new CheckpointError('corrupt', 'not callable here');
  },
};

const load = (b: Uint8Array | number[]): unknown => unpickle(b instanceof Uint8Array ? b : Uint8Array.from(b), 0, refuse).value;

describe('unpickle', () => {
  it('decodes the basic values', () => {
    // Python: pickle.dumps({'a': (1, -2, 3.5), 'b': [None, True, b'xy'], 'c': 2**70}, protocol=2)-alike, by hand.
    const w = new PickleWriter()
      .proto(2)
      .emptyDict()
      .raw(0x71, 0) // BINPUT 0
      .mark()
      .unicode('a')
      .int(1)
      .int(-2)
      .raw(0x47, 0x40, 0x0c, 0, 0, 0, 0, 0, 0) // BINFLOAT 3.5
      .raw(0x87) // TUPLE3
      .unicode('b')
      .emptyList()
      .mark()
      .none()
      .raw(0x88)
      .raw(0x43, 2, 0x78, 0x79) // SHORT_BINBYTES b'xy'
      .raw(0x65) // APPENDS
      .unicode('c')
      .long(2n ** 70n)
      .unicode('d')
      .raw(0x68, 0) // BINGET 0: the dict itself
      .setitems()
      .stop();
    const v = load(w.bytes()) as Map<string, unknown>;
    expect(v).toBeInstanceOf(Map);
    const a = v.get('a') as unknown[];
    expect(isTuple(a)).toBe(true);
    expect([...a]).toEqual([1, -2, 3.5]);
    const b = v.get('b') as unknown[];
    expect(isTuple(b)).toBe(false);
    expect(b.slice(0, 2)).toEqual([null, true]);
    expect([...(b[2] as Uint8Array)]).toEqual([0x78, 0x79]);
    expect(v.get('c')).toBe(2n ** 70n);
    expect(v.get('d')).toBe(v); // self-reference through the memo
  });

  it('decodes protocol 4 framing, SHORT_BINUNICODE, MEMOIZE and sets', () => {
    const body = [0x8c, 1, 0x6b, 0x94, 0x8f, 0x28, 0x4b, 5, 0x4b, 6, 0x90, 0x86, 0x2e]; // ('k', {5, 6})
    const frame = [0x95, body.length, 0, 0, 0, 0, 0, 0, 0];
    const v = load([0x80, 4, ...frame, ...body]) as readonly unknown[];
    expect(v[0]).toBe('k');
    expect(v[1]).toEqual(new Set([5, 6]));
  });

  it('refuses os.system named by GLOBAL', () => {
    const b = new PickleWriter().proto(2).global('os', 'system').unicode('echo pwned').raw(0x85).reduce().stop().bytes();
    expect(() => loadTorchCheckpoint(legacyCheckpoint([], {}, { pickle: b }))).toThrow(/forbidden global "os.system"/);
    expect(codeOf(() => loadTorchCheckpoint(zipCheckpoint([], {}, { pickle: b })))).toBe('forbidden-global');
  });

  it('refuses builtins.eval named by STACK_GLOBAL', () => {
    const b = new PickleWriter().proto(4).stackGlobal('builtins', 'eval').unicode('1+1').raw(0x85).reduce().stop().bytes();
    expect(() => loadTorchCheckpoint(zipCheckpoint([], {}, { pickle: b }))).toThrow(/forbidden global "builtins.eval"/);
  });

  it.each([
    ['posix', 'system'],
    ['subprocess', 'Popen'],
    ['builtins', 'exec'],
    ['builtins', 'getattr'],
    ['torch', 'load'],
    ['numpy.core.multiarray', '_reconstruct'],
  ])('refuses %s.%s', (m, n) => {
    const b = new PickleWriter().proto(2).global(m, n).stop().bytes();
    expect(() => loadTorchCheckpoint(zipCheckpoint([], {}, { pickle: b }))).toThrow(new RegExp(`forbidden global "${m}\\.${n}"`));
  });

  it('refuses INST naming a forbidden class before touching its arguments', () => {
    const b = Uint8Array.from([0x28, ...new TextEncoder().encode('i' + 'os\nsystem\n'), 0x2e]);
    expect(codeOf(() => loadTorchCheckpoint(zipCheckpoint([], {}, { pickle: b })))).toBe('forbidden-global');
  });

  it('stops 100k nested lists (APPEND chain) with too-deep', () => {
    const n = 100_000;
    const b = new Uint8Array(2 + 2 * n + 1);
    b.set([0x80, 2]);
    b.fill(0x5d, 2, 2 + n); // EMPTY_LIST × n
    b.fill(0x61, 2 + n, 2 + 2 * n - 1); // APPEND × (n − 1)
    b[2 + 2 * n - 1] = 0x2e;
    const t0 = performance.now();
    expect(codeOf(() => load(b))).toBe('too-deep');
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('stops lists nested 5,000 deep but built parent-first (filled after they were appended, via the memo) with too-deep', () => {
    // EMPTY_LIST, LONG_BINPUT 0; then per level: EMPTY_LIST, LONG_BINPUT i+1, APPEND (into the
    // still-empty child's parent), POP, LONG_BINGET i+1; finally POP, LONG_BINGET 0, STOP.
    const n = 5_000;
    const out: number[] = [0x80, 2, 0x5d, 0x72, 0, 0, 0, 0];
    const idx = (i: number) => [i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, 0];
    for (let i = 0; i < n; i++) out.push(0x5d, 0x72, ...idx(i + 1), 0x61, 0x30, 0x6a, ...idx(i + 1));
    out.push(0x30, 0x6a, ...idx(0), 0x2e);
    expect(codeOf(() => load(Uint8Array.from(out)))).toBe('too-deep');
    // The same built 500 deep is fine, and really is 501 lists deep.
    const shallow: number[] = [0x80, 2, 0x5d, 0x72, 0, 0, 0, 0];
    for (let i = 0; i < 500; i++) shallow.push(0x5d, 0x72, ...idx(i + 1), 0x61, 0x30, 0x6a, ...idx(i + 1));
    shallow.push(0x30, 0x6a, ...idx(0), 0x2e);
    let v = load(Uint8Array.from(shallow)) as unknown[];
    let depth = 1;
    while (v.length) {
      v = v[0] as unknown[];
      depth++;
    }
    expect(depth).toBe(501);
  });

  it('stops 100k nested tuples (MARK … TUPLE) with too-deep', () => {
    const n = 100_000;
    const b = new Uint8Array(2 + 2 * n + 1);
    b.set([0x80, 2]);
    b.fill(0x28, 2, 2 + n);
    b.fill(0x74, 2 + n, 2 + 2 * n);
    b[2 + 2 * n] = 0x2e;
    expect(codeOf(() => load(b))).toBe('too-deep');
  });

  it('stops 100k nested TUPLE1 with too-deep, also through a checkpoint', () => {
    const n = 100_000;
    const b = new Uint8Array(3 + n + 1);
    b.set([0x80, 2, 0x4e]);
    b.fill(0x85, 3, 3 + n);
    b[3 + n] = 0x2e;
    expect(codeOf(() => load(b))).toBe('too-deep');
    expect(codeOf(() => loadTorchCheckpoint(zipCheckpoint([], {}, { pickle: b })))).toBe('too-deep');
  });

  it('accepts nesting up to the limit', () => {
    const n = 500;
    const b = Uint8Array.from([0x80, 2, 0x4e, ...new Array<number>(n).fill(0x85), 0x2e]);
    let v = load(b);
    for (let i = 0; i < n; i++) v = (v as unknown[])[0];
    expect(v).toBeNull();
  });

  it('checks declared string and bytes lengths against the input before allocating', () => {
    // BINUNICODE of 4 GiB − 1, BINBYTES8 of 2^60, BINUNICODE8 of 2^63.
    expect(codeOf(() => load([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0xff, 0x41]))).toBe('truncated');
    expect(codeOf(() => load([0x80, 4, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x41]))).toBe('truncated');
    expect(codeOf(() => load([0x80, 4, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x80]))).toBe('truncated');
    expect(codeOf(() => load([0x80, 4, 0x95, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]))).toBe('truncated');
  });

  it('reports malformed streams as corrupt or truncated', () => {
    expect(codeOf(() => load([0x80, 2]))).toBe('truncated'); // no STOP
    expect(codeOf(() => load([0x80, 2, 0x2e]))).toBe('corrupt'); // STOP on an empty stack
    expect(codeOf(() => load([0x80, 2, 0x68, 7, 0x2e]))).toBe('corrupt'); // BINGET of nothing
    expect(codeOf(() => load([0x80, 2, 0xff, 0x2e]))).toBe('corrupt'); // unknown opcode
    expect(codeOf(() => load([0x80, 2, 0x4b, 1, 0x61, 0x2e]))).toBe('corrupt'); // APPEND to an int
    expect(codeOf(() => load([0x80, 2, 0x29, 0x4b, 1, 0x61, 0x2e]))).toBe('corrupt'); // APPEND to a tuple
    expect(codeOf(() => load([0x80, 2, 0x74, 0x2e]))).toBe('corrupt'); // TUPLE without MARK
    expect(codeOf(() => load([0x80, 9, 0x4e, 0x2e]))).toBe('unsupported'); // protocol 9
    expect(codeOf(() => load([0x80, 5, 0x97, 0x2e]))).toBe('unsupported'); // NEXT_BUFFER
  });

  // Every opcode byte the unpickler knows, plus small arguments, so random soups get past byte one.
  const OPS = [0x80, 0x95, 0x2e, 0x28, 0x30, 0x31, 0x32, 0x4e, 0x88, 0x89, 0x4a, 0x4b, 0x4d, 0x8a, 0x8b, 0x49, 0x4c, 0x46, 0x47, 0x58, 0x8c, 0x8d, 0x55, 0x54, 0x43, 0x42, 0x8e, 0x96, 0x29, 0x85, 0x86, 0x87, 0x74, 0x5d, 0x6c, 0x61, 0x65, 0x7d, 0x64, 0x73, 0x75, 0x8f, 0x90, 0x91, 0x71, 0x72, 0x94, 0x70, 0x68, 0x6a, 0x67, 0x63, 0x93, 0x52, 0x81, 0x92, 0x62, 0x51, 0x69, 0x6f, 0x0a, 0, 1, 2, 0xff];
  const soup = fc.array(fc.oneof(fc.constantFrom(...OPS), fc.integer({ min: 0, max: 255 })), { maxLength: 200 }).map((a) => Uint8Array.from([0x80, 2, ...a]));

  test.prop([soup], { numRuns: 2000 })('random opcode soups only ever throw CheckpointError', (bytes) => {
    try {
      unpickle(bytes, 0, refuse);
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
    }
  });

  test.prop([soup], { numRuns: 1000 })('random pickles inside torch.save containers only ever throw CheckpointError', (bytes) => {
    for (const file of [zipCheckpoint([], {}, { pickle: bytes }), legacyCheckpoint([], {}, { pickle: bytes })]) {
      try {
        readStateDict(file);
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
      }
    }
  });
});
