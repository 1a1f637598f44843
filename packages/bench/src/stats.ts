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
 * all of them alike; returns each one's samples, one per round.
 *
 * For runtimes with spinning thread pools (the browser with threads), a candidate's turn in a round
 * can start with `lead` untimed runs and time `block` runs, the round's sample being their median:
 * another runtime's pool still spinning after its turn (ORT-Web's does for milliseconds) then
 * slows the untimed runs, not the timed ones.
 */
export async function interleaved(
  candidates: readonly Candidate[],
  options: { warmup: number; runs: number; lead?: number; block?: number; onRound?: (round: number, total: number) => void },
): Promise<Map<string, number[]>> {
  const samples = new Map(candidates.map((c) => [c.name, [] as number[]]));
  const total = options.warmup + options.runs;
  const block = Math.max(1, options.block ?? 1);
  for (let round = 0; round < total; round++) {
    // Rotate the order every round: no candidate always runs right after another one.
    for (let k = 0; k < candidates.length; k++) {
      const c = candidates[(round + k) % candidates.length]!;
      for (let i = 0; i < (options.lead ?? 0); i++) await c.run();
      const times: number[] = [];
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        const reported = await c.run();
        times.push(typeof reported === 'number' ? reported : performance.now() - t0);
      }
      if (round >= options.warmup) samples.get(c.name)!.push(summarize(times).median_ms);
    }
    options.onRound?.(round + 1, total);
  }
  return samples;
}
