// Properties of the box ops on random inputs, and the builders' TorchVision facts and errors.
import * as tf from '@tensorflow/tfjs-core';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { BoxCoder, COCO_CATEGORIES, DETECTION_MODELS, batchedNms, boxIou, nms, resizedSize } from '@mnv3/detection';
import {
  FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
  FasterRCNN_MobileNet_V3_Large_FPN_Weights,
  FasterRCNN_ResNet50_FPN_Weights,
  fasterrcnnMobilenetV3Large320Fpn,
  fasterrcnnMobilenetV3LargeFpn,
  fasterrcnnResnet50Fpn,
} from '../src/index.js';

const box = fc
  .tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 2, max: 80 }), fc.integer({ min: 2, max: 80 }))
  .map(([x, y, w, h]) => [x / 2, y / 2, x / 2 + w, y / 2 + h]);
const detections = fc.array(fc.tuple(box, fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 3 })), { minLength: 0, maxLength: 60 });

function unpack(d: [number[], number, number][]) {
  return {
    boxes: Float32Array.from(d.flatMap(([b]) => b)),
    scores: Float32Array.from(d.map(([, s]) => s / 20)), // quantised: many ties
    idxs: Int32Array.from(d.map(([, , c]) => c)),
  };
}

describe('nms / batchedNms properties', () => {
  test.prop([detections, fc.double({ min: 0.1, max: 0.9, noNaN: true })])('kept: a subset, by non-increasing score, no same-class pair above the threshold, maximal', (d, thr) => {
    const { boxes, scores, idxs } = unpack(d);
    const keep = Array.from(batchedNms(boxes, scores, idxs, thr));
    expect(new Set(keep).size).toBe(keep.length);
    for (const k of keep) expect(k >= 0 && k < scores.length).toBe(true);
    for (let i = 1; i < keep.length; i++) expect(scores[keep[i]!]!).toBeLessThanOrEqual(scores[keep[i - 1]!]!);
    const iou = boxIou(boxes, boxes);
    const n = scores.length;
    for (const a of keep) for (const b of keep) if (a !== b && idxs[a] === idxs[b]) expect(iou[a * n + b]!).toBeLessThanOrEqual(thr);
    // Every dropped box is suppressed by a kept box of its class scoring at least as high.
    const kept = new Set(keep);
    for (let j = 0; j < n; j++) {
      if (kept.has(j)) continue;
      expect(keep.some((k) => idxs[k] === idxs[j] && scores[k]! >= scores[j]! && iou[k * n + j]! > thr)).toBe(true);
    }
  });

  test.prop([detections])('nms equals batchedNms with a single class', (d) => {
    const { boxes, scores } = unpack(d);
    expect(Array.from(batchedNms(boxes, scores, new Int32Array(scores.length), 0.5))).toEqual(Array.from(nms(boxes, scores, 0.5)));
  });
});

describe('BoxCoder properties', () => {
  test.prop([fc.array(fc.tuple(box, box), { minLength: 1, maxLength: 30 }), fc.constantFrom<[number, number, number, number]>([1, 1, 1, 1], [10, 10, 5, 5])])(
    'decode(encode(b, p), p) ≈ b (size ratios below exp(bbox_xform_clip) = 62.5)',
    (pairs, weights) => {
      const ref = Float32Array.from(pairs.flatMap(([b]) => b));
      const prop = Float32Array.from(pairs.flatMap(([, p]) => p));
      const coder = new BoxCoder(weights);
      const back = coder.decode(coder.encode(ref, prop), prop);
      for (let i = 0; i < ref.length; i++) expect(Math.abs(back[i]! - ref[i]!)).toBeLessThan(1e-3);
    },
  );
});

