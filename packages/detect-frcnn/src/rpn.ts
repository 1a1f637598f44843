import * as tf from '@tensorflow/tfjs-core';
import { Conv2d, Conv2dNormActivation, Module, Sequential, renameKey } from '@mnv3/layers';
import type { StateDict } from '@mnv3/io';
import { BoxCoder, batchedNms, clipBoxesToImage, gatherRows, removeSmallBoxes, sigmoid, topkIndices, type AnchorGenerator } from '@mnv3/detection';


/**
 * TorchVision's `RPNHead` (0.14, `_version = 2`): `conv` (a `Sequential` of `conv_depth` 3×3
 * `Conv2dNormActivation` without norm, ReLU; keys `conv.0.0.weight`, `conv.0.0.bias`), then 1×1
 * `cls_logits` (`[A]` objectness per location) and `bbox_pred` (`[4A]` deltas). NHWC in and out.
 * Checkpoints saved before torchvision 0.13 (`conv.weight`) load as TorchVision loads them.
 */
export class RPNHead extends Module {
  readonly conv: Sequential;
  readonly clsLogits: Conv2d;
  readonly bboxPred: Conv2d;

  constructor(inChannels: number, numAnchors: number, convDepth = 1) {
    super();
    const convs: Conv2dNormActivation[] = [];
    for (let i = 0; i < convDepth; i++) convs.push(new Conv2dNormActivation(inChannels, inChannels, { kernelSize: 3, normLayer: null }));
    this.conv = this.registerModule('conv', new Sequential(convs));
    this.clsLogits = this.registerModule('cls_logits', new Conv2d(inChannels, numAnchors, { kernelSize: 1 }));
    this.bboxPred = this.registerModule('bbox_pred', new Conv2d(inChannels, numAnchors * 4, { kernelSize: 1 }));
  }

  /** `_version` 1 → 2: the single `conv.weight` / `conv.bias` become `conv.0.0.*`. */
  protected override upgradeStateDict(stateDict: StateDict, prefix: string): void {
    for (const type of ['weight', 'bias']) renameKey(stateDict, `${prefix}conv.${type}`, `${prefix}conv.0.0.${type}`);
  }

  /** Per level: objectness `[N, H, W, A]` and deltas `[N, H, W, 4A]` (anchor-major, then x, y, w, h). */
  forward(features: readonly tf.Tensor4D[]): { logits: tf.Tensor4D[]; bboxReg: tf.Tensor4D[] } {
    const logits: tf.Tensor4D[] = [];
    const bboxReg: tf.Tensor4D[] = [];
    for (const feature of features) {
      const t = this.conv.forward(feature);
      logits.push(this.clsLogits.forward(t));
      bboxReg.push(this.bboxPred.forward(t));
      t.dispose();
    }
    return { logits, bboxReg };
  }
}

export interface RegionProposalNetworkOptions {
  /** Proposals kept per level before NMS (`rpn_pre_nms_top_n_test`). */
  preNmsTopN: number;
  /** Proposals kept per image after NMS (`rpn_post_nms_top_n_test`). */
  postNmsTopN: number;
  /** IoU threshold of the per-level NMS (`rpn_nms_thresh`). */
  nmsThresh: number;
  /** Minimum objectness probability (`rpn_score_thresh`). */
  scoreThresh: number;
}

/** Proposals of one image: `boxes` `[K, 4]` float32 `(x1, y1, x2, y2)` and objectness probabilities. */
export interface Proposals {
  boxes: Float32Array;
  scores: Float32Array;
}

/**
 * TorchVision's `RegionProposalNetwork` at inference: head over every level, anchors, box
 * decoding (weights 1), then per image `filter_proposals`: top `preNmsTopN` objectness per level,
 * sigmoid, clip to the image, drop boxes smaller than 1e-3, drop scores below `scoreThresh`,
 * NMS per level, keep the first `postNmsTopN`.
 */
export class RegionProposalNetwork extends Module {
  readonly head: RPNHead;
  readonly boxCoder = new BoxCoder([1, 1, 1, 1]);
  readonly minSize = 1e-3;

  constructor(
    readonly anchorGenerator: AnchorGenerator,
    head: RPNHead,
    readonly options: RegionProposalNetworkOptions,
  ) {
    super();
    this.head = this.registerModule('head', head);
  }

  /**
   * @param batchShape the padded batch's `(height, width)`
   * @param imageSizes per image, the resized `(height, width)` boxes are clipped to
   * @param features the FPN maps in order, NHWC
   */
  async forward(batchShape: readonly [number, number], imageSizes: readonly (readonly [number, number])[], features: readonly tf.Tensor4D[]): Promise<Proposals[]> {
    const { logits, bboxReg } = this.head.forward(features);
    let objectness: Float32Array[];
    let deltas: Float32Array[];
    try {
      objectness = await Promise.all(logits.map(async (t) => (await t.data()) as Float32Array));
      deltas = await Promise.all(bboxReg.map(async (t) => (await t.data()) as Float32Array));
    } finally {
      tf.dispose([...logits, ...bboxReg]);
    }
    const grid = features.map((t) => [t.shape[1], t.shape[2]] as [number, number]);
    const anchors = this.anchorGenerator.forward(batchShape, grid);
    const perLevel = features.map((t, i) => t.shape[1] * t.shape[2] * logits[i]!.shape[3]);
    const N = features[0]!.shape[0];
    const out: Proposals[] = [];
    for (let n = 0; n < N; n++) {
      // _get_top_n_idx: per level, the top objectness (descending; ties by index).
      const sel: number[] = [];
      const selObj: number[] = [];
      const selLvl: number[] = [];
      const selDelta: number[] = [];
      const selAnchor: number[] = [];
      let anchorOffset = 0;
      perLevel.forEach((count, level) => {
        const ob = objectness[level]!.subarray(n * count, (n + 1) * count);
        const dl = deltas[level]!.subarray(n * count * 4, (n + 1) * count * 4);
        const k = Math.min(this.options.preNmsTopN, count);
        const order = topkIndices(ob, k);
        for (const i of order) {
          sel.push(anchorOffset + i);
          selObj.push(ob[i]!);
          selLvl.push(level);
          for (let c = 0; c < 4; c++) {
            selDelta.push(dl[4 * i + c]!);
            selAnchor.push(anchors[4 * (anchorOffset + i) + c]!);
          }
        }
        anchorOffset += count;
      });
      const decoded = this.boxCoder.decode(Float32Array.from(selDelta), Float32Array.from(selAnchor));
      const scores = Float32Array.from(selObj, (x) => sigmoid(x));
      let boxes = clipBoxesToImage(decoded, imageSizes[n] as [number, number]);
      let keep = removeSmallBoxes(boxes, this.minSize);
      const thr = this.options.scoreThresh;
      const kept = Array.from(keep).filter((i) => scores[i]! >= thr);
      boxes = gatherRows(boxes, kept);
      const keptScores = Float32Array.from(kept, (i) => scores[i]!);
      const keptLvl = Int32Array.from(kept, (i) => selLvl[i]!);
      keep = batchedNms(boxes, keptScores, keptLvl, this.options.nmsThresh).subarray(0, this.options.postNmsTopN);
      out.push({ boxes: gatherRows(boxes, keep), scores: Float32Array.from(keep, (i) => keptScores[i]!) });
    }
    return out;
  }
}
