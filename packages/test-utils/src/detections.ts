// Matching detections against TorchVision's, for the detector tests.

/** Detections as flat arrays: `boxes` `[K, 4]` (x1, y1, x2, y2), `labels` and `scores` `[K]`. */
export interface FlatDetections {
  boxes: ArrayLike<number>;
  labels: ArrayLike<number>;
  scores: ArrayLike<number>;
}

function iou(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const w = Math.max(0, Math.min(a[4 * i + 2]!, b[4 * j + 2]!) - Math.max(a[4 * i]!, b[4 * j]!));
  const h = Math.max(0, Math.min(a[4 * i + 3]!, b[4 * j + 3]!) - Math.max(a[4 * i + 1]!, b[4 * j + 1]!));
  const inter = w * h;
  const area = (x: ArrayLike<number>, k: number) => (x[4 * k + 2]! - x[4 * k]!) * (x[4 * k + 3]! - x[4 * k + 1]!);
  return inter / (area(a, i) + area(b, j) - inter);
}

/**
 * Matches our detections to TorchVision's greedily by label and IoU > 0.99 (best IoU first).
 * Returns the matched pairs with their score and largest coordinate differences, and both counts.
 */
export function matchDetections(ours: FlatDetections, tv: FlatDetections) {
  const n = ours.labels.length;
  const m = tv.labels.length;
  const pairs: { i: number; j: number; iou: number }[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      if (ours.labels[i] !== tv.labels[j]) continue;
      const v = iou(ours.boxes, i, tv.boxes, j);
      if (v > 0.99) pairs.push({ i, j, iou: v });
    }
  }
  pairs.sort((a, b) => b.iou - a.iou);
  const usedI = new Set<number>();
  const usedJ = new Set<number>();
  const matched: { i: number; j: number; scoreDiff: number; coordDiff: number }[] = [];
  for (const p of pairs) {
    if (usedI.has(p.i) || usedJ.has(p.j)) continue;
    usedI.add(p.i);
    usedJ.add(p.j);
    let coordDiff = 0;
    for (let k = 0; k < 4; k++) coordDiff = Math.max(coordDiff, Math.abs(ours.boxes[4 * p.i + k]! - tv.boxes[4 * p.j + k]!));
    matched.push({ i: p.i, j: p.j, scoreDiff: Math.abs(ours.scores[p.i]! - tv.scores[p.j]!), coordDiff });
  }
  return { matched, n, m };
}
