import { defineConfig } from 'vite';

/**
 * Cross-origin isolation (COOP + COEP) lets the page use SharedArrayBuffer, which tfjs-wasm needs
 * for its worker threads. Without these headers the page still works, single-threaded.
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  base: './',
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  build: {
    target: 'es2022',
    // tfjs-core alone is ~1 MB minified; one chunk for it is expected.
    chunkSizeWarningLimit: 2500,
  },
});
