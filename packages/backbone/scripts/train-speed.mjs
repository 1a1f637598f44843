#!/usr/bin/env node
// Training speed of MobileNetV3-Small on tfjs' WASM backend (our kernels) beside PyTorch's, in one
// run: img/s of one step (forward + backward of a mean cross-entropy loss, then a plain SGD update)
// at 64x64, batch 64 and 128, one thread each, rounds interleaved; then tf.profile of one step, by
// kernel. Not a test: numbers for the README. Needs `pnpm build` first.
//
//   node packages/backbone/scripts/train-speed.mjs [--batches 64,128] [--steps 5] [--rounds 2] [--no-torch] [--profile]
//   MNV3_KERNELS=plain node packages/backbone/scripts/train-speed.mjs   # tfjs ops only (reference path)
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@mnv3/layers/backend';
import '@mnv3/layers/train';
import { normal, seededRng } from '@mnv3/layers';
import { mobilenetV3Small } from '@mnv3/backbone';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : process.argv[i + 1];
};
const batches = arg('batches', '64,128').split(',').map(Number);
const steps = Number(arg('steps', '5'));
const rounds = Number(arg('rounds', '2'));
const size = 64;
const classes = 10;
const PYTHON = process.env.MNV3_PYTHON ?? '/usr/bin/python3';

const info = await setupBackend({ backend: 'wasm' });
const model = mobilenetV3Small({ numClasses: classes, dropout: 0.2 }).initWeights(seededRng(0));
model.train();
const params = model.parameters();

function crossEntropy(logits, labels) {
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(labels, classes)), 1)));
}

function step(x, labels, lr = 0.01) {
  const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(x), labels), params);
  tf.tidy(() => {
    for (const v of params) v.assign(tf.sub(v, tf.mul(grads[v.name], lr)));
  });
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return loss;
}

function ours(batch) {
  const x = tf.tensor4d(normal(seededRng(batch), batch * size * size * 3), [batch, size, size, 3]);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % classes), 'int32');
  step(x, labels); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step(x, labels);
  const ms = (performance.now() - t0) / steps;
  tf.dispose([x, labels]);
  return (batch * 1000) / ms;
}

const TORCH = `
import sys, time, torch
from torchvision import models
torch.set_num_threads(1)
torch.manual_seed(0)
batch, steps, size, classes = int(sys.argv[1]), int(sys.argv[2]), ${size}, ${classes}
model = models.mobilenet_v3_small(num_classes=classes).to(memory_format=torch.channels_last).train()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(batch, 3, size, size).to(memory_format=torch.channels_last)
y = torch.arange(batch) % classes
def step():
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
print(batch * steps / (time.perf_counter() - t0))
`;

function torchRate(batch) {
  return Number(execFileSync(PYTHON, ['-c', TORCH, String(batch), String(steps)], { encoding: 'utf8' }).trim());
}

console.log(`backend ${info.backend}, SIMD ${info.simd}, fast kernels ${info.fastKernels}, kernel mode ${process.env.MNV3_KERNELS ?? 'fast'}; MobileNetV3-Small ${size}x${size}, ${steps} steps per round`);
const results = {};
for (let r = 0; r < rounds; r++) {
  for (const b of batches) {
    const o = ours(b);
    const t = process.argv.includes('--no-torch') ? NaN : torchRate(b);
    (results[b] ??= []).push({ ours: o, torch: t });
    console.log(`round ${r + 1} batch ${b}: mnv3 ${o.toFixed(0)} img/s, torch ${t.toFixed(0)} img/s, ratio ${(o / t).toFixed(2)}`);
  }
}
for (const b of batches) {
  const rs = results[b];
  const o = Math.max(...rs.map((x) => x.ours));
  const t = Math.max(...rs.map((x) => x.torch));
  const ratios = rs.map((x) => x.ours / x.torch);
  console.log(`batch ${b}: best mnv3 ${o.toFixed(0)} img/s, best torch ${t.toFixed(0)} img/s, ratios per round ${ratios.map((v) => v.toFixed(2)).join(' ')}`);
}

if (process.argv.includes('--profile')) {
  const b = batches[batches.length - 1];
  const x = tf.tensor4d(normal(seededRng(1), b * size * size * 3), [b, size, size, 3]);
  const labels = tf.tensor1d(Array.from({ length: b }, (_, i) => i % classes), 'int32');
  const prof = await tf.profile(() => {
    step(x, labels);
  });
  const by = new Map();
  for (const k of prof.kernels) {
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += k.kernelTimeMs;
    e.calls++;
    by.set(k.name, e);
  }
  const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
  console.log(`profile, batch ${b}: ${prof.kernels.length} kernel calls, ${total.toFixed(0)} ms in kernels`);
  for (const [name, e] of [...by].sort((a, c) => c[1].ms - a[1].ms).slice(0, 25)) {
    console.log(`  ${name.padEnd(36)} ${e.ms.toFixed(1).padStart(8)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${e.calls} calls`);
  }
  tf.dispose([x, labels]);
}
model.dispose();
