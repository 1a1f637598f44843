import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from './dist/backend.js';
import { fastBackend, runKernel } from './dist/kernels/fast.js';
await setupBackend({ backend: 'wasm' });
fastBackend();
for (const [ci, co] of [[960, 1280], [1280, 1000], [576, 1024], [1024, 1000]]) {
  const x = tf.randomNormal([1, ci]); const w = tf.randomNormal([ci, co]); const b = tf.randomNormal([co]);
  const x4 = tf.reshape(x, [1, 1, 1, ci]); const w4 = tf.reshape(w, [1, 1, ci, co]);
  const A = () => tf.fused.matMul({ a: x, b: w, bias: b });
  const B = () => runKernel('Mnv3PointwiseConv2d', { x: x4, filter: w4, bias: b }, { activation: 'linear' });
  const ya = A(), yb = B(); const d = tf.max(tf.abs(tf.sub(ya, tf.reshape(yb, [1, co])))).dataSync()[0]; tf.dispose([ya, yb]);
  const ta = [], tb = [];
  for (let r = 0; r < 60; r++) {
    let t0 = performance.now(); A().dispose(); ta.push(performance.now() - t0);
    t0 = performance.now(); B().dispose(); tb.push(performance.now() - t0);
  }
  ta.sort((a, b) => a - b); tb.sort((a, b) => a - b);
  console.log(`${ci}->${co} xnn ${ta[30].toFixed(3)} (min ${ta[0].toFixed(3)}) ours ${tb[30].toFixed(3)} (min ${tb[0].toFixed(3)}) maxdiff ${d.toExponential(1)}`);
}
