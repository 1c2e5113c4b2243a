// Critical batch size from batch-size scans, as docs/METHODS.md section 1 states it step by step (Kaplan et al.
// 2020 section 5.1, McCandlish et al. 2018): LR-weighted progress -> smoothed running-minimum curves -> LR envelope
// per (batch size, seed) -> S(B), E(B) per target loss -> eq. 5.1 per level -> level selection -> B_crit(L) law
// with a hierarchical bootstrap over batch sizes and seeds; a pooled law across groups with an F-test.
import type { LossCurve, RunRecord } from './records.ts';
import { bootstrap, fitLine, fitParabola, nestedFTest, quantile, type BootstrapResult } from './stats.ts';
import { SeededRandom } from '../util/random.ts';
import { formatPercent } from '../util/format.ts';
import { bootstrapWarnings, warning, type Warning } from './diagnostics.ts';
import { AnalysisInputError } from './errors.ts';

// ---- 1.1 progress: LR-weighted steps

/** A run's progress measure: u(s) LR-weighted steps after raw step s, and where its transient ends. */
export interface Progress {
  u(step: number): number;
  /** the raw step at which the LR first reaches its peak (or the declared warm-up) */
  transientEnd: number;
  source: 'lr' | 'warmup';
}

/** u(s) from a declared linear warm-up of W steps: w_t = min(1, t / W). */
export function warmupProgress(W: number): Progress {
  if (!(W >= 0)) throw new RangeError(`warm-up steps must be >= 0, got ${W}`);
  return { u: (s) => (W === 0 ? s : s <= W ? (s * (s + 1)) / (2 * W) : s - (W - 1) / 2), transientEnd: W, source: 'warmup' };
}

/**
 * u(s) from logged LRs: w_t = lr_t / lr_peak until the first step whose LR reaches the peak, 1 after (a later decay
 * is not weighted). lr_t between logged steps is linear in t; before the first logged step it rises from 0 at t = 0.
 */
export function lrProgress(schedule: readonly { step: number; lr: number }[]): Progress {
  const pts = schedule.filter((p) => p.step >= 1 && p.lr > 0 && Number.isFinite(p.lr)).sort((a, b) => a.step - b.step);
  if (pts.length === 0) throw new RangeError('no positive learning rate logged');
  let peak = 0;
  for (const p of pts) if (p.lr > peak) peak = p.lr;
  const k = pts.findIndex((p) => p.lr >= peak * (1 - 1e-6));
  const tStar = Math.round(pts[k].step);
  // cumulative weights U[t] = sum_{t' <= t} w_t' for t < t*
  const U = new Float64Array(tStar);
  let j = 0;
  let prev = { step: 0, lr: 0 };
  for (let t = 1; t < tStar; t++) {
    while (j < pts.length && pts[j].step < t) prev = pts[j++];
    const next = pts[Math.min(j, pts.length - 1)];
    const lr = next.step === prev.step ? next.lr : prev.lr + ((t - prev.step) / (next.step - prev.step)) * (next.lr - prev.lr);
    U[t] = U[t - 1] + Math.min(1, lr / peak);
  }
  const before = tStar > 0 ? U[tStar - 1] : 0;
  return {
    u: (s) => {
      if (s >= tStar) return before + (s - tStar + 1);
      const i = Math.floor(s);
      return i < 1 ? 0 : U[i] + (s - i) * ((i + 1 < tStar ? U[i + 1] : before + 1) - U[i]);
    },
    transientEnd: tStar,
    source: 'lr',
  };
}

function progressOf(c: LossCurve, declared: number | undefined): Progress {
  if (c.lrSchedule && c.lrSchedule.some((p) => p.lr > 0)) return lrProgress(c.lrSchedule);
  const W = c.warmupSteps ?? declared;
  if (W === undefined) {
    throw new AnalysisInputError(
      `run ${c.id}: no learning rate logged and no warm-up given; the analysis needs one to measure progress past warm-up (docs/METHODS.md 1.1)`,
      'add an lr column or a warmup column to the file (bcrit also takes --warmup-steps W, 0 if the runs had no warm-up)',
    );
  }
  return warmupProgress(W);
}

// ---- 1.2-1.3 curves

/** A local quadratic in x over `window` points centred on each point (sliding inward at the ends); < 5 = none. */
function smooth(x: number[], v: number[], window: number): number[] {
  const h = Math.floor(window / 2);
  if (h < 2 || v.length < 2 * h + 1) return [...v];
  return v.map((_, i) => {
    const lo = Math.min(Math.max(0, i - h), v.length - 2 * h - 1);
    const p = fitParabola(x.slice(lo, lo + 2 * h + 1), v.slice(lo, lo + 2 * h + 1));
    return p.c0 + p.c1 * x[i] + p.c2 * x[i] * x[i];
  });
}

/** One replica (seed) of one batch size: the envelope over its LR runs, in x = ln u(s). */
export interface ReplicaCurve {
  seed: string;
  runs: string[];
  x: number[];
  loss: number[];
  /** u at the latest transient end of its runs: crossings at or below it are in the transient */
  transientU: number;
}

/** One batch size: its replicas, the LR winner, and (for charts) the envelope over all its runs. */
export interface BatchCurve {
  batchTokens: number;
  runs: string[];
  replicas: ReplicaCurve[];
  /** LR-weighted steps, tokens (= steps x batch tokens) and loss of the envelope over all runs, for charts */
  steps: number[];
  tokens: number[];
  loss: number[];
  /** the largest transient end (raw steps) of its runs */
  transientSteps: number;
  /** the LRs tried, the one whose run reached the lowest final loss, and whether it is the smallest or largest */
  lr?: { tried: number[]; best: number; edge: boolean };
}

