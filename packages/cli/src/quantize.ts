import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MobileNetV3 } from '@mnv3/backbone';
import { mobilenetV3Conf, type MobileNetV3Arch } from '@mnv3/backbone';
import { load } from '@mnv3/classify';
import { readImageInput } from '@mnv3/layers';
import { QUANTIZABLE_ARCHS, convert, prepare, saveQuantized } from '@mnv3/quantize';
import { parseVerbArgs, positiveInt } from './args.js';
import { UsageError } from './errors.js';
import { checkOutputPath, writeFileAtomic } from './files.js';
import { isNpy, readNchwNpy } from './inputs.js';

export const QUANTIZE_USAGE = `usage: mnv3 quantize --model NAME --weights FLOAT_SRC --calib DIR_OR_NPY [--num-batches K]
                     [--batch-size B] --out Q.safetensors

  Post-training quantization as TorchVision's reference does it (fuse, qnnpack's qconfig:
  HistogramObserver on activations, per-tensor symmetric MinMax on weights, calibration, convert).
  NAME       ${QUANTIZABLE_ARCHS.join(', ')}
  FLOAT_SRC  the float weights: a .pth or .safetensors file, or IMAGENET1K_V1 / DEFAULT
  DIR_OR_NPY a directory of PNG/JPEG images (run through the weights' preset) or a .npy of float32
             [N,3,H,W] already-normalised images
  K, B       calibration batches (default: all) of B images (default 32)
  Q          the int8 file, for mnv3 classify --quantize --weights Q.safetensors`;

export async function quantizeCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseVerbArgs(argv, {
    model: { type: 'string' },
    weights: { type: 'string' },
    calib: { type: 'string' },
    'num-batches': { type: 'string' },
    'batch-size': { type: 'string' },
    out: { type: 'string' },
    progress: { type: 'boolean' },
  });
  const model = values.model;
  if (!model || !(QUANTIZABLE_ARCHS as readonly string[]).includes(model)) throw new UsageError(`--model is required; valid: ${QUANTIZABLE_ARCHS.join(', ')}`);
  if (!values.weights) throw new UsageError('--weights is required: the float weights (.pth, .safetensors, IMAGENET1K_V1 or DEFAULT)');
  if (!values.calib) throw new UsageError('--calib is required: a directory of images or a .npy of float32 [N,3,H,W] normalised images');
  if (!values.out?.endsWith('.safetensors')) throw new UsageError(`--out needs a .safetensors file name, got ${values.out ?? 'nothing'}`);
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const maxBatches = values['num-batches'] === undefined ? Infinity : positiveInt(values['num-batches'], '--num-batches');
  const batchSize = positiveInt(values['batch-size'] ?? '32', '--batch-size');
  await checkOutputPath('--out', values.out);

  const classifier = await load(model, { weights: values.weights, progress: values.progress });
  try {
    const { settings, lastChannel } = mobilenetV3Conf(model as MobileNetV3Arch);
    const config = { settings, lastChannel, numClasses: classifier.numClasses };
    const observed = prepare(classifier.model as MobileNetV3, config);
    let batches = 0;
    let images = 0;
    const observe = (data: Float32Array, shape: [number, number, number, number]) => {
      observed.observe(data, shape);
      batches++;
      images += shape[0];
    };
    if (isNpy(values.calib)) {
      const { data, shape } = await readNchwNpy(values.calib);
      const [n, c, h, w] = shape;
      const per = c * h * w;
      for (let b = 0; b < n && batches < maxBatches; b += batchSize) {
        const m = Math.min(batchSize, n - b);
        const nhwc = new Float32Array(m * per);
        for (let i = 0; i < m; i++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) nhwc[(i * h * w + p) * c + ch] = data[(b + i) * per + ch * h * w + p]!;
        observe(nhwc, [m, h, w, c]);
      }
    } else {
      let files: string[];
      try {
        files = (await readdir(values.calib)).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
      } catch {
        throw new UsageError(`--calib ${values.calib} is neither a directory nor a .npy file`);
      }
      if (!files.length) throw new UsageError(`--calib ${values.calib} holds no PNG or JPEG images`);
      for (let b = 0; b < files.length && batches < maxBatches; b += batchSize) {
        const group = files.slice(b, b + batchSize);
        let batch: Float32Array | null = null;
        let size: [number, number] = [0, 0];
        for (const [i, f] of group.entries()) {
          const { data, shape } = classifier.preset.apply(await readImageInput(join(values.calib, f)));
          batch ??= new Float32Array(group.length * data.length);
          size = [shape[0], shape[1]];
          batch.set(data, i * data.length);
        }
        observe(batch!, [group.length, size[0], size[1], 3]);
      }
    }
    const q = convert(observed);
    await writeFileAtomic(values.out, saveQuantized(q, config));
    out(`${model}: calibrated on ${images} image(s) in ${batches} batch(es); wrote ${values.out}`);
  } finally {
    classifier.dispose();
  }
}
