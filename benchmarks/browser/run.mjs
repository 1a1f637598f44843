#!/usr/bin/env node
// The browser benchmark: mnv3 (tfjs-wasm) vs ONNX Runtime Web in headless Debian Chromium, in a
// cross-origin isolated page, at each thread count, on the weights and ONNX exports of the Node
// pipeline (.cache/bench, made here by tools/reference/bench_peers.py when missing). Writes
// results/browser.json and the "Browser (Chromium)" section of README.md (after the
// <!-- browser-results --> marker; the Node pipeline's section before it is left as is).
// `mobilenet_v3_large@int8` / `mobilenet_v3_small@int8` are the int8 rows (TorchVision's int8 model
// from the Node int8 rows' export, on our kernels and on ORT-Web's QDQ, beside both float models): they go to
// results/browser-int8.json and their own subsection (after <!-- browser-int8-results -->), so a
// run of only float models, or only int8 ones, leaves the other part as it was.
//
//   pnpm --filter @mnv3/benchmarks bench:browser [--models a,b] [--threads 1,2] [--runs 30] [--warmup 5]
//     [--kernel-threads N] [--lead N] [--block N] [--note "…"]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { URLSearchParams } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_MODELS } from '@mnv3/bench/browser';
import { CACHE_DIR, DIST, HERE, ORT_DIR, buildPage, launch, runPage } from './chromium.mjs';
import { INT8_MARKER, MARKER, spliceSections } from './sections.mjs';
import { startServer } from './server.mjs';

const INT8_SUFFIX = '@int8';
const INT8_MODELS = ['mobilenet_v3_large', 'mobilenet_v3_small'];
const REPO = resolve(HERE, '../..');

const { values } = parseArgs({
  // `pnpm bench:browser -- --runs 5` passes the `--` on (pnpm 10): skip it.
  args: process.argv.slice(2).filter((a, i) => i > 0 || a !== '--'),
  options: {
    models: { type: 'string', default: 'mobilenet_v3_large,mobilenet_v3_small,lraspp_mobilenet_v3_large@320,deeplabv3_mobilenet_v3_large@320,fcn_mobilenet_v3_large@320,fasterrcnn_mobilenet_v3_large_320_fpn' },
    threads: { type: 'string', default: '1,2' },
    runs: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    /** Threads of our kernels' pool (default: as many as `--threads`); 1 turns the pool off. */
    'kernel-threads': { type: 'string' },
    /** Per round and runtime: untimed runs, then timed runs whose median is the round's sample (see README). */
    lead: { type: 'string', default: '3' },
    block: { type: 'string', default: '5' },
    out: { type: 'string', default: join(HERE, '..') },
    python: { type: 'string', default: process.env.MNV3_PYTHON ?? '/usr/bin/python3' },
    'no-build': { type: 'boolean', default: false },
    /** A paragraph added to the README section (e.g. what disturbed the machine during the run). */
    note: { type: 'string' },
  },
});
const models = values.models.split(',').filter(Boolean);
/** The float model whose weights a row runs (`mobilenet_v3_large@int8` → `mobilenet_v3_large`). */
const baseOf = (m) => (m.endsWith(INT8_SUFFIX) ? m.slice(0, -INT8_SUFFIX.length) : m);
for (const m of models) {
  const valid = m.endsWith(INT8_SUFFIX) ? INT8_MODELS.includes(baseOf(m)) : Boolean(BENCH_MODELS[m]);
  if (!valid) throw new Error(`unknown model "${m}"; valid: ${[...Object.keys(BENCH_MODELS), ...INT8_MODELS.map((b) => b + INT8_SUFFIX)].join(', ')}`);
}
const floatModels = models.filter((m) => !m.endsWith(INT8_SUFFIX));
const int8Models = models.filter((m) => m.endsWith(INT8_SUFFIX));
const threadCounts = values.threads.split(',').map(Number);
const out = resolve(values.out);

