// A training recipe from fitted laws (issue 16 item 3): for a FLOP budget or a target loss, the compute-optimal N and D
// (Hoffmann et al. 2022 eq. 4) with bootstrap intervals, the predicted loss with a prediction interval, the critical
// batch size at that loss (Kaplan et al. 2020 eq. 5.3) and the steps/tokens trade-off around it (eq. 5.1, 5.4, 5.5),
// the learning rate from a batch-size scan, how far the answer extrapolates past the runs, and which runs would narrow
// the answer most per FLOP (a linearised, Fisher-information approximation of the bootstrap variance). Pure functions
// over fitted laws and their bootstrap samples: fitting is chinchilla.ts's and bcrit.ts's, reading stores the CLI's.
import { chinchillaAllocation, type Allocation } from './allocation.ts';
import { chinchillaLoss, paramsFromX, type ChinchillaParams } from './chinchilla.ts';
import { AnalysisInputError } from './errors.ts';
import { quantile } from './stats.ts';
import { SeededRandom } from '../util/random.ts';

// ---- allocation for a budget or a loss

/**
 * The budget at which the compute-optimal loss equals `loss`, and its allocation. At the optimum of
 * L = E + A N^-alpha + B D^-beta on C = 6ND the two terms are in the ratio alpha A N^-alpha = beta B D^-beta
 * (Hoffmann et al. 2022 appendix D.2, the stationarity condition behind eq. 4), so
 *   A N^-alpha = (L - E) beta / (alpha + beta),  B D^-beta = (L - E) alpha / (alpha + beta),
 *   N_opt = (A (alpha + beta) / ((L - E) beta))^(1/alpha),  D_opt = (B (alpha + beta) / ((L - E) alpha))^(1/beta),  C = 6 N D.
 * Throws when the loss is at or below E (no budget reaches it).
 */
export function allocationForLoss(p: ChinchillaParams, loss: number): Allocation {
  const excess = loss - p.E;
  if (!(excess > 0)) {
    throw new AnalysisInputError(
      `target loss ${loss} is at or below the fitted irreducible loss E = ${p.E.toPrecision(4)}: no budget reaches it`,
      `ask for a loss above ${p.E.toPrecision(4)}, or give a FLOP budget (--flops)`,
    );
  }
  const s = p.alpha + p.beta;
  const nOpt = ((p.A * s) / (excess * p.beta)) ** (1 / p.alpha);
  const dOpt = ((p.B * s) / (excess * p.alpha)) ** (1 / p.beta);
  return { c: 6 * nOpt * dOpt, nOpt, dOpt, loss: chinchillaLoss(p, nOpt, dOpt), a: p.beta / s, b: p.alpha / s };
}

export interface Spread {
  estimate: number;
  /** percentile interval over the bootstrap samples at `level`; NaN when there are none */
  ci: [number, number];
}

function percentile(values: readonly number[], level: number): [number, number] {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return [NaN, NaN];
  const lo = (1 - level) / 2;
  return [quantile(v, lo), quantile(v, 1 - lo)];
}

export interface AllocationPlan {
  /** 'flops': the budget was given; 'loss': the target loss was, and the budget is what reaches it */
  mode: 'flops' | 'loss';
  c: Spread;
  nOpt: Spread;
  dOpt: Spread;
  /** tokens per parameter D_opt / N_opt */
  tokensPerParam: Spread;
  /** the expected loss at (nOpt, dOpt): interval over the refits (the law's uncertainty) */
  loss: Spread;
  /**
   * a prediction interval for one training run's loss at (nOpt, dOpt): each refit's prediction times a log residual of
   * the fit drawn at random (the law's uncertainty plus the scatter of single runs about it)
   */
  predictionInterval: [number, number];
  /** N_opt ~ C^a, D_opt ~ C^b */
  a: Spread;
  b: Spread;
  level: number;
  /** bootstrap samples the intervals came from (0: none) */
  samples: number;
}

