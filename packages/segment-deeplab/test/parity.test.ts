// TorchVision's DeepLabV3 and FCN (MobileNetV3-Large and ResNet-50) against ours on seeded random
// weights (tools/reference/suite_segmentation.py), with and without the aux head.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { argmaxAgreement, assertScaledClose, fixtureTensor, loadFixture, nhwcTensor as nhwc, nhwcTensorToNchw } from '@mnv3/test-utils';
import { toFloat32 } from '@mnv3/io';
import { IntermediateLayerGetter, StateDictError, getWeights } from '@mnv3/layers';
import { resnet50 } from '@mnv3/backbone';
import { VOC_CATEGORIES } from '@mnv3/segmentation';
import {
  DEEPLAB_MODELS,
  DeepLabV3_MobileNet_V3_Large_Weights,
  DeepLabV3_ResNet50_Weights,
  FCN_ResNet50_Weights,
  deeplabv3MobilenetV3Large,
  deeplabv3Resnet50,
  fcnMobilenetV3Large,
  fcnResnet50,
} from '../src/index.js';

const TOL = 1e-4;
const CASES = [
  ['deeplabv3_mobilenet_v3_large', false],
  ['deeplabv3_mobilenet_v3_large', true],
  ['fcn_mobilenet_v3_large', false],
  ['fcn_mobilenet_v3_large', true],
  ['deeplabv3_resnet50', false],
  ['deeplabv3_resnet50', true],
  ['fcn_resnet50', false],
  ['fcn_resnet50', true],
] as const;

