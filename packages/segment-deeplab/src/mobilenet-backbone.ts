import { mobilenetV3Large } from '@mnv3/backbone';
import { IntermediateLayerGetter, mobilenetStageIndices } from '@mnv3/layers';

/**
 * The dilated MobileNetV3-Large `features` cut as TorchVision's `_deeplabv3_mobilenetv3` cuts it:
 * `out` = stage index `[-1]` (C5, output stride 16, 960 channels, child 16) and, with `aux`,
 * `aux` = `[-4]` (C2, output stride 8, 40 channels, child 4). Children are registered as
 * `0` … `16`, so under a model's `backbone` the keys are TorchVision's.
 */
export function deeplabMobilenetV3Backbone(aux: boolean): {
  backbone: IntermediateLayerGetter;
  outChannels: number;
  auxChannels: number;
} {
  const mnv3 = mobilenetV3Large({ dilated: true });
  const stages = mobilenetStageIndices(mnv3.features);
  const outPos = stages[stages.length - 1]!;
  const auxPos = stages[stages.length - 4]!;
  const returnLayers: Record<string, string> = { [String(outPos)]: 'out' };
  if (aux) returnLayers[String(auxPos)] = 'aux';
  return {
    backbone: new IntermediateLayerGetter(mnv3.features, returnLayers),
    outChannels: mnv3.featureChannels[outPos]!,
    auxChannels: mnv3.featureChannels[auxPos]!,
  };
}
