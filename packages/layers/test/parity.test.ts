// Every block against TorchVision 0.14 on seeded random weights (fixtures from tools/reference).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { assertScaledClose, fixtureTensor, listFixtures, loadFixture, nchwToNhwc, nhwcTensorToNchw } from '@mnv3/test-utils';
import { Activation, Conv2dNormActivation, FrozenBatchNorm2d, InvertedResidual, Linear, SqueezeExcitation, batchNorm2d, invertedResidualConfig, type ActivationName, type Layer, type Module } from '../src/index.js';
import { toFloat32 } from '@mnv3/io';

const TOL = 1e-5;

type Row = [number, number, number, number, boolean, 'HS' | 'RE', number, number];

function buildModule(config: Record<string, unknown>): Module {
  const n = (k: string): number => config[k] as number;
  switch (config.kind) {
    case 'conv_norm_act':
      return new Conv2dNormActivation(n('inChannels'), n('outChannels'), {
        kernelSize: n('kernelSize'),
        stride: n('stride'),
        dilation: n('dilation'),
        groups: n('groups'),
        activation: config.activation as ActivationName | null,
        normLayer: config.eps === null ? null : batchNorm2d({ eps: n('eps') }),
      });
    case 'inverted_residual': {
      const row = config.row as Row;
      return new InvertedResidual(invertedResidualConfig(...row, config.widthMult as number), batchNorm2d({ eps: 0.001, momentum: 0.01 }));
    }
    case 'squeeze_excitation':
      return new SqueezeExcitation(n('inputChannels'), n('squeezeChannels'), { scaleActivation: config.scaleActivation as ActivationName });
    case 'frozen_batch_norm':
      return new FrozenBatchNorm2d(n('numFeatures'));
    case 'linear':
      return new Linear(n('inFeatures'), n('outFeatures'));
    case 'activation':
      return new Activation(config.activation as ActivationName);
    default:
      throw new Error(`unknown fixture kind ${String(config.kind)}`);
  }
}

describe('layers match TorchVision', () => {
  const names = listFixtures('layers');

  it('has fixtures for every kind of block', () => {
    const kinds = new Set(names.map((n) => loadFixture('layers', n).config.kind));
    expect([...kinds].sort()).toEqual(
      ['activation', 'conv_norm_act', 'frozen_batch_norm', 'inverted_residual', 'linear', 'squeeze_excitation'].sort(),
    );
    expect(loadFixture('layers', names[0]!).versions.torchvision).toMatch(/^0\.14\./);
  });

  it.each(names)('%s', async (name) => {
    const f = loadFixture('layers', name);
    const module = buildModule(f.config);
    module.loadStateDict(f.stateDict);
    const input = fixtureTensor(f, 'input');
    const expected = fixtureTensor(f, 'output');
    const before = tf.memory().numTensors;
    let actual: Float32Array;
    if (input.shape.length === 2) {
      const x = tf.tensor2d(toFloat32(input), input.shape as [number, number]);
      const y = (module as Linear).forward(x);
      actual = (await y.data()) as Float32Array;
      tf.dispose([x, y]);
    } else {
      const { data, shape } = nchwToNhwc(toFloat32(input), input.shape);
      const x = tf.tensor4d(data, shape);
      const y = (module as Layer).forward(x);
      expect(y.shape).toEqual([expected.shape[0], expected.shape[2], expected.shape[3], expected.shape[1]]);
      actual = await nhwcTensorToNchw(y);
      tf.dispose([x, y]);
    }
    expect(tf.memory().numTensors).toBe(before);
    const report = assertScaledClose(actual, expected, TOL, { what: name });
    // A fixture whose outputs are all near zero would prove nothing.
    expect(report.maxAbsExpected).toBeGreaterThan(0.1);
    module.dispose();
  });
});
