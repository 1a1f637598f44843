// What the Chromium tests (test/browser.test.ts) put on the page: bundled by esbuild as `mnv3io`.
export { decodeImage } from '../../src/image/decode.js';
export { DEFAULT_CACHE_NAME, downloadWeights } from '../../src/hub/browser.js';