interface RunCurve {
  id: string;
  lr?: number;
  x: number[];
  loss: number[];
  transientU: number;
  transientEnd: number;
  progress: Progress;
}

function runCurve(c: LossCurve, window: number, declared: number | undefined): RunCurve | null {
  const pts = c.points.filter((p) => p.step >= 1 && Number.isFinite(p.loss)).sort((a, b) => a.step - b.step);
  if (pts.length < 2) return null;
  const prog = progressOf(c, declared);
  const x = pts.map((p) => Math.log(prog.u(p.step)));
  const loss = smooth(
    x,
    pts.map((p) => p.loss),
    window,
  );
  for (let i = 1; i < loss.length; i++) loss[i] = Math.min(loss[i], loss[i - 1]);
  return { id: c.id, lr: c.lr, x, loss, transientU: prog.u(prog.transientEnd), transientEnd: prog.transientEnd, progress: prog };
}

/**
 * A run's smoothed running-minimum loss as a function of its raw step (docs/METHODS.md 1.2, interpolated linearly in
 * x = ln u(s)); undefined before its first or after its last eval. The noise-scale analysis bins rows on it.
 */
export function lossAtStep(c: LossCurve, window = 5, warmupSteps?: number): (step: number) => number | undefined {
  const rc = runCurve(c, window, warmupSteps);
  if (!rc) return () => undefined;
  const prog = rc.progress;
  return (step) => {
    if (!(step >= 1)) return undefined;
    const x = Math.log(prog.u(step));
    if (x < rc.x[0] || x > rc.x[rc.x.length - 1]) return undefined;
    let k = 0;
    while (k + 1 < rc.x.length && rc.x[k + 1] < x) k++;
    if (k + 1 >= rc.x.length || rc.x[k + 1] === rc.x[k]) return rc.loss[k];
    return rc.loss[k] + ((x - rc.x[k]) / (rc.x[k + 1] - rc.x[k])) * (rc.loss[k + 1] - rc.loss[k]);
  };
}

/** Envelope of curves on the union of their x: min over runs started by x (linear in x, held after the last). */
function envelope(curves: readonly { x: number[]; loss: number[] }[]): { x: number[]; loss: number[] } {
  const grid = [...new Set(curves.flatMap((c) => c.x))].sort((a, b) => a - b);
  const cursor = curves.map(() => 0);
  const loss: number[] = [];
  for (const g of grid) {
    let best = Infinity;
    curves.forEach((c, r) => {
      if (g < c.x[0]) return;
      while (cursor[r] + 1 < c.x.length && c.x[cursor[r] + 1] <= g) cursor[r]++;
      const k = cursor[r];
      let v = c.loss[k];
      if (k + 1 < c.x.length && c.x[k] < g) v = c.loss[k] + ((g - c.x[k]) / (c.x[k + 1] - c.x[k])) * (c.loss[k + 1] - c.loss[k]);
      if (v < best) best = v;
    });
    loss.push(loss.length && loss[loss.length - 1] < best ? loss[loss.length - 1] : best);
  }
  return { x: grid, loss };
}

/** Curves per batch size (docs/METHODS.md 1.1-1.3). */
function batchCurves(curves: readonly LossCurve[], window = 5, warmupSteps?: number): BatchCurve[] {
  const byBatch = new Map<number, LossCurve[]>();
  for (const c of curves) {
    if (!(c.batchTokens > 0))
      throw new AnalysisInputError(`run ${c.id}: batch tokens ${c.batchTokens} is not positive`, 'give every run its batch size in tokens');
    const list = byBatch.get(c.batchTokens);
    if (list) list.push(c);
    else byBatch.set(c.batchTokens, [c]);
  }
  const out: BatchCurve[] = [];
  for (const [batchTokens, runs] of [...byBatch].sort((a, b) => a[0] - b[0])) {
    const per = runs
      .map((r) => ({ src: r, curve: runCurve(r, window, warmupSteps) }))
      .filter((p): p is { src: LossCurve; curve: RunCurve } => p.curve !== null);
    if (per.length === 0) continue;
    const bySeed = new Map<string, RunCurve[]>();
    for (const p of per) {
      const key = String(p.src.seed ?? '');
      const list = bySeed.get(key);
      if (list) list.push(p.curve);
      else bySeed.set(key, [p.curve]);
    }
    const replicas: ReplicaCurve[] = [...bySeed]
      .sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true }))
      .map(([seed, rs]) => ({
        seed,
        runs: rs.map((r) => r.id),
        ...envelope(rs),
        transientU: rs.reduce((m, r) => Math.max(m, r.transientU), 0),
      }));
    const all = envelope(per.map((p) => p.curve));
    const steps = all.x.map(Math.exp);
    const lrs = [...new Set(per.map((p) => p.curve.lr).filter((v): v is number => v !== undefined && v > 0))].sort((a, b) => a - b);
    let lr: BatchCurve['lr'];
    if (lrs.length >= 2) {
      // the winner: the LR whose runs reach the lowest final loss (mean over seeds)
      const finalBy = new Map<number, number[]>();
      for (const p of per) if (p.curve.lr !== undefined) finalBy.set(p.curve.lr, [...(finalBy.get(p.curve.lr) ?? []), p.curve.loss[p.curve.loss.length - 1]]);
      let best = lrs[0];
      let bestLoss = Infinity;
      for (const [v, ls] of finalBy) {
        const m = ls.reduce((a, b) => a + b, 0) / ls.length;
        if (m < bestLoss) [best, bestLoss] = [v, m];
      }
      lr = { tried: lrs, best, edge: best === lrs[0] || best === lrs[lrs.length - 1] };
    }
    out.push({
      batchTokens,
      runs: per.map((p) => p.src.id),
      replicas,
      steps,
      tokens: steps.map((s) => s * batchTokens),
      loss: all.loss,
      transientSteps: per.reduce((m, p) => Math.max(m, p.curve.transientEnd), 0),
      ...(lr && { lr }),
    });
  }
  return out;
}

