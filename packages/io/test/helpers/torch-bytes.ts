// Test helpers that assemble pickles, zip archives and torch.save files byte by byte, so unit tests
// can build exactly the hostile or unusual inputs they need without Python.
import { deflateSync } from 'fflate';
import { concatBytes } from '@mnv3/test-utils';
import { CheckpointError } from '../../src/errors.js';
import { crc32 } from '../../src/zip.js';

const enc = new TextEncoder();

/** A tiny pickle assembler: each method appends one opcode (and its argument). */
export class PickleWriter {
  private readonly parts: number[] = [];

  raw(...bytes: number[]): this {
    for (const b of bytes) this.parts.push(b);
    return this;
  }
  private u32(n: number): this {
    return this.raw(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  private text(s: string): this {
    return this.raw(...enc.encode(s));
  }
  proto(n = 2): this {
    return this.raw(0x80, n);
  }
  global(module: string, name: string): this {
    return this.raw(0x63).text(`${module}\n${name}\n`);
  }
  stackGlobal(module: string, name: string): this {
    return this.unicode(module).unicode(name).raw(0x93);
  }
  unicode(s: string): this {
    const b = enc.encode(s);
    return this.raw(0x58).u32(b.length).raw(...b);
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.raw(0x4a).u32(n >>> 0);
    return this.long(BigInt(n));
  }
  long(v: bigint): this {
    const out: number[] = [];
    let x = v;
    do {
      out.push(Number(x & 0xffn));
      x >>= 8n;
    } while (!(x === 0n && (out[out.length - 1]! & 0x80) === 0) && !(x === -1n && (out[out.length - 1]! & 0x80) !== 0));
    return this.raw(0x8a, out.length, ...out);
  }
  none(): this {
    return this.raw(0x4e);
  }
  false(): this {
    return this.raw(0x89);
  }
  mark(): this {
    return this.raw(0x28);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  setitem(): this {
    return this.raw(0x73);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  persid(): this {
    return this.raw(0x51);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  intTuple(xs: readonly number[]): this {
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** One tensor of a hand-built checkpoint. */
export interface TensorSpec {
  name: string;
  storageType: string;
  key: string;
  /** Storage size in elements, as the persistent id declares it. */
  numel: number;
  offset: number;
  shape: readonly number[];
  stride: readonly number[];
}

/** The pickle of `{name: tensor}` as torch.save writes it (zip format unless `legacy`). */
export function stateDictPickle(tensors: readonly TensorSpec[], legacy = false): Uint8Array {
  const p = new PickleWriter().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const t of tensors) {
    p.unicode(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().unicode('storage').global('torch', t.storageType).unicode(t.key).unicode('cpu').int(t.numel);
    if (legacy) p.none();
    p.tuple().persid();
    p.int(t.offset).intTuple(t.shape).intTuple(t.stride).false().global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  }
  return p.setitems().stop().bytes();
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
}

/** A zip archive (stored or deflated entries), optionally with zip64 sizes, offsets and end records. */
export function makeZip(files: readonly ZipInput[], options: { zip64?: boolean } = {}): Uint8Array {
  const zip64 = options.zip64 ?? false;
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    const body = f.deflate ? deflateSync(f.data) : f.data;
    const crc = crc32(f.data);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, zip64 ? 45 : 20, true);
    lv.setUint16(8, f.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, f.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const extra = zip64 ? 28 : 0;
    const c = new Uint8Array(46 + name.length + extra);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, zip64 ? 45 : 20, true);
    cv.setUint16(10, f.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, zip64 ? 0xffffffff : body.length, true);
    cv.setUint32(24, zip64 ? 0xffffffff : f.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra, true);
    cv.setUint32(42, zip64 ? 0xffffffff : offset, true);
    c.set(name, 46);
    if (zip64) {
      const e = 46 + name.length;
      cv.setUint16(e, 0x0001, true);
      cv.setUint16(e + 2, 24, true);
      cv.setBigUint64(e + 4, BigInt(f.data.length), true);
      cv.setBigUint64(e + 12, BigInt(body.length), true);
      cv.setBigUint64(e + 20, BigInt(offset), true);
    }
    chunks.push(local, body);
    central.push(c);
    offset += local.length + body.length;
  }
  const cdOffset = offset;
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  chunks.push(...central);
  if (zip64) {
    const rec = new Uint8Array(56 + 20);
    const rv = new DataView(rec.buffer);
    rv.setUint32(0, 0x06064b50, true);
    rv.setBigUint64(4, 44n, true);
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(files.length), true);
    rv.setBigUint64(32, BigInt(files.length), true);
    rv.setBigUint64(40, BigInt(cdSize), true);
    rv.setBigUint64(48, BigInt(cdOffset), true);
    rv.setUint32(56, 0x07064b50, true);
    rv.setBigUint64(64, BigInt(cdOffset + cdSize), true);
    rv.setUint32(72, 1, true);
    chunks.push(rec);
  }
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, zip64 ? 0xffff : files.length, true);
  ev.setUint16(10, zip64 ? 0xffff : files.length, true);
  ev.setUint32(12, zip64 ? 0xffffffff : cdSize, true);
  ev.setUint32(16, zip64 ? 0xffffffff : cdOffset, true);
  chunks.push(eocd);
  return concatBytes(...chunks);
}

/** Little-endian bytes of a typed array. */
export function le(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

/** A zip-format torch.save file holding `tensors` with storages `storages[key]`. */
export function zipCheckpoint(
  tensors: readonly TensorSpec[],
  storages: Record<string, Uint8Array>,
  options: { zip64?: boolean; deflate?: boolean; prefix?: string; pickle?: Uint8Array } = {},
): Uint8Array {
  const prefix = options.prefix ?? 'archive';
  return makeZip(
    [
      { name: `${prefix}/data.pkl`, data: options.pickle ?? stateDictPickle(tensors), deflate: options.deflate },
      ...Object.entries(storages).map(([k, v]) => ({ name: `${prefix}/data/${k}`, data: v, deflate: options.deflate })),
      { name: `${prefix}/version`, data: enc.encode('3\n') },
    ],
    options,
  );
}

/** A legacy (`_use_new_zipfile_serialization=False`) torch.save file. `counts` overrides the element counts written. */
export function legacyCheckpoint(
  tensors: readonly TensorSpec[],
  storages: Record<string, { data: Uint8Array; count?: bigint }>,
  options: { pickle?: Uint8Array } = {},
): Uint8Array {
  const magic = new PickleWriter().proto(2).long(0x1950a86a20f9469cfc6cn).stop().bytes();
  const proto = new PickleWriter().proto(2).int(1001).stop().bytes();
  const sys = new PickleWriter().proto(2).emptyDict().unicode('little_endian').raw(0x88).setitem().stop().bytes();
  const main = options.pickle ?? stateDictPickle(tensors, true);
  const keys = new PickleWriter().proto(2).mark();
  for (const k of Object.keys(storages)) keys.unicode(k);
  const keyList = keys.raw(0x6c).stop().bytes();
  const parts = [magic, proto, sys, main, keyList];
  for (const [k, s] of Object.entries(storages)) {
    const spec = tensors.find((t) => t.key === k);
    const size = { FloatStorage: 4, LongStorage: 8, HalfStorage: 2, ByteStorage: 1 }[spec?.storageType ?? 'FloatStorage'] ?? 4;
    const head = new Uint8Array(8);
    new DataView(head.buffer).setBigInt64(0, s.count ?? BigInt(s.data.length / size), true);
    parts.push(head, s.data);
  }
  return concatBytes(...parts);
}

/** The `CheckpointError` code `fn` throws, or 'ok'; anything else is rethrown. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CheckpointError) return e.code;
    throw e;
  }
  return 'ok';
}