describe('TorchVision facts', () => {
  it('builders: parameter counts, published weights tables, COCO categories, registry', () => {
    expect(fasterrcnnMobilenetV3LargeFpn({ weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights.DEFAULT }).numParams()).toBe(19_386_354);
    expect(fasterrcnnMobilenetV3Large320Fpn({ weights: FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1 }).numParams()).toBe(19_386_354);
    expect(FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1.meta.numParams).toBe(19_386_354);
    expect(FasterRCNN_MobileNet_V3_Large_FPN_Weights.DEFAULT.url).toBe('https://download.pytorch.org/models/fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth');
    expect(FasterRCNN_MobileNet_V3_Large_FPN_Weights.DEFAULT.sha256Prefix).toBe('fb6a3cc7');
    expect(FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.DEFAULT.url).toBe('https://download.pytorch.org/models/fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth');
    expect(FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1.meta.metrics['COCO-val2017']!.box_map).toBe(32.8);
    expect(FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1.meta.metrics['COCO-val2017']!.box_map).toBe(22.8);
    expect(COCO_CATEGORIES).toHaveLength(91);
    expect(COCO_CATEGORIES[1]).toBe('person');
    expect(COCO_CATEGORIES.filter((c) => c === 'N/A')).toHaveLength(10);
    expect(DETECTION_MODELS.names()).toEqual(['fasterrcnn_mobilenet_v3_large_fpn', 'fasterrcnn_mobilenet_v3_large_320_fpn', 'fasterrcnn_resnet50_fpn']);
    expect(DETECTION_MODELS.get('fasterrcnn_mobilenet_v3_large_320_fpn').weights).toBe(FasterRCNN_MobileNet_V3_Large_320_FPN_Weights);
  });

  it('fasterrcnn_resnet50_fpn: weights table, defaults, trainable layers 0–5, keys', () => {
    const w = FasterRCNN_ResNet50_FPN_Weights.COCO_V1;
    expect(FasterRCNN_ResNet50_FPN_Weights.DEFAULT).toBe(w);
    expect(w.url).toBe('https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth');
    expect(w.meta).toMatchObject({ numParams: 41_755_286, metrics: { 'COCO-val2017': { box_map: 37.0 } }, categories: COCO_CATEGORIES });
    const model = fasterrcnnResnet50Fpn({ weights: w });
    expect(model.numParams()).toBe(41_755_286);
    expect([model.transform.minSize, model.transform.maxSize]).toEqual([800, 1333]);
    expect(model.rpn.options).toEqual({ preNmsTopN: 1000, postNmsTopN: 1000, nmsThresh: 0.7, scoreThresh: 0 });
    const keys = [...model.namedStateEntries()].map(([k]) => k);
    expect(keys).toEqual(expect.arrayContaining(['backbone.body.conv1.weight', 'backbone.body.layer4.2.bn3.running_var', 'backbone.fpn.inner_blocks.3.0.weight', 'rpn.head.conv.0.0.weight']));
    expect(keys.some((k) => k.startsWith('backbone.body.fc') || k.endsWith('num_batches_tracked'))).toBe(false);
    expect(() => fasterrcnnResnet50Fpn({ weights: w, trainableBackboneLayers: 6 })).toThrow('trainableBackboneLayers must be an integer in [0, 5], got 6');
    expect(() => fasterrcnnResnet50Fpn({ weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1 })).toThrow(/are not weights of fasterrcnn_resnet50_fpn/);
    model.dispose();
  });

  it('defaults of each builder, and every keyword overridable', () => {
    const big = fasterrcnnMobilenetV3LargeFpn();
    expect([big.transform.minSize, big.transform.maxSize]).toEqual([800, 1333]);
    expect(big.rpn.options).toEqual({ preNmsTopN: 1000, postNmsTopN: 1000, nmsThresh: 0.7, scoreThresh: 0 });
    expect(big.roiHeads.options).toMatchObject({ scoreThresh: 0.05, nmsThresh: 0.5, detectionsPerImg: 100 });
    const small = fasterrcnnMobilenetV3Large320Fpn();
    expect([small.transform.minSize, small.transform.maxSize]).toEqual([320, 640]);
    expect(small.rpn.options).toEqual({ preNmsTopN: 150, postNmsTopN: 150, nmsThresh: 0.7, scoreThresh: 0.05 });
    const custom = fasterrcnnMobilenetV3Large320Fpn({ minSize: 400, rpnPreNmsTopNTest: 50, boxScoreThresh: 0.3, boxDetectionsPerImg: 7, numClasses: 5 });
    expect(custom.transform.minSize).toBe(400);
    expect(custom.rpn.options.preNmsTopN).toBe(50);
    expect(custom.roiHeads.options).toMatchObject({ scoreThresh: 0.3, detectionsPerImg: 7 });
    expect(custom.roiHeads.boxPredictor.numClasses).toBe(5);
    // BatchNorm2d without weights: its weight and bias count as parameters.
    expect(big.numParams()).toBe(19_410_754);
    expect([...big.namedStateEntries()].map(([k]) => k)).toContain('backbone.body.0.1.num_batches_tracked');
  });

  it('the state dict keys of the COCO checkpoints', () => {
    const model = fasterrcnnMobilenetV3LargeFpn({ weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1 });
    const keys = [...model.namedStateEntries()].map(([k]) => k);
    expect(keys).toEqual(
      expect.arrayContaining([
        'backbone.body.0.0.weight',
        'backbone.body.0.1.running_var',
        'backbone.body.16.0.weight',
        'backbone.fpn.inner_blocks.0.0.weight',
        'backbone.fpn.inner_blocks.1.0.bias',
        'backbone.fpn.layer_blocks.1.0.weight',
        'rpn.head.conv.0.0.weight',
        'rpn.head.cls_logits.weight',
        'rpn.head.bbox_pred.bias',
        'roi_heads.box_head.fc6.weight',
        'roi_heads.box_head.fc7.bias',
        'roi_heads.box_predictor.cls_score.weight',
        'roi_heads.box_predictor.bbox_pred.weight',
      ]),
    );
    expect(keys.some((k) => k.endsWith('num_batches_tracked'))).toBe(false);
    expect(keys).toHaveLength(new Set(keys).size);
  });

  it('resize rule of TorchVision 0.14 (floor of size × float32 scale)', () => {
    expect(resizedSize(300, 500, 800, 1333).size).toEqual([799, 1333]);
    expect(resizedSize(481, 479, 800, 1333).size).toEqual([803, 800]);
    expect(resizedSize(512, 512, 320, 640).size).toEqual([320, 320]);
    expect(resizedSize(37, 1000, 800, 1333).size).toEqual([49, 1333]);
  });
});

