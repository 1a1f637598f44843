import * as tf from '@tensorflow/tfjs-core';
import { activate, splitFusable, type ActivationName } from './activations.js';
import { fastBackend, runKernel } from './kernels/fast.js';
import { Mnv3Activation, Mnv3DepthwiseConv2d, Mnv3PointwiseConv2d } from './kernels/names.js';
import { recordMacs } from './profiling.js';

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
   * A 1x1 convolution's filter packed for our GEMM kernel (`[ceil(out/8)][in][8]`, zero-padded).
   * A 1x1 convolution holds one layout at a time, converting on demand: packed while the fast
   * path runs it, `[1,1,in,out]` (in `filters`) for tfjs ops; weights are never held twice.
   */
  private packed: tf.Tensor1D | null = null;
  private readonly pointwise: boolean;

  private constructor(
    private readonly g: ConvGeometry,
    private filters: tf.Tensor4D[],
    private readonly bias: tf.Tensor1D | null,
    private readonly activation: ActivationName | null,
    private readonly depthwise: boolean,
  ) {
    this.pointwise = g.groups === 1 && g.kernelSize === 1 && g.stride === 1 && g.padding === 0;
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
    if (kernel.pointwise && activation !== 'sigmoid' && fastBackend()) kernel.packedFilter();
    return kernel;
  }

  /** The `[k,k,in,out]` filter (group `i`), converted back from the packed layout if needed. */
  private unpackedFilter(i = 0): tf.Tensor4D {
    if (!this.filters.length && this.packed) {
      const { inChannels: ci, outChannels: co } = this.g;
      const nb = Math.ceil(co / 8);
      const packed = this.packed;
      const f = tf.keep(
        tf.tidy(() => {
          const w = tf.reshape(tf.transpose(tf.reshape(packed, [nb, ci, 8]), [1, 0, 2]), [ci, nb * 8]);
          return tf.reshape(tf.slice(w, [0, 0], [ci, co]), [1, 1, ci, co]) as tf.Tensor4D;
        }),
      );
      this.filters = [f];
      this.packed = null;
      packed.dispose();
    }
    return this.filters[i]!;
  }

  /** The 1x1 filter packed for Mnv3PointwiseConv2d (the unpacked one is released). */
  private packedFilter(): tf.Tensor1D {
    if (!this.packed) {
      const { inChannels: ci, outChannels: co } = this.g;
      const nb = Math.ceil(co / 8);
      const f = this.filters[0]!;
      this.packed = tf.keep(
        tf.tidy(() => {
          const w = tf.pad(tf.reshape(f, [ci, co]), [
            [0, 0],
            [0, nb * 8 - co],
          ]);
          return tf.reshape(tf.transpose(tf.reshape(w, [ci, nb, 8]), [1, 0, 2]), [nb * ci * 8]) as tf.Tensor1D;
        }),
      );
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
      if (this.depthwise) {
        y = tf.fused.depthwiseConv2d<tf.Tensor4D>({
          x,
          filter: this.unpackedFilter(),
          strides: g.stride,
          pad,
          dilations: g.dilation,
          bias: this.bias ?? undefined,
          activation: fused,
        });
      } else if (g.groups === 1) {
        y = tf.fused.conv2d<tf.Tensor4D>({
          x,
          filter: this.unpackedFilter(),
          strides: g.stride,
          pad,
          dilations: g.dilation,
          bias: this.bias ?? undefined,
          activation: fused,
        });
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
   * The fast path (tfjs' wasm backend with our kernels loaded): 1x1 convolutions in our GEMM
   * kernel and depthwise ones in our depthwise kernel, each with bias, activation (and the
   * residual, for 1x1) fused; other convolutions call tfjs' FusedConv2D kernel directly (no op
   * wrapper, no tidy) with hardswish/hardsigmoid as one pass after it. Returns null for what it
   * does not cover (grouped convs, sigmoid outside tfjs' fusable set, a residual on a kxk conv).
   */
  private applyFast(x: tf.Tensor4D, residual?: tf.Tensor4D): tf.Tensor4D | null {
    const { g } = this;
    const activation = this.activation ?? 'linear';
    const pointwise = this.pointwise;
    if (activation === 'sigmoid' && (this.depthwise || pointwise)) return null;
    let y: tf.Tensor4D;
    if (pointwise) {
      const inputs: tf.NamedTensorMap = { x, filter: this.packedFilter() };
      if (this.bias) inputs.bias = this.bias;
      if (residual) inputs.residual = residual;
      y = runKernel<tf.Tensor4D>(Mnv3PointwiseConv2d, inputs, { activation, outChannels: g.outChannels });
    } else if (residual) {
      return null;
    } else if (this.depthwise) {
      const inputs: tf.NamedTensorMap = { x, filter: this.unpackedFilter() };
      if (this.bias) inputs.bias = this.bias;
      y = runKernel<tf.Tensor4D>(Mnv3DepthwiseConv2d, inputs, { stride: g.stride, pad: g.padding, dilation: g.dilation, activation });
    } else if (g.groups === 1) {
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
    } else {
      return null;
    }
    const [n, h, w] = y.shape;
    recordMacs(n * h * w * g.outChannels * (g.inChannels / g.groups) * g.kernelSize * g.kernelSize);
    return y;
  }
}
