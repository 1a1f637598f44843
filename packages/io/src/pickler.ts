// ↔ Python's pickle.Pickler at protocol 2, as torch.save drives it: the opcodes, batching and memo
// it writes, so that a dict of tensors pickles to the bytes torch 1.13 writes for it.
import { isTuple } from './pickle.js';

/** A Python `float` whose value is integral (`1.0`): plain JS numbers that are safe integers pickle as `int`. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/**
 * Marks a number as a Python `float`. Numbers that are not safe integers (fractions, |x| ≥ 2^53,
 * NaN, ±Infinity, −0) are floats anyway; a safe integer is written as a Python `int` unless wrapped.
 *
 * @example pyFloat(0) // pickles as 0.0, where 0 pickles as the int 0
 */
export function pyFloat(value: number): PyFloat {
  if (typeof value !== 'number') throw new TypeError(`pyFloat needs a number, got ${typeof value}`);
  return new PyFloat(value);
}

/** A `collections.OrderedDict` (what `model.state_dict()` returns); a plain `Map` is a `dict`. */
export class OrderedDict<K = unknown, V = unknown> extends Map<K, V> {}

/** What {@link Pickler} asks its owner for the values it cannot pickle itself (torch's tensors). */
export interface PicklerHooks {
  /** Pickles `value` through `p` and returns true, or returns false for a value it does not handle. */
  save?(p: Pickler, value: unknown, path: string): boolean;
}

const BATCHSIZE = 1000;
const enc = new TextEncoder();

/** Why a value cannot be pickled, with where it sits in the object (`root["optimizer"]["state"][0]`). */
export class PickleValueError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'PickleValueError';
  }
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A protocol-2 pickler with Python's memo: strings (by value here, by identity in Python, which
 * writes an equal string twice only when it is two objects), globals, tuples, lists and dicts are
 * memoised and written once, later references are `BINGET`s. Lists and dicts are filled in
 * batches of 1,000 as CPython's `_pickle` does.
 */
export class Pickler {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(1 << 16);
  private pos = 0;
  private readonly memoObjects = new Map<object, number>();
  private readonly memoStrings = new Map<string, number>();
  private readonly memoGlobals = new Map<string, number>();
  private memoSize = 0;
  private depth = 0;

  constructor(private readonly hooks: PicklerHooks = {}) {}

  /** The whole pickle of `value`: `PROTO 2`, the value, `STOP`. */
  dump(value: unknown): Uint8Array {
    this.write(0x80, 2);
    this.save(value, 'root');
    this.write(0x2e);
    return this.finish();
  }

  private finish(): Uint8Array {
    this.chunks.push(this.buf.slice(0, this.pos));
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    this.chunks = [];
    this.pos = 0;
    return out;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.chunks.push(this.buf.slice(0, this.pos));
    this.buf = new Uint8Array(Math.max(1 << 16, n));
    this.pos = 0;
  }

  /** Appends raw bytes. */
  write(...bytes: number[]): void {
    this.reserve(bytes.length);
    for (const b of bytes) this.buf[this.pos++] = b;
  }

