#!/usr/bin/env node
// Training speed of the Fashion-MNIST recipe's step (MobileNetV3-Small, 10 classes, 64x64) on tfjs'
// WASM backend beside PyTorch 1.13's, in one run: img/s of one train.py step (forward,
// cross-entropy, backward, RMSprop(alpha 0.9, eps 0.0316, momentum 0.9, weight decay 1e-5), the
// batch's top-1 / top-5 hits), one thread each, rounds interleaved; then tf.profile of one step, by
// kernel. Ours is the trainer's own `Trainer.step`. Not a test: numbers for the README. Needs
// `pnpm build` first.
//
//   node packages/train-recipes/scripts/train-speed.mjs [--batches 64,128] [--steps 5] [--rounds 2] [--no-torch] [--profile]
//   MNV3_KERNELS=plain node packages/train-recipes/scripts/train-speed.mjs   # tfjs ops only (reference path)
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@mnv3/layers/backend';
import { normal, seededRng } from '@mnv3/layers';

const { values } = parseArgs({
  options: { batches: { type: 'string', default: '64,128' }, steps: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' }, 'no-torch': { type: 'boolean' }, profile: { type: 'boolean' } },
});
const batches = values.batches.split(',').map(Number);
const steps = Number(values.steps);
const rounds = Number(values.rounds);
const RECIPE = 'mobilenet_v3_small-fashion-mnist';
const size = 64;
const classes = 10;
const PYTHON = process.env.MNV3_PYTHON ?? '/usr/bin/python3';

const info = await setupBackend({ backend: 'wasm' });
await import('@mnv3/layers/train');
const { Trainer, getRecipe } = await import('@mnv3/train-recipes');

/** One trainer per batch size (its own model and optimiser state), and a fixed batch of noise. */
const runs = new Map(
  batches.map((batch) => {
    const recipe = getRecipe(RECIPE, { batchSize: batch });
    const images = normal(seededRng(batch), batch * size * size * 3);
    const labels = Int32Array.from({ length: batch }, (_, i) => i % classes);
    return [batch, { trainer: new Trainer(recipe, { numClasses: classes, seed: 0 }), batch: (step) => ({ images, labels, size, n: batch, step }) }];
  }),
);

async function ours(batch) {
  const { trainer, batch: at } = runs.get(batch);
  await trainer.step(at(0), 0); // warm-up
  let ms = 0;
  for (let i = 1; i <= steps; i++) ms += (await trainer.step(at(i), 0)).ms;
  return (batch * steps * 1000) / ms;
}

const a = getRecipe(RECIPE).args;
const r = getRecipe(RECIPE);
const TORCH = `
import sys, time, torch
from torchvision import models
torch.set_num_threads(1)
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
t0 = time.perf_counter()
for _ in range(steps):
    step()
print(batch * steps / (time.perf_counter() - t0))
`;

function torchRate(batch) {
  return Number(execFileSync(PYTHON, ['-c', TORCH, String(batch), String(steps)], { encoding: 'utf8' }).trim());
}

console.log(`backend ${info.backend}, SIMD ${info.simd}, fast kernels ${info.fastKernels}, kernel mode ${process.env.MNV3_KERNELS ?? 'fast'}; ${RECIPE}'s step, MobileNetV3-Small ${size}x${size}, ${steps} steps per round`);
const results = {};
for (let round = 0; round < rounds; round++) {
  for (const b of batches) {
    const o = await ours(b);
    const t = values['no-torch'] ? NaN : torchRate(b);
    (results[b] ??= []).push({ ours: o, torch: t });
    console.log(`round ${round + 1} batch ${b}: mnv3 ${o.toFixed(0)} img/s, torch ${t.toFixed(0)} img/s, ratio ${(o / t).toFixed(2)}`);
  }
}
for (const b of batches) {
  const rs = results[b];
  const ratios = rs.map((x) => x.ours / x.torch).sort((p, q) => p - q);
  const o = Math.max(...rs.map((x) => x.ours));
  const t = Math.max(...rs.map((x) => x.torch));
  console.log(`batch ${b}: best mnv3 ${o.toFixed(0)} img/s, best torch ${t.toFixed(0)} img/s, ratios per round ${rs.map((x) => (x.ours / x.torch).toFixed(2)).join(' ')} (median ${ratios[Math.floor(ratios.length / 2)].toFixed(2)})`);
}

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
  console.log(`profile, batch ${b}: ${prof.kernels.length} kernel calls, ${total.toFixed(0)} ms in kernels`);
  for (const [name, e] of [...by].sort((p, q) => q[1].ms - p[1].ms).slice(0, 25)) {
    console.log(`  ${name.padEnd(36)} ${e.ms.toFixed(1).padStart(8)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${e.calls} calls`);
  }
}
for (const { trainer } of runs.values()) trainer.dispose();
