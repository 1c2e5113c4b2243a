// Critical batch size from batch-size scans (Kaplan et al. 2020 section 5.1, McCandlish et al. 2018):
// loss curves per batch size -> S(B), E(B) per target loss -> S_min, E_min, B_crit -> B_crit(L) power law.
import type { LossCurve, RunRecord } from './records.ts';
import { bootstrap, fitLine, fitParabola, type BootstrapResult } from './stats.ts';
import { AnalysisInputError } from './errors.ts';
import { maxOf, minOf } from './extent.ts';

// ---- curves: LR envelope, smoothing, running minimum

/** One batch size's curve: the envelope over its runs (an LR axis) of the smoothed running-minimum loss. */
export interface BatchCurve {
  batchTokens: number;
  runs: string[];
  /** eval steps, increasing, > 0 */
  steps: number[];
  tokens: number[];
  /** non-increasing */
  loss: number[];
  /** the largest warm-up of the batch size's runs (0 when unknown) */
  warmupSteps: number;
}

/**
 * Light smoothing: a local quadratic fit of loss against log step over `window` evals centred on each eval
 * (Savitzky & Golay 1964; at the ends the window keeps its size and slides inward), evaluated at that eval. Unlike a
 * moving average it barely biases a smooth curve, so it shifts no level crossing; window < 5 = none.
 */
function smooth(steps: number[], v: number[], window: number): number[] {
  const h = Math.floor(window / 2);
  if (h < 2 || v.length < window) return [...v];
  const x = steps.map(Math.log);
  return v.map((_, i) => {
    const lo = Math.min(Math.max(0, i - h), v.length - 2 * h - 1);
    const hi = lo + 2 * h;
    const xs = x.slice(lo, hi + 1);
    const p = fitParabola(xs, v.slice(lo, hi + 1));
    return p.c0 + p.c1 * x[i] + p.c2 * x[i] * x[i];
  });
}

/**
 * Kaplan et al. 2020 section 5.1 and appendix D.3 read S(B) off "the (running-minimum, lightly smoothed)
 * test-loss curve"; SCIENCE.md section 1. Each run: drop step <= 0, sort by step, smooth (smooth(): a local
 * quadratic fit in log step over `window` evals), running minimum. Runs sharing a batch size (an LR axis) are
 * merged into their envelope: at every step any of them logged, the minimum over them of their running-minimum curves
 * (each interpolated in log step between its own evals). E = step x batch tokens (Kaplan: E = B S).
 */
export function batchCurves(curves: readonly LossCurve[], window = 5, warmupSteps = 0): BatchCurve[] {
  const byBatch = new Map<number, LossCurve[]>();
  for (const c of curves) {
    if (!(c.batchTokens > 0)) throw new AnalysisInputError(`run ${c.id}: batch tokens ${c.batchTokens} is not positive`, 'give every run its batch size in tokens');
    byBatch.set(c.batchTokens, [...(byBatch.get(c.batchTokens) ?? []), c]);
  }
  const out: BatchCurve[] = [];
  for (const [batchTokens, runs] of [...byBatch].sort((a, b) => a[0] - b[0])) {
    const per = runs.map((r) => {
      const pts = r.points.filter((p) => p.step > 0 && Number.isFinite(p.loss)).sort((a, b) => a.step - b.step);
      const sm = smooth(pts.map((p) => p.step), pts.map((p) => p.loss), window);
      for (let i = 1; i < sm.length; i++) sm[i] = Math.min(sm[i], sm[i - 1]);
      return { steps: pts.map((p) => p.step), tokens: pts.map((p) => p.tokens), loss: sm };
    });
    const allSteps = [...new Set(per.flatMap((p) => p.steps))].sort((a, b) => a - b);
    const steps: number[] = [];
    const tokens: number[] = [];
    const loss: number[] = [];
    const cursor = per.map(() => 0);
    for (const s of allSteps) {
      let best = Infinity;
      per.forEach((p, r) => {
        const st = p.steps;
        if (st.length === 0 || s < st[0]) return; // this run has not logged yet
        while (cursor[r] + 1 < st.length && st[cursor[r] + 1] <= s) cursor[r]++;
        const k = cursor[r];
        let v = p.loss[k];
        if (k + 1 < st.length && st[k] < s) {
          // between two of this run's evals: interpolate in log step, so runs logged at different steps mix fairly
          const t = (Math.log(s) - Math.log(st[k])) / (Math.log(st[k + 1]) - Math.log(st[k]));
          v = p.loss[k] + t * (p.loss[k + 1] - p.loss[k]);
        }
        best = Math.min(best, v);
      });
      steps.push(s);
      tokens.push(s * batchTokens);
      loss.push(loss.length ? Math.min(best, loss[loss.length - 1]) : best);
    }
    if (steps.length >= 2) {
      out.push({ batchTokens, runs: runs.map((r) => r.id), steps, tokens, loss, warmupSteps: Math.max(warmupSteps, maxOf(runs.map((r) => r.warmupSteps ?? 0))) });
    }
  }
  return out;
}

