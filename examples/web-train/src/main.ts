// Trains MobileNetV3-Small for a few steps in the page with the same Trainer as Node's `train()`
// (@mnv3/train-recipes' platform-free core) and the Web Worker batch loader, and shows each step's
// loss. The run's outcome goes on `window.__mnv3` (and the table's data attributes) for the tests.
import '@mnv3/layers/train';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { setupBackend, type BackendInfo } from '@mnv3/layers/backend';
import { Trainer, getRecipe, packUniform, pipelineSpec, type StepResult } from '@mnv3/train-recipes';
import { WebBatchLoader } from '@mnv3/train-recipes/browser';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

interface State {
  status: 'idle' | 'running' | 'done' | 'error';
  error?: string;
  info?: BackendInfo & { crossOriginIsolated: boolean; xnnpackThreads: number };
  steps: StepResult[];
  /** Images the page loaded, and the run's settings. */
  images?: number;
  config?: { steps: number; batchSize: number; seed: number; workers: number; size: number };
}

declare global {
  interface Window {
    __mnv3: State;
  }
}

const q = new URLSearchParams(location.search);
const int = (name: string, fallback: number, min: number): number => {
  const v = q.get(name);
  const n = v === null ? fallback : Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`?${name} must be an integer ≥ ${min}, got ${v}`);
  return n;
};
const $ = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;
const state: State = (window.__mnv3 = { status: 'idle', steps: [] });
const abs = (url: string) => new URL(url, location.href).href;

function fail(e: unknown): void {
  state.status = 'error';
  state.error = e instanceof Error ? e.message : String(e);
  const s = $('status');
  s.dataset.state = 'error';
  s.textContent = state.error;
}

/** The page's data file: N label bytes, then N 28×28 uint8 images (scripts/fashion-subset.mjs). */
async function loadImages(url: string) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not fetch the images at ${url} (HTTP ${res.status}); make them with \`pnpm data\``);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length === 0 || bytes.length % 785 !== 0) throw new Error(`${url} is not N labels + N 28×28 images (${bytes.length} bytes is not a multiple of 785)`);
  const n = bytes.length / 785;
  return packUniform(bytes.slice(n), bytes.subarray(0, n), 28, 28, 1);
}

async function start(): Promise<void> {
  const threads = int('threads', 2, 1);
  const info = await setupBackend({
    threads,
    wasmPaths: {
      'tfjs-backend-wasm.wasm': abs(wasmPlain),
      'tfjs-backend-wasm-simd.wasm': abs(wasmSimd),
      'tfjs-backend-wasm-threaded-simd.wasm': abs(wasmThreadedSimd),
    },
  });
  const isolated = globalThis.crossOriginIsolated === true;
  state.info = { ...info, crossOriginIsolated: isolated, xnnpackThreads: info.threads ? getThreadsCount() : 1 };
  const b = $('backend');
  Object.assign(b.dataset, { state: 'ready', backend: info.backend, simd: String(info.simd), threads: String(info.threads), threadsCount: String(info.threadsCount), isolated: String(isolated) });
  b.textContent = `WASM · SIMD ${info.simd ? 'on' : 'off'} · ${info.threads ? `threads on (${info.threadsCount}, our kernels ${info.kernelThreads})` : `threads off${isolated ? '' : ' (page not cross-origin isolated: serve it with COOP/COEP headers)'}`}`;
  const button = $('train') as HTMLButtonElement;
  button.disabled = false;
  button.onclick = () => {
    button.disabled = true;
    run().catch(fail);
  };
  if (q.get('autorun') === '1') button.click();
}

async function run(): Promise<void> {
  const config = { steps: int('steps', 4, 1), batchSize: int('batch', 32, 1), seed: int('seed', 0, 0), workers: int('workers', 1, 0), size: int('size', 64, 8) };
  state.config = config;
  state.status = 'running';
  state.steps = [];
  const status = $('status');
  status.dataset.state = 'running';
  status.textContent = 'loading the images…';
  const images = await loadImages(q.get('data') ?? './fashion-mnist.bin');
  state.images = images.length;
  // Recipe overrides (train.py's --lr, --opt, --momentum), e.g. to see a diverging run stop.
  const num = (name: string) => {
    const v = q.get(name);
    if (v !== null && !(Number(v) >= 0)) throw new Error(`?${name} must be a number ≥ 0, got ${v}`);
    return v === null ? {} : { [name]: Number(v) };
  };
  const recipe = getRecipe('mobilenet_v3_small-fashion-mnist', {
    batchSize: config.batchSize,
    trainCropSize: config.size,
    valResizeSize: config.size,
    valCropSize: config.size,
    ...num('lr'),
    ...num('momentum'),
    ...(q.get('opt') !== null ? { opt: q.get('opt')! } : {}),
  });
  const trainer = new Trainer(recipe, { numClasses: 10, seed: config.seed });
  const loader = new WebBatchLoader(images, pipelineSpec(recipe, 'train'), { batchSize: config.batchSize, shuffle: true, seed: config.seed, workers: config.workers });
  const rows = $('steps');
  rows.replaceChildren();
  try {
    status.textContent = `training ${config.steps} steps of ${config.batchSize} at ${config.size}×${config.size}…`;
    // Steps past the end of an epoch go on with the next one, as train() does.
    for (let epoch = 0; state.steps.length < config.steps; epoch++) {
      await trainer.trainEpoch(epoch, loader, {
        maxSteps: config.steps - state.steps.length,
        onStep: (s) => {
          state.steps.push(s);
          const tr = document.createElement('tr');
          tr.dataset.loss = String(s.loss);
          tr.innerHTML = `<td>${s.epoch}:${s.step}</td><td>${s.loss.toFixed(5)}</td><td>${((100 * s.correct1) / s.n).toFixed(1)}%</td><td>${s.ms.toFixed(0)}</td>`;
          rows.append(tr);
        },
      });
      if (state.steps.length < config.steps) trainer.endEpoch();
    }
    status.dataset.state = 'done';
    status.textContent = `done: ${state.steps.length} steps, ${(state.steps.reduce((t, s) => t + s.ms, 0) / 1000).toFixed(1)} s`;
    state.status = 'done';
  } finally {
    await loader.close();
    trainer.dispose();
    ($('train') as HTMLButtonElement).disabled = false;
  }
}

start().catch(fail);
