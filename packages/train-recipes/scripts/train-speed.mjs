#!/usr/bin/env node
// Training speed of the Fashion-MNIST recipe's step (MobileNetV3-Small, 10 classes, 64x64) on tfjs'
// WASM backend beside PyTorch 1.13's, in one run: img/s of one train.py step (forward,
// cross-entropy, backward, RMSprop(alpha 0.9, eps 0.0316, momentum 0.9, weight decay 1e-5), the
// batch's top-1 / top-5 hits), one thread each, rounds interleaved; then tf.profile of one step, by
// kernel. Ours is the trainer's own `Trainer.step`. With --cores N, each batch also runs on N
// cores: ours as N data-parallel replicas of batch/N (`mnv3 train --nproc-per-node N`: rank 0 here,
// the others in worker threads running this file, gradients averaged every step), PyTorch's step on
// N threads at the whole batch. Not a test: numbers for the README. Needs `pnpm build` first.
//
//   node --experimental-wasm-relaxed-simd packages/train-recipes/scripts/train-speed.mjs [--batches 64,128] [--steps 5] [--rounds 2] [--cores 2] [--no-torch] [--profile]
//        [--json FILE] [--readme FILE]   (results as JSON; the "Training step" section of a README, after its TRAIN_MARKER)
//   MNV3_KERNELS=plain node packages/train-recipes/scripts/train-speed.mjs   # tfjs ops only (reference path)
// `pnpm --filter @mnv3/benchmarks bench:train` runs it into benchmarks/results/train.json and benchmarks/README.md.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '@mnv3/io/node';
import { setupBackend } from '@mnv3/layers/backend';
import { normal, relaxedSimdEnabled, seededRng } from '@mnv3/layers';

/** A noise batch of `n` images (the same for a seed). */
function noiseBatch(n, seed, step) {
  const images = normal(seededRng(seed), n * 64 * 64 * 3);
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i % 10), size: 64, n, step };
}

if (!isMainThread) {
  // A replica of a --cores row: steps with rank 0 (each step meets it at the all-reduce) until it aborts the group.
  const { sab, rank, worldSize, numel, batch } = workerData;
  await setupBackend({ backend: 'wasm' });
  await import('@mnv3/layers/train');
  const { GradientAverager, Trainer, getRecipe } = await import('@mnv3/train-recipes');
  const trainer = new Trainer(getRecipe('mobilenet_v3_small-fashion-mnist', { batchSize: batch, worldSize }), { numClasses: 10, seed: 0, averager: new GradientAverager(sab, rank, worldSize, numel) });
  const b = noiseBatch(batch, 1000 + rank, 0);
  try {
    for (;;) await trainer.step(b, 0);
  } catch (e) {
    if (e?.name !== 'ReplicaAbortedError') throw e;
  }
  trainer.dispose();
  process.exit(0);
}

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '64,128' },
    cores: { type: 'string', default: '1' },
    steps: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    'no-torch': { type: 'boolean' },
    profile: { type: 'boolean' },
    json: { type: 'string' },
    readme: { type: 'string' },
  },
});
const batches = values.batches.split(',').map(Number);
const cores = Number(values.cores);
if (!(Number.isInteger(cores) && cores >= 1 && batches.every((b) => b % cores === 0))) throw new Error(`--cores must be an integer ≥ 1 dividing every batch size, got ${values.cores}`);
const steps = Number(values.steps);
const rounds = Number(values.rounds);
const RECIPE = 'mobilenet_v3_small-fashion-mnist';
const size = 64;
const classes = 10;
const PYTHON = process.env.MNV3_PYTHON ?? '/usr/bin/python3';
/** The README part this script owns: from TRAIN_MARKER up to the inference results' marker. */
const TRAIN_MARKER = '<!-- train-results -->';
const NEXT_MARKER = '<!-- results -->';

const info = await setupBackend({ backend: 'wasm' });
await import('@mnv3/layers/train');
const { GradientAverager, Trainer, getRecipe, gradientAverageBuffer } = await import('@mnv3/train-recipes');

