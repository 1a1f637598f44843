// Seeded mutation of files for the fuzz harnesses (io's readers, detection's COCO JSON): the same
// cases every run, so a failure replays.

/** A seeded xorshift32 picker, `pick(n)` in [0, n): the same mutations every run. */
export function seededPick(seed: number): (n: number) => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * One mutation of `bytes`: bit flips, a truncation, an insertion, a duplicated or dropped slice.
 * Half the positions fall within `hot` bytes of either end, where headers and directories are.
 */
export function mutateBytes(bytes: Uint8Array, pick: (n: number) => number, hot: number): Uint8Array {
  const kind = pick(5);
  const pos = (len: number) => (pick(2) ? pick(Math.min(hot, len)) : pick(2) ? len - 1 - pick(Math.min(hot, len)) : pick(len));
  const len = bytes.length;
  if (kind === 0) {
    const out = bytes.slice();
    for (let f = 1 + pick(4); f > 0; f--) {
      const p = pos(len);
      out[p] = out[p]! ^ (1 << pick(8));
    }
    return out;
  }
  if (kind === 1) return bytes.slice(0, pos(len));
  const at = pos(len);
  if (kind === 2) {
    const extra = Uint8Array.from({ length: 1 + pick(16) }, () => pick(256));
    return concatBytes(bytes.subarray(0, at), extra, bytes.subarray(at));
  }
  const size = 1 + pick(Math.min(256, len - at));
  if (kind === 3) return concatBytes(bytes.subarray(0, at + size), bytes.subarray(at, at + size), bytes.subarray(at + size));
  return concatBytes(bytes.subarray(0, at), bytes.subarray(at + size));
}
