// Makes FASHION_MNIST_V1, the model the repository ships (MobileNetV3-Small on Fashion-MNIST),
// from training runs of our own recipes, and writes its model card:
//
//   pnpm -s mnv3 train --recipe mobilenet_v3_small-fashion-mnist-full --output-dir runs/fmv1-float
//   node packages/cli/scripts/make-fashion-mnist-v1.mjs --float-run runs/fmv1-float    # float file, PTQ int8
//   pnpm -s mnv3 train --recipe mobilenet_v3_small-fashion-mnist-qat --weights runs/fmv1-float/checkpoint.pth --output-dir runs/fmv1-qat
//   node packages/cli/scripts/make-fashion-mnist-v1.mjs --float-run runs/fmv1-float --qat-run runs/fmv1-qat
//
// --measure-only prints the test accuracies of a float run (and its PTQ or QAT int8) and writes nothing.
//
// The float weights are the run's final model, its EMA or its checkpoint average, whichever scored
// best on the validation split (the test split is never used for a choice). The int8 model is the
// QAT run's (or, without --qat-run, post-training quantization calibrated on 2,048 training images).
// Both are then measured on all 10,000 test images through the weights' own preset and written,
// named by their SHA-256, into packages/backbone/weights and packages/quantize/weights.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setupBackend } from '@mnv3/layers/backend';
import { castFloat, findStateDict, loadTorchCheckpoint, writeSafetensors } from '@mnv3/io';
import { readFashionMnist } from '@mnv3/io/node';
import { mobilenetV3Small, mobilenetV3Conf } from '@mnv3/backbone';
import { convert, loadQuantized, prepare, saveQuantized, WasmQuantizedMobileNetV3 } from '@mnv3/quantize';
import { ImageClassification } from '@mnv3/transforms';
import { emaDecay, getRecipe } from '@mnv3/train-recipes';
import * as tf from '@tensorflow/tfjs-core';

const { values } = parseArgs({ options: { 'float-run': { type: 'string' }, 'qat-run': { type: 'string' }, 'measure-only': { type: 'boolean' } } });
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
const candidates = [{ name: 'final model', weights: 'checkpoint.pth', val: last.valAcc1, sd: () => findStateDict(ckpt) }];
if (last.emaAcc1 !== undefined) candidates.push({ name: 'EMA', weights: 'checkpoint.pth --ema', val: last.emaAcc1, sd: () => stripModule(findStateDict(ckpt, 'model_ema')) });
if (testJson.averaged) {
  candidates.push({
    name: `average of epochs ${testJson.averaged.epochs.join(', ')}`,
    weights: 'model_avg.pth',
    val: testJson.averaged.val.acc1,
    sd: () => findStateDict(loadTorchCheckpoint(new Uint8Array(readFileSync(`${floatRun}/model_avg.pth`)))),
  });
}
const chosen = candidates.reduce((a, b) => (b.val > a.val ? b : a));
// Shipped in float16 (half the bytes; the model computes in float32): the figures below are of these weights.
const floatSd = new Map([...chosen.sd()].filter(([, t]) => t.dtype === 'float32' || t.dtype === 'int64').map(([k, t]) => [k, castFloat(t, 'float16')]));
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

// -- The int8 model: QAT's, or post-training quantization (measured either way, for the card's comparison).
async function ptq() {
  const tr = await readFashionMnist({ train: true });
  const observed = prepare(model, config);
  const B = 64;
  for (let b = 0; b < 2048; b += B) {
    const batch = new Float32Array(B * 12288);
    for (let i = 0; i < B; i++) batch.set(PRESET.apply(grayToRgb(tr.images, b + i)).data, i * 12288);
    observed.observe(batch, [B, 64, 64, 3]);
  }
  return saveQuantized(convert(observed), config);
}
function int8Accuracy(bytes) {
  const e = WasmQuantizedMobileNetV3.create(loadQuantized(bytes).model);
  if (!e) throw new Error('the int8 WASM kernels did not load');
  try {
    return accuracy((data, shape) => e.forward(data, shape).logits);
  } finally {
    e.dispose();
  }
}
const ptqBytes = await ptq();
const ptqAcc = int8Accuracy(ptqBytes);
let int8Bytes = ptqBytes;
let int8From = 'post-training quantization (HistogramObserver, 2,048 training images)';
let qatEpochs = 0;
if (qatRun) {
  const file = readdirSync(qatRun).find((f) => f === 'quantized.safetensors');
  if (!file) throw new Error(`${qatRun} holds no quantized.safetensors (the QAT run writes it at its end)`);
  int8Bytes = new Uint8Array(readFileSync(`${qatRun}/${file}`));
  qatEpochs = JSON.parse(readFileSync(`${qatRun}/history.json`, 'utf8')).epochs.length;
  int8From = `quantization-aware training (\`mobilenet_v3_small-fashion-mnist-qat\`, ${qatEpochs} epochs from the float weights, then \`convert\`); post-training quantization of the same float weights (HistogramObserver, 2,048 training images) gives ${ptqAcc.toFixed(2)} %`;
}
const { model: qmodel } = loadQuantized(int8Bytes);
const engine = WasmQuantizedMobileNetV3.create(qmodel);
if (!engine) throw new Error('the int8 WASM kernels did not load');
const int8Acc = accuracy((data, shape) => engine.forward(data, shape).logits);
// Speed, one image at a time (batch 1, 64×64, one thread): float and int8 interleaved in rounds, medians.
const one = X.subarray(0, 12288);
const floatOnce = () => tf.tidy(() => model.forward(tf.tensor4d(one, [1, 64, 64, 3])).dataSync());
const int8Once = () => engine.forward(one, [1, 64, 64, 3]);
for (let i = 0; i < 20; i++) {
  floatOnce();
  int8Once();
}
const times = { float: [], int8: [] };
for (let r = 0; r < 15; r++) {
  for (const [k, f] of [['float', floatOnce], ['int8', int8Once]]) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) f();
    times[k].push((performance.now() - t0) / 20);
  }
}
const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
const speed = { floatMs: median(times.float), int8Ms: median(times.int8) };
speed.ratio = speed.floatMs / speed.int8Ms;
engine.dispose();