// ---- 1.4 steps to reach a level

export interface LevelPoint {
  batchTokens: number;
  /** S: LR-weighted steps to reach the level (geometric mean over the seeds that reach it) */
  steps: number;
  /** E = S x batch tokens */
  tokens: number;
  /** seeds that reached the level */
  seeds: number;
}

type Crossing = { x: number; transient: boolean } | 'unreached' | 'at-first-eval';

function crossing(r: ReplicaCurve, level: number): Crossing {
  const k = r.loss.findIndex((l) => l <= level);
  if (k < 0) return 'unreached';
  if (k === 0) return 'at-first-eval';
  const t = (r.loss[k - 1] - level) / (r.loss[k - 1] - r.loss[k]);
  const x = r.x[k - 1] + t * (r.x[k] - r.x[k - 1]);
  return { x, transient: Math.exp(x) <= r.transientU };
}

/** Per batch size: the crossings of every replica (kept for the seed bootstrap). */
interface BatchCrossings {
  batchTokens: number;
  replicas: Crossing[];
}

/** S and E of one batch size from a set of replica crossings, or why there is none. */
function pointOf(batchTokens: number, xs: readonly Crossing[]): LevelPoint | 'unreached' | 'at-first-eval' {
  const reached = xs.filter((x): x is { x: number; transient: boolean } => typeof x === 'object');
  if (reached.length === 0 || reached.length * 2 < xs.length)
    return xs.some((x) => x === 'at-first-eval') && !xs.some((x) => x === 'unreached') ? 'at-first-eval' : 'unreached';
  const lnS = reached.reduce((a, b) => a + b.x, 0) / reached.length;
  return { batchTokens, steps: Math.exp(lnS), tokens: Math.exp(lnS) * batchTokens, seeds: reached.length };
}

// ---- 1.5 eq. (5.1) per level

export interface ParetoFit {
  sMin: number;
  eMin: number;
  bCrit: number;
  /** R^2 of log S against the fitted curve */
  r2: number;
  rmseLog: number;
  /** 'low' when E_min -> 0 (B_crit below the scan), 'high' when E_min -> min E (above the scan) */
  edge: 'none' | 'low' | 'high';
}

/**
 * Kaplan et al. 2020 eq. (5.1): (S/S_min - 1)(E/E_min - 1) = 1, i.e. S = S_min E / (E - E_min) with
 * E_min < min E; B_crit = E_min / S_min (eq. 5.2). Least squares in log S: for fixed E_min the best log S_min
 * is the mean of log S + log(E - E_min) - log E, so the fit is a 1-D search over u = E_min / min E in
 * (0, 1), on a logit grid of 241 points in [-24, 24] refined by golden section (docs/METHODS.md 1.5).
 */
export function fitPareto(points: readonly { steps: number; tokens: number }[]): ParetoFit {
  const lS = points.map((p) => Math.log(p.steps));
  const E = points.map((p) => p.tokens);
  let minE = Infinity;
  for (const e of E) if (e < minE) minE = e;
  const sse = (t: number): { v: number; lSmin: number } => {
    const eMin = minE / (1 + Math.exp(-t));
    const terms = lS.map((s, i) => s + Math.log(E[i] - eMin) - Math.log(E[i]));
    const lSmin = terms.reduce((a, b) => a + b, 0) / terms.length;
    return { v: terms.reduce((a, b) => a + (b - lSmin) ** 2, 0), lSmin };
  };
  const T = 24;
  const K = 240;
  let jBest = 0;
  let vBest = Infinity;
  for (let j = 0; j <= K; j++) {
    const v = sse(-T + (2 * T * j) / K).v;
    if (v < vBest) {
      vBest = v;
      jBest = j;
    }
  }
  const edge = jBest === 0 ? 'low' : jBest === K ? 'high' : 'none';
  let a = -T + (2 * T * Math.max(0, jBest - 1)) / K;
  let b = -T + (2 * T * Math.min(K, jBest + 1)) / K;
  const g = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 60; it++) {
    const c = b - g * (b - a);
    const d = a + g * (b - a);
    if (sse(c).v < sse(d).v) b = d;
    else a = c;
  }
  const t = (a + b) / 2;
  const { v, lSmin } = sse(t);
  const eMin = minE / (1 + Math.exp(-t));
  const sMin = Math.exp(lSmin);
  const mean = lS.reduce((p, q) => p + q, 0) / lS.length;
  const tss = lS.reduce((p, q) => p + (q - mean) ** 2, 0);
  return { sMin, eMin, bCrit: eMin / sMin, r2: tss > 0 ? 1 - v / tss : NaN, rmseLog: Math.sqrt(v / lS.length), edge };
}

// ---- 1.6 levels

export type LevelStatus = 'ok' | 'too-few-batch-sizes' | 'transient' | 'degenerate' | 'outside-scan' | 'pre-regime';

