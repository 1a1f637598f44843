// TorchVision's LR-ASPP against ours on seeded random weights (tools/reference/suite_segmentation.py).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { argmaxAgreement, assertScaledClose, fixtureTensor, loadFixture, nhwcTensor as nhwc, nhwcTensorToNchw } from '@mnv3/test-utils';
import { toFloat32 } from '@mnv3/io';
import { StateDictError, getWeights } from '@mnv3/layers';
import { VOC_CATEGORIES } from '@mnv3/segmentation';
import { LRASPP_MODELS, LRASPP_MobileNet_V3_Large_Weights, lrasppMobilenetV3Large } from '../src/index.js';

const TOL = 1e-4;
const SIZES = ['520x520', '320x320', '257x300'];

describe('LR-ASPP matches TorchVision 0.14', () => {
  const f = loadFixture('segmentation', 'lraspp_mobilenet_v3_large');
  const c = f.config as { numParams: number; numClasses: number };

  it('has TorchVision\'s parameter count and state dict keys, in order', () => {
    const model = lrasppMobilenetV3Large();
    expect(model.numParams()).toBe(c.numParams);
    expect(model.numParams()).toBe(3_221_538);
    expect([...model.namedStateEntries()].map(([k]) => k)).toEqual([...f.stateDict.keys()]);
    model.dispose();
  });

  it.each(SIZES)('out @%s within 1e-4·max(1, max|ref|), argmax agreement ≥ 0.9999, no leaks', async (size) => {
    const model = lrasppMobilenetV3Large();
    model.loadStateDict(f.stateDict);
    const before = tf.memory().numTensors;
    const x = nhwc(fixtureTensor(f, `input_${size}`));
    const y = model.forward(x);
    expect(Object.keys(y)).toEqual(['out']);
    const expected = fixtureTensor(f, `out_${size}`);
    const [n, ch, h, w] = expected.shape as [number, number, number, number];
    expect(y.out.shape).toEqual([n, h, w, ch]);
    const actual = await nhwcTensorToNchw(y.out);
    const report = assertScaledClose(actual, expected, TOL, { what: `lraspp out @${size}` });
    expect(report.maxAbsExpected).toBeGreaterThan(1);
    const agreement = argmaxAgreement(actual, toFloat32(expected), expected.shape);
    expect(agreement).toBeGreaterThanOrEqual(0.9999);
    console.info(`lraspp @${size}: max |diff| ${report.maxAbsDiff.toExponential(2)} (max |ref| ${report.maxAbsExpected.toFixed(2)}), argmax agreement ${(agreement * 100).toFixed(4)}%`);
    tf.dispose([x, y.out]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('LR-ASPP facts and errors', () => {
  it('weights table as TorchVision\'s', () => {
    const w = getWeights(LRASPP_MobileNet_V3_Large_Weights, 'DEFAULT', 'lraspp_mobilenet_v3_large');
    expect(w).toBe(LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1);
    expect(w.url).toBe('https://download.pytorch.org/models/lraspp_mobilenet_v3_large-d234d4ea.pth');
    expect(w.sha256Prefix).toBe('d234d4ea');
    expect(w.transforms).toEqual({ kind: 'SemanticSegmentation', resizeSize: 520 });
    expect(w.meta.numParams).toBe(3_221_538);
    expect(w.meta.metrics).toEqual({ 'COCO-val2017-VOC-labels': { miou: 57.9, pixel_acc: 91.2 } });
    expect(w.meta.categories).toBe(VOC_CATEGORIES);
    expect(LRASPP_MODELS.lraspp_mobilenet_v3_large.build).toBe(lrasppMobilenetV3Large);
  });

  it('refuses auxLoss as TorchVision does', () => {
    expect(() => lrasppMobilenetV3Large({ auxLoss: true })).toThrow(/This model does not use auxiliary loss/);
  });

  it('a wrong numClasses is a size mismatch on both classifiers; against the weights it is TorchVision\'s error', () => {
    const f = loadFixture('segmentation', 'lraspp_mobilenet_v3_large');
    const model = lrasppMobilenetV3Large({ numClasses: 10 });
    expect(model.numParams()).toBe(3_221_538 - 11 * (40 + 1) - 11 * (128 + 1));
    expect(() => model.loadStateDict(f.stateDict)).toThrow(
      /size mismatch for classifier\.low_classifier\.weight: copying a param with shape \[21, 40, 1, 1\] from checkpoint, the shape in current model is \[10, 40, 1, 1\]/,
    );
    expect(() => lrasppMobilenetV3Large({ numClasses: 10, weights: LRASPP_MobileNet_V3_Large_Weights.DEFAULT })).toThrow(
      "The parameter 'num_classes' expected value 21 but got 10 instead.",
    );
    expect(lrasppMobilenetV3Large({ weights: LRASPP_MobileNet_V3_Large_Weights.DEFAULT }).numClasses).toBe(21);
    expect(() => lrasppMobilenetV3Large({ numClasses: 0 })).toThrow(/numClasses must be a positive integer, got 0/);
  });

  it('a DeepLabV3 checkpoint fails the strict load with every mismatch named', () => {
    const deeplab = loadFixture('segmentation', 'deeplabv3_mobilenet_v3_large');
    const model = lrasppMobilenetV3Large();
    let error: unknown;
    try {
      model.loadStateDict(deeplab.stateDict);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateDictError);
    const e = error as StateDictError;
    expect(e.missingKeys).toContain('classifier.cbr.0.weight');
    expect(e.unexpectedKeys).toContain('classifier.0.convs.0.0.weight');
    expect(e.message).toMatch(/Missing key\(s\) in state_dict: .*"classifier\.low_classifier\.weight"/);
    model.dispose();
  });
});

describe('backbone taps', () => {
  it('uses TorchVision\'s stage indices of the dilated MobileNetV3-Large: low = child 4 (40 ch), high = child 16 (960 ch)', async () => {
    const { mobilenetV3Large } = await import('@mnv3/backbone');
    const { mobilenetStageIndices } = await import('@mnv3/layers');
    expect(mobilenetStageIndices(mobilenetV3Large({ dilated: true }).features)).toEqual([0, 2, 4, 7, 13, 16]);
    const model = lrasppMobilenetV3Large();
    expect(model.backbone.layers).toHaveLength(17);
    expect([...model.backbone.namedStateEntries()][0]![0]).toBe('0.0.weight');
  });
});
