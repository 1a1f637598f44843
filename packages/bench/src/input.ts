/**
 * The input every peer runs, in TorchVision's layout (NCHW, or CHW for a detection image): fixed
 * pseudo-random values in [0, 1), the same formula as tools/reference/bench_peers.py.
 */
export function benchInput(shape: readonly number[]): Float32Array {
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = s / 4294967296;
  }
  return x;
}
