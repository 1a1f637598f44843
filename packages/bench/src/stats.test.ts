import { describe, expect, it } from 'vitest';
import { interleaved, summarize } from './stats.js';

describe('summarize', () => {
  it('gives median, min and max', () => {
    expect(summarize([5, 1, 3])).toEqual({ runs: 3, median_ms: 3, min_ms: 1, max_ms: 5 });
    expect(summarize([4, 1, 3, 2]).median_ms).toBe(2.5);
    expect(() => summarize([])).toThrow(/no samples/);
  });
});

describe('interleaved', () => {
  it('alternates candidates, skips warm-up rounds and keeps reported times', async () => {
    const order: string[] = [];
    const result = await interleaved(
      [
        { name: 'a', run: async () => void order.push('a') },
        { name: 'b', run: async () => (order.push('b'), 7) },
      ],
      { warmup: 1, runs: 3 },
    );
    expect(order).toEqual(['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']);
    expect(result.get('a')).toHaveLength(3);
    expect(result.get('b')).toEqual([7, 7, 7]);
  });

  it('with lead and block: untimed runs first, then the median of the timed block per round', async () => {
    const order: string[] = [];
    let n = 0;
    // b reports 1, 2, 3, … per call: its lead run's time (1) is never recorded.
    const result = await interleaved(
      [
        { name: 'a', run: async () => (order.push('a'), 5) },
        { name: 'b', run: async () => (order.push('b'), ++n) },
      ],
      { warmup: 0, runs: 2, lead: 1, block: 3 },
    );
    expect(order).toEqual(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'b', 'b', 'b', 'b', 'a', 'a', 'a', 'a']);
    expect(result.get('a')).toEqual([5, 5]);
    expect(result.get('b')).toEqual([3, 7]);
  });
});
