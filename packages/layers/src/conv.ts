import * as tf from '@tensorflow/tfjs-core';
import { activate, splitFusable, type ActivationName } from './activations.js';
import { fastBackend, runKernel } from './kernels/fast.js';
import { Mnv3Activation, Mnv3Conv2d, Mnv3DepthwiseConv2d } from './kernels/names.js';
import { recordMacs } from './profiling.js';

/** Below this many input channels a kxk convolution stays on XNNPACK (see ConvKernel.applyFast). */
export const FEW_CHANNELS = 8;

/** Geometry of a 2-D convolution, in TorchVision's terms. */
export interface ConvGeometry {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
}

export function validateGeometry(g: ConvGeometry): void {
  for (const k of ['inChannels', 'outChannels', 'kernelSize', 'stride', 'dilation', 'groups'] as const) {
    if (!Number.isInteger(g[k]) || g[k] < 1) throw new RangeError(`${k} must be a positive integer, got ${g[k]}`);
  }
  if (!Number.isInteger(g.padding) || g.padding < 0) throw new RangeError(`padding must be a non-negative integer, got ${g.padding}`);
  if (g.inChannels % g.groups || g.outChannels % g.groups) {
    throw new RangeError(`in_channels (${g.inChannels}) and out_channels (${g.outChannels}) must be divisible by groups (${g.groups})`);
  }
  if (g.stride > 1 && g.dilation > 1) {
    throw new RangeError(`stride ${g.stride} with dilation ${g.dilation} is not supported: TorchVision's models never combine them`);
  }
}

/**
 * A convolution ready to run on NHWC input: filters converted from PyTorch's OIHW once, BatchNorm
 * already folded into weights and bias by the caller.
 */
export class ConvKernel {
  /**
   * An ungrouped convolution's filter packed for our GEMM kernel (`[ceil(out/8)][k·k][in][8]`,
   * zero-padded). It holds one layout at a time, converting on demand: packed while the fast path
   * runs it, `[k,k,in,out]` (in `filters`) for tfjs ops; weights are never held twice.
   */
  private packed: tf.Tensor1D | null = null;
  /** Ungrouped: runs as Mnv3Conv2d on the fast path (if `packs`). */
  private readonly dense: boolean;
  private readonly packs: boolean;

  private constructor(
    private readonly g: ConvGeometry,
    private filters: tf.Tensor4D[],
    private readonly bias: tf.Tensor1D | null,
    private readonly activation: ActivationName | null,
    private readonly depthwise: boolean,
  ) {
    this.dense = g.groups === 1;
    this.packs = this.dense && (g.kernelSize === 1 || g.inChannels >= FEW_CHANNELS);
  }

  /**
   * @param weight PyTorch layout `[out, in/groups, k, k]`, float32.
   * @param bias `[out]` or null.
   */
  static create(g: ConvGeometry, weight: Float32Array, bias: Float32Array | null, activation: ActivationName | null): ConvKernel {
    const k = g.kernelSize;
    const depthwise = g.groups > 1 && g.groups === g.inChannels && g.groups === g.outChannels;
    const filters: tf.Tensor4D[] = [];
    if (depthwise) {
      // [C,1,kh,kw] → [kh,kw,C,1]
      const C = g.outChannels;
      const out = new Float32Array(weight.length);
      for (let c = 0; c < C; c++) for (let i = 0; i < k * k; i++) out[i * C + c] = weight[c * k * k + i]!;
      filters.push(tf.tensor4d(out, [k, k, C, 1]));
    } else {
      const inPer = g.inChannels / g.groups;
      const outPer = g.outChannels / g.groups;
      for (let grp = 0; grp < g.groups; grp++) {
        // [O,I,kh,kw] → [kh,kw,I,O] for this group's output channels
        const out = new Float32Array(k * k * inPer * outPer);
        for (let o = 0; o < outPer; o++) {
          const src = (grp * outPer + o) * inPer * k * k;
          for (let i = 0; i < inPer; i++) {
            for (let s = 0; s < k * k; s++) out[(s * inPer + i) * outPer + o] = weight[src + i * k * k + s]!;
          }
        }
        filters.push(tf.tensor4d(out, [k, k, inPer, outPer]));
      }
    }
    const kernel = new ConvKernel(g, filters, bias ? tf.tensor1d(bias) : null, activation, depthwise);
    // Built where the fast path will run it: pack now, once, rather than in the first forward pass
    // (sigmoid stays on tfjs' fused kernels, with the plain layout).
    if (kernel.packs && activation !== 'sigmoid' && fastBackend()) kernel.packedFilter();
    return kernel;
  }