/** One trainer per batch size (its own model and optimiser state), and a fixed batch of noise. */
const runs = new Map(
  batches.map((batch) => {
    const recipe = getRecipe(RECIPE, { batchSize: batch });
    const images = normal(seededRng(batch), batch * size * size * 3);
    const labels = Int32Array.from({ length: batch }, (_, i) => i % classes);
    return [batch, { trainer: new Trainer(recipe, { numClasses: classes, seed: 0 }), batch: (step) => ({ images, labels, size, n: batch, step }) }];
  }),
);

/** Per batch, a --cores row's rank 0 and its replicas (worker threads), started on first use. */
const groups = new Map();
function group(batch) {
  if (!groups.has(batch)) {
    const per = batch / cores;
    const recipe = getRecipe(RECIPE, { batchSize: per, worldSize: cores });
    const probe = new Trainer(getRecipe(RECIPE, { batchSize: per }), { numClasses: classes, seed: 0 });
    const numel = probe.model.parameters().reduce((n, p) => n + p.size, 0);
    probe.dispose();
    const sab = gradientAverageBuffer(cores, numel);
    const averager = new GradientAverager(sab, 0, cores, numel);
    const workers = Array.from({ length: cores - 1 }, (_, k) => new Worker(new URL(import.meta.url), { workerData: { sab, rank: k + 1, worldSize: cores, numel, batch: per } }));
    groups.set(batch, { trainer: new Trainer(recipe, { numClasses: classes, seed: 0, averager }), averager, workers, batch: (step) => noiseBatch(per, 1000, step) });
  }
  return groups.get(batch);
}

/** img/s of the whole batch over `cores` replicas: rank 0's step time, which waits for the others at every all-reduce. */
async function oursOnCores(batch) {
  const { trainer, batch: at } = group(batch);
  await trainer.step(at(0), 0); // warm-up
  let ms = 0;
  for (let i = 1; i <= steps; i++) ms += (await trainer.step(at(i), 0)).ms;
  return (batch * steps * 1000) / ms;
}

async function ours(batch) {
  const { trainer, batch: at } = runs.get(batch);
  await trainer.step(at(0), 0); // warm-up
  let ms = 0;
  for (let i = 1; i <= steps; i++) ms += (await trainer.step(at(i), 0)).ms;
  return (batch * steps * 1000) / ms;
}

const r = getRecipe(RECIPE);
const a = r.args;
const TORCH = `
import sys, time, torch
from torchvision import models
torch.set_num_threads(int(sys.argv[3]))
torch.manual_seed(0)
batch, steps, size, classes = int(sys.argv[1]), int(sys.argv[2]), ${size}, ${classes}
model = models.mobilenet_v3_small(num_classes=classes).to(memory_format=torch.channels_last).train()
opt = torch.optim.RMSprop(model.parameters(), lr=${a.lr}, alpha=${r.rmspropAlpha}, eps=${r.rmspropEps}, momentum=${a.momentum}, weight_decay=${a.weightDecay})
x = torch.randn(batch, 3, size, size).to(memory_format=torch.channels_last)
y = torch.arange(batch) % classes
def step():
    out = model(x)
    loss = torch.nn.functional.cross_entropy(out, y, label_smoothing=${a.labelSmoothing})
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    top5 = out.topk(5, 1).indices  # train.py's utils.accuracy
    return loss.item(), (top5[:, 0] == y).sum().item(), (top5 == y[:, None]).any(1).sum().item()
step()
if len(sys.argv) <= 4:
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    print(batch * steps / (time.perf_counter() - t0))
else:
    # Self CPU time per step of each op, summed into the parts partOf (train-speed.mjs) uses for ours.
    import json
    from torch.profiler import profile, ProfilerActivity
    n = int(sys.argv[4])
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
        for _ in range(n):
            step()
    ACT_FWD = {'aten::hardswish', 'aten::hardswish_', 'aten::relu', 'aten::relu_', 'aten::hardsigmoid', 'aten::hardsigmoid_', 'aten::clamp_min', 'aten::clamp_min_'}
    ACT_BWD = {'aten::hardswish_backward', 'aten::threshold_backward', 'aten::hardsigmoid_backward'}
    parts = {}
    for e in p.events():
        root = e
        while root.cpu_parent is not None:
            root = root.cpu_parent
        if root.name.startswith('Optimizer.'):
            part = 'optimiser'
        elif e.name in ('aten::mkldnn_convolution', 'aten::convolution_backward'):
            w = e.input_shapes[1] if e.name == 'aten::mkldnn_convolution' else e.input_shapes[2]
            kind = 'stem' if w[1] == 3 else 'depthwise' if w[1] == 1 and w[2] > 1 else 'dense'
            part = kind if kind == 'stem' else kind + (' forward' if e.name == 'aten::mkldnn_convolution' else ' backward')
        elif e.name == 'aten::native_batch_norm' or e.name in ACT_FWD:
            part = 'bn forward'
        elif e.name == 'aten::native_batch_norm_backward' or e.name in ACT_BWD:
            part = 'bn backward'
        else:
            part = 'other'
        parts[part] = parts.get(part, 0.0) + e.self_cpu_time_total / 1000.0 / n
    print(json.dumps(parts))
`;

