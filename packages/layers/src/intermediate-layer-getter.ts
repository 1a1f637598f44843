import * as tf from '@tensorflow/tfjs-core';
import { Module, type Layer, type Sequential } from './module.js';

/**
 * TorchVision's `IntermediateLayerGetter` as a module that owns the children it keeps: the
 * children of `body` up to the last returned one are registered under their own names (`0`, `1`,
 * …), so a model holding it as `backbone` has TorchVision's keys (`backbone.0.0.weight`,
 * `backbone.4.block.…`), and the children after the last returned one are dropped, as TorchVision
 * drops them. Input NHWC float32; output a record of NHWC feature maps by output name.
 *
 * @example
 * const backbone = new IntermediateLayerGetter(mobilenetV3Large({ dilated: true }).features, { '4': 'low', '16': 'high' });
 */
export class IntermediateLayerGetter extends Module {
  private readonly kept: readonly Layer[];
  private readonly returnLayers: Readonly<Record<string, string>>;

  constructor(body: Sequential, returnLayers: Readonly<Record<string, string>>) {
    super();
    const keys = Object.keys(returnLayers);
    if (keys.length === 0) throw new RangeError('return_layers is empty: name at least one child of the body');
    for (const k of keys) {
      const i = Number(k);
      if (!/^\d+$/.test(k) || i >= body.layers.length) {
        throw new RangeError(`return_layers are not present in model: "${k}" (valid: 0..${body.layers.length - 1})`);
      }
    }
    const last = Math.max(...keys.map(Number));
    this.kept = body.layers.slice(0, last + 1);
    this.kept.forEach((layer, i) => this.registerModule(String(i), layer));
    this.returnLayers = { ...returnLayers };
  }

  /** The kept children, in order (index = TorchVision's child name). */
  get layers(): readonly Layer[] {
    return this.kept;
  }

  /** NHWC in; the requested NHWC feature maps by output name. The caller disposes them. */
  forward(x: tf.Tensor4D): Record<string, tf.Tensor4D> {
    // No assertBuilt here: the children check their own weights, and a getter may wrap a loaded body.
    const out: Record<string, tf.Tensor4D> = {};
    tf.tidy(() => {
      const kept: tf.Tensor[] = [];
      let y = x;
      this.kept.forEach((layer, i) => {
        y = layer.forward(y);
        const name = this.returnLayers[String(i)];
        if (name !== undefined) {
          out[name] = y;
          kept.push(y);
        }
      });
      return kept;
    });
    return out;
  }
}
