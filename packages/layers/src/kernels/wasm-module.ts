/**
 * Loads our WASM SIMD kernels (assembly/kernels.ts, embedded base64) into the tfjs WASM backend's
 * own memory: the module imports that `WebAssembly.Memory`, so the kernels read and write tfjs
 * tensors in place, by address. Memory growth needs no care here: the instance sees the same
 * Memory object, and no JS view of it is kept.
 */
import { WASM_BASE64, WASM_RELAXED_BASE64, WASM_SHARED_BASE64, WASM_SHARED_RELAXED_BASE64 } from './wasm-binary.generated.js';
import { startPool, type KernelPool } from './kernel-pool.js';

/**
 * The exports of assembly/kernels.ts. Pointers are byte offsets into the tfjs heap. The trailing
 * (lo, hi) of a kernel is the range of its work units to compute (see kernel-pool.ts).
 */
export interface KernelExports {
  activation(x: number, out: number, n: number, act: number, i0: number, i1: number): void;
  bilinearGather(table: number, cells: number, bases: number, out: number, c: number, cStride: number): void;
  convTableBytes(k: number): number;
  denseAct(x: number, w: number, b: number, out: number, n: number, cin: number, cout: number, act: number, lo: number, hi: number): void;
  scaleChannels(x: number, gate: number, out: number, n: number, p: number, c: number, r0: number, r1: number): void;
  meanPixels(x: number, out: number, n: number, p: number, c: number, c0: number, c1: number): void;
  conv(
    x: number,
    w: number,
    bias: number,
    res: number,
    out: number,
    zero: number,
    table: number,
    h: number,
    wd: number,
    ci: number,
    oh: number,
    ow: number,
    co: number,
    k: number,
    stride: number,
    dil: number,
    pad: number,
    act: number,
    pixels: number,
    byBlocks: number,
    lo: number,
    hi: number,
  ): void;
  depthwise(
    x: number,
    w: number,
    bias: number,
    out: number,
    n: number,
    h: number,
    wd: number,
    c: number,
    k: number,
    stride: number,
    dil: number,
    pad: number,
    oh: number,
    ow: number,
    act: number,
    r0: number,
    r1: number,
  ): void;
  // int8 kernels (assembly/int8.ts); float parameters as float32 bits (`f32Bits`).
  qgemm(a: number, w: number, bias: number, out: number, kp: number, co: number, scale: number, zo: number, lo: number, rows: number, mode: number, r0: number, r1: number): void;
  qgemm7(a: number, sums: number, w: number, bias: number, out: number, kq: number, co: number, scale: number, zo: number, lo: number, rows: number, byBlocks: number, r0: number, r1: number): void;
  qhasRelaxed(): number;
  qwiden(x: number, out: number, c: number, kp: number, z: number, r0: number, r1: number): void;
  qwiden8(x: number, out: number, sums: number, c: number, kq: number, r0: number, r1: number): void;
  qim2col(x: number, out: number, h: number, wd: number, c: number, oh: number, ow: number, k: number, stride: number, dil: number, pad: number, kp: number, z: number, r0: number, r1: number): void;
  qpad16(x: number, out: number, h: number, wd: number, c: number, cp: number, padDil: number, z: number, r0: number, r1: number): void;
  qdepthwise(
    xp: number, w: number, bias: number, out: number, hp: number, wq: number, c: number, cp: number, k: number, stride: number, dil: number,
    oh: number, ow: number, scale: number, zo: number, lo: number, r0: number, r1: number,
  ): void;
  qavgpool(x: number, out: number, n: number, p: number, c: number, scale: number, z: number, c0: number, c1: number): void;
  qmulChannels(x: number, g: number, out: number, p: number, c: number, zx: number, zg: number, mult: number, zo: number, r0: number, r1: number): void;
  qadd(a: number, b: number, out: number, am: number, bm: number, zpp: number, shift: number, mask: number, thr: number, zo: number, i0: number, i1: number): void;
  qquantize(x: number, out: number, inv: number, z: number, i0: number, i1: number): void;
  qtable(x: number, table: number, i0: number, i1: number): void;
}

/** The parts of tfjs-backend-wasm's `BackendWasm` the kernels use (typed here, not imported). */
export interface WasmBackendLike {
  /** `asm.memory`: the memory the single-threaded builds export; `wasmMemory`: the shared one the threaded build imports. */
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory; _malloc(bytes: number): number; _free(ptr: number): void };
  dispose?(): void;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): { dataId: object; shape: number[]; dtype: 'float32' };
}