function torchRate(batch, threads = 1) {
  return Number(execFileSync(PYTHON, ['-c', TORCH, String(batch), String(steps), String(threads)], { encoding: 'utf8' }).trim());
}

/** PyTorch's step by part (self CPU time per step over `n` profiled steps, torch.profiler, one thread), ms. */
function torchParts(batch, n) {
  return JSON.parse(execFileSync(PYTHON, ['-c', TORCH, String(batch), String(steps), '1', String(n)], { encoding: 'utf8' }));
}

/** The parts both profiles are summed into (the keys torchParts prints), in the README's order. */
const PARTS = [
  ['dense forward', 'dense (1x1) convolutions, forward'],
  ['dense backward', 'dense (1x1) convolutions, backward'],
  ['depthwise forward', 'depthwise convolutions, forward'],
  ['depthwise backward', 'depthwise convolutions, backward'],
  ['stem', 'the 3-channel stem convolution, forward and backward'],
  ['bn forward', 'BatchNorm and activations, forward'],
  ['bn backward', 'BatchNorm and activations, backward'],
  ['optimiser', 'RMSprop'],
  ['other', 'the rest (SE, pooling, residual adds, loss, …)'],
];

/** The part of one of our kernel calls (tf.profile's name and input shapes). */
function partOf(name, inputShapes) {
  if (name === 'Mnv3Conv2dTrain') return 'dense forward';
  if (name === 'Mnv3Conv2dTrainGrad') return 'dense backward';
  if (name === 'Mnv3DepthwiseConv2dTrain') return 'depthwise forward';
  if (name === 'Mnv3DepthwiseConv2dTrainGrad') return 'depthwise backward';
  if (['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'].includes(name)) return inputShapes?.[0]?.[3] === 3 ? 'stem' : name === 'Conv2D' ? 'dense forward' : 'dense backward';
  if (['Mnv3BatchNormTrain', 'Mnv3Activation', 'Mnv3RunningStats'].includes(name)) return 'bn forward';
  if (['Mnv3BatchNormTrainGrad', 'Mnv3ActivationGrad'].includes(name)) return 'bn backward';
  if (name === 'Mnv3RmspropStep' || name === 'Mnv3SgdStep') return 'optimiser';
  return 'other';
}