describe('errors name the problem and the valid choices', () => {
  it('bad options', () => {
    expect(() => fasterrcnnMobilenetV3LargeFpn({ weights: FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1 })).toThrow(/are not weights of fasterrcnn_mobilenet_v3_large_fpn; valid: COCO_V1 of its weights table/);
    expect(() => fasterrcnnMobilenetV3LargeFpn({ weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1, numClasses: 10 })).toThrow(/'num_classes' expected value 91 but got 10/);
    expect(() => fasterrcnnMobilenetV3LargeFpn({ numClasses: 0 })).toThrow(/numClasses must be an integer in \[1, Infinity\], got 0/);
    expect(() => fasterrcnnMobilenetV3LargeFpn({ weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1, trainableBackboneLayers: 7 })).toThrow(/trainableBackboneLayers must be an integer in \[0, 6\]/);
    expect(() => fasterrcnnMobilenetV3LargeFpn({ boxNmsThresh: 1.5 })).toThrow(/boxNmsThresh must be a number in \[0, 1\], got 1.5/);
    expect(() => DETECTION_MODELS.get('retinanet_resnet50_fpn')).toThrow(/valid: fasterrcnn_mobilenet_v3_large_fpn, fasterrcnn_mobilenet_v3_large_320_fpn, fasterrcnn_resnet50_fpn/);
    expect(() => nms(new Float32Array(5), new Float32Array(1), 0.5)).toThrow(/shape \[N, 4\]/);
  });

  it('bad images, without leaking tensors', async () => {
    const model = fasterrcnnMobilenetV3Large320Fpn();
    const before = tf.memory().numTensors;
    await expect(model.forward([])).rejects.toThrow(/images list should not be empty/);
    const chw = tf.zeros([3, 32, 32]) as tf.Tensor3D;
    await expect(model.forward([chw])).rejects.toThrow(/\[H, W, 3\] \(HWC\), got \[3, 32, 32\]/);
    const ints = tf.zeros([8, 8, 3], 'int32') as tf.Tensor3D;
    await expect(model.forward([ints])).rejects.toThrow(/floating type \(in range \[0, 1\]\), but found type int32/);
    await expect(model.forward([{ data: new Float32Array(10), shape: [2, 2, 3] }])).rejects.toThrow(/has 10 values, shape \[2, 2, 3\] needs 12/);
    await expect(model.forward([{ data: new Float32Array(12), shape: [2, 2, 3] }])).rejects.toThrow(/has no weights: call loadStateDict\(\) or initWeights\(\) first/);
    tf.dispose([chw, ints]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
