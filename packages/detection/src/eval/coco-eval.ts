/**
 * A port of pycocotools' `COCOeval` for `iouType='bbox'` (`PythonAPI/pycocotools/cocoeval.py`,
 * with `maskApi.c`'s box IoU and `COCO.loadRes`): per-image greedy matching at IoU thresholds
 * .50:.05:.95, 101-point interpolated precision, and the 12 summary statistics. Sorting is
 * stable (numpy's `mergesort`) everywhere pycocotools asks for it; -1 marks settings without
 * ground truth, as pycocotools.
 */
import { CocoError } from './coco-json.js';

/** A ground-truth box, as in a COCO annotation file. `bbox` is `[x, y, width, height]`. */
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: readonly [number, number, number, number];
  /** The object's area (segmentation area in COCO files); defaults to `width · height`. */
  area?: number;
  iscrowd?: 0 | 1 | boolean;
}

/** A COCO ground-truth dataset: the parts bbox evaluation reads. */
export interface CocoDataset {
  images: readonly { id: number }[];
  categories: readonly { id: number; name?: string }[];
  annotations: readonly CocoAnnotation[];
}

/** One detection in COCO's results format. */
export interface CocoResult {
  image_id: number;
  category_id: number;
  bbox: readonly [number, number, number, number];
  score: number;
}

/** `Params` for bbox evaluation; every field may be overridden. */
export interface CocoEvalParams {
  imgIds: number[];
  catIds: number[];
  iouThrs: number[];
  recThrs: number[];
  maxDets: number[];
  areaRng: [number, number][];
  areaRngLbl: string[];
  useCats: boolean;
}

/** `np.linspace(start, stop, num)`: `start + i·step`, the last value exactly `stop`. */
export function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** pycocotools' default bbox parameters (image and category ids from the dataset). */
export function defaultCocoEvalParams(gt?: CocoDataset): CocoEvalParams {
  return {
    imgIds: gt ? [...gt.images.map((i) => i.id)].sort((a, b) => a - b) : [],
    catIds: gt ? [...gt.categories.map((c) => c.id)].sort((a, b) => a - b) : [],
    iouThrs: linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1),
    recThrs: linspace(0.0, 1.0, Math.round((1.0 - 0.0) / 0.01) + 1),
    maxDets: [1, 10, 100],
    areaRng: [
      [0 ** 2, 1e5 ** 2],
      [0 ** 2, 32 ** 2],
      [32 ** 2, 96 ** 2],
      [96 ** 2, 1e5 ** 2],
    ],
    areaRngLbl: ['all', 'small', 'medium', 'large'],
    useCats: true,
  };
}

/** `maskApi.c` `bbIou`: `[D, G]` IoU of `[x, y, w, h]` boxes; for crowd ground truth, intersection over the detection's area. */
export function bboxIou(dt: readonly (readonly number[])[], gt: readonly (readonly number[])[], iscrowd: readonly boolean[]): number[][] {
  return dt.map((d) =>
    gt.map((g, j) => {
      const w = Math.min(d[0]! + d[2]!, g[0]! + g[2]!) - Math.max(d[0]!, g[0]!);
      if (w <= 0) return 0;
      const h = Math.min(d[1]! + d[3]!, g[1]! + g[3]!) - Math.max(d[1]!, g[1]!);
      if (h <= 0) return 0;
      const i = w * h;
      const u = iscrowd[j] ? d[2]! * d[3]! : d[2]! * d[3]! + g[2]! * g[3]! - i;
      return i / u;
    }),
  );
}

/** Indices that sort `keys` ascending, stably (numpy's `argsort(kind='mergesort')`). */
function stableArgsort(keys: readonly number[]): number[] {
  return keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
}

interface Gt {
  id: number;
  bbox: readonly number[];
  area: number;
  iscrowd: boolean;
  ignore: boolean;
}
interface Dt {
  id: number;
  bbox: readonly number[];
  area: number;
  score: number;
}

/** One `evaluateImg` result. */
export interface EvalImg {
  imageId: number;
  categoryId: number;
  aRng: [number, number];
  maxDet: number;
  dtIds: number[];
  gtIds: number[];
  /** `[T][D]`: matched ground-truth id, 0 when unmatched. */
  dtMatches: number[][];
  gtMatches: number[][];
  dtScores: number[];
  gtIgnore: boolean[];
  dtIgnore: boolean[][];
}

/** `accumulate()`'s result: `precision[t][r][k][a][m]`, `recall[t][k][a][m]` (-1: no ground truth). */
export interface CocoEvalAccumulated {
  counts: [number, number, number, number, number];
  precision: Float64Array;
  recall: Float64Array;
  scores: Float64Array;
}

