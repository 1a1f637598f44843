// The seed's recipe progression as an ablation on Fashion-MNIST (MobileNetV3-Small, 64×64): one
// training run per step of the seed's table, each E epochs from the same seed, then a table
// (ablation.md) and a bar chart (ablation.svg) of test acc@1. Run from the repository root:
//
//   node packages/cli/scripts/ablation.mjs --epochs 3 --out runs/ablation [--rows sgd,rmsprop-default-eps,...] [--limit N]
//
// Each row's test acc@1 is that of the weights the row's own recipe would pick on the validation
// split (the final model, its EMA, or the checkpoint average): the test split is never used to choose.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setupBackend } from '@mnv3/layers/backend';
import { ablationChart, getRecipe } from '@mnv3/train-recipes';

const FM = 'mobilenet_v3_small-fashion-mnist';
const FULL = 'mobilenet_v3_small-fashion-mnist-full';
/** The seed's table, row by row, as recipe overrides of ours. */
const ROWS = [
  {
    id: 'sgd',
    label: 'SGD baseline (MobileNetV2 recipe)',
    // TorchVision's MobileNetV2 recipe (lr 0.036 at batch 256, wd 4e-5, StepLR 1 / 0.98), lr scaled to batch 128.
    recipe: () => getRecipe(FM, { opt: 'sgd', lr: 0.018, weightDecay: 0.00004, lrStepSize: 1, lrGamma: 0.98 }),
  },
  { id: 'rmsprop-default-eps', label: "RMSprop, torch's default eps 1e-8", recipe: () => getRecipe(FM, { rmspropEps: 1e-8 }) },
  { id: 'rmsprop', label: '+ eps 0.0316 and the step LR scheme', recipe: () => getRecipe(FM) },
  { id: 'augment', label: '+ TrivialAugment, RandomErasing 0.2', recipe: () => getRecipe(FM, { autoAugment: 'ta_wide', randomErase: 0.2 }) },
  {
    id: 'averaging',
    label: '+ EMA and checkpoint averaging',
    recipe: () => getRecipe(FM, { autoAugment: 'ta_wide', randomErase: 0.2, modelEma: true, averageLastImproved: 3 }),
  },
  { id: 'full', label: '+ label smoothing, stochastic depth, LR noise', recipe: () => getRecipe(FULL) },
];

const { values } = parseArgs({ options: { epochs: { type: 'string' }, out: { type: 'string' }, rows: { type: 'string' }, limit: { type: 'string' } } });
const epochs = Number(values.epochs ?? 3);
if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`--epochs needs an integer ≥ 1, got ${values.epochs}`);
const out = values.out ?? 'runs/ablation';
const ids = values.rows ? values.rows.split(',') : ROWS.map((r) => r.id);
for (const id of ids) if (!ROWS.some((r) => r.id === id)) throw new Error(`unknown row ${id}; the rows are ${ROWS.map((r) => r.id).join(', ')}`);
mkdirSync(out, { recursive: true });

await setupBackend();
await import('@mnv3/layers/train');
const { train, loadRecipeData } = await import('@mnv3/train-recipes/node');
let data;
for (const row of ROWS.filter((r) => ids.includes(r.id))) {
  const recipe = row.recipe();
  // --limit N: N images per split (a quick check of the script, not a result)
  data ??= await loadRecipeData(recipe, values.limit ? { limit: { train: Number(values.limit), val: Number(values.limit), test: Number(values.limit) } } : {});
  const dir = join(out, row.id);
  const t0 = Date.now();
  const result = await train(recipe, { data, outputDir: dir, epochs });
  const last = result.history.epochs.at(-1);
  // What the recipe would ship, chosen on val: final model, EMA, or the average.
  const candidates = [{ what: 'final', val: last.valAcc1, test: result.test.acc1 }];
  if (result.testEma) candidates.push({ what: 'EMA', val: last.emaAcc1, test: result.testEma.acc1 });
  if (result.averaged?.test) candidates.push({ what: 'average', val: result.averaged.val.acc1, test: result.averaged.test.acc1 });
  const pick = candidates.reduce((a, b) => (b.val > a.val ? b : a));
  const summary = { id: row.id, label: row.label, recipe: recipe.name, epochs, pick, candidates, minutes: (Date.now() - t0) / 60000 };
  writeFileSync(join(dir, 'ablation-row.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`${row.id}: val ${pick.val.toFixed(2)} test ${pick.test.toFixed(2)} (${pick.what}), ${summary.minutes.toFixed(1)} min`);
}

// The table and chart over every row run so far (in the seed's order).
const done = ROWS.map((r) => join(out, r.id, 'ablation-row.json')).filter(existsSync).map((f) => JSON.parse(readFileSync(f, 'utf8')));
const lines = [
  `| step of the seed's table | epochs | val acc@1 | test acc@1 | weights (picked on val) | minutes |`,
  '|---|---|---|---|---|---|',
  ...done.map((r) => `| ${r.label} | ${r.epochs} | ${r.pick.val.toFixed(2)} | ${r.pick.test.toFixed(2)} | ${r.pick.what} | ${r.minutes.toFixed(1)} |`),
];
writeFileSync(join(out, 'ablation.md'), `${lines.join('\n')}\n`);
const sameEpochs = new Set(done.map((r) => r.epochs)).size === 1;
writeFileSync(join(out, 'ablation.svg'), await ablationChart(done.map((r) => ({ label: r.label, acc1: r.pick.test })), `Fashion-MNIST, MobileNetV3-Small 64×64, ${sameEpochs ? `${done[0].epochs} epochs per row` : 'epochs per row in the table'}`));
console.log(lines.join('\n'));
