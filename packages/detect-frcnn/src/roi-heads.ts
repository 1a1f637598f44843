import * as tf from '@tensorflow/tfjs-core';
import { Linear, Module } from '@mnv3/layers';
import { BoxCoder, batchedNms, clipBoxesToImage, removeSmallBoxes, type Detections, type FeatureMap, type MultiScaleRoIAlign } from '@mnv3/detection';

const f = Math.fround;

/**
 * TorchVision's `TwoMLPHead`: flatten `[K, C, 7, 7]` (C-major, TorchVision's layout), `fc6`
 * + ReLU, `fc7` + ReLU. Keys `fc6.weight` `[1024, C·49]`, `fc6.bias`, `fc7.*`. `[K, C·49]` →
 * `[K, representationSize]` float32.
 */
export class TwoMLPHead extends Module {
  readonly fc6: Linear;
  readonly fc7: Linear;
  constructor(inChannels: number, representationSize: number) {
    super();
    this.fc6 = this.registerModule('fc6', new Linear(inChannels, representationSize, { activation: 'relu' }));
    this.fc7 = this.registerModule('fc7', new Linear(representationSize, representationSize, { activation: 'relu' }));
  }
  forward(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.fc7.forward(this.fc6.forward(x)));
  }
}

/**
 * TorchVision's `FastRCNNPredictor`: `cls_score` `[K, numClasses]` logits and `bbox_pred`
 * `[K, 4·numClasses]` deltas (class-major).
 */
export class FastRCNNPredictor extends Module {
  readonly clsScore: Linear;
  readonly bboxPred: Linear;
  constructor(inChannels: number, readonly numClasses: number) {
    super();
    this.clsScore = this.registerModule('cls_score', new Linear(inChannels, numClasses));
    this.bboxPred = this.registerModule('bbox_pred', new Linear(inChannels, numClasses * 4));
  }
  forward(x: tf.Tensor2D): { scores: tf.Tensor2D; bboxDeltas: tf.Tensor2D } {
    return { scores: this.clsScore.forward(x), bboxDeltas: this.bboxPred.forward(x) };
  }
}

export interface RoIHeadsOptions {
  /** `box_score_thresh`: minimum class probability (strictly greater). Default 0.05. */
  scoreThresh: number;
  /** `box_nms_thresh`: per-class NMS IoU threshold. Default 0.5. */
  nmsThresh: number;
  /** `box_detections_per_img`. Default 100. */
  detectionsPerImg: number;
  /** `bbox_reg_weights`. Default `(10, 10, 5, 5)`. */
  bboxRegWeights?: readonly [number, number, number, number];
}

/**
 * TorchVision's `RoIHeads` (boxes only) at inference: pool every proposal, box head, predictor,
 * then `postprocess_detections`: decode per class, softmax, clip, drop background, scores >
 * `scoreThresh`, boxes smaller than 1e-2, NMS per class, keep `detectionsPerImg`.
 */
export class RoIHeads extends Module {
  readonly boxHead: TwoMLPHead;
  readonly boxPredictor: FastRCNNPredictor;
  readonly boxCoder: BoxCoder;

  constructor(
    readonly boxRoiPool: MultiScaleRoIAlign,
    boxHead: TwoMLPHead,
    boxPredictor: FastRCNNPredictor,
    readonly options: RoIHeadsOptions,
  ) {
    super();
    this.boxHead = this.registerModule('box_head', boxHead);
    this.boxPredictor = this.registerModule('box_predictor', boxPredictor);
    this.boxCoder = new BoxCoder(options.bboxRegWeights ?? [10, 10, 5, 5]);
  }

  /** Class logits `[K, numClasses]` and box deltas `[K, 4·numClasses]` for pooled features `[K, C·PH·PW]`. */
  async predict(boxFeatures: tf.Tensor2D): Promise<{ classLogits: Float32Array; boxRegression: Float32Array }> {
    if (boxFeatures.shape[0] === 0) return { classLogits: new Float32Array(0), boxRegression: new Float32Array(0) };
    const { scores, bboxDeltas } = tf.tidy(() => this.boxPredictor.forward(this.boxHead.forward(boxFeatures)));
    try {
      return { classLogits: (await scores.data()) as Float32Array, boxRegression: (await bboxDeltas.data()) as Float32Array };
    } finally {
      tf.dispose([scores, bboxDeltas]);
    }
  }

