// ↔ torch.Generator on the CPU (c10's mt19937 engine, ATen's CPUGeneratorImpl and its
// uniform_real_distribution / normal_distribution), for the few-value draws timm's LR noise makes.

const N = 624;
const M = 397;
const TWO_POW_32 = 4294967296;
const TWO_POW_MINUS_53 = 2 ** -53;
const TWO_POW_MINUS_24 = 2 ** -24;

/**
 * torch's CPU random generator, bit for bit for the draws it implements: `manualSeed(s)` seeds a
 * 32-bit Mersenne Twister with the low 32 bits of `s` (torch's mt19937), `rand(n)` and `randn(n)`
 * give what `torch.rand(n, generator=g)` / `torch.randn(n, generator=g)` give for n < 16 (torch's
 * serial path: doubles from 53 random bits, Box-Muller with the second value of each pair cached
 * in the generator, rounded to float32). Larger `randn` calls take another path in torch
 * (`normal_fill`, 16 values at a time) and are refused here.
 *
 * @example
 * const g = new TorchGenerator(42 + epoch);
 * const noise = g.randn(1)[0]; // === torch.randn(1, generator=torch.Generator().manual_seed(42 + epoch)).item()
 */
export class TorchGenerator {
  private readonly mt = new Uint32Array(N);
  private index = N;
  private nextDoubleNormal: number | null = null;

  constructor(seed: number | bigint = 67280421310721n) {
    this.manualSeed(seed);
  }

  /** torch's `manual_seed`: any integer in [0, 2^64); the engine takes its low 32 bits. Resets the normal cache. */
  manualSeed(seed: number | bigint): this {
    let s: bigint;
    if (typeof seed === 'bigint') s = seed;
    else if (Number.isSafeInteger(seed)) s = BigInt(seed);
    else throw new RangeError(`TorchGenerator.manualSeed: seed must be an integer (a safe integer or a bigint), got ${String(seed)}`);
    if (s < 0n || s >= 1n << 64n) throw new RangeError(`TorchGenerator.manualSeed: seed must be in [0, 2^64), got ${s}`);
    const mt = this.mt;
    mt[0] = Number(s & 0xffffffffn);
    for (let j = 1; j < N; j++) {
      const prev = mt[j - 1]! ^ (mt[j - 1]! >>> 30);
      mt[j] = (Math.imul(1812433253, prev) + j) >>> 0;
    }
    this.index = N;
    this.nextDoubleNormal = null;
    return this;
  }

  private twist(): void {
    const mt = this.mt;
    for (let k = 0; k < N; k++) {
      const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % N]! & 0x7fffffff);
      mt[k] = mt[(k + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  /** The next 32 random bits (torch's `random()`). */
  random(): number {
    if (this.index >= N) this.twist();
    let y = this.mt[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) from 53 of 64 random bits (torch's `uniform_real_distribution<double>`). */
  uniformDouble(): number {
    const hi = this.random();
    const lo = this.random();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) * TWO_POW_MINUS_53;
  }

  /** A standard normal double (torch's `normal_distribution<double>`, with its cached second value). */
  normalDouble(): number {
    if (this.nextDoubleNormal !== null) {
      const v = this.nextDoubleNormal;
      this.nextDoubleNormal = null;
      return v;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const r = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    this.nextDoubleNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** `torch.randn(n, generator=g)` for n < 16, float32. */
  randn(n: number): Float32Array {
    checkCount(n, 'randn');
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normalDouble();
    return out;
  }

  /** `torch.rand(n, generator=g)`, float32 in [0, 1) from 24 random bits each. */
  rand(n: number): Float32Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`TorchGenerator.rand: n must be an integer ≥ 0, got ${String(n)}`);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.random() & 0xffffff) * TWO_POW_MINUS_24;
    return out;
  }
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n >= 16) {
    throw new RangeError(`TorchGenerator.${what}: n must be an integer in [0, 16) (torch draws 16 or more values by another algorithm), got ${String(n)}`);
  }
}
