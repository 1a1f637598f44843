// torch 1.13's LR schedulers and TorchVision's train.py composition against ours: the lr of every
// group after construction and after each of 50 steps, the state_dict at the end, and resuming
// from torch's state_dict at step 20.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ConstantLR, CosineAnnealingLR, ExponentialLR, LinearLR, SGD, StepLR, createLrScheduler, type Scheduler } from '../src/index.js';
import { f64, relError, trainFixture, trainFixtures } from './fixtures.js';

// Same float64 operations in the same order; only Math.cos / ** may differ from glibc's by an ulp.
const LR_BAR = 1e-14;

let worstLr = 0;
afterAll(() => console.log(`schedulers: worst lr error ${worstLr.toExponential(2)} relative`));

interface Config {
  kind: string;
  lrs: number[];
  options: Record<string, number | string>;
  steps: number;
  resumeAt: number;
}

function optimizer(lrs: number[]) {
  const vars = lrs.map(() => tf.variable(tf.zeros([1])));
  return { opt: new SGD(lrs.map((lr, i) => ({ params: [vars[i]!], lr })), { lr: lrs[0]!, momentum: 0.9 }), vars };
}

function scheduler(c: Config, opt: SGD): Scheduler {
  const o = c.options as Record<string, number>;
  switch (c.kind) {
    case 'StepLR':
      return new StepLR(opt, { stepSize: o.step_size!, gamma: o.gamma });
    case 'ExponentialLR':
      return new ExponentialLR(opt, { gamma: o.gamma! });
    case 'CosineAnnealingLR':
      return new CosineAnnealingLR(opt, { tMax: o.T_max!, etaMin: o.eta_min });
    case 'LinearLR':
      return new LinearLR(opt, { startFactor: o.start_factor, endFactor: o.end_factor, totalIters: o.total_iters });
    case 'ConstantLR':
      return new ConstantLR(opt, { factor: o.factor, totalIters: o.total_iters });
    case 'torchvision': {
      const a = c.options as Record<string, never>;
      return createLrScheduler(opt, {
        lrScheduler: a.lr_scheduler,
        lrStepSize: a.lr_step_size,
        lrGamma: a.lr_gamma,
        lrMin: a.lr_min,
        epochs: a.epochs,
        lrWarmupEpochs: a.lr_warmup_epochs,
        lrWarmupMethod: a.lr_warmup_method,
        lrWarmupDecay: a.lr_warmup_decay,
      });
    }
    default:
      throw new Error(`unknown kind ${c.kind}`);
  }
}

/** Deep equality with numbers compared to LR_BAR relative (torch's state_dict holds lrs). */
function expectClose(actual: unknown, expected: unknown, path = 'state_dict'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    expect(Math.abs(actual - expected), path).toBeLessThanOrEqual(LR_BAR * Math.max(1e-300, Math.abs(expected)));
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual) && actual.length, path).toBe(expected.length);
    expected.forEach((e, i) => expectClose((actual as unknown[])[i], e, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [k, e] of Object.entries(expected)) expectClose((actual as Record<string, unknown>)[k], e, `${path}.${k}`);
  } else {
    expect(actual, path).toEqual(expected);
  }
}

describe.each(trainFixtures('sched_'))('%s against torch 1.13', (name) => {
  const f = trainFixture(name);
  const c = f.config as unknown as Config;
  const expected = f64(f, 'lr');
  const groups = c.lrs.length;

  it(`gives torch's lr sequence over ${c.steps} steps and its state_dict`, () => {
    const { opt, vars } = optimizer(c.lrs);
    const sched = scheduler(c, opt);
    const seq: number[] = [];
    seq.push(...opt.paramGroups.map((g) => g.lr));
    for (let s = 1; s <= c.steps; s++) {
      sched.step();
      seq.push(...opt.paramGroups.map((g) => g.lr));
      expect(sched.getLastLr()).toEqual(opt.paramGroups.map((g) => g.lr));
    }
    expect(seq.length).toBe(expected.length);
    worstLr = Math.max(worstLr, relError(seq, expected));
    expect(relError(seq, expected)).toBeLessThanOrEqual(LR_BAR);
    expectClose(sched.stateDict(), JSON.parse(f.meta.state_dict!));
    tf.dispose(vars);
  });

  it(`resumes from torch's state_dict at step ${c.resumeAt}`, () => {
    const { opt, vars } = optimizer(c.lrs);
    const sched = scheduler(c, opt);
    sched.loadStateDict(JSON.parse(f.meta.resume_state_dict!));
    // the optimiser's groups carry the lr in a checkpoint; set it as loading the optimizer would
    opt.paramGroups.forEach((g, i) => (g.lr = expected[c.resumeAt * groups + i]!));
    for (let s = c.resumeAt + 1; s <= c.steps; s++) {
      sched.step();
      const got = opt.paramGroups.map((g) => g.lr);
      expect(relError(got, expected.subarray(s * groups, (s + 1) * groups)), `step ${s}`).toBeLessThanOrEqual(LR_BAR);
    }
    tf.dispose(vars);
  });
});
