import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Conv2dNormActivation } from './misc.js';
import { Sequential } from './module.js';
import { IntermediateLayerGetter } from './intermediate-layer-getter.js';
import { seededRng } from './random.js';

describe('IntermediateLayerGetter', () => {
  it('registers the kept children under their indices and drops the later ones', async () => {
    const body = new Sequential([
      new Conv2dNormActivation(3, 4, { stride: 2 }),
      new Conv2dNormActivation(4, 4),
      new Conv2dNormActivation(4, 8, { stride: 2 }),
      new Conv2dNormActivation(8, 8),
    ]);
    const getter = new IntermediateLayerGetter(body, { '0': 'a', '2': 'b' });
    expect([...getter.namedStateEntries()].map(([k]) => k).filter((k) => k.endsWith('.weight'))).toEqual([
      '0.0.weight',
      '0.1.weight',
      '1.0.weight',
      '1.1.weight',
      '2.0.weight',
      '2.1.weight',
    ]);
    expect(getter.layers).toHaveLength(3);
    expect(() => getter.forward(tf.zeros([1, 8, 8, 3]) as tf.Tensor4D)).toThrow(/has no weights/);
    getter.initWeights(seededRng(1));
    const x = tf.randomNormal([1, 8, 8, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const out = getter.forward(x);
    expect(Object.keys(out)).toEqual(['a', 'b']);
    expect(out.a!.shape).toEqual([1, 4, 4, 4]);
    expect(out.b!.shape).toEqual([1, 2, 2, 8]);
    const direct = body.layers[0]!.forward(x);
    expect(Array.from(await out.a!.data())).toEqual(Array.from(await direct.data()));
    tf.dispose([out.a!, out.b!, direct]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    getter.dispose();
    expect(() => new IntermediateLayerGetter(body, { '4': 'x' })).toThrow(/return_layers are not present in model: "4" \(valid: 0\.\.3\)/);
    expect(() => new IntermediateLayerGetter(body, {})).toThrow(/return_layers is empty/);
  });
});