function writeAtomic(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** The same export as the Node pipeline's, in the same place. */
function exportModel(model) {
  const shape = BENCH_MODELS[model].input;
  const dir = join(CACHE_DIR, `${model.replace('@', '_')}_${shape.join('x')}`);
  if (existsSync(join(dir, 'weights.pth')) && existsSync(join(dir, 'model.onnx'))) return;
  mkdirSync(dir, { recursive: true });
  console.error(`exporting ${model} through TorchVision…`);
  execFileSync(values.python, [join(REPO, 'tools/reference/bench_peers.py'), 'export', model, shape.join(','), dir], { stdio: 'inherit' });
}

const f = (x, d = 2) => x.toFixed(d);

function table(report) {
  const rows = [
    '| model | threads (reached, our kernels) | mnv3 median ms (min–max) | ORT-Web median ms (min–max) | ratio median (min–max) | ≤ 0.7? | max rel. diff vs ORT |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const run of report.runs_by_threads) {
    for (const r of run.results) {
      rows.push(
        `| ${r.model} | ${r.threads} (${run.info.threadsCount}, ${run.info.kernelThreads ?? 1}) | ${f(r.ours.median_ms)} (${f(r.ours.min_ms)}–${f(r.ours.max_ms)}) | ` +
          `${f(r.ort.median_ms)} (${f(r.ort.min_ms)}–${f(r.ort.max_ms)}) | ${f(r.ratio.median_ms, 3)} (${f(r.ratio.min_ms, 3)}–${f(r.ratio.max_ms, 3)}) | ` +
          `${r.ratio.median_ms <= 0.7 ? 'yes' : 'no'} | ${Number.isNaN(r.max_rel_diff_vs_ort) ? 'n/a (detections)' : r.max_rel_diff_vs_ort.toExponential(1)} |`,
      );
    }
  }
  return rows.join('\n');
}

function int8Table(report) {
  const rows = [
    '| model | threads (reached, our kernels) | int8 median ms (min–max) | ORT-Web int8 (QDQ) median ms | int8 / ORT-Web int8, median (min–max) | our float median ms | ORT-Web float median ms | int8 speed-up over our float, median (min–max) | ≥ 2.8×? | int8 / ORT-Web float | int8 kernels (layers on the 7-bit dot) | logits vs ORT-Web int8: correlation, max diff (output quanta) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const run of report.runs_by_threads) {
    for (const r of run.results) {
      rows.push(
        `| ${r.model} | ${r.threads} (${run.info.threadsCount}, ${run.info.kernelThreads ?? 1}) | ${f(r.int8.median_ms)} (${f(r.int8.min_ms)}–${f(r.int8.max_ms)}) | ` +
          `${f(r.ort_int8.median_ms)} | ${f(r.vs_ort_int8.median_ms, 3)} (${f(r.vs_ort_int8.min_ms, 3)}–${f(r.vs_ort_int8.max_ms, 3)}) | ` +
          `${f(r.ours.median_ms)} | ${f(r.ort.median_ms)} | ${f(r.speedup.median_ms)}× (${f(r.speedup.min_ms)}–${f(r.speedup.max_ms)}) | ` +
          `${r.speedup.median_ms >= 2.8 ? 'yes' : 'no'} | ${f(r.vs_ort_float.median_ms, 3)} | ` +
          `${r.relaxed_build ? 'relaxed-SIMD build' : 'plain-SIMD build'} (${r.relaxed_layers}) | ${f(r.vs_ort_int8_logits.correlation, 3)}, ${r.vs_ort_int8_logits.max_diff_quanta} |`,
      );
    }
  }
  return rows.join('\n');
}

function renderInt8Section(report) {
  const relaxed = report.runs_by_threads.flatMap((r) => r.results).every((r) => r.relaxed_build);
  return (
    `${INT8_MARKER}\n### int8 (quantized MobileNetV3) in Chromium\n\n` +
    `\`pnpm --filter @mnv3/benchmarks bench:browser -- --models mobilenet_v3_large@int8,mobilenet_v3_small@int8\` ` +
    `(the same page, driver and round structure as above: ${report.runs} rounds after ${report.warmup} warm-up rounds, ` +
    `${report.lead} untimed and ${report.block} timed runs per runtime and round). The int8 model is the Node int8 rows': ` +
    `\`tools/reference/bench_peers.py\` builds TorchVision's QAT-prepared MobileNetV3 (seeded weights, observers calibrated) ` +
    `and saves its checkpoint (\`weights.pth\`, loaded by \`quantizedModelFromStateDict\` as TorchVision's checkpoint is) and torch's ` +
    `QDQ ONNX export of the converted model (\`model.onnx\`); per-tensor symmetric int8 weights spanning the full range, as in TorchVision's ` +
    `IMAGENET1K_QNNPACK_V1, so no layer fits relaxed SIMD's 7-bit dot. Ours runs on \`WasmQuantizedMobileNetV3\` (our int8 WASM SIMD ` +
    `kernels; ${relaxed ? 'Chromium validates relaxed SIMD, so their relaxed-SIMD' : 'NOT every row ran the relaxed-SIMD'} build), input ` +
    `quantized and logits dequantized inside the timed call; ORT-Web (WASM SIMD, threaded) runs the QDQ model, fusing it into its ` +
    `QLinear kernels. Before timing, the page checks that our logits equal the host integer engine's (QNNPACK's arithmetic) ` +
    `bit for bit and that ORT-Web's follow them (correlation ≥ 0.9; they differ by a few output quanta, last column: ORT's QLinear kernels round elsewhere and run hardswish in float). Both are interleaved round by round with ` +
    `our float model and ORT-Web's float \`model.onnx\` on the float row's weights, same input and threads; the speed-up is our float ` +
    `time / int8 time per round (median, min–max over rounds). The goal (issue 12) is ≥ 2.8× in Chromium with relaxed SIMD. ` +
    `Measured ${report.date.slice(0, 10)} on ${report.machine.cpu} (${report.machine.cpus} cores, shared ` +
    `with other work), Chromium ${report.browser}.\n\n` +
    `${int8Table(report)}\n` +
    (values.note ? `\n${values.note}\n` : '')
  );
}

function renderSection(report) {
  const info = report.runs_by_threads[0]?.info;
  return (
    `${MARKER}\n## Browser (Chromium)\n\n` +
    `\`pnpm --filter @mnv3/benchmarks bench:browser\` builds the page in \`browser/\` (Vite), serves it from 127.0.0.1 ` +
    `with COOP/COEP headers (cross-origin isolated, so WASM threads work) and drives headless Chromium ` +
    `(${report.browser}) with playwright-core. mnv3 (tfjs-wasm SIMD, threaded build, our fused kernels: ` +
    `${info?.fastKernels ? 'on' : 'off'}) and ONNX Runtime Web (WASM SIMD, threaded) run the same TorchVision weights ` +
    `(\`weights.pth\` / \`model.onnx\` as above) on the same input, with the same thread count, interleaved round by round ` +
    `in one page: ${report.runs} rounds after ${report.warmup} warm-up rounds; in each round each runtime makes ` +
    `${report.lead} untimed runs, then ${report.block} timed runs whose median is its sample for the round (both ` +
    `runtimes' thread pools spin for a while after a run; on 2 cores ORT-Web's, spinning for milliseconds, would ` +
    `otherwise take a core from the first runs of the other). The ratio is mnv3 / ORT-Web per round ` +
    `(median, min–max over rounds; below 1 means mnv3 is faster). The goal is ≤ 0.7 with threads. ` +
    `"threads (reached, our kernels)": asked for; what \`setupBackend({ threads })\` got from tfjs ` +
    `(\`getThreadsCount()\`); the threads our fused kernels split their work over (\`BackendInfo.kernelThreads\`). ` +
    `Measured ${report.date.slice(0, 10)} on ${report.machine.cpu} (${report.machine.cpus} cores, shared with other work).\n\n` +
    `${table(report)}\n\n` +
    `How mnv3 uses the threads: tfjs' XNNPACK pool serves the ops left to tfjs (the 3-channel stem convolution, ` +
    `resizes), and our fused kernels (every ungrouped convolution and linear layer in one GEMM kernel, depthwise ` +
    `convolutions, squeeze-excitation, activations, pooling: nearly all of the work) split each call over a pool of their own, the calling thread and \`threads − 1\` Web ` +
    `Workers on tfjs' shared memory. A call publishes its ` +
    `arguments in a control block and the threads claim chunks of its work (pixels, output rows, elements, channels) ` +
    `with atomics, the calling thread included, so a worker slow to wake only means the caller does more; workers ` +
    `spin briefly between calls, then sleep (Atomics.wait). What does not scale: tfjs' per-op work on the calling ` +
    `thread between kernels, and calls too small to split. ` +
    `Both runtimes' pools spin-wait, so with 2 cores a third busy process hurts the 2-thread rows of both a lot; ` +
    `the ratio (per round, back to back) is more robust than the times.\n` +
    (values.note ? `\n${values.note}\n` : '')
  );
}

for (const m of new Set([...models.map(baseOf), ...int8Models])) exportModel(m);
if (!values['no-build']) {
  console.error('building the page…');
  await buildPage();
}
const server = await startServer({ distDir: DIST, cacheDir: CACHE_DIR, ortDir: ORT_DIR });
const browser = await launch();
const report = {
  date: new Date().toISOString(),
  models,
  machine: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpu: cpus()[0]?.model ?? '?' },
  browser: browser.version(),
  runs: Number(values.runs),
  warmup: Number(values.warmup),
  lead: Number(values.lead),
  block: Number(values.block),
  runs_by_threads: [],
};
try {
  for (const threads of threadCounts) {
    console.error(`threads ${threads}: ${models.join(', ')}`);
    const q = new URLSearchParams({ models: models.join(','), threads: String(threads), runs: values.runs, warmup: values.warmup });
    if (values['kernel-threads']) q.set('kernelThreads', values['kernel-threads']);
    q.set('lead', values.lead);
    q.set('block', values.block);
    const state = await runPage(browser, `${server.url}/?${q}`, 3_600_000);
    if (!state.info.crossOriginIsolated) throw new Error('the page is not cross-origin isolated');
    if (state.info.threadsCount !== threads) console.error(`warning: asked for ${threads} threads, tfjs-wasm has ${state.info.threadsCount}`);
    report.runs_by_threads.push({ threads, info: state.info, results: state.results, int8Results: state.int8Results });
  }
} finally {
  await browser.close();
  await server.close();
}

/** The report of one kind of row: float rows (`results`) or int8 rows (`int8Results`). */
const part = (kind, modelList) => ({
  ...report,
  models: modelList,
  runs_by_threads: report.runs_by_threads.map(({ int8Results, results, ...rest }) => ({ ...rest, results: kind === 'int8' ? int8Results : results })),
});
const floatReport = part('float', floatModels);
const int8Report = part('int8', int8Models);
if (floatModels.length) writeAtomic(join(out, 'results/browser.json'), `${JSON.stringify(floatReport, null, 2)}\n`);
if (int8Models.length) writeAtomic(join(out, 'results/browser-int8.json'), `${JSON.stringify(int8Report, null, 2)}\n`);
const readmePath = join(out, 'README.md');
let readme = '# Benchmarks\n';
try {
  readme = readFileSync(readmePath, 'utf8');
} catch {
  // first run
}
writeAtomic(
  readmePath,
  spliceSections(readme, { float: floatModels.length ? renderSection(floatReport) : null, int8: int8Models.length ? renderInt8Section(int8Report) : null }),
);
if (floatModels.length) console.log(table(floatReport));
if (int8Models.length) console.log(int8Table(int8Report));
