#!/usr/bin/env node
// Classes present in an image and their pixel shares: node segment.mjs WEIGHTS IMAGE [MODEL] [--aux-loss]
// WEIGHTS: a .pth / .safetensors file or a registry name (COCO_WITH_VOC_LABELS_V1, DEFAULT).
import { setupBackend } from '@mnv3/layers/backend';
import { load } from '@mnv3/segmentation';
import '@mnv3/segment-lraspp'; // registers LR-ASPP
import '@mnv3/segment-deeplab'; // registers DeepLabV3 and FCN

const auxLoss = process.argv.includes('--aux-loss'); // for checkpoints that carry DeepLabV3's / FCN's aux head
const [weights, image, model = 'lraspp_mobilenet_v3_large'] = process.argv.slice(2).filter((a) => a !== '--aux-loss');
if (!weights || !image) {
  console.error('usage: node segment.mjs WEIGHTS IMAGE [MODEL] [--aux-loss]');
  process.exit(2);
}
await setupBackend(); // tfjs WASM backend with SIMD
const segmenter = await load(model, { weights, auxLoss: auxLoss || undefined });
const { width, height, classes } = await segmenter.segment(image);
console.log(`${width}x${height}`);
for (const { index, label, share } of classes) console.log(`${share.toFixed(4)}  ${String(index).padStart(3)}  ${label}`);
segmenter.dispose();
