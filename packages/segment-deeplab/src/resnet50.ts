// TorchVision's DeepLabV3 and FCN on ResNet-50 (`deeplabv3_resnet50`, `fcn_resnet50`): the heavier
// models the seed compares MobileNetV3 with.
import { resnet50 } from '@mnv3/backbone';
import { IntermediateLayerGetter, weights, type WeightsEnum } from '@mnv3/layers';
import { VOC_CATEGORIES } from '@mnv3/segmentation';
import { DeepLabHead, DeepLabV3, type DeepLabBuildOptions } from './deeplabv3.js';
import { FCN, FCNHead } from './fcn.js';
import { resolveOptions } from './build-options.js';

/**
 * The ResNet-50 body as `_deeplabv3_resnet` / `_fcn_resnet` cut it: `resnet50(
 * replace_stride_with_dilation=[False, True, True])` (output stride 8), `out` = `layer4` (2048
 * channels) and, with `aux`, `aux` = `layer3` (1024). Under a model's `backbone` the keys are
 * TorchVision's (`backbone.conv1.weight`, `backbone.layer4.2.bn3.running_var`, …).
 */
export function segmentationResnet50Backbone(aux: boolean): IntermediateLayerGetter {
  const body = resnet50({ replaceStrideWithDilation: [false, true, true] });
  return new IntermediateLayerGetter(body, aux ? { layer3: 'aux', layer4: 'out' } : { layer4: 'out' });
}

/** A `COCO_WITH_VOC_LABELS_V1` table as TorchVision's ResNet-50 segmentation weights have it. */
function vocLabelsWeights(file: string, numParams: number, recipe: string, miou: number, pixelAcc: number): WeightsEnum<'COCO_WITH_VOC_LABELS_V1'> {
  const v1 = weights(
    `https://download.pytorch.org/models/${file}`,
    { kind: 'SemanticSegmentation', resizeSize: 520 },
    {
      categories: VOC_CATEGORIES,
      minSize: [1, 1],
      numParams,
      recipe: `https://github.com/pytorch/vision/tree/main/references/segmentation#${recipe}`,
      metrics: { 'COCO-val2017-VOC-labels': { miou, pixel_acc: pixelAcc } },
    },
  );
  return { COCO_WITH_VOC_LABELS_V1: v1, DEFAULT: v1 };
}

/**
 * TorchVision's `DeepLabV3_ResNet50_Weights`: COCO's images with the 20 VOC categories, evaluated
 * at resize 520; the checkpoint includes the aux head (42,004,074 parameters with it).
 */
export const DeepLabV3_ResNet50_Weights = vocLabelsWeights('deeplabv3_resnet50_coco-cd0a2569.pth', 42004074, 'deeplabv3_resnet50', 66.4, 92.4);

/** TorchVision's `FCN_ResNet50_Weights` (with the aux head: 35,322,218 parameters). */
export const FCN_ResNet50_Weights = vocLabelsWeights('fcn_resnet50_coco-1167a1af.pth', 35322218, 'fcn_resnet50', 60.5, 91.4);

/**
 * DeepLabV3 on the dilated ResNet-50, as `torchvision.models.segmentation.deeplabv3_resnet50(
 * weights_backbone=None, **kwargs)`: `DeepLabHead(2048)` on `layer4` and, with `auxLoss`,
 * `FCNHead(1024)` on `layer3`. Passing `weights` fixes `numClasses` to 21 and `auxLoss` to true,
 * as TorchVision. (TorchVision's builder also downloads ImageNet backbone weights when given no
 * weights; here a model is built empty and loaded from one checkpoint.)
 *
 * @example
 * const model = deeplabv3Resnet50({ weights: DeepLabV3_ResNet50_Weights.DEFAULT });
 */
export function deeplabv3Resnet50(options: DeepLabBuildOptions = {}): DeepLabV3 {
  const { numClasses, auxLoss } = resolveOptions(options, true);
  const aux = auxLoss ? new FCNHead(1024, numClasses) : null;
  return new DeepLabV3(segmentationResnet50Backbone(auxLoss), new DeepLabHead(2048, numClasses), aux, numClasses);
}

/**
 * FCN on the dilated ResNet-50, as `torchvision.models.segmentation.fcn_resnet50(
 * weights_backbone=None, **kwargs)`: `FCNHead(2048)` on `layer4` and, with `auxLoss`,
 * `FCNHead(1024)` on `layer3`; `weights` fix 21 classes and the aux head, as TorchVision.
 */
export function fcnResnet50(options: DeepLabBuildOptions = {}): FCN {
  const { numClasses, auxLoss } = resolveOptions(options, true);
  const aux = auxLoss ? new FCNHead(1024, numClasses) : null;
  return new FCN(segmentationResnet50Backbone(auxLoss), new FCNHead(2048, numClasses), aux, numClasses);
}
