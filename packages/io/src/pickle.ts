import { CheckpointError } from './errors.js';

/**
 * A safe, allowlist-driven unpickler for Python's pickle protocols 0–5 (the binary opcodes and
 * the few text ones torch files can contain). No opcode runs code: `GLOBAL`/`STACK_GLOBAL` ask
 * {@link UnpickleHooks.findGlobal}, which throws for anything not allowlisted, and
 * `REDUCE`/`NEWOBJ`/`BUILD`/`BINPERSID` are delegated to the hooks as well.
 *
 * Python values map to JavaScript as: `None` → `null`, `bool` → `boolean`, `int` → `number`
 * (or `bigint` beyond 2^53), `float` → `number`, `str` → `string`, `bytes` → `Uint8Array`,
 * `list` → array, `tuple` → frozen array, `dict` → `Map`, `set`/`frozenset` → `Set`.
 */

/** What the unpickler asks its caller for; every hook may throw a `CheckpointError`. */
export interface UnpickleHooks {
  /** Resolves `module.name`; must throw `CheckpointError('forbidden-global')` for anything not allowlisted. */
  findGlobal(module: string, name: string): unknown;
  /** `REDUCE`: calls an allowlisted callable returned by `findGlobal`. */
  reduce(callable: unknown, args: readonly unknown[]): unknown;
  /** `NEWOBJ`/`NEWOBJ_EX`: instantiates an allowlisted class. */
  newObject(cls: unknown, args: readonly unknown[]): unknown;
  /** `BUILD`: applies `state` to `obj` (returns the object to leave on the stack). */
  build(obj: unknown, state: unknown): unknown;
  /** `BINPERSID`: resolves a persistent id (torch's storages). */
  persistentLoad(pid: unknown): unknown;
}

/** Limits for {@link unpickle}. */
export interface UnpickleOptions {
  /** Deepest container nesting accepted (default 1000); deeper → `CheckpointError('too-deep')`. */
  maxDepth?: number;
  /** Most values on the stack and in the memo together (default 10 million). */
  maxItems?: number;
}

/** Result of {@link unpickle}: the value and the offset just past its `STOP` opcode. */
export interface UnpickleResult {
  value: unknown;
  end: number;
}

