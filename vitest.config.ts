// One vitest config for the workspace: a project per package, with what sets it apart (the oracle
// suites of tools/reference its tests read, whether they run on the WASM backend, time limits).
// Each package's `test` script runs its own project (`vitest run --root ../.. --project NAME`),
// so turbo still orders and parallelises the packages.
import { fileURLToPath } from 'node:url';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const WASM = here('packages/test-utils/src/setup-wasm.ts');
const FIXTURES = here('packages/test-utils/src/global-setup.ts');

interface Project {
  /** Oracle suites (`.cache/fixtures/<suite>`) made before the tests start. */
  suites?: readonly string[];
  /** Runs every test file on the tfjs WASM backend (SIMD), as users do. */
  wasm?: boolean;
  timeout?: number;
  hookTimeout?: number;
  include?: string[];
  exclude?: string[];
  fileParallelism?: boolean;
  /** Node flags of the test workers (e.g. relaxed SIMD on). */
  execArgv?: string[];
  /** The project's name when it is not the directory's (a second project on one package). */
  name?: string;
  dir?: string;
}

const PROJECTS: Record<string, Project> = {
  'packages/io': { suites: ['checkpoints', 'transforms', 'datasets'], timeout: 60_000 },
  'packages/transforms': { suites: ['transforms', 'detection', 'augment'] },
  'packages/layers': { suites: ['layers', 'grad'], wasm: true, timeout: 120_000 },
  // The float kernels again in their relaxed-SIMD build (fused multiply-add; Node 20 has relaxed
  // SIMD behind a flag): the same parity tests against tfjs-cpu and torch's fixtures.
  'packages/layers#relaxed': {
    dir: 'packages/layers',
    name: 'layers-relaxed',
    suites: ['layers', 'grad'],
    wasm: true,
    timeout: 120_000,
    execArgv: ['--experimental-wasm-relaxed-simd'],
    include: ['test/fast-kernels.test.ts', 'test/train-kernels.test.ts', 'test/train-mode.test.ts', 'test/gradients.test.ts', 'test/parity.test.ts'],
  },
  'packages/backbone': { suites: ['backbone', 'grad'], wasm: true, timeout: 180_000 },
  'packages/quantize': { suites: ['quantize', 'quantize_trained', 'qat'], wasm: true, timeout: 180_000, hookTimeout: 300_000 },
  // The int8 kernels again with relaxed SIMD on (Node 20 has it behind a flag): their relaxed build
  // must load and give the same bits, kernel by kernel and on torch's fixtures.
  'packages/quantize#relaxed': {
    dir: 'packages/quantize',
    name: 'quantize-relaxed',
    suites: ['quantize'],
    wasm: true,
    timeout: 180_000,
    hookTimeout: 300_000,
    execArgv: ['--experimental-wasm-relaxed-simd'],
    include: ['src/wasm-engine.test.ts', 'test/wasm-parity.test.ts'],
  },
  'packages/classify': { suites: ['classify', 'trained'], wasm: true, hookTimeout: 300_000 },
  'packages/segmentation': { wasm: true },
  'packages/segment-lraspp': { suites: ['segmentation', 'segment_pipeline'], wasm: true },
  // DeepLabV3 at 520 px: loading it in a hook and a two-head pipeline test ran past 10 s / 60 s under a
  // fresh-clone CI's load with a training run on the other core.
  'packages/segment-deeplab': { suites: ['segmentation', 'segment_pipeline'], wasm: true, timeout: 180_000, hookTimeout: 120_000 },
  'packages/detection': { suites: ['detection'], wasm: true, timeout: 120_000, hookTimeout: 300_000 },
  // Faster R-CNN at 800 px on ResNet-50 and MobileNetV3: two full forwards in one test ran past 120 s under CI's load.
  'packages/detect-frcnn': { suites: ['detection'], wasm: true, timeout: 300_000, hookTimeout: 300_000 },
  'packages/detect-retinanet': { suites: ['retinanet'], wasm: true, timeout: 180_000, hookTimeout: 300_000 },
  'packages/train-recipes': { suites: ['train'], wasm: true },
  'packages/bench': { wasm: true, timeout: 120_000 },
  'packages/cli': { suites: ['classify', 'segment_pipeline', 'detection', 'retinanet', 'quantize'], timeout: 120_000, include: ['test/**/*.test.ts'], exclude: ['**/node_modules/**', 'test/train.test.ts'] },
  // The training verbs need no oracle suite (torch is called directly): their own project, so that
  // running them does not make the other verbs' fixtures.
  'packages/cli#train': { dir: 'packages/cli', name: 'cli-train', timeout: 180_000, include: ['test/train.test.ts'] },
  'examples/node-classify': { suites: ['classify'], timeout: 180_000 },
  'examples/node-segment': { suites: ['segment_pipeline'], timeout: 180_000 },
  'examples/node-detect': { suites: ['detection', 'segment_pipeline'], timeout: 180_000 },
  // Builds the demo, starts a server and a browser, and runs MobileNetV3 on 2 shared cores.
  'examples/web-demo': { suites: ['classify', 'segment_pipeline', 'detection', 'quantize'], timeout: 300_000, hookTimeout: 300_000, fileParallelism: false },
  // Builds the training page, trains in Node (the reference) and in Chromium on 2 shared cores.
  // Node's reference with relaxed SIMD on, as Chromium has it: both sides then run the kernels'
  // relaxed-SIMD build (fused multiply-add), whose bits the page must reproduce.
  'examples/web-train': { wasm: true, timeout: 300_000, hookTimeout: 300_000, fileParallelism: false, execArgv: ['--experimental-wasm-relaxed-simd'] },
  benchmarks: { suites: ['quantize'], timeout: 180_000, hookTimeout: 180_000, include: ['browser/**/*.test.mjs', 'kernels/**/*.test.mjs'] },
};

function project(key: string, p: Project): TestProjectInlineConfiguration {
  const dir = p.dir ?? key;
  return {
    test: {
      name: p.name ?? dir.slice(dir.lastIndexOf('/') + 1),
      ...(p.execArgv ? { execArgv: p.execArgv } : {}),
      root: here(`${dir}/`),
      include: p.include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'],
      ...(p.exclude ? { exclude: p.exclude } : {}),
      setupFiles: p.wasm ? [WASM] : [],
      globalSetup: p.suites?.length ? [FIXTURES] : [],
      provide: { fixtureSuites: [...(p.suites ?? [])] },
      testTimeout: p.timeout ?? 60_000,
      hookTimeout: p.hookTimeout ?? 10_000,
      fileParallelism: p.fileParallelism ?? true,
    },
  };
}

export default defineConfig({
  test: { projects: Object.entries(PROJECTS).map(([dir, p]) => project(dir, p)) },
});
