import { numBoxes } from './ops/boxes.js';

const f = Math.fround;

/** `math.log(1000.0 / 16)`: the largest width/height log-ratio `decode` applies. */
export const BBOX_XFORM_CLIP = Math.log(1000 / 16);

/**
 * TorchVision's `BoxCoder` (`models/detection/_utils.py`): encodes boxes as
 * `(dx, dy, dw, dh)` offsets relative to reference boxes and decodes them back, in float32 step
 * by step as TorchVision. Boxes are `Float32Array` `[N, 4]` `(x1, y1, x2, y2)`.
 */
export class BoxCoder {
  readonly bboxXformClip: number;

  constructor(
    /** `(wx, wy, ww, wh)`: `(1, 1, 1, 1)` in the RPN, `(10, 10, 5, 5)` in the box head. */
    readonly weights: readonly [number, number, number, number],
    bboxXformClip: number = BBOX_XFORM_CLIP,
  ) {
    this.bboxXformClip = bboxXformClip;
  }

  /**
   * `encode_single(reference_boxes, proposals)`: the offsets `[N, 4]` that take each proposal to
   * its reference box.
   */
  encode(referenceBoxes: Float32Array, proposals: Float32Array): Float32Array {
    const n = numBoxes(referenceBoxes, 'referenceBoxes');
    if (numBoxes(proposals, 'proposals') !== n) throw new RangeError(`referenceBoxes and proposals differ in length: ${n} and ${proposals.length / 4}`);
    const [wx, wy, ww, wh] = this.weights.map(f) as [number, number, number, number];
    const out = new Float32Array(4 * n);
    for (let i = 0; i < n; i++) {
      const [px1, py1, px2, py2] = [proposals[4 * i]!, proposals[4 * i + 1]!, proposals[4 * i + 2]!, proposals[4 * i + 3]!];
      const [gx1, gy1, gx2, gy2] = [referenceBoxes[4 * i]!, referenceBoxes[4 * i + 1]!, referenceBoxes[4 * i + 2]!, referenceBoxes[4 * i + 3]!];
      const exW = f(px2 - px1);
      const exH = f(py2 - py1);
      const exX = f(px1 + f(0.5 * exW));
      const exY = f(py1 + f(0.5 * exH));
      const gtW = f(gx2 - gx1);
      const gtH = f(gy2 - gy1);
      const gtX = f(gx1 + f(0.5 * gtW));
      const gtY = f(gy1 + f(0.5 * gtH));
      out[4 * i] = f(f(wx * f(gtX - exX)) / exW);
      out[4 * i + 1] = f(f(wy * f(gtY - exY)) / exH);
      out[4 * i + 2] = f(ww * f(Math.log(f(gtW / exW))));
      out[4 * i + 3] = f(wh * f(Math.log(f(gtH / exH))));
    }
    return out;
  }

  /**
   * `decode_single(rel_codes, boxes)`: `relCodes` is `[N, 4·K]` (K boxes per reference box, e.g.
   * one per class), `boxes` `[N, 4]`; returns `[N, K, 4]` flattened. `dw`, `dh` are clamped at
   * `bboxXformClip` before `exp`.
   */
  decode(relCodes: Float32Array, boxes: Float32Array): Float32Array {
    const n = numBoxes(boxes);
    if (n === 0) return new Float32Array(0);
    if (relCodes.length % (4 * n) !== 0) {
      throw new RangeError(`relCodes must have shape [${n}, 4·K] for ${n} boxes, got ${relCodes.length} values`);
    }
    const k = relCodes.length / (4 * n);
    const [wx, wy, ww, wh] = this.weights;
    const clip = f(this.bboxXformClip);
    const out = new Float32Array(relCodes.length);
    for (let i = 0; i < n; i++) {
      const x1 = boxes[4 * i]!;
      const y1 = boxes[4 * i + 1]!;
      const widths = f(boxes[4 * i + 2]! - x1);
      const heights = f(boxes[4 * i + 3]! - y1);
      const ctrX = f(x1 + f(0.5 * widths));
      const ctrY = f(y1 + f(0.5 * heights));
      for (let c = 0; c < k; c++) {
        const o = (i * k + c) * 4;
        const dx = f(relCodes[o]! / wx);
        const dy = f(relCodes[o + 1]! / wy);
        const dw = Math.min(f(relCodes[o + 2]! / ww), clip);
        const dh = Math.min(f(relCodes[o + 3]! / wh), clip);
        const pcx = f(f(dx * widths) + ctrX);
        const pcy = f(f(dy * heights) + ctrY);
        const pw = f(f(Math.exp(dw)) * widths);
        const ph = f(f(Math.exp(dh)) * heights);
        const cw = f(0.5 * pw);
        const ch = f(0.5 * ph);
        out[o] = f(pcx - cw);
        out[o + 1] = f(pcy - ch);
        out[o + 2] = f(pcx + cw);
        out[o + 3] = f(pcy + ch);
      }
    }
    return out;
  }
}