/** Activation codes shared with assembly/kernels.ts. */
export const ACT_CODE = { linear: 0, relu: 1, relu6: 2, hardswish: 3, hardsigmoid: 4 } as const;
export type ActCodeName = keyof typeof ACT_CODE;

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function decodeBase64(s: string): Uint8Array {
  const lookup = new Uint8Array(128);
  for (let i = 0; i < BASE64.length; i++) lookup[BASE64.charCodeAt(i)] = i;
  const clean = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < clean.length; i += 4) {
    const a = lookup[clean.charCodeAt(i)]!;
    const b = lookup[clean.charCodeAt(i + 1)]!;
    const c = i + 2 < clean.length ? lookup[clean.charCodeAt(i + 2)]! : 0;
    const d = i + 3 < clean.length ? lookup[clean.charCodeAt(i + 3)]! : 0;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    if (o < out.length) out[o++] = (v >> 16) & 255;
    if (o < out.length) out[o++] = (v >> 8) & 255;
    if (o < out.length) out[o++] = v & 255;
  }
  return out;
}

interface Region {
  ptr: number;
  bytes: number;
}

export interface Loaded {
  exports: KernelExports;
  /** Whether this is the relaxed-SIMD build. */
  relaxed: boolean;
  variant: Variant;
  memory: WebAssembly.Memory;
  scratch: Region;
  /** Zero-filled, read-only for the kernels. */
  zeros: Region;
  /** Workers sharing the kernels' work (tfjs' threaded build, more than one thread), else null. */
  pool: KernelPool | null;
}

/**
 * Compiled modules by memory kind (`plain` imports an unshared memory, `shared` a shared one) and
 * SIMD flavour (`-relaxed`: built with relaxed SIMD, for engines that have it).
 */
type Variant = 'plain' | 'shared' | 'plain-relaxed' | 'shared-relaxed';
const compiled: Partial<Record<Variant, WebAssembly.Module>> = {};
const compiling: Partial<Record<Variant, Promise<WebAssembly.Module>>> = {};
const BASE64_OF: Record<Variant, string> = {
  plain: WASM_BASE64,
  shared: WASM_SHARED_BASE64,
  'plain-relaxed': WASM_RELAXED_BASE64,
  'shared-relaxed': WASM_SHARED_RELAXED_BASE64,
};
const bytesOf = (v: Variant): Uint8Array<ArrayBuffer> => decodeBase64(BASE64_OF[v]) as Uint8Array<ArrayBuffer>;

/**
 * The smallest module using `i32x4.relaxed_dot_i8x16_i7x16_add_s`: (func (result v128) v128.const 0
 * ×3, relaxed dot add). `WebAssembly.validate` accepts it only where the engine has relaxed SIMD.
 */
const RELAXED_PROBE = Uint8Array.from([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 147, 2, 11,
]);

let relaxedChoice: boolean | undefined;

/**
 * Whether the kernels load in their relaxed-SIMD build: where the engine validates relaxed SIMD
 * (Chromium; Node 20 with `--experimental-wasm-relaxed-simd`), unless `MNV3_RELAXED_SIMD=0` is in
 * the environment or `setRelaxedSimd(false)` ran before the kernels loaded.
 */
export function relaxedSimdEnabled(): boolean {
  if (relaxedChoice === undefined) {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.MNV3_RELAXED_SIMD;
    relaxedChoice = env !== '0' && relaxedSimdSupported();
  }
  return relaxedChoice;
}

