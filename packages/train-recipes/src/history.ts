// Per-epoch metrics of a training run: `history.json` (machine-readable, appended after each epoch)
// and `log.txt` lines as TorchVision's train.py prints them (utils.MetricLogger's meters, evaluate's
// "Test: Acc@1 … Acc@5 …"). Pure functions; the trainer writes the files atomically.

/** One epoch's metrics, as train.py's MetricLogger gathers them. */
export interface EpochRecord {
  /** The epoch (0-based, as train.py counts). */
  epoch: number;
  /** The learning rate of parameter group 0 during the epoch (train.py's `lr` meter). */
  lr: number;
  /** Training loss, accuracies (percent) and images per second, averaged over the epoch. */
  trainLoss: number;
  trainAcc1: number;
  trainAcc5: number;
  imgPerSec: number;
  /** Evaluation on the validation split (percent; loss averaged over images). */
  valLoss: number;
  valAcc1: number;
  valAcc5: number;
  /** The EMA model's evaluation, when the recipe has one. */
  emaAcc1?: number;
  emaAcc5?: number;
  /** QAT: the converted int8 model's evaluation on the validation split (train_quantization.py's "Evaluate Quantized model"). */
  int8Acc1?: number;
  int8Acc5?: number;
  /** Wall-clock seconds the epoch took (training and evaluation). */
  seconds: number;
}

/**
 * An epoch's training sums as its steps come (train.py's MetricLogger meters): each step's loss,
 * images, top-1 / top-5 hits and milliseconds; then the epoch's record with its evaluations.
 */
export class EpochTally {
  /** Every step's loss, in order. */
  readonly losses: number[] = [];
  private lossSum = 0;
  private c1 = 0;
  private c5 = 0;
  private n = 0;
  private ms = 0;

  add(step: { loss: number; n: number; correct1: number; correct5: number; ms: number }): void {
    this.losses.push(step.loss);
    this.lossSum += step.loss * step.n;
    this.c1 += step.correct1;
    this.c5 += step.correct5;
    this.n += step.n;
    this.ms += step.ms;
  }

  /** The epoch's record: `lr`, these sums, the validation split's `val`, `extra` (EMA, int8) and `seconds`. */
  record(epoch: number, lr: number, val: { loss: number; acc1: number; acc5: number }, extra: Pick<EpochRecord, 'emaAcc1' | 'emaAcc5' | 'int8Acc1' | 'int8Acc5'>, seconds: number): EpochRecord {
    return {
      epoch,
      lr,
      trainLoss: this.lossSum / this.n,
      trainAcc1: (100 * this.c1) / this.n,
      trainAcc5: (100 * this.c5) / this.n,
      imgPerSec: (1000 * this.n) / this.ms,
      valLoss: val.loss,
      valAcc1: val.acc1,
      valAcc5: val.acc5,
      ...extra,
      seconds,
    };
  }
}

/** `history.json`: every finished epoch, in order. */
export interface TrainHistory {
  format: 'mnv3-train-history';
  version: 1;
  recipe: string;
  epochs: EpochRecord[];
}

const REQUIRED: readonly (keyof EpochRecord)[] = ['epoch', 'lr', 'trainLoss', 'trainAcc1', 'trainAcc5', 'imgPerSec', 'valLoss', 'valAcc1', 'valAcc5', 'seconds'];
const OPTIONAL: readonly (keyof EpochRecord)[] = ['emaAcc1', 'emaAcc5', 'int8Acc1', 'int8Acc5'];
const PERCENT: readonly (keyof EpochRecord)[] = ['trainAcc1', 'trainAcc5', 'valAcc1', 'valAcc5', 'emaAcc1', 'emaAcc5', 'int8Acc1', 'int8Acc5'];

/** An empty history for a recipe. */
export function newHistory(recipe: string): TrainHistory {
  if (typeof recipe !== 'string' || recipe === '') throw new TypeError('newHistory: recipe must be a non-empty string');
  return { format: 'mnv3-train-history', version: 1, recipe, epochs: [] };
}

