// torchvision/models/quantization/mobilenetv3.py: QuantizableMobileNetV3 in the layout TorchVision's
// quantized checkpoints are saved in (fused ConvBn / ConvBnReLU, fake quants, observers: the
// QAT-prepared model, vision issue #5890), its blocks, the weights table and the builders.
import type { StateDict } from '@mnv3/io';
import { type InvertedResidualConfig, type Weights, type WeightsEnum, type LoadStateDictOptions, type LoadStateDictResult, StateDictError, makeDivisible, weights, overwriteValueParam } from '@mnv3/layers';
import { FASHION_MNIST_PRESET, IMAGENET_CATEGORIES, MobileNet_V3_Large_Weights, MobileNet_V3_Small_Weights, type MobileNetV3, mobilenetV3Conf, mobilenetV3Large as floatLarge, mobilenetV3Small as floatSmall, type MobileNetV3Arch } from '@mnv3/backbone';
import { QuantizationError } from './errors.js';
import type { ConvGeometry, QParams } from './qnnpack.js';
import { ConvBn2d, Container, Observed, ObservedHardsigmoid, QatConv2d, QatLinear } from './qat.js';
import { QuantizedConv2d, QuantizedConvNormActivation, QuantizedHardswish, QuantizedInvertedResidual, QuantizedLinear, QuantizedMobileNetV3, QuantizedSqueezeExcitation, type QuantizedFeature, type QuantizedWeights } from './quantized.js';

// ---------------------------------------------------------------------------------------------
// Configuration.

/** What fixes a MobileNetV3's layout: TorchVision's `inverted_residual_setting`, `last_channel`, classes. */
export interface MobileNetV3Config {
  readonly settings: readonly InvertedResidualConfig[];
  readonly lastChannel: number;
  readonly numClasses: number;
}

const BN_EPS = 0.001;

function geometry(inC: number, outC: number, k: number, stride = 1, dilation = 1, groups = 1): ConvGeometry {
  return { inChannels: inC, outChannels: outC, kernelSize: k, stride, padding: ((k - 1) / 2) * dilation, dilation, groups };
}

/** One `Conv2dNormActivation` of the model: where it is, its geometry and activation. */
interface ConvSpec {
  path: string;
  geometry: ConvGeometry;
  activation: 'hardswish' | 'relu' | null;
}

/** One inverted-residual block, as TorchVision's `InvertedResidual` lays out `block`. */
interface BlockSpec {
  path: string;
  layers: ({ kind: 'conv'; conv: ConvSpec } | { kind: 'se'; path: string; channels: number; squeeze: number })[];
  residual: boolean;
}

/** The model's layout by TorchVision module name: stem, blocks, last conv. */
function layout(config: MobileNetV3Config): { features: (ConvSpec | BlockSpec)[]; lastOut: number } {
  const { settings } = config;
  const features: (ConvSpec | BlockSpec)[] = [];
  const first = settings[0]!.inputChannels;
  features.push({ path: 'features.0', geometry: geometry(3, first, 3, 2), activation: 'hardswish' });
  settings.forEach((cnf, i) => {
    const path = `features.${i + 1}`;
    const act = cnf.activation === 'HS' ? 'hardswish' : 'relu';
    const layers: BlockSpec['layers'] = [];
    const at = () => `${path}.block.${layers.length}`;
    if (cnf.expandedChannels !== cnf.inputChannels) {
      layers.push({ kind: 'conv', conv: { path: at(), geometry: geometry(cnf.inputChannels, cnf.expandedChannels, 1), activation: act } });
    }
    const stride = cnf.dilation > 1 ? 1 : cnf.stride;
    const e = cnf.expandedChannels;
    layers.push({ kind: 'conv', conv: { path: at(), geometry: geometry(e, e, cnf.kernel, stride, cnf.dilation, e), activation: act } });
    if (cnf.useSe) layers.push({ kind: 'se', path: at(), channels: e, squeeze: makeDivisible(Math.floor(e / 4), 8) });
    layers.push({ kind: 'conv', conv: { path: at(), geometry: geometry(e, cnf.outChannels, 1), activation: null } });
    features.push({ path, layers, residual: cnf.stride === 1 && cnf.inputChannels === cnf.outChannels });
  });
  const lastIn = settings[settings.length - 1]!.outChannels;
  features.push({ path: `features.${settings.length + 1}`, geometry: geometry(lastIn, 6 * lastIn, 1), activation: 'hardswish' });
  return { features, lastOut: 6 * lastIn };
}

