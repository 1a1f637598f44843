/**
 * TorchVision's box operations (`torchvision/ops/boxes.py` and the CPU `nms` kernel) on host
 * arrays. Boxes are `Float32Array` `[N, 4]` row-major `(x1, y1, x2, y2)`; arithmetic is rounded to
 * float32 at every step, as TorchVision computes it, so threshold decisions agree bit for bit.
 */

const f = Math.fround;

/** Validates a `[N, 4]` box array and returns N. */
export function numBoxes(boxes: Float32Array, what = 'boxes'): number {
  if (boxes.length % 4 !== 0) throw new RangeError(`${what} must have shape [N, 4] (x1, y1, x2, y2), got ${boxes.length} values`);
  return boxes.length / 4;
}

/** `box_area`: `(x2 - x1) * (y2 - y1)` in float32, `[N]`. */
export function boxArea(boxes: Float32Array): Float32Array {
  const n = numBoxes(boxes);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f(f(boxes[4 * i + 2]! - boxes[4 * i]!) * f(boxes[4 * i + 3]! - boxes[4 * i + 1]!));
  return out;
}

/**
 * `box_iou(boxes1, boxes2)`: the `[N, M]` intersection-over-union matrix (row-major float32), as
 * `torchvision.ops.box_iou`: `inter / (area1 + area2 - inter)` with widths clamped at 0.
 */
export function boxIou(boxes1: Float32Array, boxes2: Float32Array): Float32Array {
  const n = numBoxes(boxes1, 'boxes1');
  const m = numBoxes(boxes2, 'boxes2');
  const a1 = boxArea(boxes1);
  const a2 = boxArea(boxes2);
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const w = Math.max(0, f(Math.min(boxes1[4 * i + 2]!, boxes2[4 * j + 2]!) - Math.max(boxes1[4 * i]!, boxes2[4 * j]!)));
      const h = Math.max(0, f(Math.min(boxes1[4 * i + 3]!, boxes2[4 * j + 3]!) - Math.max(boxes1[4 * i + 1]!, boxes2[4 * j + 1]!)));
      const inter = f(w * h);
      out[i * m + j] = f(inter / f(f(a1[i]! + a2[j]!) - inter));
    }
  }
  return out;
}

/**
 * Indices that sort `scores` in descending order; ties keep ascending index order (a stable
 * sort). TorchVision's CPU NMS kernel sorts with `scores.sort(0, descending=true)` from C++, which
 * on torch 1.13 yields exactly this order (checked on ties in the oracle's fixtures).
 */
export function argsortDescending(scores: ArrayLike<number>, indices?: ArrayLike<number>): Int32Array {
  const idx = indices ? Int32Array.from(indices) : Int32Array.from({ length: scores.length }, (_, i) => i);
  // Array.prototype.sort is stable.
  const arr = Array.from(idx);
  arr.sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    if (sa > sb) return -1;
    if (sa < sb) return 1;
    return 0;
  });
  return Int32Array.from(arr);
}

/**
 * `torch.topk(values[indices], k)`'s positions in `values`: the `k` largest of the candidates
 * (default all), descending. Ties keep ascending index order; `torch.topk` leaves the order of
 * exactly equal values unspecified.
 */
export function topkIndices(values: Float32Array, k: number, indices?: ArrayLike<number>): Int32Array {
  const n = indices ? indices.length : values.length;
  if (k >= n) return argsortDescending(values, indices);
  // Threshold at the k-th largest by a partial sort of the candidates, then sort the survivors.
  const cand = indices ? Float32Array.from(indices, (i) => values[i]!) : Float32Array.from(values);
  const kth = cand.sort()[n - k]!;
  const survivors: number[] = [];
  if (indices) {
    for (let r = 0; r < n; r++) if (values[indices[r]!]! >= kth) survivors.push(indices[r]!);
  } else {
    for (let i = 0; i < n; i++) if (values[i]! >= kth) survivors.push(i);
  }
  return argsortDescending(values, survivors).subarray(0, k);
}

/** `torch.sigmoid` in float32. */
export function sigmoid(x: number): number {
  return f(1 / f(1 + f(Math.exp(-x))));
}

/**
 * `torchvision.ops.nms`: greedy non-maximum suppression. Visits boxes by descending score (ties
 * by ascending index), keeps a box unless an already kept box overlaps it with IoU strictly
 * greater than `iouThreshold` (float32 arithmetic as the CPU kernel). Returns the kept indices,
 * int32, in visiting order, i.e. by decreasing score.
 */
