/**
 * The browser-safe part of the benchmark (no Node built-ins): the models as the benchmark runs
 * them, the shared input, and the interleaved timing. The browser benchmark page imports this.
 */
export type { LatencyStats, Candidate } from './stats.js';
export { summarize, interleaved } from './stats.js';
export type { BenchEntry, BenchModel } from './models.js';
export { BENCH_MODELS, benchEntry } from './models.js';
export { benchInput } from './input.js';
