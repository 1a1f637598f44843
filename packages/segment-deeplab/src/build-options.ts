// What every DeepLabV3 / FCN builder settles the same way, whatever its backbone.
import { overwriteValueParam, type Weights } from '@mnv3/layers';

/** `numClasses` and `auxLoss` as TorchVision's builders settle them (weights fix both for DeepLabV3). */
export function resolveOptions(
  options: { numClasses?: number; auxLoss?: boolean; weights?: Weights },
  weightsFixAux: boolean,
): { numClasses: number; auxLoss: boolean } {
  let numClasses = options.numClasses;
  let auxLoss = options.auxLoss;
  if (options.weights) {
    numClasses = overwriteValueParam('num_classes', numClasses, options.weights.meta.categories.length);
    if (weightsFixAux) auxLoss = overwriteValueParam('aux_loss', auxLoss, true);
  }
  const n = numClasses ?? 21;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`numClasses must be a positive integer, got ${n}`);
  return { numClasses: n, auxLoss: auxLoss ?? false };
}
