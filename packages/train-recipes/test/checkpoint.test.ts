// A train.py-format checkpoint written here resumes in torch 1.13 as train.py's --resume does
// (tools/reference/check_train_checkpoint.py builds torch's optimiser, scheduler and EMA from the
// checkpoint's `args` and load_state_dict's them), and one more step in torch equals one more step
// here after resuming from the same file. Goldens: torch's state after that step.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderedDict, PythonObject, isHostTensor, loadTorchCheckpoint, saveTorchCheckpoint, toFloat32, type HostTensor, type StateDict } from '@mnv3/io';
import { writeTorchCheckpoint } from '@mnv3/io/node';
import { ORACLE_PYTHON, REPO_ROOT } from '@mnv3/test-utils';
import {
  ExponentialMovingAverage,
  createLrScheduler,
  createOptimizer,
  emaDecay,
  getRecipe,
  trainCheckpoint,
  type Recipe,
  type RecipeOverrides,
} from '../src/index.js';
import { scaledError } from './fixtures.js';

const CHECKER = join(REPO_ROOT, 'tools/reference/check_train_checkpoint.py');
const PARAMS: [string, number[]][] = [
  ['features.0.0.weight', [4, 3, 3, 3]],
  ['features.0.1.weight', [4]],
  ['features.0.1.bias', [4]],
  ['classifier.3.weight', [10, 4]],
  ['classifier.3.bias', [10]],
];

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed * 1.37) * 0.5);
}

function grads(vars: tf.Variable[], step: number): Map<tf.Variable, tf.Tensor> {
  return new Map(vars.map((v, k) => [v, tf.tensor(values(v.size, 100 + step * 7 + k), v.shape)]));
}

interface Run {
  recipe: Recipe;
  vars: tf.Variable[];
  buffers: Map<string, tf.Tensor>;
  optimizer: ReturnType<typeof createOptimizer>;
  scheduler: ReturnType<typeof createLrScheduler>;
  ema?: ExponentialMovingAverage;
}

function setUp(recipe: Recipe): Run {
  const vars = PARAMS.map(([, shape], k) => tf.variable(tf.tensor(values(shape.reduce((a, b) => a * b, 1), k), shape)));
  const buffers = new Map<string, tf.Tensor>([
    ['features.0.1.running_mean', tf.tensor(values(4, 9))],
    ['features.0.1.num_batches_tracked', tf.scalar(7, 'int32')],
  ]);
  const a = recipe.args;
  const optimizer = createOptimizer(a.opt, vars, { lr: a.lr, momentum: a.momentum, weightDecay: a.weightDecay });
  const scheduler = createLrScheduler(optimizer, a);
  const ema = a.modelEma ? new ExponentialMovingAverage(named({ vars, buffers }), { decay: emaDecay(a) }) : undefined;
  return { recipe, vars, buffers, optimizer, scheduler, ema };
}

function named(r: { vars: tf.Variable[]; buffers: Map<string, tf.Tensor> }): Map<string, tf.Tensor> {
  return new Map<string, tf.Tensor>([...PARAMS.map(([n], k) => [n, r.vars[k]!] as [string, tf.Tensor]), ...r.buffers]);
}

async function stateDict(r: Run): Promise<StateDict> {
  const sd: StateDict = new Map();
  for (const [n, t] of named(r)) {
    sd.set(n, t.dtype === 'int32' ? { dtype: 'int64', shape: [...t.shape], data: BigInt64Array.from(await t.data(), (x) => BigInt(x)) } : { dtype: 'float32', shape: [...t.shape], data: (await t.data()) as Float32Array });
  }
  return sd;
}

/** train.py's loop for `epochs` epochs of 2 iterations: step, EMA every modelEmaSteps (reset in warm-up), scheduler per epoch. */
function train(r: Run, fromEpoch: number, epochs: number): void {
  const a = r.recipe.args;
  for (let epoch = fromEpoch; epoch < fromEpoch + epochs; epoch++) {
    for (let i = 0; i < 2; i++) {
      const g = grads(r.vars, epoch * 2 + i);
      r.optimizer.step(g);
      g.forEach((t) => t.dispose());
      if (r.ema && i % a.modelEmaSteps === 0) {
        r.ema.updateParameters(named(r));
        if (epoch < a.lrWarmupEpochs) r.ema.nAveraged = 0;
      }
    }
    r.scheduler.step();
  }
}