/** The names of the 12 bbox summary statistics, in `stats` order. */
export const COCO_STAT_NAMES = [
  'AP@[.50:.95]',
  'AP@.50',
  'AP@.75',
  'AP small',
  'AP medium',
  'AP large',
  'AR@1',
  'AR@10',
  'AR@100',
  'AR small',
  'AR medium',
  'AR large',
] as const;

/**
 * `COCOeval(cocoGt, cocoDt, 'bbox')`.
 *
 * @example const E = new COCOeval(gt, results); E.evaluate(); E.accumulate(); E.summarize(); E.stats[0] // AP
 */
export class COCOeval {
  readonly params: CocoEvalParams;
  private gts = new Map<string, Gt[]>();
  private dts = new Map<string, Dt[]>();
  private ious = new Map<string, number[][]>();
  evalImgs: (EvalImg | null)[] = [];
  eval: CocoEvalAccumulated | null = null;
  stats: number[] = [];
  /** The summary as pycocotools prints it, one line per statistic. */
  summaryLines: string[] = [];

  constructor(
    readonly cocoGt: CocoDataset,
    readonly cocoDt: readonly CocoResult[],
    params: Partial<CocoEvalParams> = {},
  ) {
    this.params = { ...defaultCocoEvalParams(cocoGt), ...params };
    const imgs = new Set(cocoGt.images.map((i) => i.id));
    for (const d of cocoDt) {
      if (!imgs.has(d.image_id)) throw new CocoError('unknown-image', `Results do not correspond to current coco set: image_id ${d.image_id} is not in the ground truth`);
    }
  }

  private key(img: number, cat: number): string {
    return `${img}:${cat}`;
  }

  /** `_prepare`: ground truth and detections per (image, category); `loadRes` ids and areas. */
  private prepare(): void {
    const p = this.params;
    const imgs = new Set(p.imgIds);
    const cats = new Set(p.catIds);
    this.gts = new Map();
    this.dts = new Map();
    const push = <T>(m: Map<string, T[]>, k: string, v: T) => {
      const l = m.get(k);
      if (l) l.push(v);
      else m.set(k, [v]);
    };
    for (const a of this.cocoGt.annotations) {
      if (!imgs.has(a.image_id) || (p.useCats && !cats.has(a.category_id))) continue;
      const iscrowd = Boolean(a.iscrowd);
      push(this.gts, this.key(a.image_id, p.useCats ? a.category_id : -1), {
        id: a.id,
        bbox: a.bbox,
        area: a.area ?? a.bbox[2] * a.bbox[3],
        iscrowd,
        ignore: iscrowd,
      });
    }
    this.cocoDt.forEach((d, i) => {
      if (!imgs.has(d.image_id) || (p.useCats && !cats.has(d.category_id))) return;
      push(this.dts, this.key(d.image_id, p.useCats ? d.category_id : -1), { id: i + 1, bbox: d.bbox, area: d.bbox[2] * d.bbox[3], score: d.score });
    });
  }

  /** Runs the per-image evaluation (`evaluate()`). */
  evaluate(): void {
    const p = this.params;
    p.imgIds = [...new Set(p.imgIds)].sort((a, b) => a - b);
    if (p.useCats) p.catIds = [...new Set(p.catIds)].sort((a, b) => a - b);
    p.maxDets = [...p.maxDets].sort((a, b) => a - b);
    this.prepare();
    const catIds = p.useCats ? p.catIds : [-1];
    const maxDet = p.maxDets[p.maxDets.length - 1]!;
    this.ious = new Map();
    for (const img of p.imgIds) for (const cat of catIds) this.ious.set(this.key(img, cat), this.computeIoU(img, cat));
    this.evalImgs = [];
    for (const cat of catIds) for (const aRng of p.areaRng) for (const img of p.imgIds) this.evalImgs.push(this.evaluateImg(img, cat, aRng, maxDet));
  }

  private computeIoU(img: number, cat: number): number[][] {
    const gt = this.gts.get(this.key(img, cat)) ?? [];
    let dt = this.dts.get(this.key(img, cat)) ?? [];
    if (gt.length === 0 && dt.length === 0) return [];
    dt = stableArgsort(dt.map((d) => -d.score)).map((i) => dt[i]!);
    dt = dt.slice(0, this.params.maxDets[this.params.maxDets.length - 1]);
    return bboxIou(
      dt.map((d) => d.bbox),
      gt.map((g) => g.bbox),
      gt.map((g) => g.iscrowd),
    );
  }