export interface BcritLevel {
  loss: number;
  status: LevelStatus;
  reason?: string;
  /** the batch sizes that reach the level, with S and E */
  points: LevelPoint[];
  /** number of batch sizes used in the fit */
  batchSizes: number;
  /** batch sizes that never reach the level, and those already below it at their first eval */
  unreached: number[];
  atFirstEval: number[];
  sMin: number;
  eMin: number;
  /** tokens */
  bCrit: number;
  /** bootstrap percentile interval of B_crit (levels in the law only) */
  ci?: [number, number];
  r2: number;
  rmseLog: number;
}

export interface BcritOptions {
  /** target losses; default `nLevels` log-spaced between the highest first loss and the lowest final loss */
  levels?: number[];
  nLevels?: number;
  /** smoothing window in evals before the running minimum (default 5; < 5 = none) */
  smoothWindow?: number;
  /** warm-up steps for runs that log no LR and declare no warm-up (docs/METHODS.md 1.1) */
  warmupSteps?: number;
  /** fewest batch sizes a level needs (default 3) */
  minBatchSizes?: number;
  /** B_crit beyond (smallest / scanMargin, largest x scanMargin) of the batch sizes reaching a level is 'outside-scan' (default 1) */
  scanMargin?: number;
  /** p-value below which the break test cuts pre-regime levels (default 0.01; 0 = no break test) */
  breakP?: number;
  /** hierarchical bootstrap (default 1000 resamples, seed 0, 95%) */
  bootstrap?: { samples?: number; seed?: number; level?: number };
}

export interface BcritPowerLaw {
  form: 'kaplan-eq5.3';
  formula: string;
  bStar: number;
  alphaB: number;
  ci: { bStar: [number, number]; alphaB: [number, number] };
  standardError: { bStar: number; alphaB: number };
  /** levels used */
  n: number;
  r2: number;
  /** log B_crit - fitted, per level used */
  residuals: number[];
  bootstrap: BootstrapResult<'bStar' | 'alphaB'>;
}

/** Where the break test cut the law's levels, if it did. */
export interface RegimeBreak {
  /** levels at or above this loss are pre-regime */
  loss: number;
  f: number;
  p: number;
  /** slopes (d ln B_crit / d ln L) of the two segments */
  slopeHigh: number;
  slopeLow: number;
}

export interface BcritAnalysis {
  curves: BatchCurve[];
  levels: BcritLevel[];
  fit: BcritPowerLaw | null;
  /** why there is no fit */
  fitReason?: string;
  regimeBreak?: RegimeBreak;
  /** batch sizes whose best LR is at the edge of the LRs tried */
  lrWarnings: string[];
  /** why the B_crit(L) law should be read with care: failed resamples, a poor line, a narrow loss range */
  fitWarnings: string[];
  /** the same and more, machine-readable (analysis/diagnostics.ts WARNING_CODES): B_crit falling with loss, intervals withheld */
  warnings: Warning[];
  /** the data: runs, distinct batch sizes, LRs and seeds, loss levels tried and usable */
  counts: { runs: number; batchSizes: number; levels: number; usableLevels: number };
  /** failed bootstrap resamples / tried; intervals are NaN (withheld) above BOOTSTRAP_WITHHOLD */
  bootstrapFailureFraction?: number;
  intervalsWithheld?: boolean;
  /** replicas (seeds) per batch size, where some batch size has more than one */
  seeds: number;
  units: 'tokens';
}

/**
 * Default levels (docs/METHODS.md 1.6): n log-spaced strictly inside (lo, hi), where hi is the lowest loss any batch
 * size has reached by the end of its transient (or its first eval, if later) and lo the final loss that the k-th best
 * batch size reaches, k = max(minB, half the batch sizes): deeper levels are reached by too few batch sizes to bracket B_crit.
 */
function defaultLevels(curves: BatchCurve[], n: number, minB: number): number[] {
  let hi = Infinity;
  const finals: number[] = [];
  for (const c of curves) {
    for (const r of c.replicas) {
      // the envelope's loss where the transient ends (its first point if that is later)
      let k = 0;
      while (k + 1 < r.x.length && Math.exp(r.x[k]) <= r.transientU) k++;
      if (r.loss[k] < hi) hi = r.loss[k];
    }
    finals.push(c.loss[c.loss.length - 1]);
  }
  finals.sort((a, b) => a - b);
  const lo = finals[Math.min(finals.length - 1, Math.max(minB, Math.ceil(finals.length / 2)) - 1)];
  if (!(hi > lo)) return [];
  return Array.from({ length: n }, (_, k) => Math.exp(Math.log(hi) + ((k + 1) / (n + 1)) * (Math.log(lo) - Math.log(hi))));
}

interface LevelRules {
  minB: number;
  /** B_crit beyond (smallest reaching batch / margin, largest reaching batch x margin) is outside the scan */
  margin: number;
}

type LevelFit = Pick<BcritLevel, 'sMin' | 'eMin' | 'bCrit' | 'r2' | 'rmseLog' | 'batchSizes' | 'status' | 'reason'>;

