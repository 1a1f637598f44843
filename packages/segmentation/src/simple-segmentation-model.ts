import * as tf from '@tensorflow/tfjs-core';
import { interpolateBilinear, type IntermediateLayerGetter, type Layer } from '@mnv3/layers';
import { SegmentationModel, type SegmentationOutput } from './segmentation-model.js';

/**
 * TorchVision's `_SimpleSegmentationModel` (base of `DeepLabV3` and `FCN`): the backbone returns
 * `out` (and `aux`) feature maps, `classifier` turns `out` into logits, the optional
 * `aux_classifier` turns `aux` into logits, and both are upsampled bilinearly
 * (`align_corners=False`) to the input's size. Keys `backbone.*`, `classifier.*`,
 * `aux_classifier.*`. Input NHWC float32 `[N, H, W, 3]`; output `{ out, aux? }`, NHWC float32
 * logits `[N, H, W, numClasses]`.
 */
export class SimpleSegmentationModel extends SegmentationModel {
  readonly backbone: IntermediateLayerGetter;
  readonly classifier: Layer;
  readonly auxClassifier: Layer | null;

  constructor(
    backbone: IntermediateLayerGetter,
    classifier: Layer,
    auxClassifier: Layer | null,
    /** Output classes of `classifier` (and `aux_classifier`), including the background. */
    readonly numClasses: number,
  ) {
    super();
    this.backbone = this.registerModule('backbone', backbone);
    this.classifier = this.registerModule('classifier', classifier);
    this.auxClassifier = auxClassifier ? this.registerModule('aux_classifier', auxClassifier) : null;
  }

  forward(x: tf.Tensor4D): SegmentationOutput {
    const size = [x.shape[1], x.shape[2]] as const;
    return tf.tidy(() => {
      const features = this.backbone.forward(x);
      if (!features.out) throw new Error('the backbone must return an "out" feature map');
      const result: SegmentationOutput = { out: interpolateBilinear(this.classifier.forward(features.out), size) };
      if (this.auxClassifier) {
        if (!features.aux) throw new Error('the model has an aux_classifier but the backbone returns no "aux" feature map');
        result.aux = interpolateBilinear(this.auxClassifier.forward(features.aux), size);
      }
      return result as unknown as tf.TensorContainer;
    }) as unknown as SegmentationOutput;
  }
}
