// Several training runs' curves in one chart (train loss, val acc@1, the EMA's val acc@1): say, a
// recipe trained by PyTorch itself (tools/reference/train_fashion_mnist.py) beside `mnv3 train`'s
// runs of it from two seeds. Run from the repository root:
//
//   node packages/cli/scripts/compare-runs.mjs --title "Fashion-MNIST, 60 epochs" --out runs/compare.svg --from-epoch 10 \
//     "PyTorch 1.13=runs/torch60-re5/history.json" "mnv3, seed 0=runs/noaa60-re5/history.json"
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '@mnv3/io/node';
import { comparisonChart, parseHistory } from '@mnv3/train-recipes';

const { values, positionals } = parseArgs({ options: { title: { type: 'string' }, out: { type: 'string' }, 'from-epoch': { type: 'string' } }, allowPositionals: true });
if (!values.out || positionals.length === 0) {
  console.error('usage: compare-runs.mjs --out FILE.svg [--title T] [--from-epoch E] LABEL=history.json [LABEL=history.json ...]');
  process.exit(2);
}
const fail = (message) => {
  console.error(`compare-runs: ${message}`);
  process.exit(2);
};
const runs = positionals.map((arg) => {
  const at = arg.lastIndexOf('=');
  if (at <= 0) fail(`"${arg}" is not LABEL=history.json`);
  const file = arg.slice(at + 1);
  try {
    return { label: arg.slice(0, at), history: parseHistory(readFileSync(file, 'utf8')) };
  } catch (e) {
    return fail(`${file}: ${e.message}`);
  }
});
const svg = await comparisonChart(runs, values.title ?? 'Training runs', { fromEpoch: Number(values['from-epoch'] ?? 0) }).catch((e) => fail(e.message));
await writeFileAtomic(values.out, svg);
for (const { label, history } of runs) {
  const last = history.epochs.at(-1);
  console.log(`${label}: ${history.epochs.length} epochs, last val acc@1 ${last.valAcc1.toFixed(2)}${last.emaAcc1 === undefined ? '' : ` (EMA ${last.emaAcc1.toFixed(2)})`}`);
}