function levelFit(points: readonly LevelPoint[], transient: number[], { minB, margin }: LevelRules): LevelFit {
  const distinct = new Set(points.map((p) => p.batchTokens)).size;
  const none = { sMin: NaN, eMin: NaN, bCrit: NaN, r2: NaN, rmseLog: NaN, batchSizes: distinct };
  if (distinct < minB) return { ...none, status: 'too-few-batch-sizes', reason: `reached by ${distinct} batch sizes; eq. 5.1 needs ${minB}` };
  const f = fitPareto(points);
  let bLo = Infinity;
  let bHi = 0;
  for (const p of points) {
    if (p.batchTokens / margin < bLo) bLo = p.batchTokens / margin;
    if (p.batchTokens * margin > bHi) bHi = p.batchTokens * margin;
  }
  const base = { sMin: f.sMin, eMin: f.eMin, bCrit: f.bCrit, r2: f.r2, rmseLog: f.rmseLog, batchSizes: distinct };
  if (transient.length > 0)
    return {
      ...base,
      status: 'transient',
      reason: `batch size${transient.length > 1 ? 's' : ''} ${transient.join(', ')} cross it before the LR reaches its peak (warm-up)`,
    };
  switch (f.edge) {
    case 'none':
      if (!Number.isFinite(f.bCrit)) return { ...base, status: 'degenerate', reason: 'fit is not finite' };
      if (f.bCrit < bLo || f.bCrit > bHi)
        return {
          ...base,
          status: 'outside-scan',
          reason: `B_crit ${f.bCrit.toPrecision(3)} outside the scan's reach [${bLo.toPrecision(3)}, ${bHi.toPrecision(3)}] tokens`,
        };
      return { ...base, status: 'ok' };
    case 'low':
      return { ...base, status: 'degenerate', reason: 'E_min -> 0: steps do not fall with batch size (B_crit below the scanned batch sizes)' };
    case 'high':
      return { ...base, status: 'degenerate', reason: 'E_min -> min E: perfect scaling across the scan (B_crit above the scanned batch sizes)' };
    default:
      throw new Error(`unknown edge ${f.edge satisfies never}`);
  }
}

/** Points of one level from per-batch crossings (optionally with resampled replica indices). */
function levelPoints(table: readonly BatchCrossings[], pick?: (b: number, n: number) => number[]) {
  const points: LevelPoint[] = [];
  const unreached: number[] = [];
  const atFirstEval: number[] = [];
  const transient: number[] = [];
  table.forEach((bc, b) => {
    const xs = pick ? pick(b, bc.replicas.length).map((i) => bc.replicas[i]) : bc.replicas;
    const p = pointOf(bc.batchTokens, xs);
    if (p === 'unreached') unreached.push(bc.batchTokens);
    else if (p === 'at-first-eval') atFirstEval.push(bc.batchTokens);
    else {
      points.push(p);
      if (xs.some((x) => typeof x === 'object' && x.transient)) transient.push(bc.batchTokens);
    }
  });
  return { points, unreached, atFirstEval, transient };
}

const lnLine = (ls: readonly { loss: number; bCrit: number }[]) =>
  fitLine(
    ls.map((l) => Math.log(l.loss)),
    ls.map((l) => Math.log(l.bCrit)),
  );

/**
 * The break test of docs/METHODS.md 1.6: the split of the ok levels (by loss, high part >= 2 levels, low part
 * >= 4) into two lines that best beats one line, kept when the F-test gives p < breakP.
 */
export function regimeBreak(levels: readonly { loss: number; bCrit: number }[], breakP = 0.01): RegimeBreak | undefined {
  const ls = [...levels].sort((a, b) => b.loss - a.loss);
  const n = ls.length;
  if (n < 6 || !(breakP > 0)) return undefined;
  const sse = (part: typeof ls) => {
    const f = lnLine(part);
    let s = 0;
    for (const r of f.residuals) s += r * r;
    return { s, slope: f.slope };
  };
  const one = sse(ls).s;
  let best: { k: number; s: number; high: number; low: number } | undefined;
  const minLow = Math.max(4, Math.ceil(n / 2));
  for (let k = 2; k <= n - minLow; k++) {
    const hi = sse(ls.slice(0, k));
    const lo = sse(ls.slice(k));
    // the early regime lies below the law of the later one and rises faster towards it (B_crit dips on the plateau):
    // the high part must sit below the low part's line on average and be steeper, else the split is noise or the
    // deep levels' bias, not a transient
    const low = lnLine(ls.slice(k));
    let below = 0;
    for (const l of ls.slice(0, k)) below += Math.log(l.bCrit) - (low.intercept + low.slope * Math.log(l.loss));
    if (below >= 0 || !(hi.slope < lo.slope)) continue;
    if (!best || hi.s + lo.s < best.s) best = { k, s: hi.s + lo.s, high: hi.slope, low: lo.slope };
  }
  if (!best) return undefined;
  const { f, p } = nestedFTest(one, best.s, 2, n - 4);
  if (!(p < breakP)) return undefined;
  return { loss: ls[best.k - 1].loss, f, p, slopeHigh: best.high, slopeLow: best.low };
}

/**
 * The whole scan analysis of docs/METHODS.md section 1 for one group: curves, per-level eq. (5.1) fits, level
 * selection, Kaplan et al. 2020 eq. (5.3) B_crit(L) = B* / L^(1/alpha_B) over the ok levels, and a hierarchical
 * bootstrap over batch sizes and, within each, seeds.
 */
