// Batches from a token array: training windows at offsets drawn from the stream Rng.keyed(seed, step, micro),
// so the batch of any (seed, step, micro-batch) is a pure function (resume needs no sampler state), and a
// fixed, evenly spread set of evaluation windows over the test split. What a window feeds is the trainer's.
import { Rng } from '../util/random.ts';
import { SamplerError } from './errors.ts';
import type { TokenArray } from './tokenizer.ts';

export interface Batch {
  B: number;
  T: number;
  /** inputs (B,T): tokens[off .. off+T) of each window */
  inputs: Int32Array;
  /** targets (B,T): tokens[off+1 .. off+T+1), the next token of each input */
  targets: Int32Array;
}

function checkShape(tokens: TokenArray, B: number, T: number, label: string): void {
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(T) || T < 1) throw new RangeError(`batch shape must be positive integers, got B=${B} T=${T}`);
  if (tokens.length < T + 1) {
    throw new SamplerError(
      `the ${label} split has ${tokens.length} tokens, fewer than one window of T+1 = ${T + 1}`,
      label === 'test' ? 'use a larger corpus, a larger --test-fraction, or a shorter context' : 'use a larger corpus or a shorter context (sequence length)',
    );
  }
}

function fill(out: Batch, tokens: TokenArray, b: number, off: number): void {
  const T = out.T;
  const o = b * T;
  for (let t = 0; t < T; t++) {
    out.inputs[o + t] = tokens[off + t];
    out.targets[o + t] = tokens[off + t + 1];
  }
}

function emptyBatch(B: number, T: number): Batch {
  return { B, T, inputs: new Int32Array(B * T), targets: new Int32Array(B * T) };
}

/** Training batches: B windows of T+1 contiguous tokens at uniform random offsets. */
export class BatchSampler {
  constructor(
    readonly tokens: TokenArray,
    readonly B: number,
    readonly T: number,
    readonly seed: number,
  ) {
    checkShape(tokens, B, T, 'train');
  }

  /** Window start offsets of (step, micro): B draws from Rng.keyed(seed, step, micro), each in [0, N-T-1]. */
  offsets(step: number, micro = 0): number[] {
    const rng = Rng.keyed(this.seed, step, micro);
    const span = this.tokens.length - this.T; // offsets 0 .. N-T-1 keep the last target inside
    return Array.from({ length: this.B }, () => rng.int(span));
  }

  /** The batch of (step, micro); pass `out` to reuse buffers across steps. */
  batch(step: number, micro = 0, out: Batch = emptyBatch(this.B, this.T)): Batch {
    if (out.B !== this.B || out.T !== this.T) throw new RangeError(`output batch is (${out.B},${out.T}), sampler is (${this.B},${this.T})`);
    this.offsets(step, micro).forEach((off, b) => fill(out, this.tokens, b, off));
    return out;
  }
}

/** The batch of (seed, step, micro) without keeping a sampler. */
export function sampleBatch(tokens: TokenArray, B: number, T: number, seed: number, step: number, micro = 0): Batch {
  return new BatchSampler(tokens, B, T, seed).batch(step, micro);
}

/** Default number of evaluation windows (x T tokens each; 64 x 256 = 16K test tokens). */
export const DEFAULT_EVAL_WINDOWS = 64;

/**
 * Offsets of the evaluation windows: the split cut into K = floor((N-1)/T) back-to-back windows, and
 * `maxWindows` of them taken evenly spread (all of them if K is smaller). Depends only on the test tokens,
 * T and maxWindows, never on a run's seed, so every eval of every run with the same context is on the same
 * text; an even spread covers the split with less variance than random windows and needs no eval seed.
 */
export function evalOffsets(tokens: TokenArray, T: number, maxWindows = DEFAULT_EVAL_WINDOWS): number[] {
  checkShape(tokens, 1, T, 'test');
  const K = Math.floor((tokens.length - 1) / T);
  const n = Math.min(K, Math.max(1, Math.floor(maxWindows)));
  return Array.from({ length: n }, (_, i) => Math.floor((i * K) / n) * T);
}

/** The evaluation windows as batches of up to B (the last may be smaller; its B says so). */
export function evalBatches(tokens: TokenArray, B: number, T: number, maxWindows = DEFAULT_EVAL_WINDOWS): Batch[] {
  const offsets = evalOffsets(tokens, T, maxWindows);
  const batches: Batch[] = [];
  for (let i = 0; i < offsets.length; i += B) {
    const chunk = offsets.slice(i, i + B);
    const batch = emptyBatch(chunk.length, T);
    chunk.forEach((off, b) => fill(batch, tokens, b, off));
    batches.push(batch);
  }
  return batches;
}
