/**
 * The browser benchmark page: mnv3 (tfjs-wasm) and ONNX Runtime Web (WASM) side by side, on the
 * same TorchVision weights (weights.pth / model.onnx from tools/reference/bench_peers.py, served
 * under /cache/), the same input and the same thread count, interleaved round by round.
 *
 *   ?models=a,b&threads=N&runs=R&warmup=W   the benchmark; `mobilenet_v3_large@int8` (or `_small@int8`):
 *                                           TorchVision's int8 model (the Node row's export) on our
 *                                           kernels and ORT-Web's (QDQ), beside both float models
 *   ?check=MODEL&threads=N                  the threads check: backend info, one output on the fast
 *                                           path (and its thread stats), one on the plain path
 *   ?check=MODEL@int8&threads=N&fixture=F   the int8 check: the oracle's QAT checkpoint and batch
 *                                           (/cache/F.safetensors), the int8 engine's logits (its
 *                                           thread stats, its build) and torch's
 *
 * Results go on `window.__mnv3` for the driver (run.mjs) and the tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web/wasm';
import { benchEntry, benchInput, interleaved, summarize, type Candidate } from '@mnv3/bench/browser';
import { readCheckpoint, readSafetensors, type StateDict } from '@mnv3/io';
import { getKernelThreadStats, seededRng, setKernelMode, type KernelThreadStats } from '@mnv3/layers';
import { QUANTIZABLE_ARCHS, WasmQuantizedMobileNetV3, quantizedModelFromStateDict } from '@mnv3/quantize';
import { setupBackend, type BackendInfo } from '@mnv3/layers/backend';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

export interface PageInfo extends BackendInfo {
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  userAgent: string;
}

export interface BrowserModelResult {
  model: string;
  input: readonly number[];
  threads: number;
  ours: ReturnType<typeof summarize>;
  ort: ReturnType<typeof summarize>;
  /** Per-round ratios mnv3 / ORT-Web (the two ran back to back in each round). */
  ratios: number[];
  ratio: ReturnType<typeof summarize>;
  /** max |ours − ORT| over the outputs, divided by max |ORT|: the two run the same weights. */
  max_rel_diff_vs_ort: number;
}

/**
 * An int8 row: TorchVision's int8 model on our kernels and on ORT-Web (its QDQ export), beside our
 * float model and ORT-Web's on the float row's weights, the same input, interleaved round by round.
 */
export interface BrowserInt8Result {
  model: string;
  input: readonly number[];
  threads: number;
  int8: ReturnType<typeof summarize>;
  /** ORT-Web on the QDQ export of the same int8 model. */
  ort_int8: ReturnType<typeof summarize>;
  ours: ReturnType<typeof summarize>;
  ort: ReturnType<typeof summarize>;
  /** Per round: our float time / int8 time (above 1: int8 is faster). */
  speedups: number[];
  speedup: ReturnType<typeof summarize>;
  /** Per round: our int8 time / ORT-Web's int8 (QDQ) time (below 1: ours is faster). */
  vs_ort_int8: ReturnType<typeof summarize>;
  /** Per round: int8 time / ORT-Web float time. */
  vs_ort_float: ReturnType<typeof summarize>;
  /** Whether the int8 kernels are their relaxed-SIMD build, and how many layers run its 7-bit dot. */
  relaxed_build: boolean;
  relaxed_layers: number;
  /** The WASM engine's logits equal the host integer engine's (QNNPACK's arithmetic) bit for bit. */
  equals_host_engine: true;
  /** The int8 model's logits, ours against ORT-Web's: correlation, largest difference in output quanta. */
  vs_ort_int8_logits: { correlation: number; max_diff_quanta: number };
}

