import { defineConfig } from 'vite';

/**
 * Cross-origin isolation (COOP + COEP) lets the page use SharedArrayBuffer, which tfjs-wasm needs
 * for its threads. Without these headers the page still trains, single-threaded.
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  base: './',
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  // The loader's Web Workers are ES modules (they import the pipeline).
  worker: { format: 'es' },
  resolve: { dedupe: ['@tensorflow/tfjs-core'] },
  build: {
    target: 'es2022',
    // tfjs-core alone is ~1 MB minified; one chunk for it is expected.
    chunkSizeWarningLimit: 2500,
  },
});
