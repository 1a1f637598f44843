/**
 * Round half to even: Python 3's `round()` on a float and `torch.round`, which TorchVision's
 * crops, anchors and FPN level mapping rely on (JavaScript's `Math.round` rounds halves up).
 *
 * @example roundHalfEven(2.5) // 2; roundHalfEven(3.5) // 4; roundHalfEven(-2.5) // -2
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
