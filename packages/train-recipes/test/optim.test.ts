// torch 1.13's optimisers (single-tensor path) against ours on the WASM backend: parameters after
// every step, the state at the end, torch's state_dict format, and resuming from torch's state.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERNEL_MODES, setKernelMode } from '@mnv3/layers';
import type { HostTensor } from '@mnv3/io';
import { AdamW, RMSprop, SGD, type Optimizer } from '../src/index.js';
import { f32, get, relError, scaledError, trainFixture, trainFixtures, type TrainFixture } from './fixtures.js';

const CAMEL: Record<string, string> = { weight_decay: 'weightDecay', eps_placement: 'epsPlacement' };
// Bars, as max |ours − torch| / max |torch| per tensor: parameters 2e-7 (float32 rounds at 6e-8;
// torch fuses its multiply-adds on AVX2 where tfjs rounds twice), state buffers 1e-6.
const PARAM_BAR = 2e-7;
const STATE_BAR = 1e-6;

interface Config {
  optimizer: 'sgd' | 'rmsprop' | 'adamw';
  groups: Record<string, unknown>[];
  lrMult: number;
  steps: number;
  mid: number;
  shapes: number[][];
  missing: Record<string, number[]>;
}

function build(f: TrainFixture, variables: tf.Variable[]): Optimizer<{ lr: number }> {
  const c = f.config as unknown as Config;
  const groups = c.groups.map((g) => {
    const out: Record<string, unknown> = { params: (g.params as number[]).map((i) => variables[i]!) };
    for (const [k, v] of Object.entries(g)) if (k !== 'params') out[CAMEL[k] ?? k] = v;
    return out;
  });
  if (c.optimizer === 'sgd') return new SGD(groups as never, { lr: 0.1 }) as never;
  if (c.optimizer === 'rmsprop') return new RMSprop(groups as never) as never;
  return new AdamW(groups as never) as never;
}

function variablesAt(f: TrainFixture, step: number): tf.Variable[] {
  const c = f.config as unknown as Config;
  return c.shapes.map((s, i) => tf.variable(tf.tensor(f32(f, `p${step}.${i}`), s)));
}

function gradsAt(f: TrainFixture, step: number, variables: tf.Variable[]): Map<tf.Variable, tf.Tensor> {
  const c = f.config as unknown as Config;
  const grads = new Map<tf.Variable, tf.Tensor>();
  c.shapes.forEach((s, i) => {
    if (!(c.missing[String(step)] ?? []).includes(i)) grads.set(variables[i]!, tf.tensor(f32(f, `g${step}.${i}`), s));
  });
  return grads;
}

/** torch's state_dict JSON (tensors stored apart) as loadStateDict takes it. */
function torchStateDict(f: TrainFixture, key: string): { state: Map<number, Record<string, HostTensor | number | null>>; param_groups: Record<string, unknown>[] } {
  const j = JSON.parse(f.meta[key]!) as { state: Record<string, Record<string, unknown>>; param_groups: Record<string, unknown>[] };
  const state = new Map<number, Record<string, HostTensor | number | null>>();
  for (const [id, s] of Object.entries(j.state)) {
    const entry: Record<string, HostTensor | number | null> = {};
    for (const [k, v] of Object.entries(s)) entry[k] = v !== null && typeof v === 'object' ? get(f, (v as { tensor: string }).tensor) : (v as number | null);
    state.set(Number(id), entry);
  }
  return { state, param_groups: j.param_groups };
}

const worst = { param: 0, state: 0, stateElementwise: 0 };
afterAll(() => console.log(`optimisers: worst parameter error ${worst.param.toExponential(2)} of scale, worst state error ${worst.state.toExponential(2)} of scale (${worst.stateElementwise.toExponential(2)} elementwise)`));

