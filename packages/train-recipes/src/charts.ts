// Training curves per epoch — loss, acc@1, acc@5, learning rate — as one SVG of four panels, drawn
// with Vega-Lite (the library of the benchmark's latency chart). Written next to the checkpoints.
import type { TrainHistory } from './history.js';

/** Options of {@link trainingChart}. */
export interface TrainingChartOptions {
  /** Chart title (default: the recipe's name). */
  title?: string;
  /** Width of each panel in pixels (default 280). */
  width?: number;
}

/** A Vega-Lite spec rendered to an SVG document, headless. */
async function svgOf(spec: Record<string, unknown>): Promise<string> {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const view = new vega.View(vega.parse(vl.compile(spec as never).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

interface Point {
  epoch: number;
  series: string;
  value: number;
}

/** A Vega-Lite panel of one line per series over epochs (a log scale when `scale.type` is 'log'). */
function linePanel(values: Point[], title: string, yTitle: string, width: number, scale: Record<string, unknown> = {}) {
  return {
    title,
    width,
    height: 180,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: scale.type === 'log' ? scale : { zero: false, ...scale } },
      color: { field: 'series', type: 'nominal', title: null, sort: null },
    },
  };
}

/**
 * The training curves of a history as an SVG document: four panels over epochs — loss (train and
 * val), acc@1 and acc@5 (train, val, and EMA or the QAT run's int8 model when recorded; percent) and the learning rate (log
 * scale). Throws a RangeError for a history without epochs.
 *
 * @example await writeFileAtomic(join(out, 'training.svg'), await trainingChart(history));
 */
export async function trainingChart(history: TrainHistory, options: TrainingChartOptions = {}): Promise<string> {
  if (!history || !Array.isArray(history.epochs) || history.epochs.length === 0) {
    throw new RangeError('trainingChart: the history has no epochs to draw (train at least one epoch first)');
  }
  const width = options.width ?? 280;
  const loss: Point[] = [];
  const acc1: Point[] = [];
  const acc5: Point[] = [];
  const lr: Point[] = [];
  for (const e of history.epochs) {
    loss.push({ epoch: e.epoch, series: 'train', value: e.trainLoss }, { epoch: e.epoch, series: 'val', value: e.valLoss });
    acc1.push({ epoch: e.epoch, series: 'train', value: e.trainAcc1 }, { epoch: e.epoch, series: 'val', value: e.valAcc1 });
    acc5.push({ epoch: e.epoch, series: 'train', value: e.trainAcc5 }, { epoch: e.epoch, series: 'val', value: e.valAcc5 });
    if (e.emaAcc1 !== undefined) acc1.push({ epoch: e.epoch, series: 'val (EMA)', value: e.emaAcc1 });
    if (e.emaAcc5 !== undefined) acc5.push({ epoch: e.epoch, series: 'val (EMA)', value: e.emaAcc5 });
    if (e.int8Acc1 !== undefined) acc1.push({ epoch: e.epoch, series: 'val (int8)', value: e.int8Acc1 });
    if (e.int8Acc5 !== undefined) acc5.push({ epoch: e.epoch, series: 'val (int8)', value: e.int8Acc5 });
    lr.push({ epoch: e.epoch, series: 'lr', value: e.lr });
  }
  const panel = (values: Point[], title: string, yTitle: string, scale: Record<string, unknown> = {}) => linePanel(values, title, yTitle, width, scale);
  return svgOf({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title ?? history.recipe,
    resolve: { scale: { color: 'independent' } },
    vconcat: [
      { hconcat: [panel(loss, 'Loss', 'cross-entropy loss'), panel(lr, 'Learning rate', 'learning rate', { type: 'log' })] },
      { hconcat: [panel(acc1, 'Acc@1', 'acc@1 (%)'), panel(acc5, 'Acc@5', 'acc@5 (%)')] },
    ],
  });
}

/** One run of a {@link comparisonChart}: its label and its history. */
export interface ChartRun {
  label: string;
  history: TrainHistory;
}

/**
 * Several runs' curves side by side as an SVG (say, one recipe trained by PyTorch and by us, or from
 * two seeds): train loss, val acc@1 and, for runs with an EMA, its val acc@1, one line per run.
 * `fromEpoch` leaves out the epochs before it, whose large values would flatten the later ones.
 * Throws a RangeError when there is no run, a run has no epochs from `fromEpoch` on or two runs share a label.
 *
 * @example await writeFileAtomic('torch-vs-mnv3.svg', await comparisonChart([{ label: 'PyTorch', history: a }, { label: 'mnv3', history: b }], 'Fashion-MNIST, 60 epochs', { fromEpoch: 10 }));
 */
export async function comparisonChart(runs: readonly ChartRun[], title: string, options: { fromEpoch?: number } = {}): Promise<string> {
  const from = options.fromEpoch ?? 0;
  if (!Number.isSafeInteger(from) || from < 0) throw new RangeError(`comparisonChart: fromEpoch must be an integer ≥ 0, got ${String(options.fromEpoch)}`);
  if (runs.length === 0) throw new RangeError('comparisonChart: no runs to draw');
  const labels = new Set<string>();
  for (const r of runs) {
    if (!r.history || !Array.isArray(r.history.epochs) || !r.history.epochs.some((e) => e.epoch >= from)) {
      throw new RangeError(`comparisonChart: run "${r.label}" has no epochs to draw${from > 0 ? ` from epoch ${from} on` : ''}`);
    }
    if (labels.has(r.label)) throw new RangeError(`comparisonChart: two runs are labelled "${r.label}"; labels must differ`);
    labels.add(r.label);
  }
  const loss: Point[] = [];
  const acc1: Point[] = [];
  const ema: Point[] = [];
  for (const { label, history } of runs) {
    for (const e of history.epochs.filter((r) => r.epoch >= from)) {
      loss.push({ epoch: e.epoch, series: label, value: e.trainLoss });
      acc1.push({ epoch: e.epoch, series: label, value: e.valAcc1 });
      if (e.emaAcc1 !== undefined) ema.push({ epoch: e.epoch, series: label, value: e.emaAcc1 });
    }
  }
  const panel = (values: Point[], panelTitle: string, yTitle: string) => linePanel(values, panelTitle, yTitle, 280);
  const panels = [panel(loss, 'Train loss', 'cross-entropy loss'), panel(acc1, 'Val acc@1', 'acc@1 (%)')];
  if (ema.length > 0) panels.push(panel(ema, 'Val acc@1 (EMA)', 'acc@1 (%)'));
  return svgOf({ $schema: 'https://vega.github.io/schema/vega-lite/v5.json', title, hconcat: panels });
}

/** One row of an ablation: a label (the recipe step) and its test acc@1 (percent). */
export interface AblationBar {
  label: string;
  acc1: number;
}

/**
 * An ablation as an SVG bar chart (Vega-Lite, as the training curves): test acc@1 per recipe step,
 * in the given order, the value printed on each bar.
 *
 * @example await writeFileAtomic('ablation.svg', await ablationChart(rows, 'Fashion-MNIST, 3 epochs per row'));
 */
export async function ablationChart(rows: readonly AblationBar[], title: string): Promise<string> {
  if (rows.length === 0) throw new RangeError('ablationChart: no rows to draw');
  const values = rows.map((r) => ({ ...r, text: r.acc1.toFixed(2) }));
  const lo = Math.floor(Math.min(...rows.map((r) => r.acc1)) - 2);
  const y = { field: 'label', type: 'nominal', sort: null, title: null }; // data order: the seed's
  const x = { field: 'acc1', type: 'quantitative', title: 'test acc@1 (%)', scale: { domain: [Math.max(0, lo), 100], clamp: true } };
  return svgOf({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 420,
    data: { values },
    encoding: { y, x },
    layer: [{ mark: { type: 'bar', clip: true } }, { mark: { type: 'text', align: 'left', dx: 3 }, encoding: { text: { field: 'text' } } }],
  });
}
