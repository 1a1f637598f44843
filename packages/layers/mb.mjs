import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from './dist/backend.js';
import { fastBackend, runKernel } from './dist/kernels/fast.js';
await setupBackend({ backend: 'wasm' });
fastBackend();
const shapes = [[112*112,16,64],[56*56,24,72],[56*56,72,24],[28*28,40,120],[28*28,120,40],[14*14,80,240],[14*14,240,80],[14*14,112,672],[14*14,672,112],[7*7,160,960],[7*7,960,160]];
let totA = 0, totB = 0;
for (const [p, ci, co] of shapes) {
  const x = tf.randomNormal([1, 1, p, ci]); const f = tf.randomNormal([1, 1, ci, co]); const b = tf.randomNormal([co]);
  const A = () => runKernel('FusedConv2D', { x, filter: f, bias: b }, { strides: [1,1], pad: 0, dataFormat: 'NHWC', dilations: [1,1], activation: 'relu', leakyreluAlpha: 0 });
  const B = () => runKernel('Mnv3PointwiseConv2d', { x, filter: f, bias: b }, { activation: 'relu' });
  const ya = A(), yb = B(); const d = tf.max(tf.abs(tf.sub(ya, yb))).dataSync()[0]; tf.dispose([ya, yb]);
  const ta = [], tb = [];
  for (let r = 0; r < 60; r++) {
    let t0 = performance.now(); A().dispose(); ta.push(performance.now() - t0);
    t0 = performance.now(); B().dispose(); tb.push(performance.now() - t0);
  }
  ta.sort((a, b) => a - b); tb.sort((a, b) => a - b);
  const ma = ta[30], mbb = tb[30]; totA += ma; totB += mbb;
  const gf = (ms) => (2 * p * ci * co / ms / 1e6).toFixed(1);
  console.log(`${p}x${ci}->${co}  xnn ${ma.toFixed(3)}ms (${gf(ta[0])} GF/s best)  ours ${mbb.toFixed(3)}ms (${gf(tb[0])} GF/s best) ratio ${(mbb/ma).toFixed(2)} maxdiff ${d.toExponential(1)}`);
}
console.log('total xnn', totA.toFixed(2), 'ours', totB.toFixed(2));
