// COCOeval (bbox) on hand-derived cases: pycocotools is not installable here, so every expected
// number below is worked out from cocoeval.py's rules in the comments.
import { describe, expect, it } from 'vitest';
import { COCOeval, CocoError, bboxIou, linspace, toCocoResults, type CocoAnnotation, type CocoDataset, type CocoResult } from '@mnv3/detection/eval';

function dataset(annotations: CocoAnnotation[], images = [1, 2], categories = [1, 2]): CocoDataset {
  return { images: images.map((id) => ({ id })), categories: categories.map((id) => ({ id })), annotations };
}
const ann = (id: number, image_id: number, category_id: number, bbox: [number, number, number, number], iscrowd: 0 | 1 = 0): CocoAnnotation => ({
  id,
  image_id,
  category_id,
  bbox,
  area: bbox[2] * bbox[3],
  iscrowd,
});
function run(gt: CocoDataset, dts: CocoResult[]): number[] {
  const E = new COCOeval(gt, dts);
  E.evaluate();
  E.accumulate();
  return E.summarize();
}

// image 1: cat 1 small (20x20), cat 2 large (150x150); image 2: cat 1 medium (50x50), cat 2 medium + large.
const GT = dataset([
  ann(1, 1, 1, [10, 10, 20, 20]),
  ann(2, 1, 2, [100, 100, 150, 150]),
  ann(3, 2, 1, [30, 40, 50, 50]),
  ann(4, 2, 2, [0, 0, 60, 40]),
  ann(5, 2, 2, [200, 10, 120, 130]),
]);