const DEFAULT_MAX_DEPTH = 1000;
const DEFAULT_MAX_ITEMS = 10_000_000;
const MAX_LONG_BYTES = 4096;
const MAX_LINE = 4096;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** ISO-8859-1 (as Python's 'latin1'; TextDecoder's 'latin1' label is really windows-1252). */
export function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** Whether a value is a Python tuple as this unpickler represents it (a frozen array). */
export function isTuple(v: unknown): v is readonly unknown[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

function tuple(items: unknown[]): readonly unknown[] {
  return Object.freeze(items);
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (isTuple(v)) return 'tuple';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v;
}

const isContainer = (v: unknown): v is unknown[] | Map<unknown, unknown> | Set<unknown> =>
  Array.isArray(v) || v instanceof Map || v instanceof Set;
const childrenOf = (v: unknown[] | Map<unknown, unknown> | Set<unknown>): unknown[] =>
  Array.isArray(v) ? v : v instanceof Map ? [...v.keys(), ...v.values()] : [...v];

/**
 * Throws `too-deep` when containers nest more than `max` levels below `root`. The per-opcode count
 * sees nesting built child-first; this walk (iterative, each container once, cycles not followed)
 * also catches nesting built parent-first, by filling containers fetched back from the memo.
 */
function assertNesting(root: unknown, max: number): void {
  if (!isContainer(root)) return;
  const height = new Map<object, number>();
  const onPath = new Set<object>([root]);
  const path = [{ node: root as object, kids: childrenOf(root), next: 0, height: 1 }];
  const tooDeep = () => new CheckpointError('too-deep', `pickle nests containers deeper than ${max} levels`);
  while (path.length) {
    const top = path[path.length - 1]!;
    if (top.next < top.kids.length) {
      const kid = top.kids[top.next++];
      if (!isContainer(kid) || onPath.has(kid)) continue;
      const known = height.get(kid);
      if (path.length + (known ?? 1) > max) throw tooDeep();
      if (known !== undefined) {
        top.height = Math.max(top.height, known + 1);
        continue;
      }
      onPath.add(kid);
      path.push({ node: kid, kids: childrenOf(kid), next: 0, height: 1 });
    } else {
      path.pop();
      onPath.delete(top.node);
      height.set(top.node, top.height);
      const parent = path[path.length - 1];
      if (parent) parent.height = Math.max(parent.height, top.height + 1);
    }
  }
}

/**
 * Decodes one pickle starting at `start`. Throws `CheckpointError` ('truncated', 'corrupt',
 * 'unsupported', 'too-deep', 'too-large', or whatever the hooks throw) on anything unexpected.
 */
export function unpickle(bytes: Uint8Array, start: number, hooks: UnpickleHooks, options: UnpickleOptions = {}): UnpickleResult {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength;
  let pos = start;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const depths = new WeakMap<object, number>();

  const fail = (code: 'truncated' | 'corrupt' | 'unsupported', msg: string): never => {
    throw new CheckpointError(code, `pickle at byte ${pos}: ${msg}`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > end) fail('truncated', `needs ${n} more bytes but only ${end - pos} remain`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(end - pos)) fail('truncated', `declares ${v} bytes but only ${end - pos} remain`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const s = bytes.subarray(pos, pos + n);
    pos += n;
    return s;
  };
  const line = (): string => {
    const limit = Math.min(end, pos + MAX_LINE);
    let i = pos;
    while (i < limit && bytes[i] !== 0x0a) i++;
    if (i >= limit) fail(i >= end ? 'truncated' : 'corrupt', 'text line without a newline');
    const s = latin1(bytes.subarray(pos, i));
    pos = i + 1;
    return s;
  };
  const str = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return fail('corrupt', 'string is not valid UTF-8');
    }
  };

  const depthOf = (v: unknown): number => (typeof v === 'object' && v !== null ? (depths.get(v) ?? 1) : 0);
  const noteChild = (container: object, child: unknown): void => {
    const d = depthOf(child) + 1;
    if (d > (depths.get(container) ?? 1)) {
      if (d > maxDepth) throw new CheckpointError('too-deep', `pickle nests containers deeper than ${maxDepth} levels`);
      depths.set(container, d);
    }
  };
  const noteAll = (container: object, items: readonly unknown[]): void => {
    for (const it of items) noteChild(container, it);
  };

  const push = (v: unknown): void => {
    if (stack.length + memo.size >= maxItems) throw new CheckpointError('too-large', `pickle holds more than ${maxItems} values`);
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('corrupt', 'stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('corrupt', 'stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) return fail('corrupt', 'no MARK to pop to');
    stack = prev;
    return items;
  };
  const intValue = (n: bigint): number | bigint => (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);
  const decodeLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let n = 0n;
    for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) n -= 1n << BigInt(8 * b.length);
    return intValue(n);
  };
  const textInt = (s: string): number | bigint | boolean => {
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (t === '00') return false;
    if (t === '01') return true;
    if (!/^[+-]?\d+$/.test(t) || t.length > 1000) fail('corrupt', `bad integer literal ${JSON.stringify(s.slice(0, 40))}`);
    return intValue(BigInt(t));
  };
  const setItem = (dict: unknown, k: unknown, v: unknown): void => {
    if (!(dict instanceof Map)) fail('corrupt', `SETITEM on a ${describe(dict)}`);
    (dict as Map<unknown, unknown>).set(k, v);
    noteChild(dict as object, v);
  };
  const appendTo = (list: unknown, items: readonly unknown[]): void => {
    if (!Array.isArray(list) || isTuple(list)) fail('corrupt', `APPEND to a ${describe(list)}`);
    const l = list as unknown[];
    for (const it of items) l.push(it);
    noteAll(l, items);
  };
  const addTo = (set: unknown, items: readonly unknown[]): void => {
    if (!(set instanceof Set)) fail('corrupt', `ADDITEMS to a ${describe(set)}`);
    for (const it of items) (set as Set<unknown>).add(it);
    noteAll(set as object, items);
  };
  const globalRef = (module: unknown, name: unknown): unknown => {
    if (typeof module !== 'string' || typeof name !== 'string') fail('corrupt', 'STACK_GLOBAL needs two strings');
    return hooks.findGlobal(module as string, name as string);
  };
  const put = (idx: number): void => {
    if (stack.length + memo.size >= maxItems) throw new CheckpointError('too-large', `pickle holds more than ${maxItems} values`);
    memo.set(idx, top());
  };
  const get = (idx: number): void => {
    if (!memo.has(idx)) fail('corrupt', `memo key ${idx} was never stored`);
    push(memo.get(idx));
  };
  const container = <T extends object>(v: T, items: readonly unknown[]): T => {
    noteAll(v, items);
    return v;
  };
  const dictFrom = (items: unknown[]): Map<unknown, unknown> => {
    if (items.length % 2) fail('corrupt', 'odd number of items for a dict');
    const m = new Map<unknown, unknown>();
    for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
    return container(m, items);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('unsupported', 'pickle protocol newer than 5');
        break;
      case 0x95: {
        // FRAME
        need(8);
        const n = view.getBigUint64(pos, true);
        pos += 8;
        if (n > BigInt(end - pos)) fail('truncated', `frame of ${n} bytes but only ${end - pos} remain`);
        break;
      }
      case 0x2e: // STOP
        if (metastack.length) fail('corrupt', 'STOP inside an unclosed MARK');
        if (stack.length !== 1) fail('corrupt', `STOP with ${stack.length} values on the stack`);
        assertNesting(stack[0], maxDepth);
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        if (metastack.length >= maxDepth) throw new CheckpointError('too-deep', `pickle nests MARKs deeper than ${maxDepth} levels`);
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        push(i32());
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x8a: // LONG1
        push(decodeLong(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('corrupt', 'negative LONG4 length');
        if (n > MAX_LONG_BYTES) throw new CheckpointError('too-large', `integer of ${n} bytes`);
        push(decodeLong(take(n)));
        break;
      }
      case 0x49: // INT (text)
        push(textInt(line()));
        break;
      case 0x4c: // LONG (text)
        push(textInt(line()));
        break;
      case 0x46: {
        // FLOAT (text)
        const s = line().trim();
        const v = Number(s);
        if (s === '' || (Number.isNaN(v) && !/^[+-]?nan$/i.test(s))) fail('corrupt', `bad float literal ${JSON.stringify(s.slice(0, 40))}`);
        push(v);
        break;
      }
      case 0x47: // BINFLOAT
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        push(str(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(str(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        push(str(take(u64())));
        break;
      case 0x55: {
        // SHORT_BINSTRING (Python 2 str; torch.load decodes it as UTF-8)
        const b = take(u8());
        try {
          push(utf8.decode(b));
        } catch {
          push(latin1(b));
        }
        break;
      }
      case 0x54: {
        // BINSTRING
        const n = i32();
        if (n < 0) fail('corrupt', 'negative BINSTRING length');
        const b = take(n);
        try {
          push(utf8.decode(b));
        } catch {
          push(latin1(b));
        }
        break;
      }
      case 0x43: // SHORT_BINBYTES
        push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES
        push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        push(take(u64()).slice());
        break;
      case 0x96: // BYTEARRAY8
        push(take(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        push(tuple([]));
        break;
      case 0x85: {
        // TUPLE1
        const a = pop();
        push(container(tuple([a]), [a]));
        break;
      }
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push(container(tuple([a, b]), [a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(container(tuple([a, b, c]), [a, b, c]));
        break;
      }
      case 0x74: {
        // TUPLE
        const items = popMark();
        push(container(tuple(items), items));
        break;
      }
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: {
        // LIST
        const items = popMark();
        push(container(items, items));
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendTo(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendTo(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new Map());
        break;
      case 0x64: // DICT
        push(dictFrom(popMark()));
        break;
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('corrupt', 'odd number of items for SETITEMS');
        const d = top();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x8f: // EMPTY_SET
        push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        addTo(top(), items);
        break;
      }
      case 0x91: {
        // FROZENSET
        const items = popMark();
        push(container(new Set(items), items));
        break;
      }
      case 0x71: // BINPUT
        put(u8());
        break;
      case 0x72: // LONG_BINPUT
        put(u32());
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x70: {
        // PUT (text)
        const idx = textInt(line());
        if (typeof idx !== 'number' || idx < 0) fail('corrupt', 'bad PUT index');
        put(idx as number);
        break;
      }
      case 0x68: // BINGET
        get(u8());
        break;
      case 0x6a: // LONG_BINGET
        get(u32());
        break;
      case 0x67: {
        // GET (text)
        const idx = textInt(line());
        if (typeof idx !== 'number') fail('corrupt', 'bad GET index');
        get(idx as number);
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        push(globalRef(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        push(globalRef(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!isTuple(args)) fail('corrupt', `REDUCE arguments are a ${describe(args)}, not a tuple`);
        push(hooks.reduce(fn, args as readonly unknown[]));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!isTuple(args)) fail('corrupt', `NEWOBJ arguments are a ${describe(args)}, not a tuple`);
        push(hooks.newObject(cls, args as readonly unknown[]));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!isTuple(args) || !(kwargs instanceof Map)) fail('corrupt', 'NEWOBJ_EX needs a tuple and a dict');
        if ((kwargs as Map<unknown, unknown>).size) fail('unsupported', 'NEWOBJ_EX with keyword arguments');
        push(hooks.newObject(cls, args as readonly unknown[]));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = pop();
        const built = hooks.build(obj, state);
        if (typeof built === 'object' && built !== null) noteChild(built, state);
        push(built);
        break;
      }
      case 0x51: // BINPERSID
        push(hooks.persistentLoad(pop()));
        break;
      case 0x50: // PERSID (text)
        fail('unsupported', 'text persistent ids (PERSID) are not used by torch.save');
        break;
      case 0x69: {
        // INST: resolve through the allowlist first, so hostile names are reported as such
        const module = line();
        const name = line();
        const cls = hooks.findGlobal(module, name);
        const args = popMark();
        push(hooks.newObject(cls, tuple(args)));
        break;
      }
      case 0x6f: {
        // OBJ
        const items = popMark();
        if (items.length === 0) fail('corrupt', 'OBJ without a class');
        push(hooks.newObject(items[0], tuple(items.slice(1))));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84: // EXT1/2/4
        fail('unsupported', 'copyreg extension codes (EXT1/EXT2/EXT4)');
        break;
      case 0x97:
      case 0x98: // NEXT_BUFFER, READONLY_BUFFER
        fail('unsupported', 'out-of-band buffers (pickle protocol 5 NEXT_BUFFER)');
        break;
      case 0x53:
      case 0x56: // STRING, UNICODE (text)
        fail('unsupported', 'protocol 0 text strings');
        break;
      default:
        fail('corrupt', `unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}
