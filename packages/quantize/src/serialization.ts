// Our own int8 file: the converted model's state as safetensors (int8 weights, float bias as torch
// keeps it, scales and zero points), by the converted torch model's module names.
import { type HostTensor, type StateDict, readSafetensors, writeSafetensors } from '@mnv3/io';
import { QuantizationError } from './errors.js';
import { type MobileNetV3Config, assembleQuantized } from './mobilenet-v3.js';
import type { QParams } from './qnnpack.js';
import { QuantizedConvNormActivation, QuantizedInvertedResidual, type QuantizedMobileNetV3, QuantizedSqueezeExcitation } from './quantized.js';

const FORMAT = 'mnv3-quantized-mobilenet-v3/1';

/**
 * Writes a converted model as safetensors: `<module>.weight` int8 (torch's layout, OIHW / [out, in]),
 * `<module>.weight_scale` float32 [1], `<module>.bias` float32, `<module>.scale` float32 [1] and
 * `<module>.zero_point` int32 [1] for every quantized op's output; metadata holds the layout.
 *
 * @example writeFileSync('mnv3-large-int8.safetensors', saveQuantized(model, config));
 */
export function saveQuantized(model: QuantizedMobileNetV3, config: MobileNetV3Config): Uint8Array {
  const sd: StateDict = new Map();
  const qp = (name: string, q: QParams) => {
    sd.set(`${name}.scale`, { dtype: 'float32', shape: [1], data: Float32Array.of(q.scale) });
    sd.set(`${name}.zero_point`, { dtype: 'int32', shape: [1], data: Int32Array.of(q.zeroPoint) });
  };
  qp('quant', model.quant);
  for (const [name, m] of model.namedWeighted()) {
    sd.set(`${name}.weight`, { dtype: 'int8', shape: [...m.q.weightShape], data: m.q.weight });
    sd.set(`${name}.weight_scale`, { dtype: 'float32', shape: [1], data: Float32Array.of(m.q.weightScale) });
    sd.set(`${name}.bias`, { dtype: 'float32', shape: [m.q.bias.length], data: m.q.bias });
    qp(name, m.q);
  }
  model.features.forEach((f, i) => {
    const layers = f instanceof QuantizedInvertedResidual ? f.layers : [f];
    for (const l of layers) {
      if (l instanceof QuantizedConvNormActivation && l.hardswish) qp(l.hardswish.name, l.hardswish.out);
      if (l instanceof QuantizedSqueezeExcitation) qp(l.fc1.name.replace(/\.fc1$/, '.skip_mul'), l.skipMul);
    }
    if (f instanceof QuantizedInvertedResidual && f.skipAdd) qp(`features.${i}.skip_add`, f.skipAdd);
  });
  qp('classifier.1', model.classifier.hardswish.out);
  return writeSafetensors(sd, { format: FORMAT, config: JSON.stringify(config) });
}

/** Reads a file written by `saveQuantized` back into a `QuantizedMobileNetV3`. */
export function loadQuantized(bytes: Uint8Array): { model: QuantizedMobileNetV3; config: MobileNetV3Config } {
  const { tensors, metadata } = readSafetensors(bytes);
  if (metadata.format !== FORMAT || !metadata.config) {
    throw new QuantizationError('invalid-file', `not an mnv3 quantized MobileNetV3 file (format "${metadata.format ?? 'none'}", expected "${FORMAT}"): write it with saveQuantized(), or load a TorchVision QAT checkpoint with mobilenetV3Large({ quantize: true }) + convert()`);
  }
  const config = JSON.parse(metadata.config) as MobileNetV3Config;
  return { model: quantizedFromTensors(tensors, config), config };
}

/** The keys that mark our int8 file's state (converted module names: `quant.scale`, `<module>.weight_scale`). */
export function isQuantizedFile(sd: StateDict): boolean {
  return sd.has('quant.scale') && sd.has('classifier.3.weight_scale');
}

/** Assembles a `QuantizedMobileNetV3` from the tensors of a file written by `saveQuantized` and its layout. */
export function quantizedFromTensors(tensors: StateDict, config: MobileNetV3Config): QuantizedMobileNetV3 {
  const get = (k: string): HostTensor => {
    const t = tensors.get(k);
    if (!t) throw new QuantizationError('invalid-file', `the quantized file lacks "${k}": it is truncated or for another layout; save it again with saveQuantized()`);
    return t;
  };
  const num = (k: string) => Number(get(k).data[0]);
  const qparams = (p: string): QParams => ({ scale: num(`${p}.scale`), zeroPoint: num(`${p}.zero_point`) });
  return assembleQuantized(config, {
    weights: (p) => {
      const w = get(`${p}.weight`);
      if (w.dtype !== 'int8') throw new QuantizationError('invalid-file', `${p}.weight is ${w.dtype}, expected int8`);
      return { weight: w.data as Int8Array, weightShape: w.shape, weightScale: num(`${p}.weight_scale`), bias: get(`${p}.bias`).data as Float32Array, ...qparams(p) };
    },
    qparams,
  });
}