export function analyzeBatchScan(runs: readonly LossCurve[], options: BcritOptions = {}): BcritAnalysis {
  const curves = batchCurves(runs, options.smoothWindow ?? 5, options.warmupSteps);
  if (curves.length < 2) {
    throw new AnalysisInputError(
      `a batch-size scan needs curves at 2 or more batch sizes, got ${curves.length}`,
      'import one loss curve per (batch size, LR) run, each with 2 or more eval steps',
    );
  }
  const rules: LevelRules = { minB: options.minBatchSizes ?? 3, margin: options.scanMargin ?? 1 };
  const targets = options.levels ?? defaultLevels(curves, options.nLevels ?? 16, rules.minB);
  const sorted = [...targets].sort((a, b) => b - a);
  // per level, per batch size, per replica: the crossing (fixed under the bootstrap; only the draws change)
  const tables: BatchCrossings[][] = sorted.map((L) => curves.map((c) => ({ batchTokens: c.batchTokens, replicas: c.replicas.map((r) => crossing(r, L)) })));
  const levels: BcritLevel[] = sorted.map((loss, j) => {
    const { points, unreached, atFirstEval, transient } = levelPoints(tables[j]);
    return { loss, points, unreached, atFirstEval, ...levelFit(points, transient, rules) };
  });
  const lrWarnings = curves
    .filter((c) => c.lr?.edge)
    .map(
      (c) =>
        `batch ${c.batchTokens} tokens: the best LR ${c.lr!.best.toPrecision(3)} is at the ${c.lr!.best === c.lr!.tried[0] ? 'low' : 'high'} edge of the LRs tried (${c.lr!.tried.map((v) => v.toPrecision(3)).join(', ')}); a better LR may lie beyond it`,
    );
  const seeds = curves.reduce((m, c) => Math.max(m, c.replicas.length), 0);
  const counts = { runs: runs.length, batchSizes: curves.length, levels: levels.length, usableLevels: 0 };
  const base = { curves, levels, lrWarnings, fitWarnings: [] as string[], warnings: [] as Warning[], counts, seeds, units: 'tokens' as const };

  // the power-law regime: cut the pre-regime levels above a break
  const ok = levels.filter((l) => l.status === 'ok');
  const brk = regimeBreak(ok, options.breakP ?? 0.01);
  if (brk) {
    for (const l of ok) {
      if (l.loss >= brk.loss) {
        l.status = 'pre-regime';
        l.reason = `above the break at L ${brk.loss.toPrecision(3)}: B_crit(L) bends there (slope ${brk.slopeHigh.toFixed(1)} above vs ${brk.slopeLow.toFixed(1)} below; F ${brk.f.toPrecision(3)}, p ${brk.p.toPrecision(2)})`;
      }
    }
  }
  const used = levels.filter((l) => l.status === 'ok');
  counts.usableLevels = used.length;
  if (used.length < 3)
    return { ...base, fit: null, fitReason: `${used.length} usable levels (status ok); the B_crit(L) fit needs 3`, ...(brk && { regimeBreak: brk }) };
  const full = lnLine(used);
  const estimate = { bStar: Math.exp(full.intercept), alphaB: -1 / full.slope };
  const inLaw = levels.map((l) => l.status === 'ok');
  const perLevel: number[][] = levels.map(() => []);
  const bs = options.bootstrap ?? {};
  const bootSeed = bs.seed ?? 0;
  const boot = bootstrap(
    curves.length,
    (idx, r) => {
      const rng = new SeededRandom(bootSeed * 7919 + r + 1);
      // the same draws for every level: batch sizes idx, and within each drawn batch size its replicas
      const draws = Array.from(idx, (b) => ({ b, reps: Array.from({ length: curves[b].replicas.length }, () => rng.int(curves[b].replicas.length)) }));
      const got: { loss: number; bCrit: number }[] = [];
      levels.forEach((l, j) => {
        if (!inLaw[j]) return;
        const table = draws.map((d) => tables[j][d.b]);
        const { points, transient } = levelPoints(table, (k) => draws[k].reps);
        const f = levelFit(points, transient, rules);
        if (f.status === 'ok') {
          got.push({ loss: l.loss, bCrit: f.bCrit });
          perLevel[j].push(f.bCrit);
        }
      });
      if (got.length < 3) return null;
      const fl = lnLine(got);
      return { bStar: Math.exp(fl.intercept), alphaB: -1 / fl.slope };
    },
    estimate,
    { samples: bs.samples ?? 1000, seed: bootSeed, level: bs.level ?? 0.95 },
  );
  const tried = boot.failures + boot.samples.bStar.length;
  const bw = bootstrapWarnings(boot.failures, tried);
  if (bw.withheld) {
    boot.ci = { bStar: [NaN, NaN], alphaB: [NaN, NaN] };
    base.fitWarnings.push(
      `${boot.failures} of ${tried} bootstrap resamples could not fit 3 levels (too few batch sizes reach the deep levels): the intervals are withheld and the law is unreliable: scan more batch sizes, or give the large batches more tokens`,
    );
    base.warnings.push(...bw.warnings);
  } else if (boot.failures > 0.2 * tried) {
    base.fitWarnings.push(
      `${boot.failures} of ${tried} bootstrap resamples could not fit 3 levels (too few batch sizes reach the deep levels); the intervals come from the rest and understate the uncertainty: scan more batch sizes, or give the large batches more tokens`,
    );
    base.warnings.push(warning('bootstrap-failures', base.fitWarnings[base.fitWarnings.length - 1]));
  }
  if (full.r2 < 0.8) {
    base.fitWarnings.push(
      `the levels scatter about the line (R^2 ${full.r2.toFixed(2)}): the exponent is weakly determined; read the per-level B_crit and their intervals rather than alpha_B`,
    );
    base.warnings.push(warning('bcrit-weak', base.fitWarnings[base.fitWarnings.length - 1]));
  }
  const span = Math.log(used[0].loss / used[used.length - 1].loss);
  if (span < 0.1) {
    base.fitWarnings.push(
      `the law spans only L ${used[used.length - 1].loss.toPrecision(3)}-${used[0].loss.toPrecision(3)} (${formatPercent(span)} in loss): an exponent over so short a range is fragile; train the runs longer so more levels are usable`,
    );
    base.warnings.push(warning('bcrit-weak', base.fitWarnings[base.fitWarnings.length - 1]));
  }
  if (estimate.alphaB < 0) {
    base.fitWarnings.push(
      `B_crit falls as the loss falls (alpha_B ${estimate.alphaB.toPrecision(3)} < 0), against Kaplan et al. 2020 fig. 10: the scan is too noisy or too short, or the levels sit in the warm-up; do not quote this law`,
    );
    base.warnings.push(warning('bcrit-falls', base.fitWarnings[base.fitWarnings.length - 1]));
  }
  const a = (1 - boot.level) / 2;
  levels.forEach((l, j) => {
    const s = perLevel[j];
    if (s.length >= 10) l.ci = [quantile(s, a), quantile(s, 1 - a)];
  });
  return {
    ...base,
    fit: {
      form: 'kaplan-eq5.3',
      formula: 'B_crit(L) = B* / L^(1/alpha_B)',
      ...estimate,
      ci: boot.ci,
      standardError: boot.standardError,
      n: used.length,
      r2: full.r2,
      residuals: Array.from(full.residuals),
      bootstrap: boot,
    },
    bootstrapFailureFraction: bw.failureFraction,
    intervalsWithheld: bw.withheld,
    ...(brk && { regimeBreak: brk }),
  };
}

