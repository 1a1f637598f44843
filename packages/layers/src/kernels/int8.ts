/**
 * The int8 kernels (assembly/int8.ts) for engines outside tfjs' op graph, such as @mnv3/quantize's
 * quantized MobileNetV3: they live in the same WASM module as the float kernels, on the tfjs wasm
 * backend's heap, split by the same thread pool. Callers allocate their buffers on that heap
 * (`malloc`), write and read them through `heap()`, and run kernels by name with pointer arguments
 * (float parameters as float32 bits, `f32Bits`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { runSplit, type SplitKernel } from './kernel-pool.js';
import { kernelsFor, prepareKernels, type KernelExports, type Loaded, type WasmBackendLike } from './wasm-module.js';

/** Kernels of assembly/int8.ts that the pool can split. */
export type Int8Kernel = Extract<SplitKernel, `q${string}`>;

/** A handle on the int8 kernels of one tfjs wasm backend. */
export interface Int8Kernels {
  /** Whether the module is the relaxed-SIMD build (`qgemm7` available). */
  readonly relaxed: boolean;
  /** Threads the kernels' work is split over (1 without a pool). */
  readonly threads: number;
  /** Bytes on the tfjs heap, 16-byte aligned (emscripten's malloc), or throws when out of memory. */
  malloc(bytes: number): number;
  free(ptr: number): void;
  /** The whole heap as bytes: a fresh view, valid until the next allocation (the memory may grow). */
  heap(): Uint8Array;
  /**
   * Runs `kernel(...args, lo, hi)` over work units [0, units), split across the pool when there is
   * one and the work (`ns`: estimated nanoseconds on one thread) is worth it; chunk bounds are
   * multiples of `align`.
   */
  run(kernel: Int8Kernel, args: readonly number[], units: number, align: number, ns: number): void;
  /** The raw exports (direct calls, no split). */
  readonly exports: KernelExports;
}

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/** The float32 bits of x, as an int32: how the int8 kernels take their float parameters. */
export function f32Bits(x: number): number {
  F32[0] = x;
  return I32[0]!;
}

function handle(backend: WasmBackendLike, l: Loaded): Int8Kernels {
  return {
    relaxed: l.relaxed,
    get threads() {
      return l.pool?.threads ?? 1;
    },
    malloc(bytes: number): number {
      const p = backend.wasm._malloc(Math.max(16, bytes));
      if (!p) throw new RangeError(`the tfjs wasm heap has no room for ${bytes} bytes`);
      return p;
    },
    free(ptr: number): void {
      backend.wasm._free(ptr);
    },
    heap: () => new Uint8Array(l.memory.buffer),
    run(kernel, args, units, align, ns) {
      runSplit(l.exports, l.pool, kernel, args, units, align, ns);
    },
    exports: l.exports,
  };
}

/**
 * The int8 kernels of the current tfjs backend when it is `wasm` and they load (synchronously:
 * fine in Node and workers; on a browser's main thread call `prepareInt8Kernels` first), else null.
 *
 * @example const k = int8Kernels(); if (k) { const p = k.malloc(1024); ... k.free(p); }
 */
export function int8Kernels(): Int8Kernels | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const l = kernelsFor(backend);
  return l ? handle(backend, l) : null;
}

/** Loads the kernels asynchronously (as browsers require on the main thread), then `int8Kernels()`. */
export async function prepareInt8Kernels(): Promise<Int8Kernels | null> {
  if (tf.getBackend() !== 'wasm') return null;
  if (!(await prepareKernels(tf.backend() as unknown as WasmBackendLike))) return null;
  return int8Kernels();
}
