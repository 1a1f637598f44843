/**
 * Backend set-up: the one module of this package with a side effect (importing it registers the
 * tfjs WASM backend). Apps, CLIs and test set-ups call `setupBackend()`; library code never does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { prepareFastKernels } from './kernels/fast.js';

export type BackendName = 'wasm' | 'cpu';

export interface BackendOptions {
  /** `wasm` (default) or `cpu` (tfjs' plain JS kernels, the reference path). */
  backend?: BackendName;
  /**
   * Where the `.wasm` files are served from, for bundlers: a URL prefix ending in `/`, or a map
   * from file name (`tfjs-backend-wasm-simd.wasm`, …) to URL. Node finds them by itself.
   */
  wasmPaths?: string | Record<string, string>;
  /** Worker threads for WASM where the page is cross-origin isolated (browsers only). */
  threads?: number;
}

export interface BackendInfo {
  backend: BackendName;
  simd: boolean;
  threads: boolean;
  /** Whether our fused WASM SIMD kernels loaded (used while the kernel mode is `fast`). */
  fastKernels: boolean;
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
    if (options.threads !== undefined) setThreadsCount(options.threads);
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(backend);
  } catch (e) {
    throw new Error(`could not initialise the ${backend} backend: ${(e as Error).message}`, { cause: e });
  }
  if (!ok) throw new Error(`could not initialise the ${backend} backend (is WebAssembly blocked, or are the .wasm files not served? see wasmPaths)`);
  await tf.ready();
  // Our WASM SIMD kernels share the backend's memory; compiled here, asynchronously, as browsers want.
  const fastKernels = backend === 'wasm' && (await prepareFastKernels());
  const env = tf.env();
  return {
    backend,
    simd: backend === 'wasm' && env.getBool('WASM_HAS_SIMD_SUPPORT'),
    threads: backend === 'wasm' && env.getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
    fastKernels,
  };
}