const load = loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`backend ${info.backend}, SIMD ${info.simd}, fast kernels ${info.fastKernels}, kernel mode ${process.env.MNV3_KERNELS ?? 'fast'}; ${RECIPE}'s step, MobileNetV3-Small ${size}x${size}, ${steps} steps per round`);
/** The rows: every batch on one core, then (--cores N) on N. */
const configs = [...batches.map((batch) => ({ batch, cores: 1 })), ...(cores > 1 ? batches.map((batch) => ({ batch, cores })) : [])];
const results = new Map(configs.map((c) => [c, []]));
for (let round = 0; round < rounds; round++) {
  for (const c of configs) {
    const o = c.cores === 1 ? await ours(c.batch) : await oursOnCores(c.batch);
    const t = values['no-torch'] ? NaN : torchRate(c.batch, c.cores);
    results.get(c).push({ ours: o, torch: t });
    console.log(`round ${round + 1} batch ${c.batch}, ${c.cores} core(s): mnv3 ${o.toFixed(0)} img/s, torch ${t.toFixed(0)} img/s, ratio ${(o / t).toFixed(2)}`);
  }
}
const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const rows = configs.map((c) => {
  const rs = results.get(c);
  const ratios = rs.map((x) => x.ours / x.torch);
  const row = { batch: c.batch, cores: c.cores, oursBest: Math.max(...rs.map((x) => x.ours)), torchBest: Math.max(...rs.map((x) => x.torch)), ratioMedian: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios), rounds: rs };
  console.log(`batch ${c.batch}, ${c.cores} core(s): best mnv3 ${row.oursBest.toFixed(0)} img/s, best torch ${row.torchBest.toFixed(0)} img/s, ratios per round ${ratios.map((v) => v.toFixed(2)).join(' ')} (median ${row.ratioMedian.toFixed(2)})`);
  return row;
});
for (const g of groups.values()) {
  g.averager.abort();
  await Promise.all(g.workers.map((w) => new Promise((ok) => w.once('exit', ok))));
  g.trainer.dispose();
}

let profile = null;
if (values.profile) {
  const b = batches[batches.length - 1];
  const { trainer, batch: at } = runs.get(b);
  const prof = await tf.profile(() => trainer.step(at(steps + 1), 0));
  const by = new Map();
  for (const k of prof.kernels) {
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += k.kernelTimeMs;
    e.calls++;
    by.set(k.name, e);
  }
  const total = [...by.values()].reduce((s, e) => s + e.ms, 0);
  const parts = {};
  for (const k of prof.kernels) {
    const part = partOf(k.name, k.inputShapes);
    parts[part] = (parts[part] ?? 0) + k.kernelTimeMs;
  }
  const torch = values['no-torch'] ? null : torchParts(b, 3);
  profile = { batch: b, parts, torchParts: torch, calls: prof.kernels.length, kernelMs: total, kernels: [...by].sort((p, q) => q[1].ms - p[1].ms).map(([name, e]) => ({ name, ms: e.ms, calls: e.calls })) };
  console.log(`profile, batch ${b}: ${prof.kernels.length} kernel calls, ${total.toFixed(0)} ms in kernels`);
  for (const { name, ms, calls } of profile.kernels.slice(0, 25)) console.log(`  ${name.padEnd(36)} ${ms.toFixed(1).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${calls} calls`);
  for (const [k] of PARTS) console.log(`  ${k.padEnd(20)} mnv3 ${(parts[k] ?? 0).toFixed(1).padStart(6)} ms   PyTorch ${torch ? (torch[k] ?? 0).toFixed(1).padStart(6) : '     —'} ms`);
}
for (const { trainer } of runs.values()) trainer.dispose();

const torchVersion = values['no-torch'] ? null : execFileSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
/** The CPU's vector extensions PyTorch's kernels can use (Linux), for the README's reading of the parts. */
function vectorIsa() {
  try {
    const flags = new Set((/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/));
    return flags.has('avx512f') ? 'AVX-512 with FMA' : flags.has('avx2') && flags.has('fma') ? 'AVX2 with FMA' : flags.has('avx2') ? 'AVX2' : null;
  } catch {
    return null;
  }
}
const result = { date: new Date().toISOString().slice(0, 10), cpu: cpus()[0]?.model, vectorIsa: vectorIsa(), node: process.version, torch: torchVersion, recipe: RECIPE, size, steps, rounds, loadAverage: load, kernelMode: process.env.MNV3_KERNELS ?? 'fast', relaxedSimd: relaxedSimdEnabled(), rows, profile };
if (values.json) await writeFileAtomic(values.json, `${JSON.stringify(result, null, 2)}\n`);
if (values.readme) {
  const readme = readFileSync(values.readme, 'utf8');
  const at = readme.indexOf(TRAIN_MARKER);
  const end = readme.indexOf(NEXT_MARKER, at);
  if (at < 0 || end < 0) throw new Error(`${values.readme} has no ${TRAIN_MARKER} … ${NEXT_MARKER} part to write the section into`);
  await writeFileAtomic(values.readme, `${readme.slice(0, at)}${renderSection(result)}\n${readme.slice(end)}`);
}