// ---- S(B), E(B) at a target loss

export interface LevelPoint {
  batchTokens: number;
  /** S: steps to reach the level, interpolated in log step */
  steps: number;
  /** E: tokens processed at that point */
  tokens: number;
}

/** First crossing of `level`, interpolated linearly in loss between bracketing evals, in log step and log tokens. */
function crossing(c: BatchCurve, level: number): LevelPoint | 'unreached' | 'at-first-eval' {
  const k = c.loss.findIndex((l) => l <= level);
  if (k < 0) return 'unreached';
  if (k === 0) return 'at-first-eval';
  const t = (c.loss[k - 1] - level) / (c.loss[k - 1] - c.loss[k]);
  const ls = Math.log(c.steps[k - 1]) + t * (Math.log(c.steps[k]) - Math.log(c.steps[k - 1]));
  const le = Math.log(c.tokens[k - 1]) + t * (Math.log(c.tokens[k]) - Math.log(c.tokens[k - 1]));
  return { batchTokens: c.batchTokens, steps: Math.exp(ls), tokens: Math.exp(le) };
}

// ---- eq. (5.1) per level

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
 * (0, 1), on a logit grid of 241 points in [-24, 24] refined by golden section. A minimum on the grid's
 * edge is reported as `edge` (a degenerate level).
 */
export function fitPareto(points: readonly LevelPoint[]): ParetoFit {
  const lS = points.map((p) => Math.log(p.steps));
  const E = points.map((p) => p.tokens);
  const minE = minOf(E);
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

// ---- levels

export type LevelStatus = 'ok' | 'too-few-batch-sizes' | 'degenerate' | 'outside-scan';

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
  r2: number;
  rmseLog: number;
  /** some batch size reached the level while its runs were still warming up: the level is distorted */
  warmup: boolean;
}

