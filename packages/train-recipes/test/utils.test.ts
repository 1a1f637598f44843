// TorchVision's reference utilities against torch: ExponentialMovingAverage (AveragedModel with
// use_buffers=True) over six updates of a small module, average_checkpoints over three
// torch.saved train.py checkpoints, and the norm / other parameter split of MobileNetV3.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { toFloat32, type HostTensor } from '@mnv3/io';
import { mobilenetV3Large, mobilenetV3Small } from '@mnv3/backbone';
import { fixtureDir } from '@mnv3/test-utils';
import { ExponentialMovingAverage, averageCheckpoints, emaDecay, setWeightDecay } from '../src/index.js';
import { scaledError, tensorOf, trainFixture, trainFixtures } from './fixtures.js';

let worstEma = 0;
afterAll(() => console.log(`EMA: worst error ${worstEma.toExponential(2)} of scale`));

function stepTensors(f: ReturnType<typeof trainFixture>, prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, t] of f.tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), t);
  return out;
}

describe.each(trainFixtures('ema_'))('%s: ExponentialMovingAverage against AveragedModel(use_buffers=True)', (name) => {
  const f = trainFixture(name);
  const c = f.config as { decay: number; steps: number; resetBefore: number | null };
  it('averages parameters and buffers (num_batches_tracked truncated) as torch does', async () => {
    const before = tf.memory().numTensors;
    const model0 = new Map([...stepTensors(f, 'm0.')].map(([k, t]) => [k, tensorOf(t)] as const));
    const ema = new ExponentialMovingAverage(model0, { decay: c.decay });
    tf.dispose([...model0.values()]);
    for (let s = 0; s < c.steps; s++) {
      const model = new Map([...stepTensors(f, `m${s}.`)].map(([k, t]) => [k, tensorOf(t)] as const));
      ema.updateParameters(model);
      if (c.resetBefore !== null && s < c.resetBefore) ema.nAveraged = 0;
      tf.dispose([...model.values()]);
      const ours = await ema.stateDict();
      const torch = stepTensors(f, `e${s}.`);
      expect([...ours.keys()].sort()).toEqual([...torch.keys()].sort());
      for (const [k, e] of torch) {
        const a = ours.get(k)!;
        expect(a.dtype, k).toBe(e.dtype);
        if (e.dtype === 'int64') expect(Array.from(a.data as BigInt64Array), `${k} after update ${s}`).toEqual(Array.from(e.data as BigInt64Array));
        else {
          const err = scaledError(toFloat32(a), toFloat32(e));
          worstEma = Math.max(worstEma, err);
          expect(err, `${k} after update ${s}`).toBeLessThanOrEqual(1e-7);
        }
      }
    }
    ema.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('emaDecay', () => {
  it("is train.py's adjustment", () => {
    // 1 - min(1, (1 - 0.99)·(1·8·4/10)) in float64, as the oracle's EMA case computed it
    expect(emaDecay({ modelEmaDecay: 0.99, modelEmaSteps: 4, batchSize: 8, epochs: 10 })).toBe((trainFixture('ema_recipe_adjusted').config as { decay: number }).decay);
    expect(emaDecay({ modelEmaDecay: 0.5, modelEmaSteps: 32, batchSize: 128, epochs: 10 })).toBe(0); // alpha clamped to 1
    expect(() => emaDecay({ batchSize: 0, epochs: 10 })).toThrow(/batchSize must be an integer ≥ 1, got 0/);
  });
});

describe('averageCheckpoints against the reference average of train.py checkpoints', () => {
  const f = trainFixture('checkpoint_average');
  const files = (f.config as { files: string[] }).files.map((n) => new Uint8Array(readFileSync(join(fixtureDir('train'), n))));
  it('averages the model state dicts bit for bit, keeping the first checkpoint’s other entries', () => {
    const { model, checkpoint } = averageCheckpoints(files);
    const expected = stepTensors(f, 'avg.');
    expect([...model.keys()]).toEqual([...expected.keys()]);
    for (const [k, e] of expected) {
      const a = model.get(k)!;
      expect(a.dtype, k).toBe(e.dtype);
      expect(Array.from(a.data as ArrayLike<number | bigint>), k).toEqual(Array.from(e.data as ArrayLike<number | bigint>));
    }
    expect(checkpoint.get('epoch')).toBe(0);
    expect(checkpoint.get('model')).toBe(model);
    expect(checkpoint.has('optimizer') && checkpoint.has('lr_scheduler') && checkpoint.has('args')).toBe(true);
  });
  it('refuses checkpoints of different models and empty input', () => {
    expect(() => averageCheckpoints([])).toThrow(/non-empty array/);
    expect(() => averageCheckpoints([files[0]!, new Uint8Array(readFileSync(join(fixtureDir('train'), 'generator.safetensors')))])).toThrow();
  });
});

describe('setWeightDecay against torchvision.ops._utils.split_normalization_params', () => {
  it.each([
    ['mobilenet_v3_small', () => mobilenetV3Small()],
    ['mobilenet_v3_large', () => mobilenetV3Large()],
  ] as const)('%s: norm and other groups hold torch’s parameters in torch’s order', (name, build) => {
    const f = trainFixture(`split_${name}`);
    const model = build();
    const groups = setWeightDecay(model, 1e-5, { normWeightDecay: 0 });
    expect(groups.map((g) => g.weightDecay)).toEqual([1e-5, 0]);
    expect(groups[0]!.params).toEqual(JSON.parse(f.meta.other!));
    expect(groups[1]!.params).toEqual(JSON.parse(f.meta.norm!));
    // without normWeightDecay everything is one group, in named_parameters order
    const one = setWeightDecay(model, 1e-5);
    expect(one).toHaveLength(1);
    expect(new Set(one[0]!.params)).toEqual(new Set([...JSON.parse(f.meta.other!), ...JSON.parse(f.meta.norm!)]));
  });
  it('puts custom keys (--bias-weight-decay) in their own group, before the norm rule', () => {
    const model = mobilenetV3Small();
    const groups = setWeightDecay(model, 1e-5, { normWeightDecay: 0, customKeysWeightDecay: [['bias', 0.5]] });
    expect(groups.map((g) => g.weightDecay)).toEqual([1e-5, 0, 0.5]);
    expect(groups[2]!.params.every((k) => k.endsWith('.bias'))).toBe(true);
    expect(groups[1]!.params.every((k) => k.endsWith('.weight'))).toBe(true);
    expect(groups[0]!.params.some((k) => k.endsWith('.bias'))).toBe(false);
    // a dotted key matches the full name only
    const dotted = setWeightDecay(model, 1e-5, { customKeysWeightDecay: [['classifier.3.weight', 0.1]] });
    expect(dotted[1]).toEqual({ params: ['classifier.3.weight'], weightDecay: 0.1 });
    expect(() => setWeightDecay(model, -1)).toThrow(/weightDecay must be a number ≥ 0, got -1/);
  });
});