  private writeBytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  private u32(n: number): void {
    this.write(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }

  private put(): number {
    const idx = this.memoSize++;
    if (idx < 256) this.write(0x71, idx); // BINPUT
    else {
      this.write(0x72); // LONG_BINPUT
      this.u32(idx);
    }
    return idx;
  }

  private get(idx: number): void {
    if (idx < 256) this.write(0x68, idx); // BINGET
    else {
      this.write(0x6a); // LONG_BINGET
      this.u32(idx);
    }
  }

  /** `GLOBAL module\nname\n`, memoised as Python memoises the class or function object. */
  saveGlobal(module: string, name: string): void {
    const key = `${module}\n${name}`;
    const known = this.memoGlobals.get(key);
    if (known !== undefined) return this.get(known);
    this.write(0x63);
    this.writeBytes(enc.encode(`${module}\n${name}\n`));
    this.memoGlobals.set(key, this.put());
  }

  /** Python's `save_str`: BINUNICODE then memoised. */
  saveString(s: string): void {
    const known = this.memoStrings.get(s);
    if (known !== undefined) return this.get(known);
    const b = enc.encode(s);
    this.write(0x58);
    this.u32(b.length);
    this.writeBytes(b);
    this.memoStrings.set(s, this.put());
  }

  /** Python's `save_long`. */
  saveInt(n: number | bigint): void {
    if (typeof n === 'number') {
      if (n >= 0 && n <= 0xff) return this.write(0x4b, n); // BININT1
      if (n >= 0 && n <= 0xffff) return this.write(0x4d, n & 0xff, n >>> 8); // BININT2
      if (n >= -0x80000000 && n <= 0x7fffffff) {
        this.write(0x4a); // BININT
        return this.u32(n >>> 0);
      }
      n = BigInt(n);
    }
    if (n >= -0x80000000n && n <= 0x7fffffffn) return this.saveInt(Number(n));
    // encode_long: the shortest little-endian two's complement.
    const bytes: number[] = [];
    let v = n;
    const nbytes = Math.floor(bitLength(n) / 8) + 1;
    for (let i = 0; i < nbytes; i++) {
      bytes.push(Number(BigInt.asUintN(8, v)));
      v >>= 8n;
    }
    if (n < 0n && bytes.length > 1 && bytes[bytes.length - 1] === 0xff && (bytes[bytes.length - 2]! & 0x80) !== 0) bytes.pop();
    if (bytes.length < 256) this.write(0x8a, bytes.length, ...bytes); // LONG1
    else {
      this.write(0x8b); // LONG4
      this.u32(bytes.length);
      this.write(...bytes);
    }
  }

  /** `BINFLOAT`, a big-endian double. */
  saveFloat(x: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    this.write(0x47);
    this.writeBytes(b);
  }

  /** Python's `save_tuple` at protocol 2 (`EMPTY_TUPLE`, `TUPLE1..3`, `MARK … TUPLE`). */
  saveTuple(items: readonly unknown[], path: string, identity?: object): void {
    if (identity) {
      const known = this.memoObjects.get(identity);
      if (known !== undefined) return this.get(known);
    }
    if (items.length === 0) return this.write(0x29);
    if (items.length > 3) this.write(0x28);
    items.forEach((it, i) => this.save(it, `${path}[${i}]`));
    this.write(items.length === 1 ? 0x85 : items.length === 2 ? 0x86 : items.length === 3 ? 0x87 : 0x74);
    const idx = this.put();
    if (identity) this.memoObjects.set(identity, idx);
  }

  /** `save_reduce(func, args)`: the callable, its argument tuple, `REDUCE`, then the result memoised. */
  saveReduce(module: string, name: string, args: readonly unknown[], path: string): void {
    this.saveGlobal(module, name);
    this.saveTuple(args, path);
    this.write(0x52);
    this.put();
  }

  /** `BINPERSID` with the persistent id `pid` (a tuple), as torch's storages are written. */
  savePersistentId(pid: readonly unknown[], path: string): void {
    this.saveTuple(pid, path);
    this.write(0x51);
  }

  /**
   * Items in batches of 1,000 as CPython's C pickler writes them: `MARK … SETITEMS` (or `APPENDS`),
   * a lone item as `SETITEM` (`APPEND`). For exact lists and dicts (`batch_list_exact`,
   * `batch_dict_exact`) only a one-item container is written without a MARK; for the items of a
   * reduced object (an OrderedDict, `batch_dict`) a last batch of one item is too.
   */
  private batched<T>(items: T[], exact: boolean, one: number, many: number, write: (item: T, index: number) => void): void {
    if (items.length === 0) return;
    if (items.length === 1) {
      write(items[0]!, 0);
      return this.write(one);
    }
    for (let start = 0; start < items.length; start += BATCHSIZE) {
      const end = Math.min(items.length, start + BATCHSIZE);
      if (end - start === 1 && !exact) {
        write(items[start]!, start);
        this.write(one);
        continue;
      }
      this.write(0x28);
      for (let i = start; i < end; i++) write(items[i]!, i);
      this.write(many);
    }
  }

  private batchSetItems(entries: [unknown, unknown][], path: string, exact: boolean): void {
    this.batched(entries, exact, 0x73, 0x75, ([k, v]) => {
      this.save(k, `${path} key`);
      this.save(v, `${path}[${typeof k === 'string' ? JSON.stringify(k) : String(k)}]`);
    });
  }

  private batchAppends(items: readonly unknown[], path: string): void {
    this.batched([...items], true, 0x61, 0x65, (it, i) => this.save(it, `${path}[${i}]`));
  }

  /** Pickles one value (see {@link saveTorchCheckpoint} for the mapping from JavaScript values). */
  save(value: unknown, path: string): void {
    if (this.depth > 1000) throw new PickleValueError(`${path}: nested more than 1000 levels (a cycle?)`);
    if (value === null) return this.write(0x4e);
    if (value === true) return this.write(0x88);
    if (value === false) return this.write(0x89);
    if (typeof value === 'number') {
      if (Number.isSafeInteger(value) && !Object.is(value, -0)) return this.saveInt(value);
      return this.saveFloat(value);
    }
    if (typeof value === 'bigint') return this.saveInt(value);
    if (typeof value === 'string') return this.saveString(value);
    if (value instanceof PyFloat) return this.saveFloat(value.value);
    if (typeof value !== 'object') throw new PickleValueError(`${path}: a ${typeof value} has no Python equivalent`);
    if (this.hooks.save?.(this, value, path)) return;
    const known = this.memoObjects.get(value);
    if (known !== undefined) return this.get(known);
    this.depth++;
    try {
      if (isTuple(value)) return this.saveTuple(value, path, value);
      if (Array.isArray(value)) {
        this.write(0x5d); // EMPTY_LIST
        this.memoObjects.set(value, this.put());
        return this.batchAppends(value, path);
      }
      if (value instanceof OrderedDict) {
        // OrderedDict.__reduce__: (OrderedDict, (), None, None, iter(items))
        this.saveGlobal('collections', 'OrderedDict');
        this.write(0x29, 0x52); // EMPTY_TUPLE, REDUCE
        this.memoObjects.set(value, this.put());
        return this.batchSetItems([...value], path, false);
      }
      if (value instanceof Map) {
        this.write(0x7d); // EMPTY_DICT
        this.memoObjects.set(value, this.put());
        return this.batchSetItems([...value], path, true);
      }
      if (isPlainObject(value)) {
        this.write(0x7d);
        this.memoObjects.set(value, this.put());
        return this.batchSetItems(Object.entries(value), path, true);
      }
      throw new PickleValueError(`${path}: cannot pickle a ${(value as object).constructor?.name ?? 'object'}`);
    } finally {
      this.depth--;
    }
  }

  /** Memoises an object the hooks wrote (Python memoises every reduced object). */
  memoize(value: object): void {
    this.memoObjects.set(value, this.put());
  }

  /** The memo index of an object already written, if any, writing its `BINGET`. */
  getIfMemoized(value: object): boolean {
    const known = this.memoObjects.get(value);
    if (known === undefined) return false;
    this.get(known);
    return true;
  }
}

function bitLength(n: bigint): number {
  // Python's int.bit_length: bits of |n|.
  const a = n < 0n ? -n : n;
  return a === 0n ? 0 : a.toString(2).length;
}