  /** The `[k,k,in,out]` filter (group `i`), converted back from the packed layout if needed. */
  private unpackedFilter(i = 0): tf.Tensor4D {
    if (!this.filters.length && this.packed) {
      const packed = this.packed;
      this.filters = [tf.keep(tf.tidy(() => unpackFilter(packed, this.g)))];
      this.packed = null;
      packed.dispose();
    }
    return this.filters[i]!;
  }

  /** The filter packed for Mnv3Conv2d (the unpacked one is released). */
  private packedFilter(): tf.Tensor1D {
    if (!this.packed) {
      const f = this.filters[0]!;
      this.packed = tf.keep(tf.tidy(() => packFilter(f, this.g)));
      this.filters = [];
      f.dispose();
    }
    return this.packed;
  }

  /** The filter (`[k,k,in,out]`, or `[k,k,C,1]` depthwise) of an ungrouped or depthwise conv. */
  get filter(): tf.Tensor4D {
    return this.unpackedFilter();
  }

  get biasTensor(): tf.Tensor1D | null {
    return this.bias;
  }

  get activationName(): ActivationName | null {
    return this.activation;
  }

  /** Releases every tensor this kernel holds. */
  dispose(): void {
    for (const f of this.filters) f.dispose();
    this.packed?.dispose();
    this.bias?.dispose();
    this.filters = [];
    this.packed = null;
  }

  /** Runs the convolution (plus bias and activation) on NHWC input `[N, H, W, inChannels]`. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    const { g } = this;
    const channels = x.shape[3];
    if (channels !== g.inChannels) {
      throw new RangeError(`expected input with ${g.inChannels} channels, got ${channels} (shape [${x.shape.join(', ')}], NHWC)`);
    }
    if (x.dtype === 'float32' && fastBackend()) {
      const y = this.applyFast(x);
      if (y) return y;
    }
    // A number is symmetric explicit padding, as PyTorch's; never 'same' (asymmetric at stride 2).
    const pad = g.padding;
    const { fused, after } = splitFusable(this.activation);
    return tf.tidy(() => {
      let y: tf.Tensor4D;
      if (this.depthwise || g.groups === 1) {
        const args = { x, filter: this.unpackedFilter(), strides: g.stride, pad, dilations: g.dilation, bias: this.bias ?? undefined, activation: fused };
        y = this.depthwise ? tf.fused.depthwiseConv2d<tf.Tensor4D>(args) : tf.fused.conv2d<tf.Tensor4D>(args);
      } else {
        const inputs = tf.split(x, g.groups, 3) as tf.Tensor4D[];
        const biases = this.bias ? (tf.split(this.bias, g.groups) as tf.Tensor1D[]) : [];
        const outs = inputs.map((xi, i) =>
          tf.fused.conv2d({
            x: xi,
            filter: this.unpackedFilter(i),
            strides: g.stride,
            pad,
            dilations: g.dilation,
            bias: biases[i],
            activation: fused,
          }),
        );
        y = tf.concat(outs, 3);
      }
      const [n, h, w] = y.shape;
      recordMacs(n * h * w * g.outChannels * (g.inChannels / g.groups) * g.kernelSize * g.kernelSize);
      return activate(y, after);
    });
  }

  /**
   * Runs the convolution and adds `residual` (same shape as the output) after the activation, as
   * the inverted residual block does: fused into the 1x1 kernel on the fast path.
   */
  applyWithResidual(x: tf.Tensor4D, residual: tf.Tensor4D): tf.Tensor4D {
    if (x.dtype === 'float32' && residual.dtype === 'float32' && fastBackend()) {
      const y = this.applyFast(x, residual);
      if (y) return y;
    }
    return tf.tidy(() => tf.add(this.apply(x), residual));
  }

