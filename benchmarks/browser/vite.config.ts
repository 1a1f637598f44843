import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The browser benchmark page; `run.mjs` builds it and serves dist/ with COOP/COEP headers.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  resolve: { dedupe: ['@tensorflow/tfjs-core'] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'esnext', chunkSizeWarningLimit: 8000 },
});