interface State {
  status: 'running' | 'done' | 'error';
  error?: string;
  info?: PageInfo;
  results?: BrowserModelResult[];
  int8Results?: BrowserInt8Result[];
  output?: number[];
  /** The same forward pass with `setKernelMode('plain')` (tfjs ops only). */
  plainOutput?: number[];
  /** Our kernels' thread stats after the fast forward pass. */
  kernelStats?: KernelThreadStats;
  idleStats?: KernelThreadStats;
  pool?: { unused: number; running: number };
  /** The int8 check's outputs. */
  int8?: { relaxedBuild: boolean; relaxedLayers: number; output: number[]; torchOutput: number[] };
  log: string[];
}

const state: State = { status: 'running', log: [] };
(window as unknown as { __mnv3: State }).__mnv3 = state;

function log(line: string): void {
  state.log.push(line);
  const el = document.getElementById('log');
  if (el) el.textContent += `${line}\n`;
}

const params = new URLSearchParams(location.search);
const threads = Math.max(1, Number(params.get('threads') ?? '1'));

/** Where the Node pipeline caches a model's exports: .cache/bench/<model>_<shape>/. */
const exportDir = (model: string, shape: readonly number[]): string => `/cache/${model.replace('@', '_')}_${shape.join('x')}`;

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} (run the driver, which exports the models first)`);
  return new Uint8Array(await r.arrayBuffer());
}

async function setup(): Promise<PageInfo> {
  const info = await setupBackend({
    backend: 'wasm',
    wasmPaths: {
      'tfjs-backend-wasm.wasm': wasmPlain,
      'tfjs-backend-wasm-simd.wasm': wasmSimd,
      'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
    },
    threads,
    ...(params.has('kernelThreads') ? { kernelThreads: Number(params.get('kernelThreads')) } : {}),
  });
  const page: PageInfo = {
    ...info,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    hardwareConcurrency: navigator.hardwareConcurrency,
    userAgent: navigator.userAgent,
  };
  state.info = page;
  log(`backend: ${JSON.stringify(page)}`);
  return page;
}

type ModelOutput = tf.Tensor | tf.Tensor[] | { out: tf.Tensor4D; aux?: tf.Tensor4D | null };

async function outputOf(run: () => ModelOutput): Promise<Float32Array> {
  const y = run();
  if (!(y instanceof tf.Tensor) && !Array.isArray(y)) {
    // A segmentation model's { out, aux }, NHWC: `out` in ORT's layout (NCHW; its first output).
    y.aux?.dispose();
    const nchw = tf.transpose(y.out, [0, 3, 1, 2]);
    y.out.dispose();
    return outputOf(() => nchw);
  }
  const ts = Array.isArray(y) ? y : [y];
  const parts: Float32Array[] = [];
  for (const t of ts) {
    parts.push((await t.data()) as Float32Array);
    t.dispose();
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Times the candidates round by round with the page's lead and block settings, logging progress. */
function timeRounds(label: string, candidates: Candidate[], runs: number, warmup: number): Promise<Map<string, number[]>> {
  return interleaved(candidates, {
    warmup,
    runs,
    lead: Number(params.get('lead') ?? 0),
    block: Number(params.get('block') ?? 1),
    onRound: (r, total) => {
      if (r === total || r % 10 === 0) log(`${label}: round ${r}/${total}`);
    },
  });
}

/** The threads check: backend info plus one output of `model` with seeded weights. */
async function check(model: string): Promise<void> {
  await setup();
  // Emscripten's worker pool: `running` pthreads are the XNNPACK pool's threads past the caller.
  const w = (tf.backend() as unknown as { wasm: { PThread?: { unusedWorkers: unknown[]; pthreads: object } } }).wasm;
  state.pool = { unused: w.PThread?.unusedWorkers.length ?? 0, running: Object.keys(w.PThread?.pthreads ?? {}).length };
  const entry = benchEntry(model);
  const m = entry.build();
  m.module.initWeights(seededRng(0));
  const x = m.prepare(benchInput(entry.input), entry.input);
  const forward = (m.module as unknown as { forward(x: tf.Tensor): tf.Tensor | tf.Tensor[] }).forward.bind(m.module);
  const out = await outputOf(() => forward(x));
  state.kernelStats = getKernelThreadStats();
  // Diagnostics only (not asserted: timing): whether the pool's workers went to sleep when idle.
  await new Promise((r) => setTimeout(r, 100));
  state.idleStats = getKernelThreadStats();
  setKernelMode('plain');
  try {
    state.plainOutput = Array.from(await outputOf(() => forward(x)));
  } finally {
    setKernelMode('fast');
  }
  x.dispose();
  m.module.dispose();
  state.output = Array.from(out);
}

async function ortSession(onnx: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(onnx, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
}

async function benchModel(model: string, runs: number, warmup: number): Promise<BrowserModelResult> {
  const entry = benchEntry(model);
  const shape = entry.input;
  const dir = exportDir(model, shape);
  const [pth, onnx] = await Promise.all([fetchBytes(`${dir}/weights.pth`), fetchBytes(`${dir}/model.onnx`)]);
  const input = benchInput(shape);

  const mine = entry.build();
  mine.module.loadStateDict(readCheckpoint(pth));
  const x = mine.prepare(input, shape);
  const session = await ortSession(onnx);
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, [...shape]) };

  // Same weights, same input: the outputs must agree (a wrong comparison is worse than none).
  let maxRel = NaN;
  // A detector's outputs (boxes after NMS) are not one tensor to compare element by element.
  if (params.get('compare') !== '0' && shape.length === 4) {
    const forward = (mine.module as unknown as { forward(x: tf.Tensor): ModelOutput }).forward.bind(mine.module);
    const a = await outputOf(() => forward(x));
    const res = await session.run(feeds);
    const b = res[session.outputNames[0]!]!.data as Float32Array;
    if (a.length >= b.length) {
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < b.length; i++) {
        diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        scale = Math.max(scale, Math.abs(b[i]!));
      }
      maxRel = diff / (scale || 1);
    }
  }

  const candidates: Candidate[] = [
    { name: 'ours', run: () => mine.run(x) },
    {
      name: 'ort',
      run: async () => {
        await session.run(feeds);
      },
    },
  ];
  const samples = await timeRounds(model, candidates, runs, warmup);
  const a = samples.get('ours')!;
  const b = samples.get('ort')!;
  const ratios = a.map((v, i) => v / b[i]!);
  x.dispose();
  mine.module.dispose();
  await session.release();
  return { model, input: shape, threads, ours: summarize(a), ort: summarize(b), ratios, ratio: summarize(ratios), max_rel_diff_vs_ort: maxRel };
}

const INT8_SUFFIX = '@int8';
const isQuantizable = (m: string): boolean => (QUANTIZABLE_ARCHS as readonly string[]).includes(m);

/**
 * ORT-Web's logits on the QDQ model follow ours (QNNPACK's arithmetic) within a few output quanta,
 * not exactly (its QLinear kernels round elsewhere and run hardswish in float): a correlation this
 * high says it is the same int8 model, which another model's logits would not reach.
 */
const SAME_MODEL_CORRELATION = 0.9;

function correlation(a: Float32Array, b: Float32Array): number {
  const mean = (v: Float32Array) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

/**
 * `mobilenet_v3_large@int8`: TorchVision's quantized model as the Node int8 row runs it, from the
 * same export (tools/reference/bench_peers.py: a QAT-prepared checkpoint, calibrated, whose
 * converted model has per-tensor symmetric int8 weights spanning the full range as
 * IMAGENET1K_QNNPACK_V1's; and torch's QDQ ONNX export of that converted model), on our int8 WASM
 * SIMD kernels, timed against ORT-Web on the QDQ model, our float model and ORT-Web on the float
 * row's weights, all four interleaved round by round.
 */
async function benchInt8(name: string, runs: number, warmup: number): Promise<BrowserInt8Result> {
  const model = name.slice(0, -INT8_SUFFIX.length);
  if (!isQuantizable(model)) throw new Error(`${name}: int8 rows exist for ${QUANTIZABLE_ARCHS.join(', ')} only`);
  const entry = benchEntry(model);
  const shape = entry.input;
  const [floatPth, floatOnnx, int8Pth, qdqOnnx] = await Promise.all([
    fetchBytes(`${exportDir(model, shape)}/weights.pth`),
    fetchBytes(`${exportDir(model, shape)}/model.onnx`),
    fetchBytes(`${exportDir(name, shape)}/weights.pth`),
    fetchBytes(`${exportDir(name, shape)}/model.onnx`),
  ]);
  const input = benchInput(shape);

  const mine = entry.build();
  mine.module.loadStateDict(readCheckpoint(floatPth));
  const x = mine.prepare(input, shape);
  const nhwc = (await x.data()) as Float32Array;
  const nhwcShape = x.shape as [number, number, number, number];

  const quantized = quantizedModelFromStateDict(model, readCheckpoint(int8Pth));
  const engine = WasmQuantizedMobileNetV3.create(quantized);
  if (!engine) throw new Error(`${name}: the int8 WASM kernels did not load`);
  // The timed engine must give the host integer engine's logits exactly (both are QNNPACK's arithmetic).
  const wasmLogits = engine.forward(nhwc, nhwcShape).logits;
  const hostLogits = quantized.forward(nhwc, nhwcShape).logits;
  if (wasmLogits.length !== hostLogits.length || wasmLogits.some((v, i) => !Object.is(v, hostLogits[i]))) {
    throw new Error(`${name}: the int8 WASM engine's logits differ from the host integer engine's`);
  }

  const floatSession = await ortSession(floatOnnx);
  const qdqSession = await ortSession(qdqOnnx);
  const feeds = (s: ort.InferenceSession) => ({ [s.inputNames[0]!]: new ort.Tensor('float32', input, [...shape]) });
  const [floatFeeds, qdqFeeds] = [feeds(floatSession), feeds(qdqSession)];
  const qdqLogits = (await qdqSession.run(qdqFeeds))[qdqSession.outputNames[0]!]!.data as Float32Array;
  const corr = qdqLogits.length === wasmLogits.length ? correlation(wasmLogits, qdqLogits) : NaN;
  if (!(corr >= SAME_MODEL_CORRELATION)) {
    throw new Error(`${name}: ORT-Web's logits on the QDQ model correlate with ours at ${corr} (same model: ≥ ${SAME_MODEL_CORRELATION}); the exports do not hold one int8 model`);
  }
  const quantum = quantized.classifier.fc2.q.scale;
  const quanta = wasmLogits.reduce((m, v, i) => Math.max(m, Math.abs(v - qdqLogits[i]!)), 0) / quantum;
  const candidates: Candidate[] = [
    {
      name: 'int8',
      run: async () => {
        engine.forward(nhwc, nhwcShape);
      },
    },
    {
      name: 'ortInt8',
      run: async () => {
        await qdqSession.run(qdqFeeds);
      },
    },
    { name: 'ours', run: () => mine.run(x) },
    {
      name: 'ort',
      run: async () => {
        await floatSession.run(floatFeeds);
      },
    },
  ];
  const samples = await timeRounds(name, candidates, runs, warmup);
  const q = samples.get('int8')!;
  const qo = samples.get('ortInt8')!;
  const f = samples.get('ours')!;
  const o = samples.get('ort')!;
  const speedups = f.map((v, i) => v / q[i]!);
  const result: BrowserInt8Result = {
    model: name,
    input: shape,
    threads,
    int8: summarize(q),
    ort_int8: summarize(qo),
    ours: summarize(f),
    ort: summarize(o),
    speedups,
    speedup: summarize(speedups),
    vs_ort_int8: summarize(q.map((v, i) => v / qo[i]!)),
    vs_ort_float: summarize(q.map((v, i) => v / o[i]!)),
    relaxed_build: engine.relaxedBuild,
    relaxed_layers: engine.relaxedLayers().length,
    equals_host_engine: true,
    vs_ort_int8_logits: { correlation: corr, max_diff_quanta: Math.round(quanta) },
  };
  engine.dispose();
  x.dispose();
  mine.module.dispose();
  await Promise.all([floatSession.release(), qdqSession.release()]);
  return result;
}