// Each optimiser on our fused WASM kernels (`fast`: one kernel per parameter, SGD and RMSprop) and
// composed from tfjs ops (`plain`, the path of every other backend).
describe.each(KERNEL_MODES.flatMap((mode) => trainFixtures('optim_').map((name) => [mode, name] as const)))('%s kernels: %s against torch 1.13', (mode, name) => {
  const f = trainFixture(name);
  beforeAll(() => setKernelMode(mode));
  afterAll(() => setKernelMode('fast'));
  const c = f.config as unknown as Config;

  async function checkParams(variables: tf.Variable[], step: number) {
    for (let i = 0; i < variables.length; i++) {
      const err = scaledError((await variables[i]!.data()) as Float32Array, f32(f, `p${step}.${i}`));
      worst.param = Math.max(worst.param, err);
      expect(err, `param ${i} after step ${step}`).toBeLessThanOrEqual(PARAM_BAR);
    }
  }

  it('updates the parameters as torch does at every step, without leaking tensors', async () => {
    const variables = variablesAt(f, 0);
    const opt = build(f, variables);
    let afterFirst = -1;
    for (let step = 1; step <= c.steps; step++) {
      const grads = gradsAt(f, step, variables);
      const { kernelNames } = await tf.profile(() => opt.step(grads));
      // The fused kernel and nothing else where there is one (AdamW has none), but zeros for new state.
      const fused = { sgd: 'Mnv3SgdStep', rmsprop: 'Mnv3RmspropStep', adamw: null }[c.optimizer];
      if (mode === 'fast' && fused) expect(kernelNames.filter((k) => k !== 'ZerosLike')).toEqual([fused]);
      else expect(kernelNames).not.toContain(fused);
      tf.dispose([...grads.values()]);
      if (step === 2) afterFirst = tf.memory().numTensors;
      await checkParams(variables, step);
      if (c.lrMult !== 1) for (const g of opt.paramGroups) g.lr *= c.lrMult;
    }
    // every state buffer exists after step 2 (a parameter may skip step 1); none added after
    expect(tf.memory().numTensors).toBe(afterFirst);

    // state and state_dict in torch's format
    const torch = torchStateDict(f, 'state_dict');
    const ours = await opt.stateDict();
    expect([...ours.state.keys()].sort()).toEqual([...torch.state.keys()].sort());
    for (const [id, s] of torch.state) {
      const mine = ours.state.get(id)!;
      expect(Object.keys(mine).sort(), `state ${id} keys`).toEqual(Object.keys(s).sort());
      for (const [k, v] of Object.entries(s)) {
        const m = mine[k];
        if (v === null || typeof v === 'number') expect(m, `state ${id}.${k}`).toBe(v);
        else if (v.shape.length === 0) expect(Array.from((m as HostTensor).data as Float32Array), `state ${id}.${k}`).toEqual(Array.from(v.data as Float32Array));
        else {
          const err = scaledError((m as HostTensor).data as Float32Array, v.data as Float32Array);
          worst.state = Math.max(worst.state, err);
          worst.stateElementwise = Math.max(worst.stateElementwise, relError((m as HostTensor).data as Float32Array, v.data as Float32Array));
          expect(err, `state ${id}.${k}`).toBeLessThanOrEqual(STATE_BAR);
        }
      }
    }
    if (!name.includes('inside')) {
      const strip = (g: Record<string, unknown>) => Object.fromEntries(Object.entries(g).filter(([k]) => k !== 'eps_placement'));
      expect(ours.param_groups.map(strip)).toEqual(torch.param_groups);
    }
    opt.dispose();
    tf.dispose(variables);
  });

  it(`resumes from torch's state_dict after step ${c.mid}`, async () => {
    const variables = variablesAt(f, c.mid);
    const opt = build(f, variables);
    opt.loadStateDict(torchStateDict(f, 'mid_state_dict'));
    for (let step = c.mid + 1; step <= c.steps; step++) {
      if (c.lrMult !== 1) for (const g of opt.paramGroups) g.lr *= c.lrMult;
      const grads = gradsAt(f, step, variables);
      opt.step(grads);
      tf.dispose([...grads.values()]);
      await checkParams(variables, step);
    }
    opt.dispose();
    tf.dispose(variables);
  });
});
