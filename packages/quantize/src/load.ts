// One entry point for every quantized source a user holds: TorchVision's QAT-layout checkpoint
// (IMAGENET1K_QNNPACK_V1 or a .pth of their own) or our int8 file, as a state dict → the converted
// model. What `@mnv3/classify`'s `load({ quantize: true })` and `mnv3 classify --quantize` run.
import type { StateDict } from '@mnv3/io';
import { mobilenetV3Conf, type MobileNetV3Arch } from '@mnv3/backbone';
import { QuantizationError } from './errors.js';
import { type MobileNetV3Config, QuantizableMobileNetV3 } from './mobilenet-v3.js';
import { convert } from './quantize.js';
import type { QuantizedMobileNetV3 } from './quantized.js';
import { isQuantizedFile, quantizedFromTensors } from './serialization.js';

/** The architectures with a quantized build. */
export const QUANTIZABLE_ARCHS: readonly MobileNetV3Arch[] = ['mobilenet_v3_large', 'mobilenet_v3_small'];

/** Whether a state dict is a quantized checkpoint of either kind (QAT layout, or our int8 file). */
export function isQuantizedStateDict(sd: StateDict): boolean {
  if (isQuantizedFile(sd)) return true;
  for (const k of sd.keys()) if (k.includes('activation_post_process') || k.includes('weight_fake_quant')) return true;
  return false;
}

/**
 * The converted model of `arch` from a quantized state dict: a QAT-layout checkpoint (loaded
 * strictly into `QuantizableMobileNetV3`, then `convert`ed as torch does) or the tensors of our int8
 * file. `numClasses`, when given, must match the checkpoint's classifier.
 *
 * @example const model = quantizedModelFromStateDict('mobilenet_v3_large', readCheckpoint(bytes));
 */
export function quantizedModelFromStateDict(arch: string, sd: StateDict, options: { numClasses?: number } = {}): QuantizedMobileNetV3 {
  if (!(QUANTIZABLE_ARCHS as readonly string[]).includes(arch)) {
    throw new QuantizationError('invalid-option', `no quantized build of ${arch}: quantize takes ${QUANTIZABLE_ARCHS.join(' or ')}`);
  }
  const fc = sd.get('classifier.3.weight');
  const numClasses = fc?.shape[0];
  if (options.numClasses !== undefined && numClasses !== undefined && options.numClasses !== numClasses) {
    throw new QuantizationError('invalid-option', `numClasses is ${options.numClasses} but the checkpoint's classifier has ${numClasses} classes: pass ${numClasses} or leave it out`);
  }
  const { settings, lastChannel } = mobilenetV3Conf(arch as MobileNetV3Arch);
  const config: MobileNetV3Config = { settings, lastChannel, numClasses: numClasses ?? options.numClasses ?? 1000 };
  if (isQuantizedFile(sd)) return quantizedFromTensors(sd, config);
  const qat = new QuantizableMobileNetV3(config);
  qat.loadStateDict(sd);
  return convert(qat);
}
