import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@mnv3/layers/backend';
import { setKernelMode, seededRng } from '@mnv3/layers';
import { benchEntry } from './dist/models.js';
await setupBackend({ backend: 'wasm' });
const mode = process.env.MODE ?? 'fast';
setKernelMode(mode);
for (const name of (process.env.MODELS ?? 'mobilenet_v3_large,mobilenet_v3_small').split(',')) {
  const m = benchEntry(name).build(); m.module.initWeights(seededRng(0));
  const x = tf.randomNormal([1, 224, 224, 3]);
  for (let i = 0; i < 5; i++) tf.dispose(m.run(x));
  const agg = new Map();
  let total = 0;
  for (let r = 0; r < 10; r++) {
    const info = await tf.profile(() => tf.dispose(m.run(x)));
    for (const k of info.kernels) {
      const key = k.name + (k.name === 'FusedConv2D' ? (k.inputShapes[1][0] === 1 ? ' 1x1' : ' kxk') : '');
      const t = await k.kernelTimeMs;
      const a = agg.get(key) ?? { t: 0, n: 0 }; a.t += t / 10; a.n += 1 / 10; agg.set(key, a); total += t / 10;
    }
  }
  console.log(name, mode, 'kernel total', total.toFixed(2));
  for (const [k, v] of [...agg].sort((a, b) => b[1].t - a[1].t)) console.log('  ', k.padEnd(28), v.t.toFixed(2), 'ms', v.n.toFixed(0), 'calls');
  // wall time
  const ts = [];
  for (let i = 0; i < 20; i++) { const t0 = performance.now(); const y = m.run(x); await y.data(); y.dispose(); ts.push(performance.now() - t0); }
  ts.sort((p, q) => p - q); console.log('  wall median', ts[10].toFixed(2), 'min', ts[0].toFixed(2));
}
