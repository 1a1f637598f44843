/**
 * TorchVision's `_make_divisible`: rounds `v` to the nearest multiple of `divisor`, never below
 * `minValue` (default `divisor`) and never more than 10% below `v`.
 *
 * @example makeDivisible(16 * 0.75, 8) // 16
 */
export function makeDivisible(v: number, divisor: number, minValue?: number): number {
  const min = minValue ?? divisor;
  let newV = Math.max(min, Math.trunc(v + divisor / 2) - (Math.trunc(v + divisor / 2) % divisor));
  if (newV < 0.9 * v) newV += divisor;
  return newV;
}