const floatBytes = writeSafetensors(floatSd, { format: 'pt' });
if (values['measure-only']) {
  // The float / int8 test accuracies of other runs (e.g. the QAT-vs-PTQ table), nothing written.
  console.log(JSON.stringify({ float: chosen.name, floatVal: chosen.val, testAcc1Float: floatAcc, testAcc1Int8: int8Acc, testAcc1Ptq: ptqAcc, int8From, speed }, null, 2));
  process.exit(0);
}

// -- Write both files, named by their SHA-256, replacing the previous ones.
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
  testAcc1Ptq: Number(ptqAcc.toFixed(2)),
  recipe: history.recipe,
  epochs: history.epochs.length,
  trainSeconds: Math.round(history.epochs.reduce((a, e) => a + e.seconds, 0)),
  trainerTest: testJson,
  speed,
};
console.log(JSON.stringify(summary, null, 2));

// -- The weights entries name the new files and state the measured accuracy.
const entry = (file, stem, name, acc) => {
  const path = root(file);
  const src = readFileSync(path, 'utf8');
  const old = new RegExp(`'\\.\\./weights/${stem}-([0-9a-f]{8})\\.safetensors'`).exec(src)?.[1];
  if (!old) throw new Error(`${file}: the FASHION_MNIST_V1 entry was not found`);
  const hash = /-([0-9a-f]{8})\.safetensors$/.exec(name)[1];
  const next = src
    .replace(`'../weights/${stem}-${old}.safetensors'`, `'../weights/${name}'`)
    .replace(`'${old}', // bundlers rename`, `'${hash}', // bundlers rename`)
    .replace(/(metrics: \{ 'Fashion-MNIST': \{ 'acc@1': )[\d.]+( \} \})/, `$1${acc}$2`);
  if (next === src && !src.includes(name)) throw new Error(`${file}: the FASHION_MNIST_V1 entry was not found`);
  writeFileSync(path, next);
};
entry('packages/backbone/src/mobilenet-v3.ts', 'mobilenet_v3_small-fashion_mnist_v1', floatName, summary.testAcc1Float);
entry('packages/quantize/src/mobilenet-v3.ts', 'mobilenet_v3_small-fashion_mnist_v1_int8', int8Name, summary.testAcc1Int8);

