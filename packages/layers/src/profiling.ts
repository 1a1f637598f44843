/**
 * Multiply-accumulate counting for convolutions and linear layers, as benchmark tables report
 * (the same convention as fvcore / ptflops: one MAC per weight use, bias and activations free).
 */
let active: { macs: number } | null = null;

/** Adds to the running count, if one is active (called by the layers themselves). */
export function recordMacs(macs: number): void {
  if (active) active.macs += macs;
}

/**
 * Runs `fn` and returns how many MACs the convolutions and linear layers inside it performed.
 *
 * @example const macs = countMacs(() => tf.dispose(model.forward(x))); // 216.6e6 for MobileNetV3-Large at 224
 */
export function countMacs(fn: () => void): number {
  const outer = active;
  const counter = { macs: 0 };
  active = counter;
  try {
    fn();
  } finally {
    active = outer;
  }
  if (outer) outer.macs += counter.macs;
  return counter.macs;
}

/** `countMacs` for an async computation; nothing else may run inference meanwhile. */
export async function countMacsAsync(fn: () => Promise<void>): Promise<number> {
  const outer = active;
  const counter = { macs: 0 };
  active = counter;
  try {
    await fn();
  } finally {
    active = outer;
  }
  if (outer) outer.macs += counter.macs;
  return counter.macs;
}
