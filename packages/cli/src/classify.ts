import * as tf from '@tensorflow/tfjs-core';
import { CLASSIFICATION_MODELS } from '@mnv3/backbone';
import { load, topk, type Classifier, type Prediction } from '@mnv3/classify';
import { writeNpy } from '@mnv3/io';
import { QUANTIZABLE_ARCHS } from '@mnv3/quantize';
import { HubError } from '@mnv3/io/hub';
import { parseTaskArgs, positiveFloat, positiveInt } from './args.js';
import { UsageError } from './errors.js';
import { checkOutputPath, writeFileAtomic } from './files.js';
import { isNpy, readNchwNpy } from './inputs.js';

export const CLASSIFY_USAGE = `usage: mnv3 classify [--model NAME] [--weights SRC] [--width-mult F] [--reduced-tail] [--dilated]
                     [--quantize] [--num-classes N] [--topk K] [--json] [--save-raw FILE.npy] INPUT...

  NAME     ${CLASSIFICATION_MODELS.names().join(', ')}
  SRC      a .pth or .safetensors file, or a registry name (IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT;
           FASHION_MNIST_V1 for mobilenet_v3_small). Without --weights: the model's DEFAULT, and
           if it cannot be downloaded, the built-in model. Without --model and --weights: the
           built-in model, FASHION_MNIST_V1 int8 (MobileNetV3-Small trained here on Fashion-MNIST,
           shipped in @mnv3/quantize: works offline)
  --quantize  TorchVision's int8 MobileNetV3 (mobilenet_v3_large or mobilenet_v3_small; QNNPACK's
           arithmetic on int8 WASM kernels): SRC is then IMAGENET1K_QNNPACK_V1 (Large),
           FASHION_MNIST_V1 (Small), a QAT-layout .pth, or an int8 .safetensors from mnv3 quantize;
           --save-raw writes the dequantized logits
  INPUT    an image file (PNG, JPEG), preprocessed with the weights' preset (TorchVision's V1 preset
           for weight files), or a .npy of float32 [3,H,W] or [N,3,H,W] already-normalised input`;

interface Row {
  input: string;
  top: Prediction[];
}

/** The model classify runs offline: ours, trained on Fashion-MNIST and shipped in the packages. */
const BUILT_IN = { model: 'mobilenet_v3_small', weights: 'FASHION_MNIST_V1' } as const;

export async function classifyCommand(argv: string[], out: (s: string) => void, warn: (s: string) => void = (s) => console.error(s)): Promise<void> {
  let builtIn = false;
  let implicitWeights = false;
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
    (given) => {
      builtIn = !given.model && (given.weights === undefined || given.weights === BUILT_IN.weights);
      implicitWeights = given.weights === undefined;
      return builtIn ? { model: BUILT_IN.model, weights: BUILT_IN.weights } : { model: given.model ?? '', weights: given.weights ?? 'DEFAULT' };
    },
  );
  // The built-in model is the int8 one, unless FASHION_MNIST_V1 was asked for by name (then --quantize decides).
  const quantize = values.quantize || (builtIn && implicitWeights);
  if (quantize && !QUANTIZABLE_ARCHS.includes(model as (typeof QUANTIZABLE_ARCHS)[number])) {
    throw new UsageError(`--quantize takes --model ${QUANTIZABLE_ARCHS.join(' or ')}, got ${model}`);
  }
  const k = positiveInt(values.topk ?? '5', '--topk');
  const widthMult = values['width-mult'] === undefined ? undefined : positiveFloat(values['width-mult'], '--width-mult');
  if (values['save-raw'] && !values['save-raw'].endsWith('.npy')) throw new UsageError(`--save-raw needs a .npy file name, got ${values['save-raw']}`);
  if (values['save-raw']) await checkOutputPath('--save-raw', values['save-raw']);

  const options = { widthMult, reducedTail: values['reduced-tail'], dilated: values.dilated, numClasses, progress: values.progress };
  let classifier: Classifier;
  try {
    classifier = await load(model, { ...options, weights, quantize });
  } catch (e) {
    // No --weights and no network: the built-in model rather than nothing (said on stderr).
    if (!(implicitWeights && e instanceof HubError && (e.code === 'offline' || e.code === 'network'))) throw e;
    warn(`mnv3 classify: ${model}'s DEFAULT weights cannot be downloaded (${e.message.split('. ')[0]}); using the built-in model instead: ${BUILT_IN.model} FASHION_MNIST_V1 (int8, Fashion-MNIST's 10 classes)`);
    classifier = await load(BUILT_IN.model, { weights: BUILT_IN.weights, quantize: true });
  }
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