function isBlock(s: ConvSpec | BlockSpec): s is BlockSpec {
  return 'layers' in s;
}

// ---------------------------------------------------------------------------------------------
// Modules: the QAT-prepared layout.

function convNormActivation(spec: ConvSpec): Container {
  const m = new Container();
  m.add('0', new ConvBn2d(spec.geometry, spec.activation === 'relu', BN_EPS));
  if (spec.activation === 'hardswish') m.add('2', new Observed());
  return m;
}

/** TorchVision's `QuantizableSqueezeExcitation` after `fuse_model(is_qat=True)` and `prepare_qat`. */
export class QuantizableSqueezeExcitation extends Container {
  constructor(channels: number, squeeze: number) {
    super();
    this.add('fc1', new QatConv2d(geometry(channels, squeeze, 1), true));
    this.add('fc2', new QatConv2d(geometry(squeeze, channels, 1), false));
    this.add('scale_activation', new ObservedHardsigmoid());
    this.add('skip_mul', new Observed());
  }

  /**
   * TorchVision's `_load_from_state_dict` for checkpoints of version < 2, saved before
   * `scale_activation` had its fake quant: fills in its default buffers.
   */
  protected override upgradeStateDict(stateDict: StateDict, prefix: string): void {
    const p = `${prefix}scale_activation.activation_post_process.`;
    const defaults: [string, 'float32' | 'int32' | 'uint8', number][] = [
      ['scale', 'float32', 1],
      ['activation_post_process.scale', 'float32', 1],
      ['zero_point', 'int32', 0],
      ['activation_post_process.zero_point', 'int32', 0],
      ['fake_quant_enabled', 'uint8', 1],
      ['observer_enabled', 'uint8', 1],
    ];
    if (stateDict.has(`${p}scale`) || !stateDict.has(`${prefix}fc1.weight`)) return;
    for (const [k, dtype, v] of defaults) {
      const data = dtype === 'float32' ? Float32Array.of(v) : dtype === 'int32' ? Int32Array.of(v) : Uint8Array.of(v);
      stateDict.set(p + k, { dtype, shape: [1], data });
    }
  }
}

/** TorchVision's `QuantizableInvertedResidual` (QAT-prepared): `block` and `skip_add`. */
export class QuantizableInvertedResidual extends Container {
  readonly block: Container;
  constructor(readonly spec: BlockSpec) {
    super();
    this.block = this.add('block', new Container());
    spec.layers.forEach((l, j) => this.block.add(String(j), l.kind === 'conv' ? convNormActivation(l.conv) : new QuantizableSqueezeExcitation(l.channels, l.squeeze)));
    // TorchVision creates skip_add on every block; only residual blocks use it.
    this.add('skip_add', new Observed());
  }
}

/**
 * TorchVision's `QuantizableMobileNetV3` as `mobilenet_v3_large(quantize=True)` prepares it before
 * loading weights: fused, with fake quants and observers, so a QAT checkpoint (TorchVision's
 * `IMAGENET1K_QNNPACK_V1`) loads strictly. `convert()` turns it into a `QuantizedMobileNetV3`.
 */
export class QuantizableMobileNetV3 extends Container {
  readonly features: Container;
  readonly classifier: Container;
  constructor(readonly config: MobileNetV3Config) {
    super();
    const { features, lastOut } = layout(config);
    this.features = this.add('features', new Container());
    features.forEach((s, i) => this.features.add(String(i), isBlock(s) ? new QuantizableInvertedResidual(s) : convNormActivation(s)));
    this.classifier = this.add('classifier', new Container());
    this.classifier.add('0', new QatLinear(lastOut, config.lastChannel));
    this.classifier.add('1', new Observed());
    this.classifier.add('3', new QatLinear(config.lastChannel, config.numClasses));
    this.add('quant', new Observed());
  }

  /**
   * Loads a QAT-prepared checkpoint strictly. Checkpoints of another kind fail with a
   * `QuantizationError` naming the problem and what to pass instead.
   */
  override loadStateDict(checkpoint: StateDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
    checkQuantizedCheckpoint(checkpoint);
    try {
      return super.loadStateDict(checkpoint, options);
    } catch (e) {
      if (e instanceof StateDictError) {
        const qparams = e.missingKeys.filter((k) => /(activation_post_process|weight_fake_quant)\.[^.]*$|\.(scale|zero_point|min_val|max_val)$/.test(k));
        if (qparams.length) {
          throw new QuantizationError(
            'missing-qparams',
            `the quantized checkpoint lacks ${qparams.length} quantization key(s) (${qparams.slice(0, 4).join(', ')}${qparams.length > 4 ? ', …' : ''}): ` +
              'pass the full state_dict of a QAT-prepared model (torch.save(model.state_dict()) after prepare_qat and training), as TorchVision saves IMAGENET1K_QNNPACK_V1',
            e,
          );
        }
      }
      throw e;
    }
  }
}