describe.each(CASES)('%s (auxLoss %s) matches TorchVision 0.14', (name, auxLoss) => {
  const fixtureName = `${name}${auxLoss ? '_aux' : ''}`;
  const build = () => DEEPLAB_MODELS[name].build({ auxLoss });

  it('has TorchVision\'s parameter count and state dict keys, in order', () => {
    const f = loadFixture('segmentation', fixtureName);
    const model = build();
    expect(model.numParams()).toBe(f.config.numParams);
    expect([...model.namedStateEntries()].map(([k]) => k)).toEqual([...f.stateDict.keys()]);
    model.dispose();
  });

  it.each(loadFixture('segmentation', fixtureName).config.sizes as string[])('@%s: out (and aux) within 1e-4·max(1, max|ref|), argmax agreement ≥ 0.9999, no leaks', async (size) => {
    const f = loadFixture('segmentation', fixtureName);
    const model = build();
    model.loadStateDict(f.stateDict);
    const before = tf.memory().numTensors;
    const x = nhwc(fixtureTensor(f, `input_${size}`));
    const y = model.forward(x);
    expect(Object.keys(y)).toEqual(auxLoss ? ['out', 'aux'] : ['out']);
    for (const head of auxLoss ? (['out', 'aux'] as const) : (['out'] as const)) {
      const expected = fixtureTensor(f, `${head}_${size}`);
      const [n, ch, h, w] = expected.shape as [number, number, number, number];
      const t = y[head]!;
      expect(t.shape).toEqual([n, h, w, ch]);
      const actual = await nhwcTensorToNchw(t);
      const report = assertScaledClose(actual, expected, TOL, { what: `${fixtureName} ${head} @${size}` });
      expect(report.maxAbsExpected).toBeGreaterThan(1);
      const agreement = argmaxAgreement(actual, toFloat32(expected), expected.shape);
      expect(agreement).toBeGreaterThanOrEqual(0.9999);
      console.info(
        `${fixtureName} ${head} @${size}: max |diff| ${report.maxAbsDiff.toExponential(2)} (max |ref| ${report.maxAbsExpected.toFixed(2)}, ` +
          `scaled ${(report.maxAbsDiff / Math.max(1, report.maxAbsExpected)).toExponential(2)}), argmax agreement ${(agreement * 100).toFixed(4)}%`,
      );
    }
    tf.dispose([x, y.out, ...(y.aux ? [y.aux] : [])]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('DeepLabV3 / FCN facts and errors', () => {
  it('parameter counts as TorchVision\'s constructions', () => {
    expect(deeplabv3MobilenetV3Large({ auxLoss: true }).numParams()).toBe(11_029_328);
    expect(deeplabv3MobilenetV3Large().numParams()).toBe(11_025_477);
    expect(fcnMobilenetV3Large({ auxLoss: true }).numParams()).toBe(5_054_944);
    expect(fcnMobilenetV3Large().numParams()).toBe(5_051_093);
  });

  it('weights table as TorchVision\'s; the weights imply auxLoss and 21 classes', () => {
    const w = getWeights(DeepLabV3_MobileNet_V3_Large_Weights, 'COCO_WITH_VOC_LABELS_V1', 'deeplabv3_mobilenet_v3_large');
    expect(DeepLabV3_MobileNet_V3_Large_Weights.DEFAULT).toBe(w);
    expect(w.url).toBe('https://download.pytorch.org/models/deeplabv3_mobilenet_v3_large-fc3c493d.pth');
    expect(w.sha256Prefix).toBe('fc3c493d');
    expect(w.transforms).toEqual({ kind: 'SemanticSegmentation', resizeSize: 520 });
    expect(w.meta.numParams).toBe(11_029_328);
    expect(w.meta.metrics).toEqual({ 'COCO-val2017-VOC-labels': { miou: 60.3, pixel_acc: 91.2 } });
    expect(w.meta.categories).toBe(VOC_CATEGORIES);
    const model = deeplabv3MobilenetV3Large({ weights: w });
    expect(model.auxClassifier).not.toBeNull();
    expect(model.numClasses).toBe(21);
    expect(model.numParams()).toBe(w.meta.numParams);
    expect(() => deeplabv3MobilenetV3Large({ weights: w, auxLoss: false })).toThrow("The parameter 'aux_loss' expected value true but got false instead.");
    expect(() => deeplabv3MobilenetV3Large({ weights: w, numClasses: 3 })).toThrow("The parameter 'num_classes' expected value 21 but got 3 instead.");
    expect(() => fcnMobilenetV3Large({ weights: w })).toThrow(/fcn_mobilenet_v3_large has no published weights/);
    expect(DEEPLAB_MODELS.fcn_mobilenet_v3_large.weights).toBeNull();
  });

  it("the ResNet-50 models' weights tables as TorchVision's; their weights imply auxLoss too", () => {
    const cases = [
      [DeepLabV3_ResNet50_Weights, deeplabv3Resnet50, 'deeplabv3_resnet50_coco-cd0a2569.pth', 42_004_074, { miou: 66.4, pixel_acc: 92.4 }],
      [FCN_ResNet50_Weights, fcnResnet50, 'fcn_resnet50_coco-1167a1af.pth', 35_322_218, { miou: 60.5, pixel_acc: 91.4 }],
    ] as const;
    for (const [table, build, file, numParams, metrics] of cases) {
      const w = table.COCO_WITH_VOC_LABELS_V1;
      expect(table.DEFAULT).toBe(w);
      expect(w.url).toBe(`https://download.pytorch.org/models/${file}`);
      expect(w.transforms).toEqual({ kind: 'SemanticSegmentation', resizeSize: 520 });
      expect(w.meta).toMatchObject({ numParams, metrics: { 'COCO-val2017-VOC-labels': metrics }, categories: VOC_CATEGORIES });
      const model = build({ weights: w });
      expect(model.auxClassifier).not.toBeNull();
      expect(model.numParams()).toBe(numParams);
      expect(() => build({ weights: w, auxLoss: false })).toThrow("The parameter 'aux_loss' expected value true but got false instead.");
      model.dispose();
    }
    expect(() => new IntermediateLayerGetter(resnet50(), { layer5: 'out' })).toThrow(
      'return_layers are not present in model: "layer5" (valid: conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4, avgpool, fc)',
    );
  });

  it('a wrong numClasses is a size mismatch on both heads', () => {
    const f = loadFixture('segmentation', 'deeplabv3_mobilenet_v3_large_aux');
    const model = deeplabv3MobilenetV3Large({ numClasses: 5, auxLoss: true });
    let error: unknown;
    try {
      model.loadStateDict(f.stateDict);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateDictError);
    const keys = (error as StateDictError).shapeMismatches.map((m) => m.key);
    expect(keys).toEqual(['classifier.4.weight', 'classifier.4.bias', 'aux_classifier.4.weight', 'aux_classifier.4.bias']);
    expect((error as Error).message).toMatch(
      /size mismatch for classifier\.4\.weight: copying a param with shape \[21, 256, 1, 1\] from checkpoint, the shape in current model is \[5, 256, 1, 1\]/,
    );
    expect(() => fcnMobilenetV3Large({ numClasses: 2.5 })).toThrow(/numClasses must be a positive integer, got 2.5/);
  });

  it('the aux checkpoint on a model without aux head names the unexpected keys; FCN weights do not load into DeepLabV3', () => {
    const aux = loadFixture('segmentation', 'deeplabv3_mobilenet_v3_large_aux');
    const model = deeplabv3MobilenetV3Large();
    expect(() => model.loadStateDict(aux.stateDict)).toThrow(/Unexpected key\(s\) in state_dict: "aux_classifier\.0\.weight"/);
    const result = model.loadStateDict(aux.stateDict, { strict: false });
    expect(result.unexpectedKeys).toHaveLength(8); // conv, BatchNorm (5 entries), classifier weight and bias
    expect(result.missingKeys).toEqual([]);
    model.dispose();
    const fcn = loadFixture('segmentation', 'fcn_mobilenet_v3_large');
    const deeplab = deeplabv3MobilenetV3Large();
    expect(() => deeplab.loadStateDict(fcn.stateDict)).toThrow(StateDictError);
    expect(() => deeplab.loadStateDict(fcn.stateDict)).toThrow(/Missing key\(s\) in state_dict: "classifier\.0\.convs\.0\.0\.weight"/);
  });
});
