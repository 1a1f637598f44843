/**
 * Our kernels on several threads, in tfjs' threaded build (a cross-origin isolated browser page):
 * T − 1 Web Workers, started from a Blob URL, instantiate the shared variant of the kernels on
 * tfjs' shared `WebAssembly.Memory` and park in `workerLoop` (assembly/threads.ts); a kernel call
 * writes its arguments into a control block on the tfjs heap and `dispatch` splits its work units
 * into chunks claimed by whichever thread is free, the calling thread included (so a worker slow to
 * wake only means the caller does more). No postMessage per call. Elsewhere (Node: tfjs' build is
 * single-threaded there, its memory unshared) there is no pool and the kernels run directly.
 */
import type { KernelExports, WasmBackendLike } from './wasm-module.js';

/** Kernel ids of assembly/threads.ts's `dispatch`. */
export const KERNEL_ID = {
  conv: 0,
  depthwise: 1,
  activation: 2,
  meanPixels: 3,
  scaleChannels: 4,
  denseAct: 5,
  qgemm: 6,
  qgemm7: 7,
  qwiden: 8,
  qwiden8: 9,
  qim2col: 10,
  qpad16: 11,
  qdepthwise: 12,
  qavgpool: 13,
  qmulChannels: 14,
  qadd: 15,
  qquantize: 16,
  qtable: 17,
} as const;
export type SplitKernel = keyof typeof KERNEL_ID;

/** The control block's size and layout (assembly/threads.ts). */
const CTRL_BYTES = 512;
const ARGS = 256;
const STATS = 384;
const SLEEPERS = 4;
const MAX_ARGS = 32;
const MAX_THREADS = 32;

/**
 * Polls of the job counter a worker makes after a job before it sleeps (about 0.1–0.3 ms: the
 * next kernel of an inference follows within microseconds, while between inferences the core
 * goes back to others, e.g. tfjs' own pool).
 */
const SPIN = 100_000;
/** Chunks per thread at most: more than one, so that a late or busy thread is made up for. */
const CHUNKS_PER_THREAD = 4;
/** Estimated nanoseconds of work per chunk at least: below it, splitting costs more than it saves. */
const MIN_CHUNK_NS = 8_000;
/** Starting the workers may take this long before the pool is given up (one thread then). */
const START_TIMEOUT_MS = 10_000;

interface ThreadExports {
  dispatch(ctrl: number, kernel: number, units: number, align: number, chunks: number): void;
  stopWorkers(ctrl: number): void;
}

export interface KernelPool {
  /** Threads running kernels: the caller and the workers. */
  readonly threads: number;
  readonly ctrl: number;
  /** The argument words of the control block. */
  readonly args: Uint32Array;
  /** Chunks run by each thread (0: the caller) since the pool started. */
  readonly stats: Int32Array;
  /** Workers asleep (in atomic.wait) now. */
  sleeping(): number;
  readonly exports: ThreadExports;
  stop(): void;
}

// The worker: instantiate the kernels on the shared memory, report, serve jobs until stopped.
const WORKER_SOURCE = `self.onmessage = async (e) => {
  const { module, memory, ctrl, index, spin } = e.data;
  let instance;
  try {
    instance = await WebAssembly.instantiate(module, { env: { memory } });
  } catch (err) {
    self.postMessage({ error: String(err) });
    return;
  }
  self.postMessage({ ready: true });
  instance.exports.workerLoop(ctrl, index, spin);
  self.close();
};`;

/**
 * Starts T − 1 workers on `memory` (shared) for the kernels' shared `module`; resolves to null
 * (the kernels then run on the calling thread) where that is impossible or fails.
 */
