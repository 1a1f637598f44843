// Makes FASHION_MNIST_V1, the model the repository ships (MobileNetV3-Small on Fashion-MNIST),
// from two training runs of our own recipes, and writes its model card:
//
//   pnpm -s mnv3 train --recipe mobilenet_v3_small-fashion-mnist-full --output-dir runs/fmv1-float
//   pnpm -s mnv3 train --recipe mobilenet_v3_small-fashion-mnist-qat --weights runs/fmv1-float/<chosen>.pth --output-dir runs/fmv1-qat
//   node packages/cli/scripts/make-fashion-mnist-v1.mjs --float-run runs/fmv1-float [--qat-run runs/fmv1-qat]
//
// The float weights are the run's final model, its EMA or its checkpoint average, whichever scored
// best on the validation split (the test split is never used for a choice). The int8 model is the
// QAT run's (or, without --qat-run, post-training quantization calibrated on 2,048 training images).
// Both are then measured on all 10,000 test images through the weights' own preset and written,
// named by their SHA-256, into packages/backbone/weights and packages/quantize/weights.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setupBackend } from '@mnv3/layers/backend';
import { findStateDict, loadTorchCheckpoint, writeSafetensors } from '@mnv3/io';
import { readFashionMnist } from '@mnv3/io/node';
import { mobilenetV3Small, mobilenetV3Conf } from '@mnv3/backbone';
import { convert, loadQuantized, prepare, saveQuantized, WasmQuantizedMobileNetV3 } from '@mnv3/quantize';
import { ImageClassification } from '@mnv3/transforms';
import * as tf from '@tensorflow/tfjs-core';

const { values } = parseArgs({ options: { 'float-run': { type: 'string' }, 'qat-run': { type: 'string' } } });
if (!values['float-run']) throw new Error('--float-run DIR is required (the output dir of the mobilenet_v3_small-fashion-mnist-full run)');
const floatRun = values['float-run'];
const qatRun = values['qat-run'];
const root = (p) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));

await setupBackend();
/** The preset FASHION_MNIST_V1 declares: what the trainer's evaluation does. */
export const PRESET = ImageClassification({ cropSize: 64, resizeSize: 64, grayscale: true, inputType: 'tensor' });
const config = { ...mobilenetV3Conf('mobilenet_v3_small'), numClasses: 10 };

// -- The float weights, chosen on the validation split.
const history = JSON.parse(readFileSync(`${floatRun}/history.json`, 'utf8'));
const testJson = JSON.parse(readFileSync(`${floatRun}/test.json`, 'utf8'));
const last = history.epochs.at(-1);
const ckpt = loadTorchCheckpoint(new Uint8Array(readFileSync(`${floatRun}/checkpoint.pth`)));
const stripModule = (sd) => new Map([...sd].filter(([k]) => k.startsWith('module.')).map(([k, v]) => [k.slice(7), v]));
const candidates = [{ name: 'final model', file: 'checkpoint.pth', val: last.valAcc1, sd: () => findStateDict(ckpt) }];
if (last.emaAcc1 !== undefined) candidates.push({ name: 'EMA', file: 'checkpoint.pth (model_ema)', val: last.emaAcc1, sd: () => stripModule(findStateDict(ckpt, 'model_ema')) });
if (testJson.averaged) {
  candidates.push({
    name: `average of epochs ${testJson.averaged.epochs.join(', ')}`,
    file: 'model_avg.pth',
    val: testJson.averaged.val.acc1,
    sd: () => findStateDict(loadTorchCheckpoint(new Uint8Array(readFileSync(`${floatRun}/model_avg.pth`)))),
  });
}
const chosen = candidates.reduce((a, b) => (b.val > a.val ? b : a));
const floatSd = new Map([...chosen.sd()].filter(([, t]) => t.dtype === 'float32' || t.dtype === 'int64'));
console.log(`float weights: ${chosen.name} (val acc@1 ${chosen.val.toFixed(2)}; candidates ${candidates.map((c) => `${c.name} ${c.val.toFixed(2)}`).join(', ')})`);