// -- The model card (the test in packages/classify holds the files to its table).
/** The share of the initial weights left in the run's EMA at its end (train.py's decay adjustment). */
const initShare = () => {
  const a = getRecipe(history.recipe).args;
  const decay = emaDecay({ modelEmaDecay: a.modelEmaDecay, modelEmaSteps: a.modelEmaSteps, batchSize: a.batchSize, epochs: history.epochs.length });
  const updates = Math.floor((history.epochs.length * Math.ceil(50000 / a.batchSize)) / a.modelEmaSteps);
  return (100 * decay ** updates).toFixed(0);
};
const t = testJson;
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
const floatRecipe = history.recipe;
const card = `# FASHION_MNIST_V1 — MobileNetV3-Small on Fashion-MNIST (model card)

The model this repository ships, so that its main command works with no network:
\`pnpm -s mnv3 classify examples/images/fashion-mnist/*.png\`. Trained here, end to end, by our own
recipes on tfjs' WASM backend; nothing in it comes from TorchVision's published weights.

| variant | weights entry | file | size | test acc@1 (%) |
|---|---|---|---|---|
| int8 | \`MobileNet_V3_Small_QuantizedWeights.FASHION_MNIST_V1\` (Small's quantized \`DEFAULT\`) | \`packages/quantize/weights/${int8Name}\` | ${mb(int8Bytes.byteLength)} | ${summary.testAcc1Int8.toFixed(2)} |
| float32 | \`MobileNet_V3_Small_Weights.FASHION_MNIST_V1\` | \`packages/backbone/weights/${floatName}\` | ${mb(floatBytes.byteLength)} | ${summary.testAcc1Float.toFixed(2)} |

Speed of one image (batch 1, 64×64, one thread, tfjs' WASM backend; medians of 15 interleaved rounds of 20
on the machine that made it): float32 ${speed.floatMs.toFixed(2)} ms, int8 ${speed.int8Ms.toFixed(2)} ms (${speed.ratio.toFixed(2)}× faster).

Test acc@1: all 10,000 images of Fashion-MNIST's test split (\`t10k\`, Debian's \`dataset-fashion-mnist\`),
through the weights' own preset, as \`load('mobilenet_v3_small', { weights: 'FASHION_MNIST_V1', quantize })\`
runs them (\`packages/classify/test/fashion-mnist-v1.test.ts\` holds both files to this table within 0.05).

## What it is
- Architecture: TorchVision's \`mobilenet_v3_small(num_classes=10)\` (${(1528106).toLocaleString('en')} parameters); the
  float file is a TorchVision state dict (safetensors, weights stored in float16 and computed in float32:
  its accuracy above is that of the stored weights), the int8 file our int8 format (\`saveQuantized\`).
- Classes: Fashion-MNIST's, in label order: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt,
  Sneaker, Bag, Ankle boot.
- Preset: grayscale (PIL's \`convert('L')\`, 3 equal channels), the shorter side resized to 64 on
  TorchVision's uint8-tensor path (bilinear), centre crop 64, ImageNet's mean and std: what the trainer
  evaluated with. Input: Fashion-MNIST-like images, a light garment centred on a dark background.
- int8: ${int8From}; QNNPACK's arithmetic on our int8 WASM SIMD kernels.

## How it was made
1. \`${floatRecipe}\`: ${history.epochs.length} epochs, seed 0, 50,000 training images (Fashion-MNIST's train split
   without its last 10,000, which are the validation split), batch 128. ${Math.round(summary.trainSeconds / 60)} minutes of training steps
   on a shared 2-core machine. Validation acc@1 per epoch and the curves:
   \`packages/train-recipes/docs/fashion-mnist-v1-float.svg\` (its \`history.json\` beside it).
2. The float weights: the ${chosen.name}, the best on the validation split of
   ${candidates.map((c) => `${c.name} (${c.val.toFixed(2)})`).join(', ')}. The test split was not used for any choice.
${last.emaAcc1 !== undefined && last.emaAcc1 < 20 ? `   (The EMA is at chance level for a reason: train.py's decay adjustment, \`1 − (1 − decay) × batch × ema steps /
   epochs\`, is made for TorchVision's 600 epochs; over ${history.epochs.length} it keeps ${initShare()} % of the random initialisation in the
   average. Short runs want a smaller \`modelEmaDecay\`.)
` : ''}3. The trainer's own test evaluation of that run: final model ${t.test ? t.test.acc1.toFixed(2) : '–'}${t.testEma ? `, EMA ${t.testEma.acc1.toFixed(2)}` : ''}${t.averaged?.test ? `, average of epochs ${t.averaged.epochs.join(', ')} ${t.averaged.test.acc1.toFixed(2)}` : ''} (acc@1, %).
${qatRun ? `4. QAT: ${qatEpochs} epochs of \`mobilenet_v3_small-fashion-mnist-qat\` from those weights, ${Math.round(JSON.parse(readFileSync(`${qatRun}/history.json`, 'utf8')).epochs.reduce((a, e) => a + e.seconds, 0) / 60)} minutes; curves:
   \`packages/train-recipes/docs/fashion-mnist-v1-qat.svg\`.
` : ''}
The commands that remake it (the numbers above come from them):

\`\`\`sh
pnpm -s mnv3 train --recipe ${floatRecipe} --epochs ${history.epochs.length} --output-dir runs/fmv1-float
node packages/cli/scripts/make-fashion-mnist-v1.mjs --float-run runs/fmv1-float${qatRun ? `
pnpm -s mnv3 train --recipe mobilenet_v3_small-fashion-mnist-qat --weights runs/fmv1-float/${chosen.weights} --output-dir runs/fmv1-qat
node packages/cli/scripts/make-fashion-mnist-v1.mjs --float-run runs/fmv1-float --qat-run runs/fmv1-qat` : ''}
\`\`\`

The last step picks the float weights on the validation split, measures both files on the test split,
writes them under their SHA-256 names, points the two weights entries at them and writes this card.

## Limits
Fashion-MNIST is 28×28 grayscale product photos on a black background: a phone photo of a garment on a
light background is far from it (invert and crop it first). It is a demonstration model that runs
offline, not a general garment classifier.
`;
writeFileSync(root('packages/quantize/weights/FASHION_MNIST_V1.md'), card);
// The runs' curves and histories, for the card's provenance.
for (const [run, name] of [[floatRun, 'fashion-mnist-v1-float'], ...(qatRun ? [[qatRun, 'fashion-mnist-v1-qat']] : [])]) {
  writeFileSync(root(`packages/train-recipes/docs/${name}.svg`), readFileSync(`${run}/training.svg`));
  writeFileSync(root(`packages/train-recipes/docs/${name}.history.json`), readFileSync(`${run}/history.json`));
}
