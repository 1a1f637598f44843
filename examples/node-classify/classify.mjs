#!/usr/bin/env node
// Top-5 classes of an image: node classify.mjs WEIGHTS IMAGE [MODEL]
// WEIGHTS: a .pth / .safetensors file or a registry name (IMAGENET1K_V1, DEFAULT, …).
import { setupBackend } from '@mnv3/layers/backend';
import { load } from '@mnv3/classify';

const [weights, image, model = 'mobilenet_v3_large'] = process.argv.slice(2);
if (!weights || !image) {
  console.error('usage: node classify.mjs WEIGHTS IMAGE [MODEL]');
  process.exit(2);
}
await setupBackend(); // tfjs WASM backend with SIMD
const classifier = await load(model, { weights });
for (const { index, label, score } of await classifier.classify(image, { topk: 5 })) {
  console.log(`${score.toFixed(4)}  ${String(index).padStart(4)}  ${label}`);
}
classifier.dispose();
