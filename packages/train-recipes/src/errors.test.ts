// Bad input fails up front with a message that names the option and what it takes.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { AdamW, ConstantLR, CosineAnnealingLR, LinearLR, RMSprop, SGD, SequentialLR, StepLR, createLrScheduler, createOptimizer } from './index.js';

const w = tf.variable(tf.ones([2]));
afterAll(() => w.dispose());

describe('optimiser options', () => {
  it('names the option and the valid values', () => {
    expect(() => new SGD([w], { lr: -0.1 })).toThrow(/SGD: learning rate \(lr\) must be a finite number ≥ 0, got -0.1/);
    expect(() => new SGD([w], {} as never)).toThrow(/options.lr is required/);
    expect(() => new SGD([w], { lr: 0.1, nesterov: true })).toThrow(/Nesterov momentum requires a momentum and zero dampening/);
    expect(() => new RMSprop([w], { epsPlacement: 'insde' as never })).toThrow(/epsPlacement must be 'outside' \(PyTorch: sqrt\(v\) \+ eps\) or 'inside' \(TensorFlow: sqrt\(v \+ eps\)\), got "insde"/);
    expect(() => new RMSprop([w], { alpha: Number.NaN })).toThrow(/alpha must be a finite number ≥ 0, got NaN/);
    expect(() => new AdamW([w], { betas: [0.9, 1] })).toThrow(/betas must be two numbers in \[0, 1\), got \[0.9,1\]/);
    expect(() => new AdamW([{ params: [w], lr: 1e-3, weightDecay: -1 }])).toThrow(/param group 0: weight_decay \(weightDecay\) must be a finite number ≥ 0, got -1/);
    expect(() => new RMSprop([{ params: [w], rho: 0.9 } as never])).toThrow(/unknown option "rho"; RMSprop takes params, initialLr, lr, alpha, eps/);
    expect(() => new RMSprop([])).toThrow(/params must be a non-empty array of tf.Variable or of parameter groups/);
    expect(() => new RMSprop([w, w] as never).addParamGroup({ params: [w] })).toThrow(/appears more than once/);
    expect(() => createOptimizer('adam', [w])).toThrow(/Invalid optimizer adam. Only SGD, RMSprop and AdamW are supported \(--opt sgd \| sgd_nesterov \| rmsprop \| adamw\)/);
    expect(() => createOptimizer('sgd', [w], { epsPlacement: 'inside' })).toThrow(/epsPlacement is an RMSprop option/);
  });

  it('checks gradients and state dicts', () => {
    const opt = new RMSprop([w]);
    const g = tf.ones([3]);
    expect(() => opt.step(new Map([[w, g]]))).toThrow(/gradient of param group 0 params\[0\] has shape \[3\], the parameter \[2\]/);
    expect(() => opt.step(undefined as never)).toThrow(/expected gradients as a Map<tf.Variable, tf.Tensor> or a NamedTensorMap/);
    expect(() => opt.loadStateDict({ state: new Map(), param_groups: [] })).toThrow(/1 parameter groups|different number of parameter groups/);
    expect(() => opt.loadStateDict({ state: new Map(), param_groups: [{ params: [0, 1] }] })).toThrow(/param group 0 has 2 parameters in the state dict, 1 here/);
    g.dispose();
    opt.dispose();
    expect(() => opt.step(new Map())).toThrow(/RMSprop was disposed/);
  });

  it('takes tfjs NamedTensorMap gradients (tf.variableGrads) and skips parameters without one', () => {
    const a = tf.variable(tf.tensor1d([1, 2]), true, 'errors_test_a');
    const b = tf.variable(tf.tensor1d([3]), true, 'errors_test_b');
    const opt = new SGD([a, b], { lr: 0.5 });
    const g = tf.tensor1d([2, 4]);
    opt.step({ errors_test_a: g });
    expect(Array.from(a.dataSync())).toEqual([0, 0]);
    expect(Array.from(b.dataSync())).toEqual([3]);
    tf.dispose([a, b, g]);
  });
});

describe('scheduler options', () => {
  it('names the option and the valid values', () => {
    const opt = new SGD([w], { lr: 0.1 });
    expect(() => new StepLR(undefined as never, { stepSize: 2 })).toThrow(/StepLR needs an optimizer \(SGD, RMSprop or AdamW/);
    expect(() => new StepLR(opt, { stepSize: 0 })).toThrow(/stepSize must be an integer ≥ 1, got 0/);
    expect(() => new CosineAnnealingLR(opt, { tMax: 2.5 })).toThrow(/tMax \(T_max\) must be an integer ≥ 1, got 2.5/);
    expect(() => new LinearLR(opt, { startFactor: 0 })).toThrow(/startFactor must be a number in \(0, 1\], got 0/);
    expect(() => new ConstantLR(opt, { factor: 2 })).toThrow(/factor must be a number in \(0, 1\], got 2/);
    const other = new SGD([tf.variable(tf.ones([1]))], { lr: 0.1 });
    expect(() => new SequentialLR(opt, { schedulers: [new StepLR(other, { stepSize: 1 })], milestones: [] })).toThrow(/belong to the same optimizer/);
    expect(() => new SequentialLR(opt, { schedulers: [new StepLR(opt, { stepSize: 1 })], milestones: [3] })).toThrow(/one less than the number of schedulers/);
    expect(() => createLrScheduler(opt, { lrScheduler: 'polylr' })).toThrow(/Invalid lr scheduler 'polylr'. Only StepLR, CosineAnnealingLR and ExponentialLR are supported \(--lr-scheduler steplr \| cosineannealinglr \| exponentiallr\)/);
    expect(() => createLrScheduler(opt, { lrWarmupEpochs: 3, lrWarmupMethod: 'cosine' })).toThrow(/Invalid warmup lr method 'cosine'. Only linear and constant are supported/);
    expect(() => new StepLR(new SGD([w], { lr: 0.1 }), { stepSize: 1, lastEpoch: 4 })).toThrow(/param 'initial_lr' is not specified in param_groups\[0\] when resuming/);
  });
});
