#!/usr/bin/env node
// Objects in an image: node detect.mjs WEIGHTS IMAGE [MODEL] [SCORE_THRESH]
// WEIGHTS: a .pth / .safetensors file or a registry name (COCO_V1, DEFAULT).
import { setupBackend } from '@mnv3/layers/backend';
import { load } from '@mnv3/detect-frcnn';

const [weights, image, model = 'fasterrcnn_mobilenet_v3_large_320_fpn', thresh = '0.05'] = process.argv.slice(2);
if (!weights || !image) {
  console.error('usage: node detect.mjs WEIGHTS IMAGE [MODEL] [SCORE_THRESH]');
  process.exit(2);
}
await setupBackend(); // tfjs WASM backend with SIMD
const detector = await load(model, { weights, scoreThresh: Number(thresh) });
const { boxes, labels, scores, names } = await detector.detect(image);
boxes.forEach((box, i) => {
  console.log(`${scores[i].toFixed(4)}  ${String(labels[i]).padStart(2)}  ${names[i].padEnd(14)}  ${box.map((v) => v.toFixed(2)).join(' ')}`);
});
detector.dispose();