export function nms(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Int32Array {
  const n = numBoxes(boxes);
  if (scores.length !== n) throw new RangeError(`boxes and scores should have the same number of elements, got ${n} and ${scores.length}`);
  if (n === 0) return new Int32Array(0);
  const areas = boxArea(boxes);
  const order = argsortDescending(scores);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let a = 0; a < n; a++) {
    const i = order[a]!;
    if (suppressed[i]) continue;
    keep.push(i);
    const ix1 = boxes[4 * i]!;
    const iy1 = boxes[4 * i + 1]!;
    const ix2 = boxes[4 * i + 2]!;
    const iy2 = boxes[4 * i + 3]!;
    const iarea = areas[i]!;
    for (let b = a + 1; b < n; b++) {
      const j = order[b]!;
      if (suppressed[j]) continue;
      const w = Math.max(0, f(Math.min(ix2, boxes[4 * j + 2]!) - Math.max(ix1, boxes[4 * j]!)));
      const h = Math.max(0, f(Math.min(iy2, boxes[4 * j + 3]!) - Math.max(iy1, boxes[4 * j + 1]!)));
      const inter = f(w * h);
      const ovr = f(inter / f(f(iarea + areas[j]!) - inter));
      if (ovr > iouThreshold) suppressed[j] = 1;
    }
  }
  return Int32Array.from(keep);
}

/**
 * `torchvision.ops.batched_nms`: NMS independently per category `idxs` (any integers). As
 * TorchVision, up to 1000 boxes use the coordinate trick (every box offset by
 * `idx · (max coordinate + 1)`, float32, then one `nms`), more use one `nms` per category and
 * sort the union by descending score. That final sort is unstable in torch (`Tensor.sort`);
 * here ties keep ascending index order, so exact score ties between kept boxes may be ordered
 * differently from TorchVision's.
 */
export function batchedNms(boxes: Float32Array, scores: Float32Array, idxs: ArrayLike<number>, iouThreshold: number): Int32Array {
  const n = numBoxes(boxes);
  if (scores.length !== n || idxs.length !== n) {
    throw new RangeError(`boxes, scores and idxs should have the same number of elements, got ${n}, ${scores.length} and ${idxs.length}`);
  }
  if (n === 0) return new Int32Array(0);
  if (boxes.length > 4000) return batchedNmsVanilla(boxes, scores, idxs, iouThreshold);
  let max = -Infinity;
  for (let i = 0; i < boxes.length; i++) max = Math.max(max, boxes[i]!);
  const shifted = new Float32Array(boxes.length);
  const step = f(max + 1);
  for (let i = 0; i < n; i++) {
    const off = f(idxs[i]! * step);
    for (let k = 0; k < 4; k++) shifted[4 * i + k] = f(boxes[4 * i + k]! + off);
  }
  return nms(shifted, scores, iouThreshold);
}

function batchedNmsVanilla(boxes: Float32Array, scores: Float32Array, idxs: ArrayLike<number>, iouThreshold: number): Int32Array {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < idxs.length; i++) {
    const g = groups.get(idxs[i]!);
    if (g) g.push(i);
    else groups.set(idxs[i]!, [i]);
  }
  const keepMask = new Uint8Array(idxs.length);
  for (const members of groups.values()) {
    const b = new Float32Array(members.length * 4);
    const s = new Float32Array(members.length);
    members.forEach((m, k) => {
      b.set(boxes.subarray(4 * m, 4 * m + 4), 4 * k);
      s[k] = scores[m]!;
    });
    for (const k of nms(b, s, iouThreshold)) keepMask[members[k]!] = 1;
  }
  const kept: number[] = [];
  for (let i = 0; i < keepMask.length; i++) if (keepMask[i]) kept.push(i);
  return argsortDescending(scores, kept);
}

/**
 * `remove_small_boxes`: indices (ascending, int32) of boxes whose width and height are both
 * `>= minSize`.
 */
export function removeSmallBoxes(boxes: Float32Array, minSize: number): Int32Array {
  const n = numBoxes(boxes);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = f(boxes[4 * i + 2]! - boxes[4 * i]!);
    const h = f(boxes[4 * i + 3]! - boxes[4 * i + 1]!);
    if (w >= minSize && h >= minSize) keep.push(i);
  }
  return Int32Array.from(keep);
}

/** `clip_boxes_to_image`: clamps x to `[0, width]` and y to `[0, height]`; returns a new array. */
export function clipBoxesToImage(boxes: Float32Array, size: readonly [height: number, width: number]): Float32Array {
  numBoxes(boxes);
  const [height, width] = size;
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i++) {
    const lim = i % 2 === 0 ? width : height;
    out[i] = Math.min(Math.max(boxes[i]!, 0), lim);
  }
  return out;
}

/** Gathers rows of a `[N, 4]` box array (or any `[N, k]` array with `k = width`). */
export function gatherRows<T extends Float32Array | Int32Array>(data: T, indices: ArrayLike<number>, width = 4): T {
  const out = new (data.constructor as new (n: number) => T)(indices.length * width);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r]!;
    for (let k = 0; k < width; k++) out[r * width + k] = data[i * width + k]!;
  }
  return out;
}