  private evaluateImg(img: number, cat: number, aRng: [number, number], maxDet: number): EvalImg | null {
    const p = this.params;
    const gt0 = this.gts.get(this.key(img, cat)) ?? [];
    const dt0 = this.dts.get(this.key(img, cat)) ?? [];
    if (gt0.length === 0 && dt0.length === 0) return null;
    const gIgnore = gt0.map((g) => (g.ignore || g.area < aRng[0] || g.area > aRng[1] ? 1 : 0));
    const gtind = stableArgsort(gIgnore);
    const gt = gtind.map((i) => gt0[i]!);
    const gtIg = gtind.map((i) => gIgnore[i] === 1);
    const dt = stableArgsort(dt0.map((d) => -d.score))
      .slice(0, maxDet)
      .map((i) => dt0[i]!);
    const iousAll = this.ious.get(this.key(img, cat))!;
    const ious = iousAll.map((row) => gtind.map((j) => row[j]!));
    const T = p.iouThrs.length;
    const G = gt.length;
    const D = dt.length;
    const gtm = Array.from({ length: T }, () => new Array<number>(G).fill(0));
    const dtm = Array.from({ length: T }, () => new Array<number>(D).fill(0));
    const dtIg = Array.from({ length: T }, () => new Array<boolean>(D).fill(false));
    if (ious.length !== 0) {
      p.iouThrs.forEach((t, tind) => {
        dt.forEach((d, dind) => {
          let iou = Math.min(t, 1 - 1e-10);
          let m = -1;
          for (let gind = 0; gind < G; gind++) {
            if (gtm[tind]![gind]! > 0 && !gt[gind]!.iscrowd) continue;
            if (m > -1 && !gtIg[m] && gtIg[gind]) break;
            if (ious[dind]![gind]! < iou) continue;
            iou = ious[dind]![gind]!;
            m = gind;
          }
          if (m === -1) return;
          dtIg[tind]![dind] = gtIg[m]!;
          dtm[tind]![dind] = gt[m]!.id;
          gtm[tind]![m] = d.id;
        });
      });
    }
    // Unmatched detections outside the area range are ignored.
    for (let t = 0; t < T; t++) {
      dt.forEach((d, i) => {
        if (dtm[t]![i] === 0 && (d.area < aRng[0] || d.area > aRng[1])) dtIg[t]![i] = true;
      });
    }
    return {
      imageId: img,
      categoryId: cat,
      aRng,
      maxDet,
      dtIds: dt.map((d) => d.id),
      gtIds: gt.map((g) => g.id),
      dtMatches: dtm,
      gtMatches: gtm,
      dtScores: dt.map((d) => d.score),
      gtIgnore: gtIg,
      dtIgnore: dtIg,
    };
  }

  /** `accumulate()`: precision at the 101 recall thresholds and maximum recall, per setting. */
  accumulate(): CocoEvalAccumulated {
    if (this.evalImgs.length === 0) throw new Error('Please run evaluate() first');
    const p = this.params;
    const T = p.iouThrs.length;
    const R = p.recThrs.length;
    const K = p.useCats ? p.catIds.length : 1;
    const A = p.areaRng.length;
    const M = p.maxDets.length;
    const I0 = p.imgIds.length;
    const precision = new Float64Array(T * R * K * A * M).fill(-1);
    const recall = new Float64Array(T * K * A * M).fill(-1);
    const scores = new Float64Array(T * R * K * A * M).fill(-1);
    const pIdx = (t: number, r: number, k: number, a: number, m: number) => (((t * R + r) * K + k) * A + a) * M + m;
    for (let k = 0; k < K; k++) {
      for (let a = 0; a < A; a++) {
        for (let m = 0; m < M; m++) {
          const maxDet = p.maxDets[m]!;
          const E = this.evalImgs.slice(k * A * I0 + a * I0, k * A * I0 + (a + 1) * I0).filter((e): e is EvalImg => e !== null);
          if (E.length === 0) continue;
          const dtScores = E.flatMap((e) => e.dtScores.slice(0, maxDet));
          const inds = stableArgsort(dtScores.map((s) => -s));
          const sortedScores = inds.map((i) => dtScores[i]!);
          const gtIg = E.flatMap((e) => e.gtIgnore);
          const npig = gtIg.filter((g) => !g).length;
          if (npig === 0) continue;
          for (let t = 0; t < T; t++) {
            const dtm = E.flatMap((e) => e.dtMatches[t]!.slice(0, maxDet));
            const dtIg = E.flatMap((e) => e.dtIgnore[t]!.slice(0, maxDet));
            const nd = inds.length;
            const tpSum: number[] = [];
            const fpSum: number[] = [];
            let tp = 0;
            let fp = 0;
            for (const i of inds) {
              if (dtm[i] !== 0 && !dtIg[i]) tp++;
              if (dtm[i] === 0 && !dtIg[i]) fp++;
              tpSum.push(tp);
              fpSum.push(fp);
            }
            const rc = tpSum.map((x) => x / npig);
            const pr = tpSum.map((x, i) => x / (fpSum[i]! + x + Number.EPSILON));
            recall[(t * K + k) * A * M + a * M + m] = nd ? rc[nd - 1]! : 0;
            for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
            // np.searchsorted(rc, recThrs, side='left'); thresholds past the last recall keep 0.
            let pi = 0;
            for (let r = 0; r < R; r++) {
              while (pi < nd && rc[pi]! < p.recThrs[r]!) pi++;
              if (pi >= nd) {
                // pycocotools' try/except stops filling here: the rest stay 0.
                for (let rr = r; rr < R; rr++) {
                  precision[pIdx(t, rr, k, a, m)] = 0;
                  scores[pIdx(t, rr, k, a, m)] = 0;
                }
                break;
              }
              precision[pIdx(t, r, k, a, m)] = pr[pi]!;
              scores[pIdx(t, r, k, a, m)] = sortedScores[pi]!;
            }
          }
        }
      }
    }
    this.eval = { counts: [T, R, K, A, M], precision, recall, scores };
    return this.eval;
  }

