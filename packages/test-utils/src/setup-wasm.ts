// vitest setupFiles entry: every test file runs on the WASM (SIMD) backend, as users do.
import { setupBackend } from '@mnv3/layers/backend';

await setupBackend({ backend: 'wasm' });
