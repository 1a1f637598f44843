/** Summary of one candidate's timings, in milliseconds. */
export interface LatencyStats {
  runs: number;
  median_ms: number;
  min_ms: number;
  max_ms: number;
}

export function summarize(samples: readonly number[]): LatencyStats {
  if (samples.length === 0) throw new RangeError('no samples to summarize');
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { runs: s.length, median_ms: median, min_ms: s[0]!, max_ms: s[s.length - 1]! };
}

/** One contender in a side-by-side run: `run` does one inference and may report its own time. */
export interface Candidate {
  name: string;
  /** Returns the milliseconds to record, or nothing to record the wall time around the call. */
  run(): Promise<number | void>;
}

/**
 * Runs the candidates round-robin (warm-up rounds first, unrecorded) so that machine drift hits
 * all of them alike; returns each one's samples.
 */
export async function interleaved(
  candidates: readonly Candidate[],
  options: { warmup: number; runs: number; onRound?: (round: number, total: number) => void },
): Promise<Map<string, number[]>> {
  const samples = new Map(candidates.map((c) => [c.name, [] as number[]]));
  const total = options.warmup + options.runs;
  for (let round = 0; round < total; round++) {
    // Rotate the order every round: no candidate always runs right after another one.
    for (let k = 0; k < candidates.length; k++) {
      const c = candidates[(round + k) % candidates.length]!;
      const t0 = performance.now();
      const reported = await c.run();
      const ms = typeof reported === 'number' ? reported : performance.now() - t0;
      if (round >= options.warmup) samples.get(c.name)!.push(ms);
    }
    options.onRound?.(round + 1, total);
  }
  return samples;
}
