import * as tf from '@tensorflow/tfjs-core';
import type { Sequential } from './module.js';

/**
 * TorchVision's `IntermediateLayerGetter` over a `Sequential`: runs the children in order up to
 * the last requested one and returns the requested outputs under their new names.
 *
 * @example new IntermediateLayerGetter(model.features, { '13': '0', '16': '1' }).forward(x) // { '0': …, '1': … }
 */
export class IntermediateLayerGetter {
  private readonly last: number;

  constructor(
    private readonly body: Sequential,
    /** Child index (as a string) → output name. */
    private readonly returnLayers: Readonly<Record<string, string>>,
  ) {
    const indices = Object.keys(returnLayers).map(Number);
    for (const k of Object.keys(returnLayers)) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= body.layers.length) {
        throw new RangeError(`return_layers are not present in model: "${k}" (valid: 0..${body.layers.length - 1})`);
      }
    }
    this.last = Math.max(...indices);
  }

  /** NHWC in; a record of NHWC feature maps, in the order of the children. */
  forward(x: tf.Tensor4D): Record<string, tf.Tensor4D> {
    const out: Record<string, tf.Tensor4D> = {};
    const kept: tf.Tensor[] = [];
    tf.tidy(() => {
      let y = x;
      for (let i = 0; i <= this.last; i++) {
        y = this.body.layers[i]!.forward(y);
        const name = this.returnLayers[String(i)];
        if (name !== undefined) {
          out[name] = y;
          kept.push(y);
        }
      }
      return kept;
    });
    return out;
  }
}