/** Refuses float and per-channel checkpoints before loading, with what to pass instead. */
export function checkQuantizedCheckpoint(sd: StateDict): void {
  const keys = [...sd.keys()];
  if (!keys.some((k) => k.includes('activation_post_process') || k.includes('weight_fake_quant'))) {
    const float = keys.some((k) => k.endsWith('.running_mean')) && !keys.some((k) => k.includes('.bn.'));
    throw new QuantizationError(
      'float-checkpoint',
      float
        ? 'this is a float checkpoint (no fake-quant or observer keys; BatchNorm not fused), not a quantized one: load it with quantize: false ' +
            '(MobileNet_V3_Large_Weights.IMAGENET1K_V1), or quantize it post-training with prepare() + calibration + convert(); ' +
            'quantize: true takes a QAT checkpoint such as MobileNet_V3_Large_QuantizedWeights.IMAGENET1K_QNNPACK_V1'
        : 'this checkpoint has no fake-quant or observer keys, so it is not a QAT-prepared quantized checkpoint: pass one such as MobileNet_V3_Large_QuantizedWeights.IMAGENET1K_QNNPACK_V1',
    );
  }
  for (const [k, t] of sd) {
    if (/weight_fake_quant\.(scale|zero_point)$/.test(k) && t.shape.reduce((a, b) => a * b, 1) > 1) {
      throw new QuantizationError(
        'per-channel',
        `${k} holds ${t.shape.join('×')} values: the checkpoint quantizes weights per channel (fbgemm's qconfig), but TorchVision's ` +
          "qnnpack models are per-tensor symmetric: pass a checkpoint trained with get_default_qat_qconfig('qnnpack')",
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The converted model, assembled from per-module quantized weights and qparams.

/** Where `assembleQuantized` finds each module's converted state (by TorchVision module name). */
export interface QuantizedSource {
  weights(path: string): QuantizedWeights;
  qparams(path: string): QParams;
}

/** The private assembler (TorchVision's `_mobilenet_v3_model` after `convert`). */
export function assembleQuantized(config: MobileNetV3Config, src: QuantizedSource): QuantizedMobileNetV3 {
  const { features } = layout(config);
  const convAct = (s: ConvSpec) =>
    new QuantizedConvNormActivation(
      new QuantizedConv2d(`${s.path}.0`, s.geometry, s.activation === 'relu', src.weights(`${s.path}.0`)),
      s.activation === 'hardswish' ? new QuantizedHardswish(`${s.path}.2`, src.qparams(`${s.path}.2`)) : null,
    );
  const out: QuantizedFeature[] = features.map((s) => {
    if (!isBlock(s)) return convAct(s);
    const layers = s.layers.map((l) =>
      l.kind === 'conv'
        ? convAct(l.conv)
        : new QuantizedSqueezeExcitation(
            new QuantizedConv2d(`${l.path}.fc1`, geometry(l.channels, l.squeeze, 1), true, src.weights(`${l.path}.fc1`)),
            new QuantizedConv2d(`${l.path}.fc2`, geometry(l.squeeze, l.channels, 1), false, src.weights(`${l.path}.fc2`)),
            src.qparams(`${l.path}.skip_mul`),
          ),
    );
    return new QuantizedInvertedResidual(layers, s.residual ? src.qparams(`${s.path}.skip_add`) : null);
  });
  return new QuantizedMobileNetV3(
    src.qparams('quant'),
    out,
    {
      fc1: new QuantizedLinear('classifier.0', config.lastChannel, src.weights('classifier.0')),
      hardswish: new QuantizedHardswish('classifier.1', src.qparams('classifier.1')),
      fc2: new QuantizedLinear('classifier.3', config.numClasses, src.weights('classifier.3')),
    },
    config.numClasses,
  );
}

/** Every observed output of the model by module name, and its quantized dtype role (used by PTQ). */
export function observedPaths(config: MobileNetV3Config): { weighted: { path: string; relu: boolean; geometry?: ConvGeometry }[]; activations: string[] } {
  const { features } = layout(config);
  const weighted: { path: string; relu: boolean; geometry?: ConvGeometry }[] = [];
  const activations = ['quant'];
  const conv = (s: ConvSpec) => {
    weighted.push({ path: `${s.path}.0`, relu: s.activation === 'relu', geometry: s.geometry });
    if (s.activation === 'hardswish') activations.push(`${s.path}.2`);
  };
  for (const s of features) {
    if (!isBlock(s)) {
      conv(s);
      continue;
    }
    for (const l of s.layers) {
      if (l.kind === 'conv') conv(l.conv);
      else {
        weighted.push({ path: `${l.path}.fc1`, relu: true, geometry: geometry(l.channels, l.squeeze, 1) });
        weighted.push({ path: `${l.path}.fc2`, relu: false, geometry: geometry(l.squeeze, l.channels, 1) });
        activations.push(`${l.path}.skip_mul`);
      }
    }
    if (s.residual) activations.push(`${s.path}.skip_add`);
  }
  weighted.push({ path: 'classifier.0', relu: false }, { path: 'classifier.3', relu: false });
  activations.push('classifier.1');
  return { weighted, activations };
}

// ---------------------------------------------------------------------------------------------
// Weights: TorchVision's `MobileNet_V3_Large_QuantizedWeights`.

const QNNPACK_V1 = weights(
  'https://download.pytorch.org/models/quantized/mobilenet_v3_large_qnnpack-5bcacf28.pth',
  { kind: 'ImageClassification', cropSize: 224, resizeSize: 256 },
  {
    minSize: [1, 1],
    categories: IMAGENET_CATEGORIES,
    numParams: 5483032,
    recipe: 'https://github.com/pytorch/vision/tree/main/references/classification#qat-mobilenetv3',
    metrics: { 'ImageNet-1K': { 'acc@1': 73.004, 'acc@5': 90.858 } },
  },
);

/** Extra metadata of quantized weights (TorchVision's `meta["backend"]`, `meta["unquantized"]`). */
export interface QuantizedWeightsMeta {
  backend: 'qnnpack';
  unquantized: Weights;
}

/** TorchVision's `MobileNet_V3_Large_QuantizedWeights`: `IMAGENET1K_QNNPACK_V1` (`DEFAULT`). */
export const MobileNet_V3_Large_QuantizedWeights: WeightsEnum<'IMAGENET1K_QNNPACK_V1'> = {
  IMAGENET1K_QNNPACK_V1: QNNPACK_V1,
  DEFAULT: QNNPACK_V1,
};

/**
 * Our own int8 model, shipped inside this package so that it works offline: FASHION_MNIST_V1 of
 * MobileNetV3-Small (our full recipe, then quantization), as an int8 safetensors file. Its model
 * card: packages/quantize/weights/FASHION_MNIST_V1.md.
 */
const SMALL_FASHION_MNIST_V1 = weights(
  new URL('../weights/mobilenet_v3_small-fashion_mnist_v1_int8-6f12dbc1.safetensors', import.meta.url).href,
  FASHION_MNIST_PRESET,
  { ...MobileNet_V3_Small_Weights.FASHION_MNIST_V1.meta, metrics: { 'Fashion-MNIST': { 'acc@1': 90.82 } } },
  '6f12dbc1', // bundlers rename the file: the prefix is stated, not parsed
);

/** Our `MobileNet_V3_Small_QuantizedWeights` (TorchVision publishes none): `FASHION_MNIST_V1` (`DEFAULT`). */
export const MobileNet_V3_Small_QuantizedWeights: WeightsEnum<'FASHION_MNIST_V1'> = {
  FASHION_MNIST_V1: SMALL_FASHION_MNIST_V1,
  DEFAULT: SMALL_FASHION_MNIST_V1,
};

/** `backend` and `unquantized` of each quantized weights entry. */
export const QUANTIZED_WEIGHTS_META: ReadonlyMap<Weights, QuantizedWeightsMeta> = new Map([
  [QNNPACK_V1, { backend: 'qnnpack', unquantized: MobileNet_V3_Large_Weights.IMAGENET1K_V1 }],
  [SMALL_FASHION_MNIST_V1, { backend: 'qnnpack', unquantized: MobileNet_V3_Small_Weights.FASHION_MNIST_V1 }],
]);

/** The quantized weights table of each quantizable architecture. */
export const QUANTIZED_WEIGHTS: Readonly<Record<'mobilenet_v3_large' | 'mobilenet_v3_small', WeightsEnum>> = {
  mobilenet_v3_large: MobileNet_V3_Large_QuantizedWeights,
  mobilenet_v3_small: MobileNet_V3_Small_QuantizedWeights,
};

// ---------------------------------------------------------------------------------------------
// Builders.

export interface QuantizableMobileNetV3Options {
  /** The checkpoint the caller will load: fixes `numClasses` (and the backend) as TorchVision's builder. */
  weights?: Weights;
  /** `true`: the QAT-prepared model that quantized checkpoints load into; `false` (default): the float model. */
  quantize?: boolean;
  numClasses?: number;
  /** Only `qnnpack`, the backend TorchVision's quantized MobileNetV3 weights are for. */
  backend?: 'qnnpack';
}

const FLOAT_CONFIGS = new WeakMap<MobileNetV3, MobileNetV3Config>();

/** The layout of a float model built by `mobilenetV3Large/Small({ quantize: false })`. */
export function floatModelConfig(model: MobileNetV3): MobileNetV3Config | undefined {
  return FLOAT_CONFIGS.get(model);
}

function build(arch: MobileNetV3Arch, options: QuantizableMobileNetV3Options & { quantize: true }): QuantizableMobileNetV3;
function build(arch: MobileNetV3Arch, options: QuantizableMobileNetV3Options): QuantizableMobileNetV3 | MobileNetV3;
function build(arch: MobileNetV3Arch, options: QuantizableMobileNetV3Options): QuantizableMobileNetV3 | MobileNetV3 {
  const backend = options.backend ?? 'qnnpack';
  if (backend !== 'qnnpack') throw new QuantizationError('invalid-option', `backend must be 'qnnpack' (TorchVision's quantized MobileNetV3 weights are for it), got '${String(backend)}'`);
  const w = options.weights;
  if (w && options.quantize && !QUANTIZED_WEIGHTS_META.has(w)) {
    throw new QuantizationError('invalid-option', `quantize: true takes quantized weights (MobileNet_V3_Large_QuantizedWeights.IMAGENET1K_QNNPACK_V1); ${w.url} is a float checkpoint: pass quantize: false`);
  }
  if (w && !options.quantize && QUANTIZED_WEIGHTS_META.has(w)) {
    throw new QuantizationError('invalid-option', `${w.url} is a quantized checkpoint: pass quantize: true`);
  }
  const numClasses = w ? overwriteValueParam('num_classes', options.numClasses, w.meta.categories.length) : (options.numClasses ?? 1000);
  const { settings, lastChannel } = mobilenetV3Conf(arch);
  const config: MobileNetV3Config = { settings, lastChannel, numClasses };
  if (options.quantize) return new QuantizableMobileNetV3(config);
  const model = (arch === 'mobilenet_v3_large' ? floatLarge : floatSmall)({ numClasses });
  FLOAT_CONFIGS.set(model, config);
  return model;
}

/**
 * TorchVision's quantizable `mobilenet_v3_large`: with `quantize: true`, the QAT-prepared model that
 * `IMAGENET1K_QNNPACK_V1` loads into (then `convert()` it); otherwise the float model, ready for
 * `prepare()` (post-training quantization).
 *
 * @example
 * const qat = mobilenetV3Large({ weights: MobileNet_V3_Large_QuantizedWeights.IMAGENET1K_QNNPACK_V1, quantize: true });
 * qat.loadStateDict(readCheckpoint(bytes));
 * const model = convert(qat); // QuantizedMobileNetV3: model.forward(nhwcFloat32, [1, 224, 224, 3]).logits
 */
export function mobilenetV3Large(options: QuantizableMobileNetV3Options & { quantize: true }): QuantizableMobileNetV3;
export function mobilenetV3Large(options?: QuantizableMobileNetV3Options & { quantize?: false }): MobileNetV3;
export function mobilenetV3Large(options: QuantizableMobileNetV3Options): QuantizableMobileNetV3 | MobileNetV3;
export function mobilenetV3Large(options: QuantizableMobileNetV3Options = {}): QuantizableMobileNetV3 | MobileNetV3 {
  return build('mobilenet_v3_large', options);
}

/** The same for MobileNetV3-Small (TorchVision publishes no quantized Small weights). */
export function mobilenetV3Small(options: QuantizableMobileNetV3Options & { quantize: true }): QuantizableMobileNetV3;
export function mobilenetV3Small(options?: QuantizableMobileNetV3Options & { quantize?: false }): MobileNetV3;
export function mobilenetV3Small(options: QuantizableMobileNetV3Options): QuantizableMobileNetV3 | MobileNetV3;
export function mobilenetV3Small(options: QuantizableMobileNetV3Options = {}): QuantizableMobileNetV3 | MobileNetV3 {
  return build('mobilenet_v3_small', options);
}