// ---- 1.7 groups and the pooled law

/** One scan: the runs of one model size x sweep x schedule x data x trainer. */
export interface ScanGroup {
  key: string;
  /** short label: the parts that differ between groups */
  label: string;
  curves: LossCurve[];
}

/** Group loss curves by their `group` field (set by curvesFromRuns or an import's group column). */
export function groupCurves(curves: readonly LossCurve[]): ScanGroup[] {
  const by = new Map<string, LossCurve[]>();
  for (const c of curves) {
    const k = c.group ?? '';
    const list = by.get(k);
    if (list) list.push(c);
    else by.set(k, [c]);
  }
  return [...by].map(([key, cs]) => ({ key, label: key || 'all runs', curves: cs }));
}

export interface PooledLaw {
  bStar: number;
  alphaB: number;
  ci: { bStar: [number, number]; alphaB: [number, number] };
  groups: number;
  n: number;
  r2: number;
  /**
   * F-test of one line against one line per group. Neighbouring levels share crossings, so the test counts more
   * independent points than there are and alarms too often (~12% of same-law pairs at nominal 5%): shown, not decisive
   */
  f: number;
  p: number;
  /** per group: its bootstrap intervals on alpha_B and on B_crit at the pooled levels' middle loss contain the pooled law's */
  groupsAgree: { alphaB: boolean; bCritMid: boolean }[];
  /** the loss at which B_crit is compared (the median of the pooled levels) */
  lossMid: number;
  /**
   * every group agrees with the pooled law within its own intervals; null when some group's intervals are withheld
   * (more than half its bootstrap resamples failed): agreement cannot be judged, and saying 'disagree' would be wrong
   */
  agree: boolean | null;
}

/**
 * Kaplan's single line (docs/METHODS.md 1.7): one B_crit(L) through every group's law levels, with an interval
 * from the groups' own bootstrap replicates (replicate r of each group pooled), and the F-test of one line
 * against one line per group.
 */
export function pooledLaw(analyses: readonly BcritAnalysis[], level = 0.95): PooledLaw | null {
  const withFit = analyses.filter((a) => a.fit !== null);
  if (withFit.length < 2) return null;
  const pts = withFit.flatMap((a) => a.levels.filter((l) => l.status === 'ok'));
  const pooled = lnLine(pts);
  let sseSep = 0;
  for (const a of withFit) for (const r of lnLine(a.levels.filter((l) => l.status === 'ok')).residuals) sseSep += r * r;
  let ssePooled = 0;
  for (const r of pooled.residuals) ssePooled += r * r;
  const g = withFit.length;
  const { f, p } = nestedFTest(ssePooled, sseSep, 2 * (g - 1), pts.length - 2 * g);
  // interval: pool the groups' replicate r levels -> a line per r; approximated by pooling each group's (B*, alpha_B)
  // replicate into two points at its levels' extreme losses, which reproduces its line over its own loss range
  const R = withFit.reduce((m, a) => Math.min(m, a.fit!.bootstrap.samples.bStar.length), Infinity);
  const bStars: number[] = [];
  const alphas: number[] = [];
  for (let r = 0; r < R; r++) {
    const rp: { loss: number; bCrit: number }[] = [];
    for (const a of withFit) {
      const b = a.fit!.bootstrap.samples.bStar[r];
      const al = a.fit!.bootstrap.samples.alphaB[r];
      for (const l of a.levels) if (l.status === 'ok') rp.push({ loss: l.loss, bCrit: b * l.loss ** (-1 / al) });
    }
    const fl = lnLine(rp);
    bStars.push(Math.exp(fl.intercept));
    alphas.push(-1 / fl.slope);
  }
  const a = (1 - level) / 2;
  // Kaplan's claim is that the groups' laws agree "within their intervals": compare each group's own bootstrap
  // intervals with the pooled law, on the exponent and on B_crit at a loss inside every law's range
  const losses = pts.map((l) => l.loss).sort((x, y) => x - y);
  const lossMid = losses[Math.floor(losses.length / 2)];
  const pooledMid = Math.exp(pooled.intercept + pooled.slope * Math.log(lossMid));
  const groupsAgree = withFit.map((g) => {
    const f = g.fit!;
    const mids = Array.from(f.bootstrap.samples.bStar, (b, r) => b * lossMid ** (-1 / f.bootstrap.samples.alphaB[r]));
    const ci: [number, number] = mids.length ? [quantile(mids, a), quantile(mids, 1 - a)] : [NaN, NaN];
    return { alphaB: f.ci.alphaB[0] <= -1 / pooled.slope && -1 / pooled.slope <= f.ci.alphaB[1], bCritMid: ci[0] <= pooledMid && pooledMid <= ci[1] };
  });
  return {
    bStar: Math.exp(pooled.intercept),
    alphaB: -1 / pooled.slope,
    ci: { bStar: R ? [quantile(bStars, a), quantile(bStars, 1 - a)] : [NaN, NaN], alphaB: R ? [quantile(alphas, a), quantile(alphas, 1 - a)] : [NaN, NaN] },
    groups: g,
    n: pts.length,
    r2: pooled.r2,
    f,
    p,
    groupsAgree,
    lossMid,
    agree: withFit.some((g) => g.intervalsWithheld) ? null : groupsAgree.every((g) => g.alphaB && g.bCritMid),
  };
}