  /**
   * The fast path (tfjs' wasm backend with our kernels loaded): ungrouped convolutions in our GEMM
   * kernel (residual fused) and depthwise ones in our depthwise kernel, each with bias and
   * activation fused. A kxk convolution of very few input channels (the 3-channel stem) calls
   * tfjs' FusedConv2D directly instead: XNNPACK runs it as one long dot product over taps ×
   * channels, where our tiles would loop over 3-channel taps. Returns null for what it does not
   * cover (other grouped convs, sigmoid, a residual on a depthwise conv): the caller then takes
   * tfjs' ops.
   */
  private applyFast(x: tf.Tensor4D, residual?: tf.Tensor4D): tf.Tensor4D | null {
    const { g } = this;
    const activation = this.activation ?? 'linear';
    if (activation === 'sigmoid') return null;
    let y: tf.Tensor4D;
    if (this.dense && !this.packs) {
      if (residual) return null;
      const { fused, after } = splitFusable(this.activation);
      const inputs: tf.NamedTensorMap = { x, filter: this.unpackedFilter() };
      if (this.bias) inputs.bias = this.bias;
      y = runKernel<tf.Tensor4D>('FusedConv2D', inputs, {
        strides: [g.stride, g.stride],
        pad: g.padding,
        dataFormat: 'NHWC',
        dilations: [g.dilation, g.dilation],
        dimRoundingMode: undefined,
        activation: fused,
        leakyreluAlpha: 0,
      });
      if (after) {
        const z = runKernel<tf.Tensor4D>(Mnv3Activation, { x: y }, { activation: after });
        y.dispose();
        y = z;
      }
    } else if (this.packs) {
      const inputs: tf.NamedTensorMap = { x, filter: this.packedFilter() };
      if (this.bias) inputs.bias = this.bias;
      if (residual) inputs.residual = residual;
      y = runKernel<tf.Tensor4D>(Mnv3Conv2d, inputs, {
        activation,
        outChannels: g.outChannels,
        kernelSize: g.kernelSize,
        stride: g.stride,
        pad: g.padding,
        dilation: g.dilation,
      });
    } else if (this.depthwise && !residual) {
      const inputs: tf.NamedTensorMap = { x, filter: this.unpackedFilter() };
      if (this.bias) inputs.bias = this.bias;
      y = runKernel<tf.Tensor4D>(Mnv3DepthwiseConv2d, inputs, { stride: g.stride, pad: g.padding, dilation: g.dilation, activation });
    } else {
      return null;
    }
    const [n, h, w] = y.shape;
    recordMacs(n * h * w * g.outChannels * (g.inChannels / g.groups) * g.kernelSize * g.kernelSize);
    return y;
  }
}

/** `[k,k,in,out]` → `[ceil(out/8)][k·k][in][8]`, zero-padded: the layout of Mnv3Conv2d's filter. */
export function packFilter(f: tf.Tensor4D, g: Pick<ConvGeometry, 'inChannels' | 'outChannels' | 'kernelSize'>): tf.Tensor1D {
  const { inChannels: ci, outChannels: co, kernelSize: k } = g;
  const nb = Math.ceil(co / 8);
  const w = tf.pad(tf.reshape(f, [k * k * ci, co]), [
    [0, 0],
    [0, nb * 8 - co],
  ]);
  return tf.reshape(tf.transpose(tf.reshape(w, [k * k, ci, nb, 8]), [2, 0, 1, 3]), [nb * k * k * ci * 8]);
}

/** The inverse of `packFilter`. */
export function unpackFilter(packed: tf.Tensor1D, g: Pick<ConvGeometry, 'inChannels' | 'outChannels' | 'kernelSize'>): tf.Tensor4D {
  const { inChannels: ci, outChannels: co, kernelSize: k } = g;
  const nb = Math.ceil(co / 8);
  const w = tf.reshape(tf.transpose(tf.reshape(packed, [nb, k * k, ci, 8]), [1, 2, 0, 3]), [k * k * ci, nb * 8]);
  return tf.reshape(tf.slice(w, [0, 0], [k * k * ci, co]), [k, k, ci, co]);
}
