// TorchVision's classifiers against ours on seeded random weights (tools/reference/suite_backbone.py).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { assertScaledClose, fixtureTensor, listFixtures, loadFixture, nchwToNhwc, nhwcTensorToNchw } from '@mnv3/test-utils';
import { toFloat32 } from '@mnv3/io';
import { IntermediateLayerGetter, StateDictError } from '@mnv3/layers';
import type { MobileNetV3 } from '../src/index.js';
import { buildClassifier, mobilenetV3Large, mobilenetV3Small } from '../src/index.js';

const TOL = 1e-4;

function nhwc(t: ReturnType<typeof fixtureTensor>): tf.Tensor4D {
  const { data, shape } = nchwToNhwc(toFloat32(t), t.shape);
  return tf.tensor4d(data, shape);
}

describe('classifiers match TorchVision 0.14', () => {
  const names = listFixtures('backbone');

  it('covers Large and Small for every widthMult x reducedTail x dilated, and the comparison models', () => {
    expect(names.filter((n) => n.startsWith('mobilenet_v3_large'))).toHaveLength(16);
    expect(names.filter((n) => n.startsWith('mobilenet_v3_small'))).toHaveLength(16);
    expect(names).toEqual(expect.arrayContaining(['mobilenet_v2', 'resnet18', 'resnet50']));
  });

  it.each(names)('%s', async (name) => {
    const f = loadFixture('backbone', name);
    const c = f.config as { model: string; widthMult?: number; reducedTail?: boolean; dilated?: boolean; numParams: number };
    const model = buildClassifier(c.model, { widthMult: c.widthMult, reducedTail: c.reducedTail, dilated: c.dilated });
    expect(model.numParams()).toBe(c.numParams);
    model.loadStateDict(f.stateDict);
    const before = tf.memory().numTensors;
    for (const key of f.tensors.keys()) {
      if (!key.startsWith('input_')) continue;
      const size = key.slice('input_'.length);
      const x = nhwc(fixtureTensor(f, key));
      const y = model.forward(x);
      const expected = fixtureTensor(f, `output_${size}`);
      expect(y.shape).toEqual(expected.shape);
      const report = assertScaledClose((await y.data()) as Float32Array, expected, TOL, { what: `${name} @${size}` });
      expect(report.maxAbsExpected).toBeGreaterThan(0.1);
      tf.dispose([x, y]);
    }
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it.each([
    ['mobilenet_v3_large_w10_dil', [4, 13, 16]],
    ['mobilenet_v3_small_w10', [1, 3, 8, 12]],
  ] as const)('%s features at TorchVision stage boundaries', async (name, indices) => {
    const f = loadFixture('backbone', name);
    const model = buildClassifier(f.config.model as string, { dilated: f.config.dilated as boolean }) as MobileNetV3;
    model.loadStateDict(f.stateDict);
    const getter = new IntermediateLayerGetter(model.features, Object.fromEntries(indices.map((i) => [String(i), String(i)])));
    const x = nhwc(fixtureTensor(f, 'input_224x224'));
    const out = getter.forward(x);
    expect(Object.keys(out)).toEqual(indices.map(String));
    for (const i of indices) {
      const expected = fixtureTensor(f, `features_${i}`);
      expect(out[String(i)]!.shape[3]).toBe(model.featureChannels[i]);
      assertScaledClose(await nhwcTensorToNchw(out[String(i)]!), expected, TOL, { what: `features.${i}` });
    }
    tf.dispose([x, ...Object.values(out)]);
    model.dispose();
  });
});

describe('TorchVision facts', () => {
  it('parameter counts equal the published ones', () => {
    expect(mobilenetV3Large().numParams()).toBe(5_483_032);
    expect(mobilenetV3Small().numParams()).toBe(2_542_856);
    expect(buildClassifier('mobilenet_v2').numParams()).toBe(3_504_872);
    expect(buildClassifier('resnet18').numParams()).toBe(11_689_512);
    expect(buildClassifier('resnet50').numParams()).toBe(25_557_032);
  });

  it('a checkpoint for another model fails with every mismatch named', () => {
    const small = loadFixture('backbone', 'mobilenet_v3_small_w10');
    const large = mobilenetV3Large();
    let error: unknown;
    try {
      large.loadStateDict(small.stateDict);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateDictError);
    const e = error as StateDictError;
    expect(e.missingKeys).toContain('features.16.0.weight');
    expect(e.unexpectedKeys).toContain('features.1.block.1.fc1.weight');
    expect(e.shapeMismatches.map((m) => m.key)).toContain('features.2.block.0.0.weight');
    expect(e.message).toMatch(/size mismatch for features\.2\.block\.0\.0\.weight: copying a param with shape \[72, 16, 1, 1\]/);
    large.dispose();
  });

  it('a wrong numClasses is a size mismatch on the last layer', () => {
    const f = loadFixture('backbone', 'mobilenet_v3_large_w10');
    const model = mobilenetV3Large({ numClasses: 10 });
    expect(() => model.loadStateDict(f.stateDict)).toThrow(
      /size mismatch for classifier\.3\.weight: copying a param with shape \[1000, 1280\] from checkpoint, the shape in current model is \[10, 1280\]/,
    );
  });

  it('refuses options a model does not take, naming the valid ones', () => {
    expect(() => buildClassifier('resnet18', { widthMult: 0.5 })).toThrow(/resnet18 does not take widthMult/);
    expect(() => buildClassifier('mobilenet_v4')).toThrow(/valid: mobilenet_v3_large, mobilenet_v3_small, mobilenet_v2, resnet18, resnet50/);
  });
});
