// setupBackend in Node (the test set-up already made it WASM): tfjs' Node build has no threads,
// so our kernels stay on the calling thread whatever is asked; options are validated up front.
// The threaded build is tested in Chromium (benchmarks/browser/threads.test.mjs).
import { describe, expect, it } from 'vitest';
import { setupBackend } from './backend.js';
import { getKernelThreadStats } from './kernels/fast.js';

describe('setupBackend in Node', () => {
  it('keeps our kernels on the calling thread, even when more threads are asked for', async () => {
    const info = await setupBackend({ backend: 'wasm', kernelThreads: 2 });
    expect(info.fastKernels).toBe(true);
    expect(info.threadsCount).toBe(1);
    expect(info.kernelThreads).toBe(1);
    expect(getKernelThreadStats()).toEqual({ threads: 1, chunks: [], sleeping: 0 });
  });

  it('validates kernelThreads', async () => {
    await expect(setupBackend({ backend: 'wasm', kernelThreads: 0 })).rejects.toThrow(/kernelThreads must be an integer from 1 to 8, got 0/);
    await expect(setupBackend({ backend: 'wasm', kernelThreads: 1.5 })).rejects.toThrow(/kernelThreads/);
  });
});
