// QAT training-step throughput against the float training step, in one run on one machine:
// MobileNetV3-Small (10 classes) on random 64×64 batches, forward + backward + an SGD update,
// alternating float and QAT rounds so background load hits both alike.
// Usage: node packages/quantize/scripts/bench-qat-step.mjs [BATCH=64] [ROUNDS=4] [STEPS=3]
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@mnv3/layers/backend';
import '@mnv3/layers/train';
import { seededRng } from '@mnv3/layers';
import { mobilenetV3Small } from '@mnv3/backbone';
import { prepareQat } from '@mnv3/quantize/qat';

const [batch = 64, rounds = 4, steps = 3] = process.argv.slice(2).map(Number);
await setupBackend({ backend: 'wasm' });
const float = mobilenetV3Small({ numClasses: 10 }).initWeights(seededRng(1));
const qat = prepareQat(float.stateDict(), { arch: 'mobilenet_v3_small' }).train();
float.train();
const x = tf.randomNormal([batch, 64, 64, 3]);
const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32'), 10);

async function step(model) {
  const params = model.parameters();
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.forward(x)), params);
  tf.tidy(() => {
    for (const v of params) v.assign(tf.sub(v, tf.mul(grads[v.name], 1e-4)));
  });
  await value.data();
  tf.dispose([value, ...Object.values(grads)]);
}

const times = { float: [], qat: [] };
for (const m of [float, qat]) await step(m); // warm-up (kernels, first observation)
for (let r = 0; r < rounds; r++) {
  for (const [name, m] of [['float', float], ['qat', qat]]) {
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) await step(m);
    times[name].push((performance.now() - t0) / steps);
  }
}
const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const f = median(times.float);
const q = median(times.qat);
console.log(JSON.stringify({ batch, rounds, steps, floatMsPerStep: +f.toFixed(1), qatMsPerStep: +q.toFixed(1), floatImgPerSec: +((1000 * batch) / f).toFixed(1), qatImgPerSec: +((1000 * batch) / q).toFixed(1), qatSlowdown: +(q / f).toFixed(2), loadavg: (await import('node:os')).loadavg().map((l) => +l.toFixed(2)) }));
