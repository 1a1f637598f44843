import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@mnv3/layers/backend';
import { seededRng } from '@mnv3/layers';
import { readCheckpoint } from '@mnv3/io';
import { readFileSync } from 'node:fs';
import { CLASSIFICATION_MODELS } from '@mnv3/backbone';
await setupBackend({ backend: 'wasm' });
const { WasmQuantizedMobileNetV3, convert, mobilenetV3Large, mobilenetV3Small } = await import('@mnv3/quantize');
const arch = process.argv[2] ?? 'mobilenet_v3_large';
const sd = readCheckpoint(readFileSync(`/work/wt-quantize/.cache/fixtures/quantize/qat_${arch}.pth`));
const qat = (arch === 'mobilenet_v3_large' ? mobilenetV3Large : mobilenetV3Small)({ quantize: true });
qat.loadStateDict(sd);
const e = WasmQuantizedMobileNetV3.create(convert(qat));
const fm = CLASSIFICATION_MODELS.get(arch).build(); fm.initWeights(seededRng(0));
const x = new Float32Array(224 * 224 * 3).map(() => Math.random() * 4 - 2);
const xt = tf.tensor4d(x, [1, 224, 224, 3]);
const runF = async () => { const y = fm.forward(xt); await y.data(); y.dispose(); };
for (let i = 0; i < 5; i++) { e.forward(x, [1, 224, 224, 3]); await runF(); }
const ti = [], tf_ = [], ratio = [];
for (let i = 0; i < 40; i++) {
  let t0 = performance.now(); e.forward(x, [1, 224, 224, 3]); const a = performance.now() - t0;
  t0 = performance.now(); await runF(); const b = performance.now() - t0;
  ti.push(a); tf_.push(b); ratio.push(b / a);
}
const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(arch, 'int8', med(ti).toFixed(2), 'float', med(tf_).toFixed(2), 'float/int8 (median of per-round)', med(ratio).toFixed(2));
if (process.argv[3]) {
const k = e.heap.k; const orig = k.run.bind(k); const acc = {};
k.run = (name, args, units, align, ns) => { const t0 = performance.now(); orig(name, args, units, align, ns); acc[name] = (acc[name] ?? 0) + performance.now() - t0; };
for (let i = 0; i < 20; i++) e.forward(x, [1, 224, 224, 3]);
let tot = 0; for (const v of Object.values(acc)) tot += v;
for (const [n, v] of Object.entries(acc).sort((a, b) => b[1] - a[1])) console.log(n.padEnd(14), (v / 20).toFixed(2), 'ms', (100 * v / tot).toFixed(1) + '%');
}