  /**
   * @param features the FPN maps by name (NHWC tensors, or host arrays)
   * @param proposals per image, `[Kᵢ, 4]` boxes in resized-image coordinates
   * @param imageShapes per image, resized `(height, width)`
   */
  async forward(
    features: ReadonlyMap<string, FeatureMap>,
    proposals: readonly Float32Array[],
    imageShapes: readonly (readonly [number, number])[],
  ): Promise<Detections[]> {
    const pooled = await this.boxRoiPool.forward(features, proposals, imageShapes);
    let predicted: { classLogits: Float32Array; boxRegression: Float32Array };
    try {
      predicted = await this.predict(pooled);
    } finally {
      pooled.dispose();
    }
    const { classLogits, boxRegression } = predicted;
    return this.postprocessDetections(classLogits, boxRegression, proposals, imageShapes);
  }

  /** `postprocess_detections` on host arrays. */
  postprocessDetections(
    classLogits: Float32Array,
    boxRegression: Float32Array,
    proposals: readonly Float32Array[],
    imageShapes: readonly (readonly [number, number])[],
  ): Detections[] {
    const numClasses = this.boxPredictor.numClasses;
    const out: Detections[] = [];
    let offset = 0;
    proposals.forEach((props, img) => {
      const K = props.length / 4;
      const reg = boxRegression.subarray(offset * numClasses * 4, (offset + K) * numClasses * 4);
      const logits = classLogits.subarray(offset * numClasses, (offset + K) * numClasses);
      offset += K;
      const boxes = clipBoxesToImage(this.boxCoder.decode(reg, props), imageShapes[img] as [number, number]);
      const probs = softmaxRows(logits, numClasses);
      const cb: number[] = [];
      const cs: number[] = [];
      const cl: number[] = [];
      for (let i = 0; i < K; i++) {
        for (let c = 1; c < numClasses; c++) {
          const s = probs[i * numClasses + c]!;
          if (!(s > this.options.scoreThresh)) continue;
          const o = (i * numClasses + c) * 4;
          cb.push(boxes[o]!, boxes[o + 1]!, boxes[o + 2]!, boxes[o + 3]!);
          cs.push(s);
          cl.push(c);
        }
      }
      let b = Float32Array.from(cb);
      let s = Float32Array.from(cs);
      let l = Int32Array.from(cl);
      const small = removeSmallBoxes(b, 1e-2);
      ({ b, s, l } = pick(b, s, l, small));
      const keep = batchedNms(b, s, l, this.options.nmsThresh).subarray(0, this.options.detectionsPerImg);
      ({ b, s, l } = pick(b, s, l, keep));
      out.push({ boxes: b, labels: l, scores: s });
    });
    return out;
  }
}

function pick(b: Float32Array, s: Float32Array, l: Int32Array, idx: ArrayLike<number>) {
  const nb = new Float32Array(idx.length * 4);
  const ns = new Float32Array(idx.length);
  const nl = new Int32Array(idx.length);
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r]!;
    nb.set(b.subarray(4 * i, 4 * i + 4), 4 * r);
    ns[r] = s[i]!;
    nl[r] = l[i]!;
  }
  return { b: nb, s: ns, l: nl };
}

/** `F.softmax(x, -1)` over rows of width `n`, float32: `exp(x - max) / Σ exp(x - max)`. */
export function softmaxRows(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let max = -Infinity;
    for (let c = 0; c < n; c++) max = Math.max(max, x[r * n + c]!);
    let sum = 0;
    for (let c = 0; c < n; c++) {
      const e = f(Math.exp(f(x[r * n + c]! - max)));
      out[r * n + c] = e;
      sum += e;
    }
    const fs = f(sum);
    for (let c = 0; c < n; c++) out[r * n + c] = f(out[r * n + c]! / fs);
  }
  return out;
}