/**
 * The compute-optimal allocation for a budget (`{ flops }`) or a target loss (`{ loss }`) with percentile intervals:
 * each bootstrap refit's own allocation (its own minimiser of L on C = 6ND, chinchillaAllocation), so the intervals
 * carry the refits' correlations. For a loss target the budget varies across refits and gets an interval too; the
 * loss interval then shows only the (zero) spread of the target, so the prediction interval is over the scatter.
 */
export function planAllocation(
  params: ChinchillaParams,
  target: { flops: number } | { loss: number },
  boot: { x: readonly ArrayLike<number>[]; level: number } | null,
  residuals: ArrayLike<number> = [],
  seed = 0,
): AllocationPlan {
  const at = (p: ChinchillaParams): Allocation => ('flops' in target ? chinchillaAllocation(p, target.flops) : allocationForLoss(p, target.loss));
  const est = at(params);
  const level = boot?.level ?? 0.95;
  const all: Allocation[] = [];
  for (const x of boot?.x ?? []) {
    try {
      all.push(at(paramsFromX(x)));
    } catch (err) {
      if (!(err instanceof AnalysisInputError)) throw err; // a refit whose E lies above the target loss: left out
    }
  }
  const spread = (estimate: number, f: (a: Allocation) => number): Spread => ({ estimate, ci: percentile(all.map(f), level) });
  // prediction: a refit's loss at the estimate's (N, D), times exp(a log residual of the full fit), both drawn at random
  const rng = new SeededRandom(seed);
  const pred: number[] = [];
  const xs = boot?.x ?? [];
  const nDraws = Math.max(xs.length, residuals.length > 0 ? 1000 : 0);
  for (let i = 0; i < nDraws; i++) {
    const p = xs.length ? paramsFromX(xs[i % xs.length]) : params;
    const r = residuals.length ? residuals[rng.int(residuals.length)] : 0;
    pred.push(chinchillaLoss(p, est.nOpt, est.dOpt) * Math.exp(r));
  }
  return {
    mode: 'flops' in target ? 'flops' : 'loss',
    c: spread(est.c, (a) => a.c),
    nOpt: spread(est.nOpt, (a) => a.nOpt),
    dOpt: spread(est.dOpt, (a) => a.dOpt),
    tokensPerParam: spread(est.dOpt / est.nOpt, (a) => a.dOpt / a.nOpt),
    loss:
      'flops' in target
        ? spread(est.loss, (a) => a.loss)
        : {
            estimate: est.loss,
            ci: percentile(
              xs.map((x) => chinchillaLoss(paramsFromX(x), est.nOpt, est.dOpt)),
              level,
            ),
          },
    predictionInterval: percentile(pred, level),
    a: spread(est.a, (a) => a.a),
    b: spread(est.b, (a) => a.b),
    level,
    samples: all.length,
  };
}

// ---- batch size and steps (Kaplan et al. 2020 section 5)

/** B_crit(L) = B* / L^(1/alpha_B) (Kaplan et al. 2020 eq. 5.3), tokens per step. */
export function bCritAt(bStar: number, alphaB: number, loss: number): number {
  return bStar / loss ** (1 / alphaB);
}

/**
 * Steps and tokens to reach a fixed loss at batch size B (tokens), given that loss's B_crit and E_min (the fewest tokens,
 * at B -> 0): Kaplan et al. 2020 eq. 5.4-5.5 inverted, S = S_min (1 + B_crit / B), E = E_min (1 + B / B_crit), with
 * S_min = E_min / B_crit; these satisfy (S/S_min - 1)(E/E_min - 1) = 1 (eq. 5.1).
 */
export function batchCost(bCrit: number, eMin: number, batchTokens: number): { steps: number; tokens: number; sMin: number; eMin: number } {
  const sMin = eMin / bCrit;
  return { steps: sMin * (1 + bCrit / batchTokens), tokens: eMin * (1 + batchTokens / bCrit), sMin, eMin };
}

export interface BatchOption {
  /** batch size relative to the recommended one (0.5, 1, 2) */
  factor: number;
  batchTokens: number;
  batchSequences: number;
  steps: number;
  tokens: number;
  /** relative to the recommended batch: steps and tokens (= compute) ratios */
  stepsRatio: number;
  tokensRatio: number;
}