  /** `summarize()`: the 12 statistics (AP, AP50, AP75, AP S/M/L, AR@1/10/100, AR S/M/L); -1 where nothing counts. */
  summarize(): number[] {
    if (!this.eval) throw new Error('Please run accumulate() first');
    const p = this.params;
    const { counts, precision, recall } = this.eval;
    const [T, R, K, A, M] = counts;
    const one = (ap: boolean, iouThr: number | null, areaRng: string, maxDets: number): number => {
      const a = p.areaRngLbl.indexOf(areaRng);
      const m = p.maxDets.indexOf(maxDets);
      const ts = iouThr === null ? [...Array(T).keys()] : p.iouThrs.flatMap((v, i) => (v === iouThr ? [i] : []));
      let sum = 0;
      let n = 0;
      if (a >= 0 && m >= 0) {
        for (const t of ts) {
          for (let k = 0; k < K; k++) {
            if (ap) {
              for (let r = 0; r < R; r++) {
                const v = precision[(((t * R + r) * K + k) * A + a) * M + m]!;
                if (v > -1) {
                  sum += v;
                  n++;
                }
              }
            } else {
              const v = recall[((t * K + k) * A + a) * M + m]!;
              if (v > -1) {
                sum += v;
                n++;
              }
            }
          }
        }
      }
      const mean = n === 0 ? -1 : sum / n;
      const iouStr = iouThr === null ? `${p.iouThrs[0]!.toFixed(2)}:${p.iouThrs[T - 1]!.toFixed(2)}` : iouThr.toFixed(2);
      const title = ap ? 'Average Precision' : 'Average Recall';
      this.summaryLines.push(
        ` ${title.padEnd(18)} ${ap ? '(AP)' : '(AR)'} @[ IoU=${iouStr.padEnd(9)} | area=${areaRng.padStart(6)} | maxDets=${String(maxDets).padStart(3)} ] = ${mean.toFixed(3)}`,
      );
      return mean;
    };
    this.summaryLines = [];
    const [m0, m1, m2] = [p.maxDets[0]!, p.maxDets[1]!, p.maxDets[2]!];
    this.stats = [
      one(true, null, 'all', 100),
      one(true, 0.5, 'all', m2),
      one(true, 0.75, 'all', m2),
      one(true, null, 'small', m2),
      one(true, null, 'medium', m2),
      one(true, null, 'large', m2),
      one(false, null, 'all', m0),
      one(false, null, 'all', m1),
      one(false, null, 'all', m2),
      one(false, null, 'small', m2),
      one(false, null, 'medium', m2),
      one(false, null, 'large', m2),
    ];
    return this.stats;
  }
}

/**
 * TorchVision detections of one image → COCO results: `(x1, y1, x2, y2)` → `[x, y, w, h]`, labels
 * as category ids (TorchVision's COCO labels are COCO's category ids).
 */
export function toCocoResults(
  imageId: number,
  detections: { boxes: Float32Array; labels: Int32Array; scores: Float32Array },
): CocoResult[] {
  const out: CocoResult[] = [];
  for (let i = 0; i < detections.labels.length; i++) {
    const [x1, y1, x2, y2] = [detections.boxes[4 * i]!, detections.boxes[4 * i + 1]!, detections.boxes[4 * i + 2]!, detections.boxes[4 * i + 3]!];
    out.push({ image_id: imageId, category_id: detections.labels[i]!, bbox: [x1, y1, x2 - x1, y2 - y1], score: detections.scores[i]! });
  }
  return out;
}