async function bench(): Promise<void> {
  await setup();
  ort.env.wasm.numThreads = threads;
  // Its own files, as served (/ort/): its worker threads load ort-wasm-simd-threaded.mjs by URL.
  ort.env.wasm.wasmPaths = new URL('/ort/', location.href).href;
  const models = (params.get('models') ?? 'mobilenet_v3_large').split(',').filter(Boolean);
  const runs = Number(params.get('runs') ?? '30');
  const warmup = Number(params.get('warmup') ?? '5');
  const results: BrowserModelResult[] = [];
  const int8Results: BrowserInt8Result[] = [];
  for (const model of models) {
    if (model.endsWith(INT8_SUFFIX)) {
      const r = await benchInt8(model, runs, warmup);
      log(`${model}: int8 ${r.int8.median_ms.toFixed(2)} ms, ORT-Web int8 ${r.ort_int8.median_ms.toFixed(2)} ms, our float ${r.ours.median_ms.toFixed(2)} ms (${r.speedup.median_ms.toFixed(2)}x), ORT-Web float ${r.ort.median_ms.toFixed(2)} ms`);
      int8Results.push(r);
      continue;
    }
    const r = await benchModel(model, runs, warmup);
    log(`${model}: ours ${r.ours.median_ms.toFixed(2)} ms, ORT-Web ${r.ort.median_ms.toFixed(2)} ms, ratio ${r.ratio.median_ms.toFixed(3)}`);
    results.push(r);
  }
  state.results = results;
  state.int8Results = int8Results;
}