export async function startPool(
  backend: WasmBackendLike,
  exports: KernelExports,
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  threads: number,
): Promise<KernelPool | null> {
  const t = Math.min(threads, MAX_THREADS);
  const threadExports = exports as unknown as Partial<ThreadExports>;
  if (t <= 1 || typeof Worker === 'undefined' || typeof Blob === 'undefined' || typeof URL.createObjectURL !== 'function') return null;
  if (typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) return null;
  if (typeof threadExports.dispatch !== 'function' || typeof threadExports.stopWorkers !== 'function') return null;
  const te = threadExports as ThreadExports;
  const raw = backend.wasm._malloc(CTRL_BYTES + 64);
  if (!raw) return null;
  const ctrl = (raw + 63) & ~63;
  // Views of a shared memory stay valid when it grows (the old buffer keeps its length).
  new Uint8Array(memory.buffer, ctrl, CTRL_BYTES).fill(0);
  const workers: Worker[] = [];
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    te.stopWorkers(ctrl);
    // Workers leave their loop and close; terminate those still starting. The control block is
    // not freed: a worker on its way out may still touch it (576 bytes, once per backend).
    for (const w of workers) w.terminate();
  };
  try {
    await Promise.all(
      Array.from(
        { length: t - 1 },
        (_, i) =>
          new Promise<void>((resolve, reject) => {
            const w = new Worker(url, { name: `mnv3-kernels-${i + 1}` });
            workers.push(w);
            const timer = setTimeout(() => reject(new Error('kernel worker did not start in time')), START_TIMEOUT_MS);
            w.onmessage = (e: MessageEvent<{ ready?: boolean; error?: string }>) => {
              clearTimeout(timer);
              if (e.data.ready) resolve();
              else reject(new Error(e.data.error ?? 'kernel worker failed'));
            };
            w.onerror = (e) => {
              clearTimeout(timer);
              reject(new Error(e.message || 'kernel worker failed'));
            };
            w.postMessage({ module, memory, ctrl, index: i + 1, spin: SPIN });
          }),
      ),
    );
  } catch {
    stop();
    return null;
  } finally {
    URL.revokeObjectURL(url);
  }
  return {
    threads: t,
    ctrl,
    args: new Uint32Array(memory.buffer, ctrl + ARGS, MAX_ARGS),
    stats: new Int32Array(memory.buffer, ctrl + STATS, MAX_THREADS),
    sleeping: () => Atomics.load(new Int32Array(memory.buffer, ctrl + SLEEPERS, 1), 0),
    exports: te,
    stop,
  };
}

/** Told each kernel call's wall time: see `setKernelProfiler`. */
export type KernelProfiler = (kernel: SplitKernel, ms: number) => void;

let profiler: KernelProfiler | null = null;

/**
 * Calls `fn` after every call of our WASM kernels (float and int8, forward and training) with the
 * kernel's name and wall time in milliseconds, on the calling thread; null turns it off. For
 * profiles of where a model's time goes (benchmarks/kernels/int8-profile.mjs); off, it costs one
 * check per call.
 *
 * @example
 * const ms = new Map<string, number>();
 * setKernelProfiler((k, t) => ms.set(k, (ms.get(k) ?? 0) + t));
 * await model.run(x);
 * setKernelProfiler(null);
 */
export function setKernelProfiler(fn: KernelProfiler | null): void {
  profiler = fn;
}

/**
 * Runs `kernel(...args, lo, hi)` over work units [0, units), split across the pool when there is
 * one and the work (`ns`, estimated nanoseconds on one thread) is worth it; chunk bounds are
 * multiples of `align`. Without a pool this is the direct call.
 */
export function runSplit(
  exports: KernelExports,
  pool: KernelPool | null | undefined,
  kernel: SplitKernel,
  args: readonly number[],
  units: number,
  align: number,
  ns: number,
): void {
  const t0 = profiler ? performance.now() : 0;
  const chunks = pool ? Math.min(CHUNKS_PER_THREAD * pool.threads, Math.floor(ns / MIN_CHUNK_NS), Math.ceil(units / align)) : 1;
  if (!pool || chunks < 2) {
    (exports[kernel] as (...a: number[]) => void)(...args, 0, units);
  } else {
    pool.args.set(args);
    pool.exports.dispatch(pool.ctrl, KERNEL_ID[kernel], units, align, chunks);
  }
  profiler?.(kernel, performance.now() - t0);
}