/** The README section: a row per batch size, then where the kernel time goes. */
function renderSection(r) {
  const lines = [
    TRAIN_MARKER,
    '## Training step (Node)',
    '',
    `\`pnpm --filter @mnv3/benchmarks bench:train\`: one step of the \`${r.recipe}\` recipe (MobileNetV3-Small, 10 classes, ${r.size}×${r.size}: forward, cross-entropy, backward, RMSprop with weight decay, the batch's top-1 / top-5 hits) by our \`Trainer.step\` on tfjs-wasm beside the same step of PyTorch ${r.torch ?? '(missing)'} (channels-last, \`torch.optim.RMSprop\`), one thread each${r.rows.some((x) => x.cores > 1) ? '; on more cores, ours as data-parallel replicas of batch / cores in worker threads (`mnv3 train --nproc-per-node N`, gradients averaged every step) and PyTorch on as many threads at the whole batch' : ''}, ${r.rounds} rounds of ${r.steps} steps after a warm-up step, alternating. Measured ${r.date} on ${r.cpu} (load average ${r.loadAverage} at the start), Node ${r.node}, kernel mode ${r.kernelMode}, our kernels' ${r.relaxedSimd ? 'relaxed-SIMD build (fused multiply-add; Node 20 needs `--experimental-wasm-relaxed-simd`, which bench:train passes and `mnv3` turns on itself)' : 'plain-SIMD build'}. The ratio is mnv3 img/s / PyTorch img/s per round (above 1 means mnv3 is faster; the issue's goal is ≥ 1.0).`,
    '',
    '| batch | cores | mnv3 img/s (best round) | PyTorch img/s (best round) | mnv3 / PyTorch, median (min–max) | ≥ 1.0? |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.rows.map((x) => `| ${x.batch} | ${x.cores ?? 1} | ${x.oursBest.toFixed(0)} | ${x.torchBest.toFixed(0)} | ${x.ratioMedian.toFixed(2)} (${x.ratioMin.toFixed(2)}–${x.ratioMax.toFixed(2)}) | ${x.ratioMedian >= 1 ? 'yes' : 'no'} |`),
  ];
  if (r.profile) {
    const p = r.profile;
    const top = p.kernels.slice(0, 10).map((k) => `${k.name} ${((100 * k.ms) / p.kernelMs).toFixed(0)}% (${k.calls})`);
    lines.push('', `Where a step's kernel time goes (batch ${p.batch}, tf.profile of one step: ${p.calls} kernel calls, ${p.kernelMs.toFixed(0)} ms in kernels; share of kernel time and calls): ${top.join(', ')}.`);
    if (p.torchParts) {
      const sum = (o) => Object.values(o).reduce((x, y) => x + y, 0);
      lines.push(
        '',
        `Side by side by part (batch ${p.batch}, ms per step: ours from the tf.profile above, PyTorch's as self CPU time of its ops in torch.profiler over 3 steps, the optimiser's ops counted by their \`Optimizer.step\` scope; the profiler's own cost inflates PyTorch's many small ops a little):`,
        '',
        '| part | mnv3 ms | PyTorch ms | mnv3 / PyTorch |',
        '| --- | --- | --- | --- |',
        ...PARTS.map(([k, label]) => {
          const [o, t] = [p.parts[k] ?? 0, p.torchParts[k] ?? 0];
          return `| ${label} | ${o.toFixed(1)} | ${t.toFixed(1)} | ${t > 0 ? `${(o / t).toFixed(2)}×` : '—'} |`;
        }),
        `| all | ${sum(p.parts).toFixed(1)} | ${sum(p.torchParts).toFixed(1)} | ${(sum(p.parts) / sum(p.torchParts)).toFixed(2)}× |`,
        '',
        `PyTorch's convolutions run on oneDNN${r.vectorIsa ? `, with ${r.vectorIsa} on this CPU` : ''}; ours on WASM SIMD: 4 lanes, ${r.relaxedSimd ? 'with relaxed SIMD\'s fused multiply-add' : 'a multiply then an add (fused multiply-add only in the relaxed-SIMD build)'}.`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