export interface BatchPlan {
  bCrit: Spread;
  /** tokens per sequence used to turn tokens into sequences */
  context: number;
  /** the recommended batch: B_crit rounded to whole sequences (at least one) */
  recommended: BatchOption;
  sMin: number;
  eMin: number;
  /** 2x smaller and 2x larger batches: what each costs to reach the same loss */
  alternatives: BatchOption[];
}

/**
 * The batch recipe for training to `loss` with `tokens` tokens (the compute-optimal D): Kaplan et al. 2020 section 5.1,
 * training at B = B_crit costs S = 2 S_min steps and E = 2 E_min tokens, so the allocation's D is read as 2 E_min:
 * E_min = D / 2. The batch is B_crit in whole sequences of `context` tokens; its steps and tokens, and those of 2x smaller
 * and larger batches, from batchCost (so a rounded batch's tokens differ slightly from D).
 */
export function planBatch(
  bStar: number,
  alphaB: number,
  loss: number,
  tokens: number,
  context: number,
  samples?: { bStar: ArrayLike<number>; alphaB: ArrayLike<number>; level: number },
): BatchPlan {
  const bCrit = bCritAt(bStar, alphaB, loss);
  const eMin = tokens / 2;
  const option = (factor: number, base: number): BatchOption => {
    const seqs = Math.max(1, Math.round((factor * base) / context));
    const cost = batchCost(bCrit, eMin, seqs * context);
    return { factor, batchTokens: seqs * context, batchSequences: seqs, steps: Math.ceil(cost.steps), tokens: cost.tokens, stepsRatio: NaN, tokensRatio: NaN };
  };
  const rec = option(1, bCrit);
  rec.stepsRatio = 1;
  rec.tokensRatio = 1;
  const alternatives = [0.5, 2].map((f) => {
    const o = option(f, rec.batchTokens);
    return { ...o, stepsRatio: o.steps / rec.steps, tokensRatio: o.tokens / rec.tokens };
  });
  const ci: [number, number] = samples
    ? percentile(
        Array.from(samples.bStar, (b, i) => bCritAt(b, samples.alphaB[i], loss)),
        samples.level,
      )
    : [NaN, NaN];
  return { bCrit: { estimate: bCrit, ci }, context, recommended: rec, sMin: eMin / bCrit, eMin, alternatives };
}

// ---- learning rate from a scan

export interface LrPoint {
  batchTokens: number;
  lr: number;
  /** the scan's best LR was the smallest or largest tried: only a bound */
  edge?: boolean;
}

/**
 * The LR at `batchTokens` from a scan's best LR per batch size, interpolated linearly in (log B, log lr) between the two
 * nearest batch sizes; outside the scanned range, the nearest end's LR (`clamped`). No law is fitted: a scan of a few
 * batch sizes supports no more.
 */
export function lrFromScan(points: readonly LrPoint[], batchTokens: number): { lr: number; clamped: boolean; edge: boolean } | null {
  const pts = points.filter((p) => p.batchTokens > 0 && p.lr > 0).sort((a, b) => a.batchTokens - b.batchTokens);
  if (pts.length === 0) return null;
  if (batchTokens <= pts[0].batchTokens) return { lr: pts[0].lr, clamped: batchTokens < pts[0].batchTokens, edge: !!pts[0].edge };
  const last = pts[pts.length - 1];
  if (batchTokens >= last.batchTokens) return { lr: last.lr, clamped: batchTokens > last.batchTokens, edge: !!last.edge };
  const i = pts.findIndex((p) => p.batchTokens >= batchTokens);
  const [p0, p1] = [pts[i - 1], pts[i]];
  const t = Math.log(batchTokens / p0.batchTokens) / Math.log(p1.batchTokens / p0.batchTokens);
  return { lr: Math.exp((1 - t) * Math.log(p0.lr) + t * Math.log(p1.lr)), clamped: false, edge: !!(p0.edge || p1.edge) };
}

// ---- extrapolation

