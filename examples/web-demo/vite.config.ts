import { fileURLToPath } from 'node:url';
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
  resolve: {
    alias: [
      // @mnv3/classify reaches the Node hub (node:fs, node:os, cli-progress) through a dynamic
      // import taken only under Node; Rollup still has to bundle it, and cannot. The browser
      // never runs that branch, so it gets a stub that throws.
      { find: /^@mnv3\/layers\/hub$/, replacement: fileURLToPath(new URL('./src/node-only.ts', import.meta.url)) },
    ],
  },
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  build: {
    target: 'es2022',
    // tfjs-core alone is ~1 MB minified; one chunk for it is expected.
    chunkSizeWarningLimit: 2500,
  },
});