/**
 * The int8 check: the oracle's QAT checkpoint (`?fixture=NAME`: /cache/NAME.safetensors, a case of
 * tools/reference/suite_quantize.py) converted and run on the int8 engine, on the case's 224×224
 * batch; torch's qnnpack logits for it come back beside ours.
 */
async function checkInt8(name: string): Promise<void> {
  await setup();
  const model = name.slice(0, -INT8_SUFFIX.length);
  if (!isQuantizable(model)) throw new Error(`${name}: int8 exists for ${QUANTIZABLE_ARCHS.join(', ')} only`);
  const { tensors } = readSafetensors(await fetchBytes(`/cache/${params.get('fixture') ?? `qat_${model}`}.safetensors`));
  const stateDict: StateDict = new Map();
  for (const [k, v] of tensors) if (k.startsWith('state.')) stateDict.set(k.slice('state.'.length), v);
  const input = tensors.get('input_224x224');
  const torchOut = tensors.get('output_224x224');
  if (!input || !torchOut) throw new Error('the fixture has no input_224x224 / output_224x224');
  const [n, c, h, w] = input.shape as [number, number, number, number];
  const x = tf.tidy(() => tf.transpose(tf.tensor4d(input.data as Float32Array, [n, c, h, w]), [0, 2, 3, 1]));
  const nhwc = (await x.data()) as Float32Array;
  x.dispose();
  const engine = WasmQuantizedMobileNetV3.create(quantizedModelFromStateDict(model, stateDict));
  if (!engine) throw new Error(`${name}: the int8 WASM kernels did not load`);
  const output = Array.from(engine.forward(nhwc, [n, h, w, c]).logits);
  state.kernelStats = getKernelThreadStats();
  state.int8 = { relaxedBuild: engine.relaxedBuild, relaxedLayers: engine.relaxedLayers().length, output, torchOutput: Array.from(torchOut.data as Float32Array) };
  engine.dispose();
}

try {
  const model = params.get('check');
  await (model?.endsWith(INT8_SUFFIX) ? checkInt8(model) : model ? check(model) : bench());
  state.status = 'done';
} catch (e) {
  state.status = 'error';
  state.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  log(`error: ${state.error}`);
}