/**
 * A budget beyond this factor past the largest run's FLOPs gets a warning naming the factor. 1e6 is six decades: the
 * Chinchilla fits themselves extrapolate ~300x past their largest runs, and Hoffmann et al.'s and Besiroglu et al.'s
 * exponents differ by ~0.02, which over six decades moves N_opt by a factor 10^(6 x 0.02) ~ 1.3 and more.
 */
export const EXTRAPOLATION_WARN = 1e6;

export function extrapolation(c: number, largestRunFlops: number, threshold = EXTRAPOLATION_WARN): { factor: number; warn: boolean; text: string } {
  const factor = c / largestRunFlops;
  const text =
    factor <= 1
      ? `inside the fitted range: the budget is ${factor.toPrecision(2)}x the largest run's FLOPs`
      : `extrapolates ${factor.toPrecision(2)}x past the largest run (${largestRunFlops.toExponential(2)} FLOPs)`;
  return { factor, warn: factor > threshold, text };
}

// ---- which runs to add next (issue 16 item 4)

/**
 * d log L / d x at (N, D) for L = E + A N^-alpha + B D^-beta, x = [log A, log B, log E, alpha, beta] (the optimiser's
 * variables, chinchilla.ts).
 */
export function logLossGradient(p: ChinchillaParams, n: number, d: number): number[] {
  const tA = p.A / n ** p.alpha;
  const tB = p.B / d ** p.beta;
  const L = p.E + tA + tB;
  return [tA / L, tB / L, p.E / L, (-Math.log(n) * tA) / L, (-Math.log(d) * tB) / L];
}

/** The quantity whose interval the next runs should narrow, as a function of x and its gradient. */
export type NextTarget = { kind: 'exponent' } | { kind: 'loss'; flops: number };

/** Value of the target at x: the allocation exponent a = beta / (alpha + beta), or the optimal loss at a budget. */
export function targetValue(x: ArrayLike<number>, t: NextTarget): number {
  const p = paramsFromX(x);
  return t.kind === 'exponent' ? p.beta / (p.alpha + p.beta) : chinchillaAllocation(p, t.flops).loss;
}

function numericGradient(f: (x: number[]) => number, x: number[]): number[] {
  return x.map((_, i) => {
    const h = 1e-6 * Math.max(1, Math.abs(x[i]));
    const up = [...x];
    const dn = [...x];
    up[i] += h;
    dn[i] -= h;
    return (f(up) - f(dn)) / (2 * h);
  });
}

function invert(m: number[][]): number[][] | null {
  const n = m.length;
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) piv = r;
    if (!(Math.abs(a[piv][c]) > 1e-300)) return null;
    [a[c], a[piv]] = [a[piv], a[c]];
    const d = a[c][c];
    for (let j = 0; j < 2 * n; j++) a[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c];
      if (f !== 0) for (let j = 0; j < 2 * n; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((row) => row.slice(n));
}

export interface Candidate {
  n: number;
  d: number;
  /** 6 N D */
  flops: number;
}

export interface RankedRun extends Candidate {
  /** the linearised variance of the target before and after adding this run (and the ones ranked before it) */
  varianceBefore: number;
  varianceAfter: number;
  /** (varianceBefore - varianceAfter) / flops */
  perFlop: number;
}

/**
 * Candidate runs: budgets log-spaced (`perDecade` a decade) from `minFlops` to `maxFlops`, and at each `sizes` model sizes
 * log-spaced over a factor `spread` either side of that budget's N_opt (chinchillaAllocation), D = C / (6N).
 */
export function candidateGrid(
  p: ChinchillaParams,
  minFlops: number,
  maxFlops: number,
  o: { perDecade?: number; sizes?: number; spread?: number } = {},
): Candidate[] {
  const per = o.perDecade ?? 2;
  const sizes = Math.max(1, o.sizes ?? 5);
  const spread = o.spread ?? 4;
  const k = Math.max(0, Math.round(Math.log10(maxFlops / minFlops) * per));
  const out: Candidate[] = [];
  for (let i = 0; i <= k; i++) {
    const c = minFlops * (maxFlops / minFlops) ** (k === 0 ? 0 : i / k);
    const nOpt = chinchillaAllocation(p, c).nOpt;
    for (let j = 0; j < sizes; j++) {
      const n = nOpt * spread ** (sizes === 1 ? 0 : (2 * j) / (sizes - 1) - 1);
      out.push({ n, d: c / (6 * n), flops: c });
    }
  }
  return out;
}

