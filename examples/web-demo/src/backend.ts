// The tfjs WASM binaries, located by Vite: `?url` makes each .wasm file a hashed asset of the
// build (served by the dev server as is) and gives its URL, which setupBackend hands to tfjs.
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { setupBackend } from '@mnv3/layers/backend';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

export interface BackendStatus {
  backend: 'wasm' | 'cpu';
  simd: boolean;
  threads: boolean;
  /** XNNPACK's thread count as tfjs reports it (`getThreadsCount`; 1 without threads). */
  threadCount: number;
  /** SharedArrayBuffer is usable only on a cross-origin isolated page (COOP + COEP headers). */
  isolated: boolean;
  /** Why WASM was not used, when the page fell back to tfjs' JS kernels. */
  fallback?: string;
}

const abs = (url: string) => new URL(url, location.href).href;

export async function startBackend(): Promise<BackendStatus> {
  const isolated = globalThis.crossOriginIsolated === true;
  try {
    // Thread count: tfjs' default (XNNPACK's pool as tfjs sizes it from the core count).
    const info = await setupBackend({
      wasmPaths: {
        'tfjs-backend-wasm.wasm': abs(wasmPlain),
        'tfjs-backend-wasm-simd.wasm': abs(wasmSimd),
        'tfjs-backend-wasm-threaded-simd.wasm': abs(wasmThreadedSimd),
      },
    });
    return { ...info, threadCount: info.threads ? getThreadsCount() : 1, isolated };
  } catch (e) {
    // WebAssembly blocked (e.g. by a strict CSP) or the .wasm files not served: slower, but works.
    const info = await setupBackend({ backend: 'cpu' });
    return { ...info, threadCount: 1, isolated, fallback: (e as Error).message };
  }
}

export function describeBackend(s: BackendStatus): string {
  if (s.backend === 'cpu') return `tfjs CPU (JS) — WASM unavailable: ${s.fallback ?? 'unknown reason'}`;
  const threads = s.threads
    ? `threads on (${s.threadCount})`
    : s.isolated
      ? 'threads off'
      : 'threads off (page not cross-origin isolated: serve it with COOP/COEP headers)';
  return `WASM · SIMD ${s.simd ? 'on' : 'off'} · ${threads}`;
}
