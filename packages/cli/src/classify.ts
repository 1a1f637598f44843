import * as tf from '@tensorflow/tfjs-core';
import { CLASSIFICATION_MODELS } from '@mnv3/backbone';
import { load, topk, type Classifier, type Prediction } from '@mnv3/classify';
import { writeNpy } from '@mnv3/io';
import { QUANTIZABLE_ARCHS } from '@mnv3/quantize';
import { parseTaskArgs, positiveFloat, positiveInt } from './args.js';
import { UsageError } from './errors.js';
import { checkOutputPath, writeFileAtomic } from './files.js';
import { isNpy, readNchwNpy } from './inputs.js';

export const CLASSIFY_USAGE = `usage: mnv3 classify --model NAME --weights SRC [--width-mult F] [--reduced-tail] [--dilated]
                     [--quantize] [--num-classes N] [--topk K] [--json] [--save-raw FILE.npy] INPUT...

  NAME     ${CLASSIFICATION_MODELS.names().join(', ')}
  SRC      a .pth or .safetensors file, or a registry name (IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT)
  --quantize  TorchVision's int8 MobileNetV3 (mobilenet_v3_large or mobilenet_v3_small; QNNPACK's
           arithmetic on int8 WASM kernels): SRC is then IMAGENET1K_QNNPACK_V1 (Large), a QAT-layout
           .pth, or an int8 .safetensors from mnv3 quantize; --save-raw writes the dequantized logits
  INPUT    an image file (PNG, JPEG), preprocessed with the weights' preset (TorchVision's V1 preset
           for weight files), or a .npy of float32 [3,H,W] or [N,3,H,W] already-normalised input`;

interface Row {
  input: string;
  top: Prediction[];
}

export async function classifyCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals, model, weights, numClasses } = parseTaskArgs(
    argv,
    {
      'width-mult': { type: 'string' },
      'reduced-tail': { type: 'boolean' },
      dilated: { type: 'boolean' },
      topk: { type: 'string' },
      'save-raw': { type: 'string' },
      quantize: { type: 'boolean' },
    },
    CLASSIFICATION_MODELS.names(),
    argv.includes('--quantize') ? 'IMAGENET1K_QNNPACK_V1' : 'IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT',
  );
  if (values.quantize && !QUANTIZABLE_ARCHS.includes(model as (typeof QUANTIZABLE_ARCHS)[number])) {
    throw new UsageError(`--quantize takes --model ${QUANTIZABLE_ARCHS.join(' or ')}, got ${model}`);
  }
  const k = positiveInt(values.topk ?? '5', '--topk');
  const widthMult = values['width-mult'] === undefined ? undefined : positiveFloat(values['width-mult'], '--width-mult');
  if (values['save-raw'] && !values['save-raw'].endsWith('.npy')) throw new UsageError(`--save-raw needs a .npy file name, got ${values['save-raw']}`);
  if (values['save-raw']) await checkOutputPath('--save-raw', values['save-raw']);

  const classifier = await load(model, {
    weights,
    widthMult,
    reducedTail: values['reduced-tail'],
    dilated: values.dilated,
    numClasses,
    progress: values.progress,
    quantize: values.quantize,
  });
  try {
    const rows: Row[] = [];
    const raw: Float32Array[] = [];
    for (const input of positionals) {
      if (isNpy(input)) {
        const logits = await npyLogits(classifier, input);
        const n = classifier.numClasses;
        const count = logits.length / n;
        for (let i = 0; i < count; i++) {
          const row = logits.subarray(i * n, (i + 1) * n);
          raw.push(row);
          rows.push({ input: count > 1 ? `${input}[${i}]` : input, top: topk(row, k, classifier.categories) });
        }
      } else {
        const { data } = await classifier.logits(input);
        raw.push(data);
        rows.push({ input, top: topk(data, k, classifier.categories) });
      }
    }
    if (values['save-raw']) {
      const n = classifier.numClasses;
      const all = new Float32Array(raw.length * n);
      raw.forEach((r, i) => all.set(r, i * n));
      await writeFileAtomic(values['save-raw'], writeNpy({ dtype: 'float32', shape: [raw.length, n], data: all }));
    }
    if (values.json) {
      out(JSON.stringify({ model, results: rows }));
    } else {
      for (const row of rows) {
        out(row.input);
        row.top.forEach((p, i) => out(`  ${String(i + 1).padStart(2)}. ${p.score.toFixed(4)}  ${String(p.index).padStart(4)}  ${p.label}`));
      }
    }
  } finally {
    classifier.dispose();
  }
}

/** Logits for a `.npy` of already-normalised NCHW float32 input, fed as is. */
async function npyLogits(classifier: Classifier, path: string): Promise<Float32Array> {
  const { data, shape } = await readNchwNpy(path);
  const x = tf.tidy(() => tf.transpose(tf.tensor4d(data, shape), [0, 2, 3, 1]) as tf.Tensor4D);
  try {
    const [n, c, h, w] = shape;
    return await classifier.logitsNhwc((await x.data()) as Float32Array, [n, h, w, c]);
  } finally {
    x.dispose();
  }
}
