/**
 * Backend set-up: the one module of this package with a side effect (importing it registers the
 * tfjs WASM backend). Apps, CLIs and test set-ups call `setupBackend()`; library code never does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { getKernelThreadStats, prepareFastKernels } from './kernels/fast.js';

export type BackendName = 'wasm' | 'cpu';

export interface BackendOptions {
  /** `wasm` (default) or `cpu` (tfjs' plain JS kernels, the reference path). */
  backend?: BackendName;
  /**
   * Where the `.wasm` files are served from, for bundlers: a URL prefix ending in `/`, or a map
   * from file name (`tfjs-backend-wasm-simd.wasm`, …) to URL. Node finds them by itself.
   */
  wasmPaths?: string | Record<string, string>;
  /**
   * Threads for WASM (XNNPACK's pool, the calling thread included) where the page is
   * cross-origin isolated (browsers only: under Node tfjs runs its single-threaded build), up to
   * 8, even past tfjs' own cap of `navigator.hardwareConcurrency / 2`; see
   * `BackendInfo.threadsCount` for what it got.
   */
  threads?: number;
  /**
   * Threads our fused kernels split their work over (the calling thread and a pool of Web Workers
   * on the backend's shared memory), up to 8; default: the backend's `threadsCount`. 1 keeps them
   * on the calling thread. Only with the threaded build (see `BackendInfo.kernelThreads`).
   */
  kernelThreads?: number;
}

export interface BackendInfo {
  backend: BackendName;
  simd: boolean;
  threads: boolean;
  /** Threads XNNPACK runs on (1 without the threaded build). */
  threadsCount: number;
  /** Whether our fused WASM SIMD kernels loaded (used while the kernel mode is `fast`). */
  fastKernels: boolean;
  /**
   * Threads our fused kernels split their work over: with the threaded build, `kernelThreads`
   * asked for (default `threadsCount`) when their worker pool started; 1 otherwise (they then
   * run on the calling thread).
   */
  kernelThreads: number;
}

export const BACKENDS: readonly BackendName[] = ['wasm', 'cpu'];

/**
 * Selects and initialises a tfjs backend: WASM with SIMD by default.
 *
 * @example await setupBackend(); // WASM (SIMD) in Node or a browser
 */
export async function setupBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const backend = options.backend ?? 'wasm';
  if (!BACKENDS.includes(backend)) throw new Error(`unknown backend "${String(backend)}"; valid: ${BACKENDS.join(', ')}`);
  if (backend === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
  } else {
    if (typeof WebAssembly === 'undefined') {
      throw new Error('WebAssembly is not available in this environment: the wasm backend cannot run (use { backend: "cpu" })');
    }
    if (options.wasmPaths) {
      if (typeof options.wasmPaths === 'string') setWasmPaths(options.wasmPaths);
      else setWasmPaths(options.wasmPaths);
    }
    if (options.threads !== undefined) {
      if (!Number.isInteger(options.threads) || options.threads < 1) throw new Error(`threads must be a positive integer, got ${options.threads}`);
      setThreadsCount(options.threads);
    }
    if (options.kernelThreads !== undefined && (!Number.isInteger(options.kernelThreads) || options.kernelThreads < 1 || options.kernelThreads > 8)) {
      throw new Error(`kernelThreads must be an integer from 1 to 8, got ${options.kernelThreads}`);
    }
  }
  // Threads need the threaded build, i.e. a cross-origin isolated browser page (never Node).
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const threads = backend === 'wasm' && isolated ? (options.threads ?? 1) : 1;
  let ok: boolean;
  try {
    ok = await withCoresFor(threads, () => tf.setBackend(backend));
  } catch (e) {
    throw new Error(`could not initialise the ${backend} backend: ${(e as Error).message}`, { cause: e });
  }
  if (!ok) throw new Error(`could not initialise the ${backend} backend (is WebAssembly blocked, or are the .wasm files not served? see wasmPaths)`);
  await tf.ready();
  const threadsCount = backend === 'wasm' ? Math.max(1, getThreadsCount()) : 1;
  // Our WASM SIMD kernels share the backend's memory; compiled here, asynchronously, as browsers want.
  const fastKernels = backend === 'wasm' && (await prepareFastKernels(options.kernelThreads ?? threadsCount));
  const kernelThreads = fastKernels ? getKernelThreadStats().threads : 1;
  const env = tf.env();
  return {
    backend,
    simd: backend === 'wasm' && env.getBool('WASM_HAS_SIMD_SUPPORT'),
    threads: backend === 'wasm' && env.getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
    threadsCount,
    fastKernels,
    kernelThreads,
  };
}

/**
 * Runs `init` (the wasm backend's initialisation) with `navigator.hardwareConcurrency` reading at
 * least `2 × threads`, then restores it.
 *
 * Why: tfjs-backend-wasm 4.22's C++ side caps its XNNPACK pool at `num_cores`, a global set once,
 * when the module is instantiated, to `emscripten_num_logical_cores() / 2`, i.e.
 * `navigator.hardwareConcurrency / 2` (1 on a 2-core machine), whatever `setThreadsCount` asks.
 * That is the only input of the cap, read at that one moment, so presenting the count we want
 * then lifts it, and nothing else changes: the pool threads come from the 8 Workers the module
 * preloads at start (its PTHREAD_POOL_SIZE; the pool is capped at 8 too), so none is created on
 * demand while the main thread blocks. `setupBackend` checks the count reached afterwards.
 */
async function withCoresFor<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (!nav || threads <= 1 || nav.hardwareConcurrency >= 2 * threads) return init();
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency');
  try {
    Object.defineProperty(nav, 'hardwareConcurrency', { value: 2 * threads, configurable: true });
  } catch {
    return init();
  }
  try {
    return await init();
  } finally {
    if (own) Object.defineProperty(nav, 'hardwareConcurrency', own);
    else delete (nav as unknown as Record<string, unknown>).hardwareConcurrency;
  }
}