describe('COCOeval (bbox) matches pycocotools on hand-derived cases', () => {
  it('refuses results for an image outside the ground truth, as loadRes asserts, with CocoError', () => {
    const make = () => new COCOeval(GT, [{ image_id: 7, category_id: 1, bbox: [0, 0, 5, 5], score: 0.9 }]);
    expect(make).toThrow(CocoError);
    expect(make).toThrow(/image_id 7 is not in the ground truth/);
  });

  it('parameters: IoU thresholds .50:.05:.95 and 101 recall thresholds as np.linspace', () => {
    const E = new COCOeval(GT, []);
    expect(E.params.iouThrs).toHaveLength(10);
    expect(E.params.iouThrs[0]).toBe(0.5);
    expect(E.params.iouThrs[9]).toBe(0.95);
    expect(E.params.recThrs).toHaveLength(101);
    expect(E.params.recThrs[50]).toBe(0.5);
    expect(linspace(0, 1, 3)).toEqual([0, 0.5, 1]);
  });

  it('perfect detections: every AP and AR is 1, except AR@1 where an image holds two objects of a class', () => {
    const dts = GT.annotations.map((a, i) => ({ image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, score: 0.9 - i * 0.1 }));
    const s = run(GT, dts);
    // AR@1: cat 1 finds 2/2, cat 2 only one of image 2's two objects: (1 + 2/3) / 2.
    expect(s.map((v) => +v.toFixed(6))).toEqual([1, 1, 1, 1, 1, 1, +((1 + 2 / 3) / 2).toFixed(6), 1, 1, 1, 1, 1]);
  });

  it('no detections: 0 where there is ground truth; -1 for area ranges without any', () => {
    const gt = dataset([ann(1, 1, 1, [10, 10, 100, 100]), ann(2, 2, 2, [0, 0, 200, 150])]);
    // Both objects are large: small and medium have no ground truth at all.
    expect(run(gt, [])).toEqual([0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1, 0]);
  });

  it('a known precision-recall curve: TP, FP, TP -> AP = (51·1 + 50·2/3) / 101', () => {
    const gt = dataset([ann(1, 1, 1, [0, 0, 100, 100]), ann(2, 1, 1, [200, 200, 100, 100])], [1], [1]);
    const dts: CocoResult[] = [
      { image_id: 1, category_id: 1, bbox: [0, 0, 100, 100], score: 0.9 },
      { image_id: 1, category_id: 1, bbox: [500, 500, 100, 100], score: 0.8 },
      { image_id: 1, category_id: 1, bbox: [200, 200, 100, 100], score: 0.7 },
    ];
    const s = run(gt, dts);
    const ap = (51 + 50 * (2 / 3)) / 101;
    expect(s[0]).toBeCloseTo(ap, 12);
    expect(s[1]).toBeCloseTo(ap, 12);
    expect(s[5]).toBeCloseTo(ap, 12); // both objects are large
    expect(s[6]).toBe(0.5); // AR@1: only the first detection counts
    expect(s[7]).toBe(1);
    expect(s[3]).toBe(-1);
  });

  it('IoU thresholds: a detection with IoU 0.6 counts at .50, .55 and .60 (IoU >= threshold matches)', () => {
    const gt = dataset([ann(1, 1, 1, [0, 0, 100, 100])], [1], [1]);
    // Shifted by 25 px: intersection 7500, union 12500, IoU 0.6.
    const dts: CocoResult[] = [{ image_id: 1, category_id: 1, bbox: [25, 0, 100, 100], score: 0.5 }];
    expect(bboxIou([[25, 0, 100, 100]], [[0, 0, 100, 100]], [false])[0]![0]).toBeCloseTo(0.6, 12);
    const s = run(gt, dts);
    expect(s[1]).toBeCloseTo(1, 12); // AP50 (1 / (1 + eps) as pycocotools: prints 1.000)
    expect(s[2]).toBe(0); // AP75
    expect(s[0]).toBeCloseTo(0.3, 12); // 3 of 10 thresholds
  });

  it('crowd regions: detections inside them are ignored, not false positives, and one crowd absorbs many', () => {
    const gt = dataset([ann(1, 1, 1, [0, 0, 100, 100]), ann(2, 1, 1, [200, 0, 300, 300], 1)], [1], [1]);
    const dts: CocoResult[] = [
      { image_id: 1, category_id: 1, bbox: [250, 50, 40, 40], score: 0.95 }, // inside the crowd: IoU = inter / det area = 1
      { image_id: 1, category_id: 1, bbox: [0, 0, 100, 100], score: 0.9 },
      { image_id: 1, category_id: 1, bbox: [300, 100, 50, 50], score: 0.8 }, // inside the crowd too
    ];
    expect(bboxIou([[250, 50, 40, 40]], [[200, 0, 300, 300]], [true])[0]![0]).toBe(1);
    expect(run(gt, dts)[0]).toBeCloseTo(1, 12);
    // The same boxes with the crowd flag off: two false positives, one ranked first.
    const plain = dataset([ann(1, 1, 1, [0, 0, 100, 100]), ann(2, 1, 1, [200, 0, 300, 300])], [1], [1]);
    expect(run(plain, dts)[0]).toBeLessThan(0.6);
  });

  it('area ranges: a small detection of a medium object counts under medium; unmatched out-of-range detections are ignored', () => {
    const gt = dataset([ann(1, 1, 1, [0, 0, 40, 40]), ann(2, 1, 1, [100, 100, 10, 10])], [1], [1]);
    const dts: CocoResult[] = [
      { image_id: 1, category_id: 1, bbox: [0, 0, 40, 40], score: 0.9 }, // matches the medium object
      { image_id: 1, category_id: 1, bbox: [300, 300, 200, 200], score: 0.8 }, // large false positive
    ];
    const s = run(gt, dts);
    expect(s[4]).toBeCloseTo(1, 12); // medium: the large FP is out of range and unmatched -> ignored
    expect(s[3]).toBe(0); // small: the small object is never found; the medium TP is ignored there
    expect(s[5]).toBe(-1); // large: no ground truth
  });

  it('score ties keep input order (mergesort): FP listed first halves AP, TP listed first keeps 1', () => {
    const gt = dataset([ann(1, 1, 1, [0, 0, 100, 100])], [1], [1]);
    const tp: CocoResult = { image_id: 1, category_id: 1, bbox: [0, 0, 100, 100], score: 0.5 };
    const fp: CocoResult = { image_id: 1, category_id: 1, bbox: [400, 400, 100, 100], score: 0.5 };
    expect(run(gt, [fp, tp])[0]).toBeCloseTo(0.5, 12);
    expect(run(gt, [tp, fp])[0]).toBeCloseTo(1, 12);
  });

  it('maxDets caps detections per image by score', () => {
    const gt = dataset([ann(1, 1, 1, [0, 0, 100, 100])], [1], [1]);
    const dts: CocoResult[] = Array.from({ length: 12 }, (_, i) => ({ image_id: 1, category_id: 1, bbox: [500 + i, 500, 50, 50] as [number, number, number, number], score: 0.9 - i * 0.01 }));
    dts.push({ image_id: 1, category_id: 1, bbox: [0, 0, 100, 100], score: 0.1 }); // 13th by score
    const s = run(gt, dts);
    expect(s[7]).toBe(0); // AR@10 misses it
    expect(s[8]).toBe(1); // AR@100 finds it
  });

  it('results for images outside the ground truth are refused; summary lines as pycocotools prints them', () => {
    expect(() => new COCOeval(GT, [{ image_id: 9, category_id: 1, bbox: [0, 0, 1, 1], score: 1 }])).toThrow(/image_id 9 is not in the ground truth/);
    const E = new COCOeval(GT, []);
    E.evaluate();
    E.accumulate();
    E.summarize();
    expect(E.summaryLines[0]).toBe(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.000');
    expect(E.summaryLines[6]).toBe(' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.000');
  });

  it('toCocoResults converts TorchVision detections (xyxy, labels = COCO category ids)', () => {
    const r = toCocoResults(7, { boxes: Float32Array.from([1, 2, 11, 22]), labels: Int32Array.from([18]), scores: Float32Array.from([0.5]) });
    expect(r).toEqual([{ image_id: 7, category_id: 18, bbox: [1, 2, 10, 20], score: 0.5 }]);
  });
});