// ---- corrections and adapters

/** Kaplan et al. 2020 eq. (5.4): S_min = S / (1 + B_crit / B). */
export function minSteps(steps: number, batchTokens: number, bCrit: number): number {
  return steps / (1 + bCrit / batchTokens);
}

/** Kaplan et al. 2020 eq. (5.5): C_min = C / (1 + B / B_crit). */
export function minCompute(flops: number, batchTokens: number, bCrit: number): number {
  return flops / (1 + batchTokens / bCrit);
}

/** The name a report gives scaling-lab's own trainer (RunRecord.trainer absent) beside external trainers. */
export const OWN_TRAINER = 'scaling-lab';

/** Who trained a run, for labels: the record's trainer, or OWN_TRAINER when it is absent (issue 17). */
export const trainerOf = (r: { trainer?: string }): string => r.trainer ?? OWN_TRAINER;

/**
 * The scan a stored run belongs to (docs/METHODS.md 1.7): model size x sweep x schedule x data x trainer. Two
 * trainers' runs are never one scan: their per-level fits and laws stay apart, and the pooled law compares them.
 */
export function scanKey(r: RunRecord): { size: string; sweep: string; schedule: string; data: string; trainer: string } {
  return {
    size: String(r.paramsKaplan),
    sweep: r.sweep ?? '',
    schedule: `${r.schedule ?? '?'}/w${r.warmupSteps ?? '?'}`,
    data: r.data ?? '',
    trainer: r.trainer ?? '',
  };
}

/**
 * Labels for the scans of a set of records: model size always, the other parts where they differ; the trainer
 * whenever any run names one (so a store of one external trainer's runs says whose they are).
 */
export function scanLabels(runs: readonly RunRecord[], sizeLabel: (n: number) => string, isScan?: (r: RunRecord) => boolean): Map<string, string> {
  const keys = runs.map(scanKey);
  // the parts that tell scans apart are judged among the scans (when isScan says which runs make one): runs of a
  // one-batch-size sweep beside a scan (an IsoFLOP grid) do not lengthen every scan's label; they carry every part
  // that varies across all runs, so no label of theirs equals a scan's
  const scanKeys = isScan ? keys.filter((_, i) => isScan(runs[i])) : keys;
  const among = scanKeys.length ? scanKeys : keys;
  const varies = (k: keyof ReturnType<typeof scanKey>, ks = among) => new Set(ks.map((x) => x[k])).size > 1;
  const named = keys.some((k) => k.trainer !== '');
  const out = new Map<string, string>();
  runs.forEach((r, i) => {
    const k = keys[i];
    const ks = !isScan || isScan(r) ? among : keys;
    const parts = [sizeLabel(r.paramsKaplan)];
    if (named) parts.push(trainerOf(r));
    if (varies('sweep', ks)) parts.push(k.sweep || 'no sweep');
    if (varies('schedule', ks)) parts.push(k.schedule);
    if (varies('data', ks)) parts.push(k.data || 'data ?');
    out.set(r.id, parts.join(' · '));
  });
  return out;
}

/**
 * Loss curves of stored runs: test loss at eval steps (or train loss at every step) against step and tokens, the
 * LR of every logged row, the seed, and the scan group (scanLabels).
 */
export function curvesFromRuns(
  runs: readonly RunRecord[],
  loss: 'test' | 'train' = 'test',
  warmupSteps?: (run: RunRecord) => number | undefined,
  sizeLabel: (n: number) => string = (n) => `N=${n}`,
): LossCurve[] {
  const labels = scanLabels(runs, sizeLabel);
  return runs.map((r) => ({
    id: r.id,
    batchTokens: r.batchTokens,
    n: r.paramsKaplan,
    lr: r.lr,
    warmupSteps: warmupSteps?.(r) ?? r.warmupSteps,
    lrSchedule: r.metrics.filter((m) => m.lr > 0).map((m) => ({ step: m.step, lr: m.lr })),
    ...(r.seed !== undefined && { seed: r.seed }),
    group: labels.get(r.id),
    points: r.metrics
      .map((m) => ({ step: m.step, tokens: m.tokens, flops: m.flops, loss: loss === 'test' ? (m.testLoss ?? NaN) : m.trainLoss }))
      .filter((p) => Number.isFinite(p.loss)),
  }));
}