// -- The test split through the preset, once.
const te = await readFashionMnist({ train: false });
const N = te.labels.length;
const X = new Float32Array(N * 64 * 64 * 3);
const grayToRgb = (images, i) => {
  const rgb = new Uint8Array(784 * 3);
  for (let p = 0; p < 784; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = images[i * 784 + p];
  return { width: 28, height: 28, data: rgb };
};
for (let i = 0; i < N; i++) X.set(PRESET.apply(grayToRgb(te.images, i)).data, i * 64 * 64 * 3);

function accuracy(forward) {
  let hits = 0;
  const B = 100;
  for (let b = 0; b < N; b += B) {
    const logits = forward(X.subarray(b * 12288, (b + B) * 12288), [B, 64, 64, 3]);
    for (let i = 0; i < B; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
      if (best === te.labels[b + i]) hits++;
    }
  }
  return (100 * hits) / N;
}

const model = mobilenetV3Small({ numClasses: 10 });
model.loadStateDict(floatSd);
model.eval();
const floatAcc = accuracy((data, shape) => tf.tidy(() => model.forward(tf.tensor4d(data, shape)).dataSync()));

// -- The int8 model.
let int8Bytes;
let int8From;
if (qatRun) {
  const file = readdirSync(qatRun).find((f) => f.endsWith('.int8.safetensors'));
  if (!file) throw new Error(`${qatRun} holds no *.int8.safetensors (the QAT run writes one at its end)`);
  int8Bytes = new Uint8Array(readFileSync(`${qatRun}/${file}`));
  int8From = `quantization-aware training (${qatRun}/${file})`;
} else {
  const tr = await readFashionMnist({ train: true });
  const observed = prepare(model, config);
  const B = 64;
  for (let b = 0; b < 2048; b += B) {
    const batch = new Float32Array(B * 12288);
    for (let i = 0; i < B; i++) batch.set(PRESET.apply(grayToRgb(tr.images, b + i)).data, i * 12288);
    observed.observe(batch, [B, 64, 64, 3]);
  }
  int8Bytes = saveQuantized(convert(observed), config);
  int8From = 'post-training quantization (HistogramObserver, 2,048 training images)';
}
const { model: qmodel } = loadQuantized(int8Bytes);
const engine = WasmQuantizedMobileNetV3.create(qmodel);
if (!engine) throw new Error('the int8 WASM kernels did not load');
const int8Acc = accuracy((data, shape) => engine.forward(data, shape).logits);
engine.dispose();

// -- Write both files, named by their SHA-256, replacing the previous ones.
const floatBytes = writeSafetensors(floatSd, { format: 'pt' });
const write = (dir, stem, bytes) => {
  for (const f of readdirSync(root(dir))) if (f.startsWith(`${stem}-`)) rmSync(root(`${dir}/${f}`));
  const name = `${stem}-${createHash('sha256').update(bytes).digest('hex').slice(0, 8)}.safetensors`;
  writeFileSync(root(`${dir}/${name}`), bytes);
  return name;
};
const floatName = write('packages/backbone/weights', 'mobilenet_v3_small-fashion_mnist_v1', floatBytes);
const int8Name = write('packages/quantize/weights', 'mobilenet_v3_small-fashion_mnist_v1_int8', int8Bytes);
const summary = {
  floatFile: floatName,
  floatBytes: floatBytes.byteLength,
  int8File: int8Name,
  int8Bytes: int8Bytes.byteLength,
  floatChoice: chosen.name,
  floatVal: chosen.val,
  testAcc1Float: Number(floatAcc.toFixed(2)),
  testAcc1Int8: Number(int8Acc.toFixed(2)),
  int8From,
  recipe: history.recipe,
  epochs: history.epochs.length,
  trainSeconds: Math.round(history.epochs.reduce((a, e) => a + e.seconds, 0)),
  trainerTest: testJson,
};
console.log(JSON.stringify(summary, null, 2));