/**
 * Greedy ranking of candidate runs by how much each narrows the target's variance per FLOP. The fit is linearised at x:
 * log L_i = f(x; N_i, D_i) + e_i with e_i ~ N(0, sigma^2), so the least-squares covariance of x is
 * sigma^2 (J^T J)^-1 (the inverse Fisher information; J the rows of logLossGradient at the runs so far) and the target's
 * variance g^T Cov g (the delta method, g its gradient). Adding a run with row j updates Cov by Sherman-Morrison,
 *   Cov' = Cov - Cov j j^T Cov / (sigma^2 + j^T Cov j),  so  Var' = Var - (g^T Cov j)^2 / (sigma^2 + j^T Cov j).
 * Each step takes the candidate with the largest reduction per FLOP (6ND), adds it, and repeats `k` times (a candidate
 * may be chosen again: a replica). sigma is the fit's rmse of log loss. The bootstrap's Huber objective is near-L1 in
 * the tails, so this approximates its variance; the ranking, not the variance, is what is used.
 */
export function rankNextRuns(
  x: ArrayLike<number>,
  runs: readonly { n: number; d: number }[],
  sigma: number,
  target: NextTarget,
  candidates: readonly Candidate[],
  k: number,
): { ranked: RankedRun[]; variance: number } {
  const p = paramsFromX(x);
  const s2 = Math.max(sigma, 1e-4) ** 2;
  const F = Array.from({ length: 5 }, () => new Array<number>(5).fill(0));
  for (const r of runs) {
    const j = logLossGradient(p, r.n, r.d);
    for (let a = 0; a < 5; a++) for (let b = 0; b < 5; b++) F[a][b] += (j[a] * j[b]) / s2;
  }
  // a tiny ridge keeps a singular design (e.g. one size) invertible; its variance is then huge, as it should be
  for (let a = 0; a < 5; a++) F[a][a] += 1e-9;
  const inv = invert(F);
  if (!inv) throw new AnalysisInputError('the runs do not determine the law (singular information matrix)', 'add runs at more model sizes and token counts');
  let cov: number[][] = inv;
  const g = numericGradient((v) => targetValue(v, target), Array.from(x));
  const quad = (u: number[], M: number[][], v: number[]) => u.reduce((s, ui, a) => s + ui * M[a].reduce((t, m, b) => t + m * v[b], 0), 0);
  let variance = quad(g, cov, g);
  const start = variance;
  const rows = candidates.map((c) => logLossGradient(p, c.n, c.d));
  const ranked: RankedRun[] = [];
  for (let step = 0; step < k && candidates.length > 0; step++) {
    let best = -1;
    let bestScore = -Infinity;
    let bestDrop = 0;
    for (let i = 0; i < candidates.length; i++) {
      const j = rows[i];
      const cj = cov.map((row) => row.reduce((t, m, b) => t + m * j[b], 0));
      const gcj = g.reduce((t, gi, a) => t + gi * cj[a], 0);
      const drop = (gcj * gcj) / (s2 + j.reduce((t, ji, a) => t + ji * cj[a], 0));
      const score = drop / candidates[i].flops;
      if (score > bestScore) {
        bestScore = score;
        best = i;
        bestDrop = drop;
      }
    }
    const j = rows[best];
    const cj: number[] = cov.map((row: number[]) => row.reduce((t, m, b) => t + m * j[b], 0));
    const denom = s2 + j.reduce((t, ji, a) => t + ji * cj[a], 0);
    const c0: number[][] = cov;
    cov = c0.map((row, a) => row.map((m, b) => m - (cj[a] * cj[b]) / denom));
    ranked.push({ ...candidates[best], varianceBefore: variance, varianceAfter: variance - bestDrop, perFlop: bestScore });
    variance -= bestDrop;
  }
  return { ranked, variance: start };
}