const CONFIGS: [string, string, RecipeOverrides][] = [
  ['fashion-mnist recipe: RMSprop, StepLR', 'mobilenet_v3_small-fashion-mnist', {}],
  ['SGD Nesterov, linear warm-up then cosine, EMA', 'mobilenet_v3_small-fashion-mnist', { opt: 'sgd_nesterov', lr: 0.05, lrScheduler: 'cosineannealinglr', lrWarmupEpochs: 2, lrWarmupMethod: 'linear', modelEma: true, modelEmaSteps: 1 }],
  ['AdamW, ExponentialLR', 'mobilenet_v3_large', { opt: 'adamw', lr: 0.001, weightDecay: 0.05, lrScheduler: 'exponentiallr', lrGamma: 0.9 }],
];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mnv3-train-ckpt-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('train.py checkpoints resume in torch 1.13', () => {
  CONFIGS.forEach(([title, name, overrides], c) => {
    it(title, async () => {
      const recipe = getRecipe(name, { epochs: 10, ...overrides });
      const run = setUp(recipe);
      train(run, 0, 3);
      const ckptPath = join(dir, `checkpoint_${c}.pth`);
      await writeTorchCheckpoint(ckptPath, await trainCheckpoint({ model: await stateDict(run), optimizer: run.optimizer, lrScheduler: run.scheduler, epoch: 2, args: recipe, modelEma: run.ema }));
      // The next epoch's gradients (two iterations), in optimiser order, for torch.
      const epochGrads: OrderedDict<string, HostTensor>[] = [];
      for (const step of [6, 7]) {
        const g = grads(run.vars, step);
        const d = new OrderedDict<string, HostTensor>();
        let k = 0;
        for (const t of g.values()) d.set(PARAMS[k++]![0], { dtype: 'float32', shape: [...t.shape], data: (await t.data()) as Float32Array });
        g.forEach((t) => t.dispose());
        epochGrads.push(d);
      }
      writeFileSync(join(dir, `grads_${c}.pth`), saveTorchCheckpoint(epochGrads));
      writeFileSync(join(dir, `names_${c}.json`), JSON.stringify(PARAMS.map(([n]) => n)));
      const out = JSON.parse(
        execFileSync(ORACLE_PYTHON, [CHECKER, ckptPath, join(dir, `grads_${c}.pth`), join(dir, `names_${c}.json`), join(dir, `torch_${c}.pth`)], { encoding: 'utf8' }),
      ) as { torch: string; start_epoch: number; mismatches: string[]; ema: boolean; args_recipe: string; lr_after_load: number[] };
      expect(out.torch).toMatch(/^1\.13/);
      expect(out.mismatches).toEqual([]);
      expect(out.start_epoch).toBe(3);
      expect(out.ema).toBe(recipe.args.modelEma);
      expect(out.args_recipe).toBe(name);
      expect(out.lr_after_load).toEqual([run.optimizer.paramGroups[0]!.lr]);

      // Resume here from the same file, as our trainer will, and take the same step.
      const ckpt = loadTorchCheckpoint(new Uint8Array(readFileSync(ckptPath))) as Map<string, unknown>;
      expect([...ckpt.keys()]).toEqual(['model', 'optimizer', 'lr_scheduler', 'epoch', 'args', ...(recipe.args.modelEma ? ['model_ema'] : [])]);
      expect(ckpt.get('args')).toBeInstanceOf(PythonObject);
      const resumed = setUp(recipe);
      const model = ckpt.get('model') as StateDict;
      PARAMS.forEach(([n], i) => resumed.vars[i]!.assign(tf.tensor(toFloat32(model.get(n)!), resumed.vars[i]!.shape)));
      resumed.optimizer.loadStateDict(ckpt.get('optimizer'));
      resumed.scheduler.loadStateDict(ckpt.get('lr_scheduler') as Map<unknown, unknown>);
      if (resumed.ema) resumed.ema.loadStateDict(ckpt.get('model_ema') as StateDict);
      train(resumed, 3, 1);
      train(run, 3, 1);

      const golden = loadTorchCheckpoint(new Uint8Array(readFileSync(join(dir, `torch_${c}.pth`)))) as Map<string, unknown>;
      const params = golden.get('params') as StateDict;
      for (const [i, [n]] of PARAMS.entries()) {
        expect(scaledError(await resumed.vars[i]!.data() as Float32Array, toFloat32(params.get(n)!)), n).toBeLessThanOrEqual(2e-7);
        // Exact resume: the uninterrupted run took the very same step.
        expect(await resumed.vars[i]!.data(), n).toEqual(await run.vars[i]!.data());
      }
      const torchOpt = golden.get('optimizer') as Map<string, unknown>;
      const ours = await resumed.optimizer.stateDict();
      const torchState = torchOpt.get('state') as Map<number, Map<string, unknown>>;
      expect([...torchState.keys()]).toEqual([...ours.state.keys()]);
      for (const [idx, entry] of torchState) {
        for (const [key, v] of entry) {
          const mine = ours.state.get(idx)![key];
          if (isHostTensor(v)) expect(scaledError(toFloat32(mine as HostTensor), toFloat32(v)), `state[${idx}].${key}`).toBeLessThanOrEqual(1e-6);
          else expect(mine, `state[${idx}].${key}`).toEqual(v);
        }
      }
      const lastLr = golden.get('last_lr') as number[];
      resumed.scheduler.getLastLr().forEach((lr, i) => expect(Math.abs(lr - lastLr[i]!)).toBeLessThanOrEqual(1e-15 * Math.abs(lastLr[i]!)));
      expect(resumed.scheduler.getLastLr()).toEqual(run.scheduler.getLastLr());
      if (resumed.ema) {
        const torchEma = golden.get('model_ema') as StateDict;
        const mine = await resumed.ema.stateDict();
        expect([...mine.keys()].sort()).toEqual([...torchEma.keys()].sort());
        for (const [key, t] of torchEma) expect(scaledError(toFloat32(mine.get(key)!), toFloat32(t)), key).toBeLessThanOrEqual(2e-7);
      }
      for (const r of [run, resumed]) {
        r.vars.forEach((v) => v.dispose());
        r.buffers.forEach((t) => t.dispose());
        r.optimizer.dispose();
        r.ema?.dispose();
      }
    });
  });
});
