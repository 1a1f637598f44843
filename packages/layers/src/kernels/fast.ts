/**
 * The switch between the fast path (our WASM SIMD kernels, see assembly/kernels.ts) and the plain
 * path (tfjs ops only, the reference). Fast is the default; it applies only on tfjs' `wasm`
 * backend where the kernels load, and every layer falls back to plain ops elsewhere (cpu backend,
 * no SIMD). `MNV3_KERNELS=plain` in the environment starts in plain mode.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerAllKernels } from './register-all-kernels.js';
import { kernelThreadsFor, kernelsFor, loadedFor, prepareKernels, type WasmBackendLike } from './wasm-module.js';

export type KernelMode = 'plain' | 'fast';
export const KERNEL_MODES: readonly KernelMode[] = ['plain', 'fast'];

function envMode(): KernelMode | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.MNV3_KERNELS;
  if (v === undefined || v === '') return undefined;
  if (!KERNEL_MODES.includes(v as KernelMode)) throw new Error(`MNV3_KERNELS must be one of ${KERNEL_MODES.join(', ')}, got "${v}"`);
  return v as KernelMode;
}

let mode: KernelMode = envMode() ?? 'fast';
let registered = false;

/**
 * Selects how the layers run: `fast` (default) uses our fused WASM SIMD kernels where the backend
 * is `wasm`; `plain` uses tfjs ops only (the reference the fast path is tested against).
 *
 * @example setKernelMode('plain'); const ref = model.forward(x); setKernelMode('fast');
 */
export function setKernelMode(m: KernelMode): void {
  if (!KERNEL_MODES.includes(m)) throw new Error(`unknown kernel mode "${String(m)}"; valid: ${KERNEL_MODES.join(', ')}`);
  mode = m;
}

export function getKernelMode(): KernelMode {
  return mode;
}

/** The current backend when the fast kernels can run on it now, else null (use plain ops). */
export function fastBackend(): WasmBackendLike | null {
  if (mode !== 'fast' || tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as WasmBackendLike;
  if (!kernelsFor(backend)) return null;
  if (!registered) {
    registerAllKernels();
    registered = true;
  }
  return backend;
}

/**
 * Loads the kernels into the current wasm backend ahead of time, asynchronously (browsers refuse
 * to compile modules over 4 KB synchronously on the main thread). `setupBackend` calls it, with
 * the backend's thread count: in tfjs' threaded build the kernels' work is then split over that
 * many threads (see `getKernelThreadStats`). Returns whether the fast path is available.
 */
export async function prepareFastKernels(threads = 1): Promise<boolean> {
  if (tf.getBackend() !== 'wasm') return false;
  const ok = await prepareKernels(tf.backend() as unknown as WasmBackendLike, threads);
  if (ok && !registered) {
    registerAllKernels();
    registered = true;
  }
  return ok;
}

/** Runs one of our kernels (or a tfjs one) directly, without the op wrappers. */
export function runKernel<T extends tf.Tensor>(name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown> = {}): T {
  return tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as T;
}

export interface KernelThreadStats {
  /** Threads our kernels' work is split over (the calling thread included; 1: no pool). */
  threads: number;
  /** Chunks of kernel work each thread ran since the pool started (index 0: the calling thread). */
  chunks: number[];
  /** Pool workers asleep now (they sleep after a short spin once there is no kernel work). */
  sleeping: number;
}

/**
 * The values of a float32 tensor where tfjs' WASM backend keeps them, as a view of its heap (no
 * copy), or null on another backend. Use it at once: the next tfjs call may grow the heap and
 * detach the view. Writing through it is for tensors of one's own that nothing else shares (e.g.
 * one just made by `tf.zeros`).
 *
 * @example wasmValues(grad)?.subarray(0, 4) // the first four values, without data()'s copy
 */
export function wasmValues(t: tf.Tensor): Float32Array | null {
  if (tf.getBackend() !== 'wasm' || t.dtype !== 'float32') return null;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const d = backend.dataIdMap.get(t.dataId);
  const memory = backend.wasm.asm?.memory ?? backend.wasm.wasmMemory;
  if (!d || !memory) return null;
  return new Float32Array(memory.buffer, d.memoryOffset, t.size);
}

/**
 * How our fast kernels use threads on the current backend: for diagnostics and tests (e.g. that
 * the pool's workers did run chunks). `{ threads: 1, chunks: [], sleeping: 0 }` without a pool.
 */
export function getKernelThreadStats(): KernelThreadStats {
  if (tf.getBackend() !== 'wasm') return { threads: 1, chunks: [], sleeping: 0 };
  const backend = tf.backend() as unknown as WasmBackendLike;
  const pool = loadedFor(backend)?.pool;
  return { threads: kernelThreadsFor(backend), chunks: pool ? Array.from(pool.stats.subarray(0, pool.threads)) : [], sleeping: pool?.sleeping() ?? 0 };
}