/** Whether this engine has relaxed SIMD at all. */
export function relaxedSimdSupported(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/** Chooses the build for backends whose kernels load from now on (`true` only where supported). */
export function setRelaxedSimd(on: boolean): void {
  relaxedChoice = on && relaxedSimdSupported();
}
const loaded = new WeakMap<object, Loaded>();
const pending = new WeakMap<object, Promise<boolean>>();
/** Backends where loading failed (no SIMD, no memory export…): they stay on the plain path. */
const failed = new WeakSet<object>();

function memoryOf(backend: WasmBackendLike): WebAssembly.Memory {
  const memory = backend.wasm.asm?.memory ?? backend.wasm.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error('the tfjs wasm backend does not expose its WebAssembly.Memory');
  return memory;
}

/** Which build of the kernels fits the backend's memory (tfjs' threaded build shares it). */
function variantOf(memory: WebAssembly.Memory): Variant {
  const kind = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer ? 'shared' : 'plain';
  return relaxedSimdEnabled() ? `${kind}-relaxed` : kind;
}

function record(backend: WasmBackendLike, instance: WebAssembly.Instance, memory: WebAssembly.Memory, variant: Variant): Loaded {
  const l: Loaded = {
    exports: instance.exports as unknown as KernelExports,
    relaxed: (instance.exports as unknown as KernelExports).qhasRelaxed() === 1,
    variant,
    memory,
    scratch: { ptr: 0, bytes: 0 },
    zeros: { ptr: 0, bytes: 0 },
    pool: null,
  };
  loaded.set(backend, l);
  return l;
}

/**
 * Compiles and instantiates the kernels for a wasm backend asynchronously (browsers refuse
 * synchronous compilation of modules over 4 KB on the main thread). Resolves to false where that
 * is impossible (e.g. no WASM SIMD): the layers then keep to the plain tfjs ops. With `threads`
 * > 1 and a shared memory (tfjs' threaded build), also starts the pool that splits the kernels'
 * work over that many threads (see kernel-pool.ts; without it they run on the calling thread).
 */
export async function prepareKernels(backend: WasmBackendLike, threads = 1): Promise<boolean> {
  if (!(await instantiate(backend))) return false;
  const l = loaded.get(backend)!;
  const memory = memoryOf(backend);
  const module = compiled[l.variant];
  if (threads > 1 && !l.pool && module) {
    let p = poolStarts.get(backend);
    if (!p) {
      p = startPool(backend, l.exports, module, memory, threads).catch(() => null);
      poolStarts.set(backend, p);
    }
    const pool = await p;
    poolStarts.delete(backend);
    if (pool && !l.pool) {
      l.pool = pool;
      stopPoolOnDispose(backend, l);
    }
  }
  return true;
}

const poolStarts = new WeakMap<object, Promise<KernelPool | null>>();

/** The pool's workers end with the backend (tfjs calls `dispose` on `removeBackend`). */
function stopPoolOnDispose(backend: WasmBackendLike, l: Loaded): void {
  const dispose = backend.dispose;
  backend.dispose = function (this: WasmBackendLike) {
    l.pool?.stop();
    l.pool = null;
    dispose?.call(this);
  };
}

/** The loaded kernels of a backend, if any (never loads them). */
export function loadedFor(backend: WasmBackendLike): Loaded | undefined {
  return loaded.get(backend);
}

/** Threads our kernels run on for this backend (1 without a pool). */
export function kernelThreadsFor(backend: WasmBackendLike): number {
  return loaded.get(backend)?.pool?.threads ?? 1;
}

function instantiate(backend: WasmBackendLike): Promise<boolean> {
  if (loaded.has(backend)) return Promise.resolve(true);
  if (failed.has(backend)) return Promise.resolve(false);
  let p = pending.get(backend);
  if (!p) {
    p = (async () => {
      try {
        const memory = memoryOf(backend);
        const v = variantOf(memory);
        compiling[v] ??= WebAssembly.compile(bytesOf(v));
        const module = (compiled[v] = await compiling[v]);
        if (!loaded.has(backend)) record(backend, await WebAssembly.instantiate(module, { env: { memory } }), memory, v);
        return true;
      } catch {
        failed.add(backend);
        return false;
      } finally {
        pending.delete(backend);
      }
    })();
    pending.set(backend, p);
  }
  return p;
}

/**
 * The kernels for this backend. When `prepareKernels` has not run, loads them synchronously
 * (fine in Node and workers); where the platform refuses that (a browser's main thread), starts
 * loading them asynchronously and returns null meanwhile, so the caller takes the plain path.
 */
export function kernelsFor(backend: WasmBackendLike): Loaded | null {
  const l = loaded.get(backend);
  if (l) return l;
  if (failed.has(backend) || pending.has(backend)) return null;
  try {
    const memory = memoryOf(backend);
    const v = variantOf(memory);
    const module = (compiled[v] ??= new WebAssembly.Module(bytesOf(v)));
    return record(backend, new WebAssembly.Instance(module, { env: { memory } }), memory, v);
  } catch {
    void prepareKernels(backend);
    return null;
  }
}

function grow(backend: WasmBackendLike, region: Region, bytes: number): boolean {
  if (region.bytes >= bytes) return false;
  if (region.ptr) backend.wasm._free(region.ptr);
  region.ptr = backend.wasm._malloc(bytes);
  region.bytes = bytes;
  return true;
}

/** A scratch area of at least `bytes` on the tfjs heap (grown by malloc, kept for reuse). */
export function scratch(backend: WasmBackendLike, l: Loaded, bytes: number): number {
  grow(backend, l.scratch, bytes);
  return l.scratch.ptr;
}

/** At least `bytes` of zeros on the tfjs heap (what `conv` reads for taps in the padding). */
export function zeros(backend: WasmBackendLike, l: Loaded, bytes: number): number {
  if (grow(backend, l.zeros, bytes)) new Uint8Array(l.memory.buffer, l.zeros.ptr, bytes).fill(0);
  return l.zeros.ptr;
}

/** The address of a tensor's data on the tfjs heap. */
export function addressOf(backend: WasmBackendLike, t: { dataId: object }): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('tensor is not on the wasm backend');
  return d.memoryOffset;
}