export interface BcritOptions {
  /** target losses; default `levels` log-spaced between the highest first loss and the lowest final loss */
  levels?: number[];
  nLevels?: number;
  /** smoothing window in evals before the running minimum (default 5; 1 = none) */
  smoothWindow?: number;
  /** warm-up steps for runs whose curve does not say */
  warmupSteps?: number;
  /** fewest batch sizes a level needs (default 3) */
  minBatchSizes?: number;
  /**
   * a level whose B_crit falls below (smallest batch / scanMargin) or above (largest batch x scanMargin)
   * is 'outside-scan': the scan does not bracket it, eq. 5.1 is barely constrained there (default 2)
   */
  scanMargin?: number;
  /** include warm-up levels in the B_crit(L) fit (default false: they are marked and left out) */
  fitWarmupLevels?: boolean;
  /** bootstrap of the B_crit(L) fit over batch sizes (default 1000 resamples, seed 0, 95%) */
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

export interface BcritAnalysis {
  curves: BatchCurve[];
  levels: BcritLevel[];
  fit: BcritPowerLaw | null;
  /** why there is no fit */
  fitReason?: string;
  units: 'tokens';
}

function defaultLevels(curves: BatchCurve[], n: number): number[] {
  const hi = minOf(curves.map((c) => c.loss[0]));
  const lo = minOf(curves.map((c) => c.loss[c.loss.length - 1]));
  if (!(hi > lo)) return [];
  return Array.from({ length: n }, (_, k) => Math.exp(Math.log(hi) + ((k + 1) / (n + 1)) * (Math.log(lo) - Math.log(hi))));
}

interface LevelRules {
  minB: number;
  bLo: number;
  bHi: number;
}

function levelFromCurves(curves: BatchCurve[], loss: number, rules: LevelRules): BcritLevel {
  const points: LevelPoint[] = [];
  const unreached: number[] = [];
  const atFirstEval: number[] = [];
  let warmup = false;
  for (const c of curves) {
    const x = crossing(c, loss);
    if (x === 'unreached') unreached.push(c.batchTokens);
    else if (x === 'at-first-eval') atFirstEval.push(c.batchTokens);
    else {
      points.push(x);
      if (x.steps <= c.warmupSteps) warmup = true;
    }
  }
  return { ...levelFit(points, rules), loss, points, unreached, atFirstEval, warmup };
}

function levelFit(points: LevelPoint[], { minB, bLo, bHi }: LevelRules) {
  const distinct = new Set(points.map((p) => p.batchTokens)).size;
  const none = { sMin: NaN, eMin: NaN, bCrit: NaN, r2: NaN, rmseLog: NaN, batchSizes: distinct };
  if (distinct < minB) return { ...none, status: 'too-few-batch-sizes' as LevelStatus, reason: `reached by ${distinct} batch sizes; eq. 5.1 needs ${minB}` };
  const f = fitPareto(points);
  const base = { sMin: f.sMin, eMin: f.eMin, bCrit: f.bCrit, r2: f.r2, rmseLog: f.rmseLog, batchSizes: distinct };
  switch (f.edge) {
    case 'none':
      if (!Number.isFinite(f.bCrit)) return { ...base, status: 'degenerate' as LevelStatus, reason: 'fit is not finite' };
      if (f.bCrit < bLo || f.bCrit > bHi) {
        return { ...base, status: 'outside-scan' as LevelStatus, reason: `B_crit ${f.bCrit.toPrecision(3)} outside the scan's reach [${bLo.toPrecision(3)}, ${bHi.toPrecision(3)}] tokens` };
      }
      return { ...base, status: 'ok' as LevelStatus };
    case 'low':
      return { ...base, status: 'degenerate' as LevelStatus, reason: 'E_min -> 0: steps do not fall with batch size (B_crit below the scanned batch sizes)' };
    case 'high':
      return { ...base, status: 'degenerate' as LevelStatus, reason: 'E_min -> min E: perfect scaling across the scan (B_crit above the scanned batch sizes)' };
    default:
      throw new Error(`unknown edge ${f.edge satisfies never}`);
  }
}

/**
 * The whole scan analysis: curves, per-level eq. (5.1) fits, and Kaplan et al. 2020 eq. (5.3)
 * B_crit(L) = B* / L^(1/alpha_B), fitted as a line in (log L, log B_crit) over the ok levels (warm-up
 * levels left out unless asked), with a bootstrap over batch sizes: each resample draws the batch sizes
 * with replacement, refits every level and the line (resamples with fewer than 3 ok levels fail).
 */
export function analyzeBatchScan(runs: readonly LossCurve[], options: BcritOptions = {}): BcritAnalysis {
  const curves = batchCurves(runs, options.smoothWindow ?? 5, options.warmupSteps ?? 0);
  if (curves.length < 2) {
    throw new AnalysisInputError(`a batch-size scan needs curves at 2 or more batch sizes, got ${curves.length}`, 'import one loss curve per (batch size, LR) run, each with 2 or more eval steps');
  }
  const margin = options.scanMargin ?? 2;
  const rules: LevelRules = { minB: options.minBatchSizes ?? 3, bLo: curves[0].batchTokens / margin, bHi: curves[curves.length - 1].batchTokens * margin };
  const targets = options.levels ?? defaultLevels(curves, options.nLevels ?? 12);
  const levels = [...targets].sort((a, b) => b - a).map((L) => levelFromCurves(curves, L, rules));
  const use = (l: BcritLevel): boolean => l.status === 'ok' && (options.fitWarmupLevels || !l.warmup);
  const used = levels.filter(use);
  if (used.length < 3) {
    return { curves, levels, fit: null, fitReason: `${used.length} usable levels (ok${options.fitWarmupLevels ? '' : ', outside warm-up'}); the B_crit(L) fit needs 3`, units: 'tokens' };
  }
  const line = (ls: BcritLevel[]) => fitLine(ls.map((l) => Math.log(l.loss)), ls.map((l) => Math.log(l.bCrit)));
  const full = line(used);
  const estimate = { bStar: Math.exp(full.intercept), alphaB: -1 / full.slope };
  // bootstrap over batch sizes: S, E per (level, batch size) do not change, only which batch sizes are drawn
  const table = levels.map((l) => new Map(l.points.map((p) => [p.batchTokens, p])));
  const eligible = levels.map((l) => options.fitWarmupLevels || !l.warmup);
  const bs = options.bootstrap ?? {};
  const boot = bootstrap(curves.length, (idx) => {
    const ok: BcritLevel[] = [];
    levels.forEach((l, j) => {
      if (!eligible[j]) return;
      const pts: LevelPoint[] = [];
      for (const i of idx) {
        const p = table[j].get(curves[i].batchTokens);
        if (p) pts.push(p);
      }
      const f = levelFit(pts, rules);
      if (f.status === 'ok') ok.push({ ...l, ...f });
    });
    if (ok.length < 3) return null;
    const fl = line(ok);
    return { bStar: Math.exp(fl.intercept), alphaB: -1 / fl.slope };
  }, estimate, { samples: bs.samples ?? 1000, seed: bs.seed ?? 0, level: bs.level ?? 0.95 });
  return {
    curves,
    levels,
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
    units: 'tokens',
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

/** Loss curves of stored runs: test loss at eval steps (or train loss at every step) against step and tokens. */
export function curvesFromRuns(runs: readonly RunRecord[], loss: 'test' | 'train' = 'test', warmupSteps?: (run: RunRecord) => number | undefined): LossCurve[] {
  return runs.map((r) => ({
    id: r.id,
    batchTokens: r.batchTokens,
    n: r.paramsTotal,
    lr: r.lr,
    warmupSteps: warmupSteps?.(r) ?? r.warmupSteps,
    points: r.metrics
      .map((m) => ({ step: m.step, tokens: m.tokens, flops: m.flops, loss: loss === 'test' ? (m.testLoss ?? NaN) : m.trainLoss }))
      .filter((p) => Number.isFinite(p.loss)),
  }));
}
