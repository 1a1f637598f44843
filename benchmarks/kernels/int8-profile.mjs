#!/usr/bin/env node
// Where the time of the int8 model and of its float twin goes, kernel by kernel (our WASM kernels,
// through setKernelProfiler), in one process on one thread: the int8 engine's kernels and the float
// model's, each call's minimum over the rounds, summed per kernel; the depthwise layers one by one;
// and the two models' whole-inference times, interleaved round by round with the profiler off.
//
//   node benchmarks/kernels/int8-profile.mjs [--model mobilenet_v3_large|mobilenet_v3_small] [--rounds R] [--json FILE]
//
// MNV3_RELAXED_SIMD=0 profiles the plain-SIMD build (Node 20 without --experimental-wasm-relaxed-simd
// runs it anyway).
import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BENCH_MODELS, interleaved, ours, summarize } from '@mnv3/bench';
import { relaxedSimdEnabled, setKernelProfiler } from '@mnv3/layers';
import { setupBackend } from '@mnv3/layers/backend';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'mobilenet_v3_large' },
    rounds: { type: 'string', default: '30' },
    json: { type: 'string' },
  },
});
const quantizable = Object.keys(BENCH_MODELS)
  .filter((m) => m.endsWith('@int8'))
  .map((m) => m.slice(0, -'@int8'.length));
if (!quantizable.includes(values.model)) {
  console.error(`--model must be one of ${quantizable.join(', ')}, got "${values.model}"`);
  process.exit(2);
}
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 2) {
  console.error(`--rounds needs an integer ≥ 2, got "${values.rounds}"`);
  process.exit(2);
}

await setupBackend({ backend: 'wasm' });
const int8 = await ours({ model: `${values.model}@int8` });
const float = int8.extra[0];

/** Each call's [kernel, minimum ms] over the rounds, in call order. */
async function profile(run) {
  const minima = [];
  for (let r = 0; r < rounds; r++) {
    const calls = [];
    setKernelProfiler((kernel, ms) => calls.push([kernel, ms]));
    try {
      await run();
    } finally {
      setKernelProfiler(null);
    }
    if (r > 0 && calls.length !== minima.length) throw new Error(`the model made ${calls.length} kernel calls, ${minima.length} before: not one fixed sequence`);
    calls.forEach(([kernel, ms], i) => {
      minima[i] = minima[i] ? [kernel, Math.min(minima[i][1], ms)] : [kernel, ms];
    });
  }
  return minima;
}

function byKernel(minima) {
  const sums = new Map();
  for (const [kernel, ms] of minima) sums.set(kernel, (sums.get(kernel) ?? 0) + ms);
  return [...sums].sort((a, b) => b[1] - a[1]);
}

// Whole inferences, profiler off, interleaved round by round.
const samples = await interleaved([int8, float], { warmup: 3, runs: rounds });
const int8Ms = samples.get(int8.name);
const floatMs = samples.get(float.name);
const int8Calls = await profile(() => int8.run());
const floatCalls = await profile(() => float.run());
int8.dispose();

const total = (calls) => calls.reduce((s, [, ms]) => s + ms, 0);
const result = {
  model: values.model,
  relaxedSimd: relaxedSimdEnabled(),
  rounds,
  wallMs: { int8: summarize(int8Ms).median_ms, float: summarize(floatMs).median_ms },
  floatOverInt8: summarize(floatMs.map((ms, i) => ms / int8Ms[i])).median_ms,
  int8: { kernelMs: total(int8Calls), byKernel: byKernel(int8Calls) },
  float: { kernelMs: total(floatCalls), byKernel: byKernel(floatCalls) },
  depthwise: [],
};
// The i-th depthwise layer of each model (int8: its pair-image copy, then the kernel).
const fd = floatCalls.filter(([k]) => k === 'depthwise').map(([, ms]) => ms);
const qd = int8Calls.flatMap(([k, ms], i) => (k === 'qdepthwise' ? [[int8Calls[i - 1][1], ms]] : []));
fd.forEach((ms, i) => result.depthwise.push({ float: ms, qpad16: qd[i][0], qdepthwise: qd[i][1] }));

const pct = (ms, of) => `${((100 * ms) / of).toFixed(1)}%`;
console.log(`${values.model}, 1 thread, ${result.relaxedSimd ? 'relaxed-SIMD' : 'plain-SIMD'} build, ${rounds} rounds`);
console.log(`whole inference (medians, profiler off): int8 ${result.wallMs.int8.toFixed(2)} ms, float ${result.wallMs.float.toFixed(2)} ms; float / int8 ${result.floatOverInt8.toFixed(2)}× (median of per-round ratios)`);
for (const side of ['int8', 'float']) {
  const { kernelMs, byKernel: rows } = result[side];
  console.log(`\n${side}: our kernels ${kernelMs.toFixed(2)} ms (sum of per-call minima; the rest of the inference is outside them)`);
  for (const [k, ms] of rows) console.log(`  ${k.padEnd(14)} ${ms.toFixed(3).padStart(7)} ms  ${pct(ms, kernelMs).padStart(6)}`);
}
console.log('\ndepthwise layers, ms: float | int8 pair image + kernel | float / int8');
result.depthwise.forEach((d, i) => console.log(`  ${String(i).padStart(2)}: ${d.float.toFixed(3)} | ${d.qpad16.toFixed(3)} + ${d.qdepthwise.toFixed(3)} | ${(d.float / (d.qpad16 + d.qdepthwise)).toFixed(2)}×`));
if (values.json) {
  const tmp = `${values.json}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2)}\n`);
  renameSync(tmp, values.json);
}