function checkRecord(r: unknown, where: string): EpochRecord {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new TypeError(`${where}: an epoch record must be an object`);
  const rec = r as Record<string, unknown>;
  for (const k of Object.keys(rec)) {
    if (!(REQUIRED as readonly string[]).includes(k) && !(OPTIONAL as readonly string[]).includes(k)) {
      throw new TypeError(`${where}: unknown field "${k}"; the fields are ${[...REQUIRED, ...OPTIONAL].join(', ')}`);
    }
  }
  for (const k of [...REQUIRED, ...OPTIONAL]) {
    const v = rec[k];
    if (v === undefined && (OPTIONAL as readonly string[]).includes(k)) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${where}: ${k} must be a finite number, got ${JSON.stringify(v) ?? String(v)}`);
    if (k === 'epoch' && (!Number.isSafeInteger(v) || v < 0)) throw new RangeError(`${where}: epoch must be an integer ≥ 0, got ${v}`);
    if ((PERCENT as readonly string[]).includes(k) && (v < 0 || v > 100)) throw new RangeError(`${where}: ${k} is a percentage in [0, 100], got ${v}`);
    if (k !== 'epoch' && !(PERCENT as readonly string[]).includes(k) && v < 0) throw new RangeError(`${where}: ${k} must be ≥ 0, got ${v}`);
  }
  if ((rec.emaAcc1 === undefined) !== (rec.emaAcc5 === undefined)) throw new TypeError(`${where}: emaAcc1 and emaAcc5 come together`);
  if ((rec.int8Acc1 === undefined) !== (rec.int8Acc5 === undefined)) throw new TypeError(`${where}: int8Acc1 and int8Acc5 come together`);
  return rec as unknown as EpochRecord;
}

/**
 * The history with one more epoch, which must follow the last one (epoch numbers increase by one;
 * a resumed run continues at checkpoint epoch + 1). Returns a new object.
 */
export function appendEpoch(history: TrainHistory, record: EpochRecord): TrainHistory {
  const rec = checkRecord(record, 'appendEpoch');
  const last = history.epochs[history.epochs.length - 1];
  if (last && rec.epoch !== last.epoch + 1) throw new RangeError(`appendEpoch: epoch ${rec.epoch} does not follow epoch ${last.epoch}`);
  return { ...history, epochs: [...history.epochs, { ...rec }] };
}

/** The history cut back to the epochs before `epoch` (what a run resumed at `epoch` keeps). */
export function truncateHistory(history: TrainHistory, epoch: number): TrainHistory {
  return { ...history, epochs: history.epochs.filter((e) => e.epoch < epoch) };
}

/** `history.json`'s text (two-space indentation, a newline at the end). */
export function serializeHistory(history: TrainHistory): string {
  return `${JSON.stringify(history, null, 2)}\n`;
}

/** Parses and validates `history.json`; errors say which epoch and field is wrong. */
export function parseHistory(text: string): TrainHistory {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`history.json is not JSON: ${(e as Error).message}`);
  }
  const h = v as Partial<TrainHistory>;
  if (h === null || typeof h !== 'object' || h.format !== 'mnv3-train-history') throw new TypeError('history.json: format must be "mnv3-train-history"');
  if (h.version !== 1) throw new TypeError(`history.json: version ${String(h.version)} is not supported (only 1)`);
  if (typeof h.recipe !== 'string') throw new TypeError('history.json: recipe must be a string');
  if (!Array.isArray(h.epochs)) throw new TypeError('history.json: epochs must be a list');
  let out = newHistory(h.recipe);
  h.epochs.forEach((e, i) => {
    const rec = checkRecord(e, `history.json epochs[${i}]`);
    out = appendEpoch(out, rec);
  });
  return out;
}

/** Python's `repr(float)`: the shortest round-tripping digits, exponent form below 1e-4 and from 1e16. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let body: string;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) body = `0.${'0'.repeat(-exp - 1)}${digits}`;
    else if (digits.length > exp + 1) body = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
    else body = `${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  } else {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    body = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return neg ? `-${body}` : body;
}

/** Python's `format(x, '.Nf')`: the exact binary value rounded half to even (JS' toFixed rounds ties up). */
export function pyFixed(x: number, decimals: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const neg = x < 0 || Object.is(x, -0);
  // x = m · 2^e exactly, with m an integer.
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, Math.abs(x));
  const bits = buf.getBigUint64(0);
  const be = Number((bits >> 52n) & 0x7ffn);
  let m = bits & ((1n << 52n) - 1n);
  let e = be - 1075;
  if (be === 0) e = -1074;
  else m |= 1n << 52n;
  const scale = 10n ** BigInt(decimals);
  let q: bigint;
  if (e >= 0) q = (m << BigInt(e)) * scale;
  else {
    const num = m * scale;
    const den = 1n << BigInt(-e);
    q = num / den;
    const rem = num - q * den;
    if (rem * 2n > den || (rem * 2n === den && q % 2n === 1n)) q += 1n;
  }
  const s = q.toString().padStart(decimals + 1, '0');
  const body = decimals ? `${s.slice(0, s.length - decimals)}.${s.slice(s.length - decimals)}` : s;
  return neg ? `-${body}` : body;
}

/**
 * The epoch's lines of `log.txt`, as train.py prints them: the training meters as
 * `utils.MetricLogger` formats them (`lr: {value}`, `img/s: {value}`, the others `{:.4f}`; here each
 * is the epoch's average), then evaluate's `Test:  Acc@1 {:.3f} Acc@5 {:.3f}` and, with an EMA,
 * `Test: EMA Acc@1 … Acc@5 …`. No trailing newline.
 *
 * @example formatEpochLog(rec) // 'Epoch: [3]  lr: 0.008  img/s: 512.3  loss: 0.4123  acc1: 85.1230  acc5: 99.5000  time: 61.2\nTest:  Acc@1 84.320 Acc@5 99.120'
 */
export function formatEpochLog(record: EpochRecord): string {
  const r = checkRecord(record, 'formatEpochLog');
  const lines = [
    `Epoch: [${r.epoch}]  lr: ${pyFloatRepr(r.lr)}  img/s: ${pyFixed(r.imgPerSec, 1)}  loss: ${pyFixed(r.trainLoss, 4)}  acc1: ${pyFixed(r.trainAcc1, 4)}  acc5: ${pyFixed(r.trainAcc5, 4)}  time: ${pyFixed(r.seconds, 1)}`,
    `Test:  Acc@1 ${pyFixed(r.valAcc1, 3)} Acc@5 ${pyFixed(r.valAcc5, 3)}`,
  ];
  if (r.emaAcc1 !== undefined) lines.push(`Test: EMA Acc@1 ${pyFixed(r.emaAcc1, 3)} Acc@5 ${pyFixed(r.emaAcc5!, 3)}`);
  if (r.int8Acc1 !== undefined) lines.push(`Test: int8 Acc@1 ${pyFixed(r.int8Acc1, 3)} Acc@5 ${pyFixed(r.int8Acc5!, 3)}`);
  return lines.join('\n');
}

/** The whole `log.txt` for a history (one block per epoch). */
export function formatLog(history: TrainHistory): string {
  return history.epochs.map((e) => `${formatEpochLog(e)}\n`).join('');
}
