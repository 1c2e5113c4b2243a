// The one seeded PRNG: xoshiro128** (Blackman & Vigna 2018) with its state expanded from a 32-bit seed by splitmix32,
// reproducible across platforms, with a state that can be saved and restored (checkpoints). Imports nothing of ours.
//
// Two faces share the generator and differ only where their streams were defined differently; both are kept
// bit-identical to the streams every seeded run, checkpoint, bootstrap interval and synthetic data set was made with
// (known-answer vectors: test/engine/rng-kat.test.ts, test/util/random.test.ts):
// - Rng (training: initialisation, batch sampling): seeded by the low 32 bits of the seed, or keyed by a list of
//   integers (Rng.keyed(seed, step, micro)); uniform() has 53 random bits, int(n) is unbiased (rejection).
// - SeededRandom (analysis: bootstrap resamples, synthetic data): seeded by any safe integer, its high 32 bits folded
//   in; float() has 32 random bits, int(n) = floor(float() * n).
// normal() is the same Box-Muller (both values used) in both faces, fed by that face's uniform, so the two faces'
// normals differ in their low bits: float() and uniform() are not the same numbers.

/** splitmix32: a 32-bit mixer used to expand seeds and derive keyed streams. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Hash a list of integers (e.g. seed, step, micro-batch index) to one 32-bit key. */
export function hashInts(...values: number[]): number {
  let h = 0x2545f491;
  for (const v of values) {
    if (!Number.isSafeInteger(v)) throw new RangeError(`hashInts takes safe integers, got ${v}`);
    h = splitmix32(h ^ (v >>> 0));
    h = splitmix32(h ^ Math.floor(v / 0x100000000)); // high bits, so 2^32 + k differs from k
  }
  return h;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A generator's full state, for checkpoints: four state words plus the pending Box-Muller value. */
export interface RandomState {
  s: number[];
  spare: number | null;
}

/** xoshiro128** itself: the state, one step, save and restore, and Box-Muller over a face's uniform. */
abstract class Xoshiro128ss {
  protected readonly s = new Uint32Array(4);
  protected spare: number | null = null; // second normal from Box-Muller

  /** The state expanded from a 32-bit value by splitmix32. */
  protected constructor(seed32: number) {
    let x = seed32 >>> 0;
    for (let i = 0; i < 4; i++) {
      x = splitmix32(x);
      this.s[i] = x;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1; // the all-zero state is a fixed point
  }

  /** Next uniform 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  getState(): RandomState {
    return { s: Array.from(this.s), spare: this.spare };
  }

  setState(state: RandomState): void {
    if (state.s.length !== 4) throw new RangeError(`random state needs 4 words, got ${state.s.length}`);
    this.s.set(state.s);
    this.spare = state.spare;
  }

  /** Standard normal by Box-Muller from `uniform` on [0, 1), both values used (the second is kept for the next call). */
  protected boxMuller(uniform: () => number): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** The training face: Rng.keyed(seed, step, micro) streams, 53-bit uniforms, unbiased integers. */
export class Rng extends Xoshiro128ss {
  /** A generator for the stream keyed by these integers: Rng.keyed(seed) or Rng.keyed(seed, step, micro). */
  static keyed(...key: number[]): Rng {
    return new Rng(hashInts(...key));
  }

  /** Seeded by the low 32 bits of `seed` (use Rng.keyed for seeds past 2^32). */
  constructor(seed: number) {
    super(seed >>> 0);
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); n up to 2^53. */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`Rng.int needs a positive integer bound, got ${n}`);
    if (n <= 0x100000000) {
      const limit = 0x100000000 - (0x100000000 % n);
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return x % n;
      }
    }
    const limit = 9007199254740992 - (9007199254740992 % n);
    for (;;) {
      const x = this.uniform() * 9007199254740992;
      if (x < limit) return x % n;
    }
  }

  /** Standard normal (Box-Muller over uniform(), both values used). */
  normal(): number {
    return this.boxMuller(() => this.uniform());
  }
}

/** The analysis face: seeded by any safe integer (bootstrap resample r of seed s), 32-bit floats. */
export class SeededRandom extends Xoshiro128ss {
  /** Seeded by `seed` with its high 32 bits folded into the low ones, so seed * 1000003 + r stays distinct past 2^32. */
  constructor(seed: number) {
    super((seed >>> 0) ^ Math.floor(seed / 0x100000000));
  }

  /** Next uniform 32-bit unsigned integer (the same step as nextU32). */
  uint32(): number {
    return this.nextU32();
  }

  /** Uniform on [0, 1) with 32 random bits. */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n): floor(float() * n) (a bias below 2^-32 * n, immaterial for resampling). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Standard normal (Box-Muller over float(), both values used). */
  normal(): number {
    return this.boxMuller(() => this.float());
  }
}
